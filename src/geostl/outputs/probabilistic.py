"""Outputs of a probabilistic evaluation: tables beside the deterministic ones, the
spread-skill and rank-histogram figure, and maps of ensemble mean, spread and error.

Tables take the :class:`~geostl.metrics.MetricTable` of :class:`~geostl.metrics.EnsembleMetrics`
(``EvaluationSums.probabilistic_tables()``); figures are built on matplotlib's Agg canvas.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from geostl.data import GridAdjust
from geostl.metrics import MetricTable, compare_tables
from geostl.metrics.table import WideTable

from ._maps import axis_labels, check_leads, image_extent, lead_text, prepare_fields, times_of
from .figures import MISSING_COLOUR
from .geography import draw_geography, is_ionospheric

__all__ = [
    "plot_spread_maps",
    "plot_spread_skill",
    "probabilistic_markdown",
    "spread_maps_figure",
    "spread_skill_figure",
]

#: column of the deterministic model in the CRPS table: its MAE is the CRPS of one member
ONE_MEMBER = "model MAE (1 member)"
#: deterministic baselines whose MAE is shown beside the persistence ensembles
BASELINE_MAE = ("persistence", "sun-fixed persistence")


def _per_lead(wide: WideTable) -> list[int]:
    return [i for i, lead in enumerate(wide.index) if lead != "all"]


def crps_table(
    deterministic: Mapping[str, MetricTable],
    probabilistic: Mapping[str, MetricTable],
    channel: str,
    weighting: str,
) -> WideTable:
    """CRPS per lead of every probabilistic forecast beside the deterministic model's MAE
    (the CRPS of a one-member ensemble) and the MAE of persistence and sun-fixed persistence
    (members 0 of the persistence ensembles)."""
    wide = compare_tables(probabilistic, "crps", channel, weighting)
    columns = [f"{name} CRPS" for name in wide.columns]
    values = [list(row) for row in wide.values]
    pairs = [("model", ONE_MEMBER)] + [(b, f"{b} MAE (1 member)") for b in BASELINE_MAE]
    for label, head in pairs:
        if label in deterministic:
            mae = compare_tables({label: deterministic[label]}, "mae", channel, weighting)
            by_lead = dict(zip(mae.index, mae.column(label), strict=True))
            columns.insert(0 if label == "model" else len(columns), head)
            for i, lead in enumerate(wide.index):
                values[i].insert(0 if label == "model" else len(values[i]), by_lead[lead])
    notes = list(wide.notes) + [
        "MAE columns: the deterministic forecasts scored alone; the MAE is the CRPS of a "
        "one-member ensemble (their pixels may differ slightly where lagged input maps are "
        "missing: the probabilistic forecasts are scored where the persistence ensemble exists)"
    ]
    return WideTable("lead", wide.index, columns, values, wide.title, notes)


def _metric_columns(
    probabilistic: Mapping[str, MetricTable], metrics: Sequence[str], channel: str, weighting: str
) -> WideTable:
    """One column per (forecast, metric) for the metrics a forecast has."""
    columns: list[str] = []
    cols: list[list[float]] = []
    index: list[Any] = []
    for name, table in probabilistic.items():
        for metric in metrics:
            if not table.select(metric=metric, channel=channel, weighting=weighting).rows:
                continue
            wide = compare_tables({name: table}, metric, channel, weighting)
            index = index or list(wide.index)
            columns.append(f"{name} {metric}")
            by_lead = dict(zip(wide.index, wide.column(name), strict=True))
            cols.append([by_lead.get(lead, math.nan) for lead in index])
    values = [[c[i] for c in cols] for i in range(len(index))]
    first = next(iter(probabilistic.values()))
    notes = [f"{m}: {first.notes[m]}" for m in metrics if m in first.notes]
    return WideTable("lead", index, columns, values, f"{', '.join(metrics)} for {channel}", notes)


def probabilistic_markdown(
    deterministic: Mapping[str, MetricTable],
    probabilistic: Mapping[str, MetricTable],
    channels: Sequence[str],
    weighting: str,
) -> str:
    """The metrics.md section: per channel the CRPS table, spread and skill, coverage, and the
    Brier scores of the channel's thresholds."""
    parts = ["## Probabilistic scores\n"]
    for ch in channels:
        parts.append(crps_table(deterministic, probabilistic, ch, weighting).to_markdown())
        spread = ("spread", "rmse_ens_mean", "spread_skill")
        parts.append(_metric_columns(probabilistic, spread, ch, weighting).to_markdown())
        first = next(iter(probabilistic.values()))
        rows = first.select(channel=ch, weighting=weighting).rows
        cover = sorted({r["metric"] for r in rows if r["metric"].startswith("coverage_")})
        brier = sorted({r["metric"] for r in rows if r["metric"].startswith("brier_gt_")})
        if cover:
            parts.append(_metric_columns(probabilistic, cover, ch, weighting).to_markdown())
        if brier:
            freq = [m.replace("brier_", "freq_") for m in brier]
            parts.append(_metric_columns(probabilistic, brier + freq, ch, weighting).to_markdown())
    return "\n".join(parts)


