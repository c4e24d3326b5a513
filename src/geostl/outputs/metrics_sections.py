"""Markdown / terminal sections of a test report beyond the per-channel tables.

- :func:`variable_sections`: per-variable RMSE by lead beside the baselines, the model's pooled
  table and OpenSTL's "mean over variables" figure, for sets whose channels are variables on
  pressure levels (tables from :func:`geostl.metrics.channel_groups.variable_tables`);
- :func:`codebook_usage_section`: the SVQ code-usage diagnostic
  (:meth:`geostl.engine.codebook_usage.CodebookUsageRecorder.summary`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from geostl.metrics import MetricTable, WideTable, compare_tables
from geostl.metrics.channel_groups import MEAN_OVER_VARIABLES, POOLING_NOTE

__all__ = ["codebook_usage_section", "report_weighting", "variable_sections"]


def report_weighting(table: MetricTable, metric: str = "rmse") -> str:
    """``lat`` when the table has latitude-weighted ``metric`` rows, else ``plain``."""
    return "lat" if "lat" in table.weightings(metric) else "plain"


def _pooling_line(groups: Mapping[str, Sequence[str]]) -> str:
    members = "; ".join(
        f"{v}: {', '.join(c)}" if len(c) > 1 else f"{v}: itself" for v, c in groups.items()
    )
    return f"Pooled mean: {POOLING_NOTE}. Variables and their channels: {members}."


def _with_notes(table: WideTable, notes: Sequence[str]) -> WideTable:
    table.notes.extend(notes)
    return table


def _brief(table: WideTable, keep: Sequence[str]) -> str:
    """The table for the terminal: its notes cut to ``keep`` (the long metric notes are in
    metrics.md)."""
    return WideTable(
        table.index_name, table.index, table.columns, table.values, table.title, list(keep)
    ).to_markdown()


def variable_sections(
    variables: Mapping[str, MetricTable],
    mean: Mapping[str, MetricTable],
    groups: Mapping[str, Sequence[str]],
    notes: Sequence[str] = (),
) -> tuple[str, list[str]]:
    """The per-variable part of metrics.md and what the terminal shows of it.

    Args:
        variables: ``{forecast: per-variable MetricTable}`` (model first, then baselines).
        mean: ``{forecast: mean_over_variables(table)}``.
        groups: ``{variable: [channel, ...]}`` the tables were pooled with.
        notes: extra lines put under every table (e.g. the oracle warning).

    Returns:
        ``(markdown, printed)``: the Markdown section (heading, the pooling line, per variable
        the RMSE of every forecast by lead and the model's pooled table, then the mean over
        variables at every weighting) and the list of blocks to print (the pooling line, the
        per-variable RMSE comparisons and the mean-over-variables RMSE).
    """
    model = variables["model"]
    weighting = report_weighting(model)
    pooling = _pooling_line(groups)
    parts = ["## Per variable (pooled over levels)\n", pooling + "\n"]
    printed = [pooling]
    for variable in groups:
        rmse = _with_notes(
            compare_tables(variables, metric="rmse", channel=variable, weighting=weighting), notes
        )
        parts.append(rmse.to_markdown())
        printed.append(_brief(rmse, notes))
        shown = [m for m in model.metrics() if weighting in model.weightings(m)]
        pivot = _with_notes(model.pivot(variable, weighting=weighting, metrics=shown), notes)
        parts.append(pivot.to_markdown())
    parts.append(f"## {MEAN_OVER_VARIABLES.capitalize()} (OpenSTL's single figure)\n")
    first = mean["model"]
    weightings = [weighting] + [w for w in first.weightings("rmse") if w != weighting]
    for w in weightings:
        table = _with_notes(
            compare_tables(mean, metric="rmse", channel=MEAN_OVER_VARIABLES, weighting=w), notes
        )
        parts.append(table.to_markdown())
        if w == weighting:
            printed.append(_brief(table, notes))
        pivot = first.pivot(MEAN_OVER_VARIABLES, weighting=w)
        pivot.title = f"model, {MEAN_OVER_VARIABLES} ({w})"
        parts.append(_with_notes(pivot, notes).to_markdown())
    return "\n".join(parts), printed


def codebook_usage_section(summary: Sequence[Mapping[str, Any]]) -> str:
    """Markdown for the SVQ code-usage summaries (one table per SVQ module)."""
    parts = ["## Codebook usage (SVQ)\n"]
    for entry in summary:
        parts.append(
            f"`{entry['module']}`: K = {entry['codebook_size']} codes; "
            f"{entry['vectors']} latent vectors in {entry['calls']} forward calls"
            + (
                f" ({entry['calls_zero_spread']} calls without spread left out)"
                if entry["calls_zero_spread"]
                else ""
            )
            + ".\n"
        )
        lines = [
            "| threshold | perplexity | codes used | share of K | uses |",
            "|---|---|---|---|---|",
        ]
        for t in entry["thresholds"]:
            p = "n/a (no code used)" if t["perplexity"] is None else f"{t['perplexity']:.6g}"
            share = t["codes_used"] / entry["codebook_size"]
            lines.append(
                f"| {t['n_sigma']:g}σ | {p} | {t['codes_used']} | {share:.4g} | {t['uses']} |"
            )
        parts.append("\n".join(lines) + "\n")
        parts.append(
            f"- {entry['standardisation']}; perplexity = exp(-sum p_k ln p_k) of the usage "
            "histogram (1: one code takes every use, K: all codes used equally).\n"
        )
    return "\n".join(parts)
