"""RMSE (or another metric) per lead time: the model against the baselines, as PNG."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from geostl.metrics import MetricTable, compare_tables

__all__ = ["metric_by_lead_figure", "plot_metric_by_lead"]


def metric_by_lead_figure(
    tables: Mapping[str, MetricTable],
    channel: str,
    metric: str = "rmse",
    weighting: str | None = None,
    title: str | None = None,
) -> Figure:
    """One line per forecast (model first, then the baselines), leads on the x axis.

    Args:
        tables: ``{forecast name: MetricTable}`` in physical units, e.g.
            ``{"convlstm": t, "persistence": t1, "climatology": t2}``; all must have
            ``metric`` for ``channel`` (see ``geostl.metrics.compare_tables``).
        channel: the channel drawn.
        metric: metric name (``rmse``, ``mae``, ``acc`` ...).
        weighting: ``"lat"``, ``"plain"`` ...; default as in ``compare_tables``.

    Returns:
        A ``Figure`` (not registered with pyplot); line i of ``axes[0]`` is column i of
        ``compare_tables(...)`` over the per-lead rows (the ``"all"`` row is left out).
    """
    wide = compare_tables(tables, metric=metric, channel=channel, weighting=weighting)
    rows = [i for i, lead in enumerate(wide.index) if lead != "all"]
    labels = [str(wide.index[i]) for i in rows]
    x = np.arange(1, len(rows) + 1)
    fig = Figure(figsize=(7.5, 4.2), dpi=120, layout="constrained")
    ax = fig.subplots()
    for j, name in enumerate(wide.columns):
        y = [wide.values[i][j] for i in rows]
        ax.plot(x, y, marker="o", lw=2.2 if j == 0 else 1.4, label=name)
    step = max(1, len(rows) // 12)
    ax.set_xticks(x[::step], labels[::step], rotation=45, ha="right")
    first = next(iter(tables.values()))
    unit = first.unit(metric, channel)
    ax.set_xlabel("lead time")
    ax.set_ylabel(f"{metric.upper()} ({unit})" if unit else metric.upper())
    ax.set_title(title or wide.title)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def plot_metric_by_lead(
    path: str | os.PathLike,
    tables: Mapping[str, MetricTable],
    channel: str,
    metric: str = "rmse",
    weighting: str | None = None,
    title: str | None = None,
) -> Path:
    """Save :func:`metric_by_lead_figure` as PNG at ``path``; return the path."""
    fig = metric_by_lead_figure(tables, channel, metric, weighting, title)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out