def _histogram(table: MetricTable, channel: str, weighting: str) -> tuple[str, list[float]]:
    rows = table.select(channel=channel, weighting=weighting, lead="all").rows
    for kind in ("rank", "pit"):
        vals = {
            int(r["metric"].split("_")[1]): r["value"]
            for r in rows
            if r["metric"].startswith(f"{kind}_")
        }
        if vals:
            return kind, [vals[k] for k in sorted(vals)]
    return "", []


def spread_skill_figure(
    probabilistic: Mapping[str, MetricTable], channel: str, weighting: str
) -> Figure:
    """Left: spread (dashed) and RMSE of the ensemble mean (solid) per lead for every
    probabilistic forecast; right: their rank (PIT) histograms pooled over the leads, with the
    flat line of a reliable forecast.

    Returns:
        A ``Figure``; ``axes[0]`` holds two lines per forecast (skill, then spread), in order.
    """
    fig = Figure(figsize=(11.0, 4.2), dpi=120, layout="constrained")
    ax, hx = fig.subplots(1, 2, width_ratios=[1.4, 1.0])
    first = next(iter(probabilistic.values()))
    unit = first.unit("spread", channel)
    x: np.ndarray | None = None
    labels: list[str] = []
    for j, (name, table) in enumerate(probabilistic.items()):
        colour = f"C{j}"
        for metric, style in (("rmse_ens_mean", "-"), ("spread", "--")):
            wide = compare_tables({name: table}, metric, channel, weighting)
            rows = _per_lead(wide)
            labels = [str(wide.index[i]) for i in rows]
            x = np.arange(1, len(rows) + 1)
            what = "RMSE of the mean" if metric == "rmse_ens_mean" else "spread"
            ax.plot(x, [wide.values[i][0] for i in rows], style, color=colour, marker="o",
                    ms=3, label=f"{name}: {what}")  # fmt: skip
        kind, hist = _histogram(table, channel, weighting)
        if hist:
            n = len(hist)
            width = 0.8 / len(probabilistic)
            hx.bar(np.arange(n) + (j - (len(probabilistic) - 1) / 2) * width, hist, width,
                   color=colour, label=f"{name} ({kind})")  # fmt: skip
            hx.axhline(1.0 / n, color=colour, lw=0.8, ls=":")
    if x is not None:
        step = max(1, len(x) // 12)
        ax.set_xticks(x[::step], labels[::step], rotation=45, ha="right")
    ax.set_xlabel("lead time")
    ax.set_ylabel(f"{channel} ({unit})" if unit else channel)
    ax.set_title(f"spread and skill of {channel} ({weighting})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    hx.set_xlabel("rank of the truth (PIT bin for a Gaussian)")
    hx.set_ylabel("share of truths")
    hx.set_title("rank histogram, all leads (dotted: reliable)")
    hx.legend(fontsize=7)
    return fig


def plot_spread_skill(
    path: str | os.PathLike, probabilistic: Mapping[str, MetricTable], channel: str, weighting: str
) -> Path:
    """Save :func:`spread_skill_figure` as PNG at ``path``; return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    spread_skill_figure(probabilistic, channel, weighting).savefig(out, format="png")
    return out


def spread_maps_figure(
    truth: Any,
    mean: Any,
    spread: Any,
    lat: Any,
    lon: Any,
    *,
    valid: Any | None = None,
    leads: Sequence[int] | None = None,
    lead_times: Any | None = None,
    init_time: Any | None = None,
    channel: str = "",
    units: str = "",
    label: str = "ensemble",
    grid_adjust: GridAdjust | None = None,
    grid: str = "latlon",
    geography: bool = True,
) -> Figure:
    """Rows: truth, ensemble mean, spread and |mean - truth| of one window at several leads.

    Spread and error share one colour scale (0 to the 99th percentile of both, larger values
    drawn at its top), so where the error exceeds the spread the forecast was over-confident.

    Args:
        truth, mean, spread: (T_out, H, W) one channel of one window in physical units.
        lat, lon, valid, leads, lead_times, init_time, channel, units, grid_adjust, grid,
            geography: as for :func:`geostl.outputs.forecast_maps_figure`.
        label: name of the probabilistic forecast in the titles.

    Returns:
        A ``Figure``; axes ``[r * n + j]`` is row r (0 truth, 1 mean, 2 spread, 3 error).
    """
    t, m, la, lo = prepare_fields(truth, mean, valid, lat, lon, grid_adjust)
    s = prepare_fields(truth, spread, valid, lat, lon, grid_adjust)[1]
    idx = check_leads(leads, t.shape[0])
    lead_td, valid_t = times_of(init_time, lead_times, t.shape[0])
    extent, origin = image_extent(la, lo, grid)
    xlabel, ylabel = axis_labels(grid)
    err = np.abs(m - t)
    finite = np.concatenate([t[idx].ravel(), m[idx].ravel()])
    finite = finite[np.isfinite(finite)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    both = np.concatenate([s[idx].ravel(), err[idx].ravel()])
    both = both[np.isfinite(both)]
    # a robust top (99th percentile) so that a few large errors do not hide the spread
    emax = max(float(np.percentile(both, 99)) if both.size else 0.0, 1e-12)
    n = len(idx)
    panel_w = 3.2
    panel_h = max(1.4, panel_w * abs(extent[3] - extent[2]) / (extent[1] - extent[0]))
    fig = Figure(figsize=(panel_w * n + 1.6, panel_h * 4 + 1.2), dpi=110, layout="constrained")
    axes = fig.subplots(4, n, sharex=True, sharey=True, squeeze=False)
    rows = [
        ("truth", t, "viridis", vmin, vmax),
        (f"{label} mean", m, "viridis", vmin, vmax),
        (f"{label} spread", s, "magma", 0.0, emax),
        ("|mean - truth|", err, "magma", 0.0, emax),
    ]
    images = []
    for r, (name, field, cmap, lo_v, hi_v) in enumerate(rows):
        for j, k in enumerate(idx):
            ax = axes[r, j]
            ax.set_facecolor(MISSING_COLOUR)
            image = ax.imshow(field[k], extent=extent, origin=origin, cmap=cmap, vmin=lo_v,
                              vmax=hi_v, interpolation="nearest", aspect="auto")  # fmt: skip
            images.append(image)
            if geography and grid == "latlon":
                dip_time = valid_t[k] if is_ionospheric(channel, units) else None
                draw_geography(ax, (extent[0], extent[1]), (extent[2], extent[3]), dip_time)
            ax.set_title(f"{name} {lead_text(lead_td[k], k)}", fontsize=8)
            if j == 0:
                ax.set_ylabel(ylabel)
            if r == 3:
                ax.set_xlabel(xlabel)
    unit = f" ({units})" if units else ""
    fig.colorbar(images[0], ax=axes[:2, :].ravel().tolist(), shrink=0.9).set_label(
        f"{channel}{unit}"
    )
    fig.colorbar(images[-1], ax=axes[2:, :].ravel().tolist(), shrink=0.9, extend="max").set_label(
        f"spread, |error|{unit} (top: 99th percentile)"
    )
    fig.suptitle(f"{channel}: {label} mean, spread and error")
    return fig


def plot_spread_maps(
    path: str | os.PathLike, truth: Any, mean: Any, spread: Any, lat: Any, lon: Any, **kwargs
) -> Path:
    """Save :func:`spread_maps_figure` as PNG at ``path``; return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    spread_maps_figure(truth, mean, spread, lat, lon, **kwargs).savefig(out, format="png")
    return out


def window_spread(model: Any, dataset: Any, eval_cfg: Any, index: int) -> dict[str, Any] | None:
    """Truth, mean and spread of the first target channel for test window ``index``, from the
    model's ensemble (``eval.ensemble_members`` > 0; spread = the members' standard deviation,
    ddof 1) or else its Gaussian output (spread = std); None for a deterministic model.

    Returns ``{"truth", "mean", "spread"}`` (T_out, H, W) float64 in physical units, ``label``
    and the keyword arguments of :func:`spread_maps_figure` (``valid``, ``lead_times``,
    ``init_time``, ``channel``, ``units``, ``grid_adjust``, ``grid``) and ``rows``, ``cols``.
    """
    import torch

    from geostl.engine.ensemble import EnsembleMembers
    from geostl.engine.evaluate import (
        ENSEMBLE_LABEL,
        GAUSSIAN_LABEL,
        _forward_pred,
        apply_bounds,
        physical_bounds,
        physical_std,
    )

    index = int(index) % len(dataset)
    batch = {k: v[None] for k, v in dataset[index].items()}
    names = dataset.target_names
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            on_device = {k: v.to(device) for k, v in batch.items()}
            if eval_cfg.ensemble_members > 0:
                members = EnsembleMembers(
                    model, eval_cfg.ensemble_method, eval_cfg.ensemble_members,
                    eval_cfg.ensemble_perturb_std, eval_cfg.ensemble_checkpoints,
                    eval_cfg.ensemble_seed, dataset.normaliser.state_dict(), device,
                )  # fmt: skip
                ens = members(on_device, _forward_pred).cpu().double()[:, 0]  # (M, T, C, H, W)
                ens = torch.as_tensor(dataset.normaliser.inverse(ens, names, axis=2))
                ens = apply_bounds(ens, physical_bounds(dataset))[0]  # as the scores see them
                mean, spread, label = ens.mean(0), ens.std(0, correction=1), ENSEMBLE_LABEL
            else:
                out = model(on_device)
                if "pred_std" not in out:
                    return None
                mean = dataset.normaliser.inverse(out["pred"].cpu().double(), names, axis=2)
                mean = apply_bounds(torch.as_tensor(mean), physical_bounds(dataset))[0][0]
                spread = physical_std(dataset, out["pred_std"])[0]
                label = GAUSSIAN_LABEL
    finally:
        model.train(was)
    init = batch["times_in"][0, -1].item()
    return {
        "truth": dataset.normaliser.inverse(batch["targets"].double(), names, axis=2)[0, :, 0],
        "mean": mean[:, 0],
        "spread": spread[:, 0],
        "label": label,
        "rows": dataset.rows,
        "cols": dataset.cols,
        "valid": batch["target_mask"][0, :, 0],
        "lead_times": (batch["times_out"][0] - init).numpy().astype("timedelta64[ns]"),
        "init_time": np.datetime64(init, "ns"),
        "channel": names[0],
        "units": dataset.units.get(names[0], ""),
        "grid_adjust": dataset.grid_adjust,
        "grid": dataset.grid_kind,
    }
