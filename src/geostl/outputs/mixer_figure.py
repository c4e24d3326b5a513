"""Figure of the Channel Mixer Layer on one frame: the input channels beside the mixed planes.

First rows: the C input channels of the frame (target first, then the auxiliary planes),
each on its own colour scale (a constant plane's value is in its title). Next row: what the
backbone's first layer reads with ``fusion: mixer``: the bypass (the untouched target) and the
mixed planes, on one shared colour scale (the mixer moves values, it never rescales them). Last
row: a zoom on the top-left corner of mixed plane 0 with the k×k cell grid drawn, where each
cell holds one pixel's C channel values (see :mod:`geostl.models.channel_mixer`).

Values are in network units (after the dataset's normalisation), the units the mixer sees.
Built on matplotlib's Agg canvas without pyplot.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from geostl.models.channel_mixer import ChannelMixer, mixer_cell_size
from geostl.models.patching import patch

from ._maps import as_numpy

__all__ = ["mixed_frame_figure", "plot_mixed_frame"]


def _panel(
    fig: Figure,
    rows: int,
    cols: int,
    index: int,
    image: np.ndarray,
    title: str,
    vmin: float | None = None,
    vmax: float | None = None,
):
    ax = fig.add_subplot(rows, cols, index)
    shown = ax.imshow(image, cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_title(title, fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax, shown


def mixed_frame_figure(
    frame: Any,
    names: Sequence[str],
    *,
    layout: str = "raster",
    patch_size: int = 1,
    target_channels: int = 1,
    max_planes: int = 8,
    zoom_cells: int = 6,
    title: str | None = None,
) -> Figure:
    """Input channels, bypass + mixed planes, and a zoom with the cell grid.

    Args:
        frame: (C, H, W) one frame in network units, targets first; C = k² with k >= 2.
        names: the C channel names.
        layout: ``raster`` (SimVP/TAU: C mixed planes of H × W) or ``patched`` (recurrent
            backbones: p²·C mixed planes of H/p × W/p; the first ``max_planes`` are drawn).
        patch_size: p of the patched layout.
        target_channels: the leading target channels (the bypass).
        max_planes: the most mixed planes drawn in row 2.
        zoom_cells: cells per side in the zoom of row 3.
        title: figure title (default: the layout and channel count).

    Returns:
        A matplotlib Figure.
    """
    x = as_numpy(frame, "frame")
    if x.ndim != 3:
        raise ValueError(f"mixed_frame_figure: frame must be (C, H, W), got shape {x.shape}")
    c = x.shape[0]
    if len(names) != c:
        raise ValueError(f"mixed_frame_figure: {len(names)} names for {c} channels")
    k = mixer_cell_size(c, "mixed_frame_figure")
    if not np.isfinite(x).all():
        raise ValueError("mixed_frame_figure: frame has non-finite values (fill or mask them)")
    p = patch_size if layout == "patched" else 1
    mixer = ChannelMixer(c, target_channels, layout, p, "mixed_frame_figure")
    fed = patch(torch.from_numpy(x)[None, None], p)[:, 0]
    out = mixer(fed)[0].numpy()
    n_bypass = p * p * target_channels
    bypass, mixed = out[:n_bypass], out[n_bypass:]
    shown = min(max_planes, mixed.shape[0])
    cols = shown + 1
    in_rows = -(-c // cols)  # the input channels wrap onto as many rows as they need
    rows = in_rows + 2
    fig = Figure(figsize=(1.7 * cols, 1.9 * rows), dpi=110)
    for i in range(c):
        plane = x[i]
        label = f"in {i}: {names[i]}"
        if float(plane.min()) == float(plane.max()):  # a constant plane: say its value
            label += f" = {float(plane.min()):.3g}"
        _panel(fig, rows, cols, i + 1, plane, label)
    first = in_rows * cols  # panels before the bypass row
    lo, hi = float(mixed.min()), float(mixed.max())
    _panel(fig, rows, cols, first + 1, bypass[0], "bypass (target)")
    image = None
    for j in range(shown):
        _, image = _panel(fig, rows, cols, first + 2 + j, mixed[j], f"mixed plane {j}", lo, hi)
    if image is not None:
        fig.colorbar(image, ax=fig.axes[-shown:], shrink=0.8, label="network units")
    size = min(zoom_cells * k, mixed.shape[1], mixed.shape[2])
    ax, _ = _panel(
        fig,
        rows,
        cols,
        first + cols + 1,
        mixed[0, :size, :size],
        f"zoom: plane 0, {k}×{k} cells",
        lo,
        hi,
    )
    for edge in range(k, size, k):
        ax.axhline(edge - 0.5, color="white", lw=0.6)
        ax.axvline(edge - 0.5, color="white", lw=0.6)
    fig.suptitle(
        title
        or f"Channel mixer, {layout} layout"
        + (f" (patch {p})" if layout == "patched" else "")
        + f": {c} channels, k = {k}; bypass + {mixed.shape[0]} mixed planes",
        fontsize=9,
    )
    return fig


def plot_mixed_frame(
    path: str | os.PathLike, frame: Any, names: Sequence[str], **kwargs: Any
) -> Path:
    """Write :func:`mixed_frame_figure` to ``path`` (PNG); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = mixed_frame_figure(frame, names, **kwargs)
    fig.savefig(path, format="png")
    return path
