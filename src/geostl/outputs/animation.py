"""Animated GIF of truth and forecast side by side through the lead times of one window."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.animation import FuncAnimation, PillowWriter
from matplotlib.figure import Figure

from geostl.data import GridAdjust

from ._maps import axis_labels, image_extent, lead_text, prepare_fields, time_text, times_of
from .figures import MISSING_COLOUR
from .geography import draw_geography, is_ionospheric

__all__ = ["write_forecast_gif"]


def write_forecast_gif(
    path: str | os.PathLike,
    truth: Any,
    pred: Any,
    lat: Any,
    lon: Any,
    *,
    valid: Any | None = None,
    lead_times: Any | None = None,
    init_time: Any | None = None,
    channel: str = "",
    units: str = "",
    grid_adjust: GridAdjust | None = None,
    fps: float = 2.0,
    cmap: str = "viridis",
    dpi: int = 80,
    grid: str = "latlon",
) -> Path:
    """Write an animated GIF: one frame per lead time, truth (left) and forecast (right).

    Args:
        path: output ``.gif``.
        truth, pred: (T_out, H, W) one channel in physical units.
        lat, lon: (H,), (W,) degrees (latitudes may be descending).
        valid: (T_out, H, W) or (H, W) bool, True = valid; False pixels drawn as missing.
        lead_times, init_time: timedelta64 leads and datetime64 init time for the titles
            (int64 ns accepted).
        channel, units: for the shared colour bar (one range over every frame).
        grid_adjust: the data's padding, removed before drawing.
        fps: frames per second.
        grid: ``"latlon"`` or ``"pixel"`` (``lat``/``lon`` are then rows y and columns x).

    Returns:
        The path written (T_out frames).
    """
    t, p, la, lo = prepare_fields(truth, pred, valid, lat, lon, grid_adjust)
    n = t.shape[0]
    leads, valid_t = times_of(init_time, lead_times, n)
    extent, origin = image_extent(la, lo, grid)
    xlabel, ylabel = axis_labels(grid)
    finite = np.concatenate([t[np.isfinite(t)], p[np.isfinite(p)]])
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if vmax <= vmin:
        vmin, vmax = vmin - 0.5, vmax + 0.5

    fig = Figure(figsize=(9, 3.4), dpi=dpi, layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    images = []
    for ax, name, field in zip(axes, ("truth", "forecast"), (t, p), strict=True):
        ax.set_facecolor(MISSING_COLOUR)
        im = ax.imshow(
            field[0],
            extent=extent,
            origin=origin,
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
            interpolation="nearest",
            aspect="auto",
        )
        images.append(im)
        if grid == "latlon":  # coastlines and a geographic aspect; the dip equator on TEC maps
            when = valid_t[0] if is_ionospheric(channel, units) else None
            draw_geography(ax, (extent[0], extent[1]), (extent[2], extent[3]), when)
        ax.set_xlabel(xlabel)
        ax.set_title(name)
    axes[0].set_ylabel(ylabel)
    cb = fig.colorbar(images[1], ax=list(axes), shrink=0.9)
    cb.set_label(f"{channel} ({units})" if units else channel)
    suptitle = fig.suptitle("")

    def draw(k: int) -> list:
        images[0].set_data(t[k])
        images[1].set_data(p[k])
        when = time_text(valid_t[k], grid)
        suptitle.set_text(
            f"{channel} lead {lead_text(leads[k], k)} ({k + 1}/{n})"
            + (f", valid {when}" if when else "")
        )
        return [*images, suptitle]

    anim = FuncAnimation(fig, draw, frames=n, blit=False)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{os.getpid()}{out.suffix}")
    try:
        anim.save(tmp, writer=PillowWriter(fps=fps), dpi=dpi)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out
