"""Truth / forecast / error maps of one test window at several lead times (PNG).

Grid of panels: rows truth, forecast, forecast - truth; one column per drawn lead. Axes are
longitude and latitude in degrees (pixel columns and rows on a pixel grid); truth and forecast
share one colour bar in the channel's physical unit, the error has a diverging colour bar
centred on 0. Masked pixels (invalid,
land, padding) are NaN and drawn as missing (light grey), never as 0.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from geostl.data import GridAdjust

from ._maps import (
    axis_labels,
    check_leads,
    image_extent,
    lead_text,
    prepare_fields,
    time_text,
    times_of,
    to_datetime,
)
from .geography import DIP_EQUATOR_LABEL, draw_geography, is_ionospheric

__all__ = ["forecast_maps_figure", "plot_forecast_maps", "window_forecast"]

MISSING_COLOUR = "0.85"


def _finite_range(*arrays: np.ndarray) -> tuple[float, float]:
    vals = np.concatenate([a[np.isfinite(a)] for a in arrays])
    if vals.size == 0:
        return 0.0, 1.0
    lo, hi = float(vals.min()), float(vals.max())
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def forecast_maps_figure(
    truth: Any,
    pred: Any,
    lat: Any,
    lon: Any,
    *,
    valid: Any | None = None,
    leads: Sequence[int] | None = None,
    lead_times: Any | None = None,
    init_time: Any | None = None,
    channel: str = "",
    units: str = "",
    title: str | None = None,
    grid_adjust: GridAdjust | None = None,
    cmap: str = "viridis",
    error_cmap: str = "RdBu_r",
    grid: str = "latlon",
    geography: bool = True,
) -> Figure:
    """Build the truth / forecast / error figure (see the module docstring).

    Args:
        truth, pred: (T_out, H, W) one channel of one window in physical units (array/tensor).
        lat, lon: (H,), (W,) degrees; latitudes may be descending.
        valid: (T_out, H, W) or (H, W) bool, True = valid; False pixels are drawn as missing.
        leads: lead indices to draw (negative from the end); None: 4 spread over T_out.
        lead_times: (T_out,) timedelta64 (or int64 ns) leads, for the titles.
        init_time: datetime64 (or int64 ns) time of the last input frame; valid time =
            init_time + lead, shown in the column titles.
        channel, units: channel name and physical unit for the colour bars.
        grid_adjust: the data's padding; padded rows/columns are removed before drawing.
        grid: ``"latlon"`` or ``"pixel"`` (``lat``/``lon`` are then the rows y and columns x;
            axes are labelled in pixels and row 0 is drawn at the top).
        geography: on a latlon grid, draw the coastlines with a geographic aspect and, on
            total-electron-content maps with a valid time, the magnetic equator (dashed;
            :mod:`geostl.outputs.geography`, shipped files, nothing downloaded).

    Returns:
        A matplotlib ``Figure`` (Agg; not registered with pyplot). Axes ``[r * n + j]`` is row
        r (0 truth, 1 forecast, 2 error), lead column j; its ``images[0]`` holds the array drawn.
    """
    t, p, la, lo = prepare_fields(truth, pred, valid, lat, lon, grid_adjust)
    idx = check_leads(leads, t.shape[0])
    lead_td, valid_t = times_of(init_time, lead_times, t.shape[0])
    extent, origin = image_extent(la, lo, grid)
    xlabel, ylabel = axis_labels(grid)
    err = p - t
    vmin, vmax = _finite_range(*(t[k] for k in idx), *(p[k] for k in idx))
    emax = max(float(np.nanmax(np.abs(err[idx]))) if np.isfinite(err[idx]).any() else 0, 1e-12)

    n = len(idx)
    height, width = la.size, lo.size
    panel_w = 3.2
    panel_h = max(1.4, panel_w * abs(extent[3] - extent[2]) / (extent[1] - extent[0]))
    fig = Figure(figsize=(panel_w * n + 1.6, panel_h * 3 + 1.2), dpi=110, layout="constrained")
    axes = fig.subplots(3, n, sharex=True, sharey=True, squeeze=False)
    label = f"{channel} ({units})" if units else channel
    rows = [("truth", t, cmap, vmin, vmax), ("forecast", p, cmap, vmin, vmax)]
    rows.append(("forecast - truth", err, error_cmap, -emax, emax))
    images = []
    for r, (name, field, cm, lo_v, hi_v) in enumerate(rows):
        for j, k in enumerate(idx):
            ax = axes[r, j]
            ax.set_facecolor(MISSING_COLOUR)
            im = ax.imshow(
                field[k],
                extent=extent,
                origin=origin,
                cmap=cm,
                vmin=lo_v,
                vmax=hi_v,
                interpolation="nearest",
                aspect="auto",
            )
            images.append(im)
            if geography and grid == "latlon":
                dip_time = valid_t[k] if is_ionospheric(channel, units) else None
                draw_geography(ax, (extent[0], extent[1]), (extent[2], extent[3]), dip_time)
            head = f"{name} {lead_text(lead_td[k], k)}"
            when = time_text(valid_t[k], grid)
            ax.set_title(f"{head}\n{when}" if when else head, fontsize=8)
            if j == 0:
                ax.set_ylabel(ylabel)
            if r == 2:
                ax.set_xlabel(xlabel)
    cb = fig.colorbar(images[0], ax=axes[:2, :].ravel().tolist(), shrink=0.9)
    cb.set_label(label)
    cb_err = fig.colorbar(images[-1], ax=axes[2, :].ravel().tolist(), shrink=0.9)
    cb_err.set_label(f"forecast - truth ({units})" if units else "forecast - truth")
    head = title or f"{channel}: truth, forecast and error"
    init = time_text(None if init_time is None else to_datetime(init_time), grid)
    dip = (
        geography and grid == "latlon" and is_ionospheric(channel, units) and valid_t[0] is not None
    )
    fig.suptitle(
        f"{head}"
        + (f" (init {init}, grid {height}x{width})" if init else "")
        + (f"; {DIP_EQUATOR_LABEL}" if dip else "")
    )
    return fig


def plot_forecast_maps(
    path: str | os.PathLike, truth: Any, pred: Any, lat: Any, lon: Any, **kwargs: Any
) -> Path:
    """Draw :func:`forecast_maps_figure` and save it as PNG at ``path``; return the path."""
    fig = forecast_maps_figure(truth, pred, lat, lon, **kwargs)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


def window_forecast(model: Any, dataset: Any, index: int) -> dict[str, Any]:
    """Forecast window ``index`` of a WindowDataset with a Forecaster, in physical units.

    Returns ``{"truth", "pred"}`` (T_out, H, W) float64 of the first target channel plus the
    keyword arguments of :func:`forecast_maps_figure` (``valid``, ``lead_times``,
    ``init_time``, ``channel``, ``units``, ``grid_adjust``, ``grid``) and ``rows``, ``cols``.
    The model's training mode is restored.
    """
    import torch

    index = int(index) % len(dataset)
    batch = {k: v[None] for k, v in dataset[index].items()}
    was = model.training
    model.eval()
    try:
        with torch.inference_mode():
            device = next(model.parameters()).device
            pred = model({k: v.to(device) for k, v in batch.items()})["pred"].cpu().double()
    finally:
        model.train(was)
    names = dataset.target_names
    init = batch["times_in"][0, -1].item()
    return {
        "truth": dataset.normaliser.inverse(batch["targets"].double(), names, axis=2)[0, :, 0],
        "pred": dataset.normaliser.inverse(pred, names, axis=2)[0, :, 0],
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
