"""Figures of the ENSO experiment: index forecasts against observation, confusion matrices."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PHASE_LABELS = ("El Nino", "La Nina", "neutral")


def plot_index_forecasts(
    path: str | os.PathLike,
    obs_time: np.ndarray,
    obs: np.ndarray,
    forecasts: Mapping[str, tuple[np.ndarray, np.ndarray]],
    title: str,
) -> None:
    """Observed Niño 3.4 anomaly (°C) and forecasts at their target months.

    Args:
        obs_time, obs: (T,) months and observed anomaly.
        forecasts: label → (target months (N,), forecast values (N,)).
    """
    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.plot(obs_time, obs, color="black", lw=2, label="observed (CPC ERSSTv5)")
    for label, (times, values) in forecasts.items():
        ax.plot(times, values, marker="o", ms=3, lw=1, label=label)
    for level in (0.5, -0.5):
        ax.axhline(level, color="grey", ls=":", lw=0.8)
    ax.set_ylabel("Nino 3.4 anomaly (degC)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_confusion(
    path: str | os.PathLike,
    matrices: Mapping[str, np.ndarray],
    labels: Sequence[str] = PHASE_LABELS,
) -> None:
    """Confusion matrices side by side (rows = predicted, columns = true), counts annotated."""
    fig, axes = plt.subplots(1, len(matrices), figsize=(3.4 * len(matrices), 3.4), squeeze=False)
    for ax, (name, matrix) in zip(axes[0], matrices.items(), strict=True):
        ax.imshow(matrix, cmap="Blues")
        for (r, c), count in np.ndenumerate(matrix):
            ax.text(c, r, str(int(count)), ha="center", va="center", fontsize=10)
        accuracy = np.trace(matrix) / max(int(matrix.sum()), 1)
        ax.set_title(f"{name}\naccuracy {accuracy:.2f}", fontsize=9)
        ax.set_xticks(range(len(labels)), labels, fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_xlabel("true")
        ax.set_ylabel("predicted")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
