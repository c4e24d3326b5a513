"""Figures of the ENSO experiment: index forecasts against observation, confusion matrices,
the reliability diagram of the phase probabilities."""

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


def plot_reliability(path: str | os.PathLike, reliability: Mapping) -> None:
    """Reliability diagram of the phase probabilities: per phase the observed frequency
    against the mean forecast probability of each non-empty bin, the diagonal of perfect
    reliability, and below it the forecasts per bin (sharpness).

    Args:
        reliability: the ``reliability`` entry of
            :meth:`geostl.tasks.enso.scores.PhaseProbabilitySums.scores`: ``bin_edges``
            (N_BINS + 1,) and per phase name the lists ``n``, ``mean_probability`` and
            ``observed_frequency`` (N_BINS,), None in empty bins; probabilities in [0, 1].
    """
    edges = np.asarray(reliability["bin_edges"], dtype=np.float64)
    width = np.diff(edges)
    phases = reliability["phases"]
    fig, (ax, bars) = plt.subplots(
        2, 1, figsize=(4.6, 5.6), sharex=True, gridspec_kw={"height_ratios": (3, 1)}
    )
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="perfect reliability")
    step = width / (len(phases) + 1)
    for j, (name, table) in enumerate(phases.items()):
        shown = [
            (p, o)
            for p, o in zip(table["mean_probability"], table["observed_frequency"], strict=True)
            if p is not None and o is not None
        ]
        if shown:
            p, o = np.array(shown).T
            ax.plot(p, o, marker="o", ms=4, lw=1.2, label=name)
        bars.bar(edges[:-1] + (j + 0.5) * step, table["n"], width=step, label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("observed frequency")
    ax.set_title("ENSO phase reliability (all leads)", fontsize=10)
    ax.legend(fontsize=7)
    bars.set_xticks(edges[::2])
    bars.set_xlabel("forecast probability")
    bars.set_ylabel("forecasts")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
