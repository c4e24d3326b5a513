"""ENSO skill metrics: Niño 3.4 index RMSE and correlation per lead, Earthformer's C-Nino3.4-M
and C-Nino3.4-WM, phase accuracy and the confusion matrix. All in float64 numpy.

Definitions (Earthformer ``compute_enso_score``; Gao et al. 2022):

- ``corr_l`` = Σ_n (p_nl − p̄_l)(o_nl − ō_l) / (sqrt(Σ_n (p_nl − p̄_l)² · Σ_n (o_nl − ō_l)²) + 1e-6),
  Pearson correlation over the N forecasts of lead l, with Earthformer's 1e-6 in the denominator;
- ``rmse_l`` = sqrt(mean_n (p_nl − o_nl)²);
- **C-Nino3.4-M** = Σ_l corr_l / L;
- **C-Nino3.4-WM** = Σ_l a_l · ln(l) · corr_l / L with a_l = 1.5 (l ≤ 4), 2 (5 ≤ l ≤ 11),
  3 (12 ≤ l ≤ 18), 4 (l ≥ 19), l = 1..L. Divided by L, not by Σ weights, so values can
  exceed 1, and lead 1 has weight ln 1 = 0 (the Tianchi AI-Earth weighting).

The confusion matrix follows the seed's table: rows = prediction, columns = truth.
"""

from __future__ import annotations

import numpy as np

CORR_EPS = 1e-6


def _pair(pred: np.ndarray, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, o = np.asarray(pred, dtype=np.float64), np.asarray(obs, dtype=np.float64)
    if p.shape != o.shape or p.ndim != 2:
        raise ValueError(
            f"predictions {p.shape} and observations {o.shape} must both be (N, leads)"
        )
    if p.shape[0] < 2:
        raise ValueError(f"need at least 2 forecasts per lead, got {p.shape[0]}")
    if not (np.isfinite(p).all() and np.isfinite(o).all()):
        raise ValueError("predictions or observations contain NaN/inf")
    return p, o


def index_correlation(pred: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """Correlation per lead (L,) of (N, L) index forecasts with observations (see module)."""
    p, o = _pair(pred, obs)
    pa, oa = p - p.mean(axis=0), o - o.mean(axis=0)
    return (pa * oa).sum(axis=0) / (np.sqrt((pa**2).sum(axis=0) * (oa**2).sum(axis=0)) + CORR_EPS)


def index_rmse(pred: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """RMSE per lead (L,) of (N, L) index forecasts, in the index's unit."""
    p, o = _pair(pred, obs)
    return np.sqrt(((p - o) ** 2).mean(axis=0))


def nino_lead_weights(n_leads: int) -> np.ndarray:
    """a_l · ln(l) for l = 1..n_leads (C-Nino3.4-WM weights, before the division by L)."""
    lead = np.arange(1, n_leads + 1, dtype=np.float64)
    a = np.select([lead <= 4, lead <= 11, lead <= 18], [1.5, 2.0, 3.0], default=4.0)
    return a * np.log(lead)


def c_nino34_m(corr: np.ndarray) -> float:
    """C-Nino3.4-M: mean of the per-lead correlations (L,)."""
    c = np.asarray(corr, dtype=np.float64)
    return float(c.sum() / c.size)


def c_nino34_wm(corr: np.ndarray) -> float:
    """C-Nino3.4-WM: Σ_l a_l ln(l) corr_l / L over the per-lead correlations (L,)."""
    c = np.asarray(corr, dtype=np.float64)
    return float((nino_lead_weights(c.size) * c).sum() / c.size)


def confusion_matrix(pred: np.ndarray, truth: np.ndarray, n_classes: int = 3) -> np.ndarray:
    """Counts (n_classes, n_classes), rows = predicted class, columns = true class."""
    p, t = np.asarray(pred).ravel(), np.asarray(truth).ravel()
    if p.shape != t.shape:
        raise ValueError(f"predicted {p.shape} and true {t.shape} classes differ in length")
    for name, arr in (("predicted", p), ("true", t)):
        if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
            raise ValueError(f"{name} classes must be in 0..{n_classes - 1}")
    out = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(out, (p.astype(np.int64), t.astype(np.int64)), 1)
    return out


def phase_accuracy(pred: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of correctly predicted phases."""
    matrix = confusion_matrix(pred, truth)
    total = matrix.sum()
    if total == 0:
        raise ValueError("no phases to score")
    return float(np.trace(matrix) / total)
