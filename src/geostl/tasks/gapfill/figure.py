"""Figure of reconstructed period maps beside the truth and the gapped input."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["reconstruction_figure"]


def reconstruction_figure(
    path: str | Path,
    truth: np.ndarray,
    gapped: np.ndarray,
    reconstructions: Mapping[str, np.ndarray],
    labels: Sequence[str],
    lat: np.ndarray,
    lon: np.ndarray,
    units: str = "K",
) -> Path:
    """One row per period: truth | gapped input | each reconstruction | first one minus truth.

    Args:
        truth, gapped: (P, H, W) maps; ``gapped`` is NaN where nothing was observed.
        reconstructions: ``{name: (P, H, W)}``; the first one also gets an error panel.
        labels: P row labels (e.g. dates).
        lat, lon: (H,), (W,) coordinates in degrees.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(reconstructions)
    cols = 2 + len(names) + 1
    rows = truth.shape[0]
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.2 * rows), squeeze=False)
    extent = (float(lon.min()), float(lon.max()), float(lat.min()), float(lat.max()))
    first = reconstructions[names[0]]
    for r in range(rows):
        vmin, vmax = np.nanmin(truth[r]), np.nanmax(truth[r])
        panels = [("truth", truth[r]), ("gapped input (observed mean)", gapped[r])]
        panels += [(n, reconstructions[n][r]) for n in names]
        for c, (title, img) in enumerate(panels):
            ax = axes[r, c]
            im = ax.imshow(img, extent=extent, origin="upper", vmin=vmin, vmax=vmax, cmap="magma")
            ax.set_title(f"{title}\n{labels[r]}", fontsize=7)
            ax.tick_params(labelsize=6)
        fig.colorbar(im, ax=axes[r, : cols - 1].tolist(), shrink=0.8, label=units)
        err = first[r] - truth[r]
        lim = float(np.nanmax(np.abs(err))) or 1.0
        ax = axes[r, -1]
        im = ax.imshow(err, extent=extent, origin="upper", vmin=-lim, vmax=lim, cmap="RdBu_r")
        ax.set_title(f"{names[0]} - truth\n{labels[r]}", fontsize=7)
        ax.tick_params(labelsize=6)
        fig.colorbar(im, ax=ax, shrink=0.8, label=units)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
