"""ENSO scores as additive sums: index RMSE and correlation per lead, phase confusion.

For each method (the model and the baselines) and lead l the state over forecasts i is::

    n, mean(p), mean(o), C_pp = Σ(p − p̄)², C_oo = Σ(o − ō)², C_po = Σ(p − p̄)(o − ō), Σ(p − o)²
    counts[l, q, t]        phase forecasts q for true phase t (rows predicted, as
                           metrics.confusion_matrix)

with p the forecast and o the observed index (degC). Batches and processes are combined by the
pairwise rule of Chan, Golub and LeVeque (1979): for parts A and B, n = n_A + n_B, δ = p̄_B − p̄_A,
p̄ = p̄_A + δ n_B / n, C_pp = C_pp,A + C_pp,B + δ² n_A n_B / n (and alike for C_oo, C_po), so the
co-moments never come from differences of large sums (a near-constant forecast, common for a
barely trained model, would otherwise lose digits to cancellation). Processes are merged in
rank order after one float64 all-gather; counts and Σ(p − o)² simply add. Then::

    RMSE_l = sqrt(Σ(p − o)² / n)
    corr_l = C_po / (sqrt(C_pp · C_oo) + 1e-6)
    phase accuracy_l = trace(counts[l]) / n,      confusion = Σ_l counts[l]

which equal the whole-array formulas of :mod:`geostl.tasks.enso.metrics` (the same epsilon).
"""

from __future__ import annotations

import numpy as np
import torch

from geostl.engine.distributed import all_reduce_sum, dist_info
from geostl.tasks.enso.metrics import CORR_EPS, c_nino34_m, c_nino34_wm

__all__ = ["IndexSums", "merge_moments", "threshold_phase"]

_N, _MP, _MO, _CPP, _COO, _CPO, _SE = range(7)


def merge_moments(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Combine two (7, L) moment states (see the module docstring) into one."""
    n_a, n_b = a[_N], b[_N]
    n = n_a + n_b
    safe = torch.where(n > 0, n, torch.ones_like(n))
    dp, do = b[_MP] - a[_MP], b[_MO] - a[_MO]
    f = n_a * n_b / safe
    return torch.stack(
        [
            n,
            a[_MP] + dp * n_b / safe,
            a[_MO] + do * n_b / safe,
            a[_CPP] + b[_CPP] + dp * dp * f,
            a[_COO] + b[_COO] + do * do * f,
            a[_CPO] + b[_CPO] + dp * do * f,
            a[_SE] + b[_SE],
        ]
    )


def threshold_phase(anomaly: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Phase codes from an index anomaly (degC): E (0) ≥ +threshold, L (1) ≤ −threshold,
    N (2) otherwise."""
    out = torch.full(anomaly.shape, 2, dtype=torch.int64, device=anomaly.device)
    out[anomaly >= threshold] = 0
    out[anomaly <= -threshold] = 1
    return out


class IndexSums:
    """Running sums of one method's index and phase forecasts over L leads (float64)."""

    def __init__(self, n_leads: int, n_classes: int = 3) -> None:
        self.n_leads, self.n_classes = n_leads, n_classes
        self.moments = torch.zeros(7, n_leads, dtype=torch.float64)
        self.counts = torch.zeros(n_leads, n_classes, n_classes, dtype=torch.float64)

    def update(
        self,
        pred: torch.Tensor,
        obs: torch.Tensor,
        pred_phase: torch.Tensor,
        true_phase: torch.Tensor,
    ) -> None:
        """Add a batch: ``pred``/``obs`` (B, L) degC; phases (B, L) int64 codes."""
        p, o = pred.double().cpu(), obs.double().cpu()
        if p.shape != o.shape or p.shape[1:] != (self.n_leads,):
            raise ValueError(f"index forecasts {tuple(p.shape)} / observations {tuple(o.shape)}")
        if not (torch.isfinite(p).all() and torch.isfinite(o).all()):
            raise ValueError("ENSO scores: index forecasts or observations contain NaN/inf")
        mp, mo = p.mean(0), o.mean(0)
        batch = torch.stack(
            [
                torch.full_like(mp, p.shape[0]),
                mp,
                mo,
                ((p - mp) ** 2).sum(0),
                ((o - mo) ** 2).sum(0),
                ((p - mp) * (o - mo)).sum(0),
                ((p - o) ** 2).sum(0),
            ]
        )
        self.moments = merge_moments(self.moments, batch)
        k = self.n_classes
        flat = (
            torch.arange(self.n_leads)[None] * k * k + pred_phase.cpu() * k + true_phase.cpu()
        ).reshape(-1)
        self.counts += (
            torch.bincount(flat, minlength=self.n_leads * k * k)
            .reshape(self.n_leads, k, k)
            .double()
        )

    def all_reduce(self) -> IndexSums:
        """Combine the states of all processes (rank order; no-op when single-process)."""
        info = dist_info()
        if not info.distributed:
            return self
        gathered = torch.zeros(info.world_size, *self.moments.shape, dtype=torch.float64)
        gathered[info.rank] = self.moments
        gathered = all_reduce_sum(gathered)  # an all-gather: every other row is zero
        merged = gathered[0]
        for row in gathered[1:]:
            merged = merge_moments(merged, row)
        self.moments = merged
        self.counts = all_reduce_sum(self.counts)
        return self

    def scores(self) -> dict:
        """RMSE and correlation per lead, C-Nino3.4-M/-WM, phase accuracy, confusion."""
        m = self.moments.numpy()
        n = m[_N]
        if (n < 2).any():
            raise ValueError(f"ENSO scores: need at least 2 forecasts per lead, got {n.min():.0f}")
        corr = m[_CPO] / (np.sqrt(m[_CPP] * m[_COO]) + CORR_EPS)
        counts = self.counts.numpy()
        confusion = counts.sum(0)
        per_lead_acc = np.trace(counts, axis1=1, axis2=2) / n
        return {
            "rmse_per_lead": np.sqrt(m[_SE] / n).tolist(),
            "corr_per_lead": corr.tolist(),
            "c_nino34_m": c_nino34_m(corr),
            "c_nino34_wm": c_nino34_wm(corr),
            "phase_accuracy_per_lead": per_lead_acc.tolist(),
            "phase_accuracy": float(np.trace(confusion) / confusion.sum()),
            "confusion": confusion.astype(np.int64).tolist(),
            "n_forecasts": int(n[0]),
        }
