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

:class:`PhaseProbabilitySums` scores the phase head's probabilities p (B, L, 3), the softmax of
its logits in the code order E, L, N, against the one-hot truth o. Per lead it keeps plain
float64 sums over forecasts i (they add over batches and, by ``all_reduce_sum``, processes)::

    n,  Σ BS_i = Σ_k (p_k − o_k)²                          (multi-category Brier, 0..2)
        Σ RPS_i = Σ_{k=1}^{K−1} (P_k − O_k)²                (ranked probability score, 0..2)
        Σ RPS_ref,i                                          (the same for the reference p_ref)
        Σ p_true,i,   Σ −log max(p_true,i, 1e-12)            (log score, nats)

with P, O the cumulative sums over the ordered categories La Niña < neutral < El Niño (codes
1, 2, 0: :data:`RPS_ORDER`) and K = 3, so the sum has 2 terms and is not divided by K − 1. The
reference is a fixed probability vector (the train split's phase frequencies, or 1/3 each).
Then every score is its sum over n, RPSS = 1 − RPS / RPS_ref, and "all leads" pools the sums.

A reliability table per phase k: the forecasts' p_k binned into :data:`N_BINS` equal bins of
[0, 1] (bin ⌊10 p⌋, p = 1 in the last), with per lead, phase and bin the sums n, Σ p_k, Σ o_k;
the scores pool them over leads: mean forecast probability Σp/n, observed frequency Σo/n.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from geostl.engine.distributed import all_reduce_sum, dist_info
from geostl.tasks.enso.metrics import CORR_EPS, c_nino34_m, c_nino34_wm

__all__ = [
    "LOG_FLOOR",
    "N_BINS",
    "PHASES",
    "RPS_ORDER",
    "IndexSums",
    "PhaseProbabilitySums",
    "merge_moments",
    "phase_frequencies",
    "phase_probability_terms",
    "threshold_phase",
]

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


#: phase names in the order of the codes 0, 1, 2
PHASES = ("El Nino", "La Nina", "neutral")
#: the phase codes in the ranked order La Niña < neutral < El Niño (cumulative sums of the RPS)
RPS_ORDER = (1, 2, 0)
#: equal-width probability bins of the reliability table over [0, 1]
N_BINS = 10
#: lower clamp of p_true in the log score
LOG_FLOOR = 1e-12
#: tolerance of the check that the probabilities of a forecast sum to 1
SUM_TOL = 1e-6

_PN, _BS, _RPS, _RREF, _PT, _LS = range(6)
_RN, _RP, _RO = range(3)


def phase_frequencies(phase: np.ndarray | torch.Tensor) -> np.ndarray:
    """(3,) float64 relative frequencies of the phase codes 0, 1, 2 in ``phase`` (any shape)."""
    codes = np.asarray(phase, dtype=np.int64).reshape(-1)
    if codes.size == 0:
        raise ValueError("phase frequencies of an empty set of phases")
    if codes.min() < 0 or codes.max() > 2:
        raise ValueError(f"phase codes must be 0..2, got {codes.min()}..{codes.max()}")
    return np.bincount(codes, minlength=3).astype(np.float64) / codes.size


def _rps(prob: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    """(..., 3) probabilities / one-hot in code order -> (...) RPS over L < N < E."""
    order = list(RPS_ORDER)
    cp = prob[..., order].cumsum(-1)[..., :-1]
    co = onehot[..., order].cumsum(-1)[..., :-1]
    return ((cp - co) ** 2).sum(-1)


def phase_probability_terms(
    prob: torch.Tensor, true_phase: torch.Tensor, reference: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The per-forecast terms of the probabilistic phase scores (float64).

    Args:
        prob: (B, L, 3) phase probabilities in the code order E, L, N (rows sum to 1).
        true_phase: (B, L) int64 codes 0..2.
        reference: (3,) reference probabilities in the code order.

    Returns:
        ``brier``, ``rps``, ``rps_reference``, ``p_true``, ``log_score`` (nats, p_true clamped
        below at :data:`LOG_FLOOR`), each (B, L); ``onehot`` (B, L, 3).
    """
    p = prob.double()
    onehot = torch.nn.functional.one_hot(true_phase.long(), 3).double()
    p_true = (p * onehot).sum(-1)
    ref = reference.double().expand_as(p)
    return {
        "brier": ((p - onehot) ** 2).sum(-1),
        "rps": _rps(p, onehot),
        "rps_reference": _rps(ref, onehot),
        "p_true": p_true,
        "log_score": -torch.log(p_true.clamp_min(LOG_FLOOR)),
        "onehot": onehot,
    }


def _ratio(num: np.ndarray, den: np.ndarray) -> list[float | None]:
    """num / den elementwise; None where den is 0 (an empty bin, or a perfect reference)."""
    return [float(a / b) if b > 0 else None for a, b in zip(num, den, strict=True)]


class PhaseProbabilitySums:
    """Running float64 sums of the phase head's probabilistic scores over L leads.

    Args:
        n_leads: leads L.
        reference: (3,) reference probabilities of the RPSS in the code order E, L, N (the
            train split's phase frequencies); None: the uniform forecast 1/3 each.
        reference_label: what the reference is, written beside the scores.

    State: ``sums`` (6, L): n, Σ Brier, Σ RPS, Σ RPS_ref, Σ p_true, Σ log score;
    ``reliability`` (L, 3, N_BINS, 3): per lead, phase and bin n, Σ p, Σ o.
    """

    def __init__(
        self,
        n_leads: int,
        reference: Sequence[float] | np.ndarray | None = None,
        reference_label: str | None = None,
    ) -> None:
        self.n_leads = int(n_leads)
        if reference is None:
            ref = torch.full((3,), 1.0 / 3.0, dtype=torch.float64)
            label = reference_label or "uniform (1/3 each)"
        else:
            ref = torch.as_tensor(np.asarray(reference, dtype=np.float64))
            if ref.shape != (3,) or (ref < 0).any() or abs(float(ref.sum()) - 1.0) > SUM_TOL:
                raise ValueError(f"reference phase probabilities must be 3 summing to 1: {ref}")
            label = reference_label or "given probabilities"
        self.reference, self.reference_label = ref, label
        self.sums = torch.zeros(6, self.n_leads, dtype=torch.float64)
        self.reliability = torch.zeros(self.n_leads, 3, N_BINS, 3, dtype=torch.float64)

    def update(self, prob: torch.Tensor, true_phase: torch.Tensor) -> None:
        """Add a batch: ``prob`` (B, L, 3) probabilities in the code order (e.g. the softmax
        of the phase logits), ``true_phase`` (B, L) int64 codes 0..2."""
        p, t = prob.detach().double().cpu(), true_phase.detach().cpu().long()
        if p.ndim != 3 or p.shape[1:] != (self.n_leads, 3) or t.shape != p.shape[:2]:
            raise ValueError(
                f"phase probabilities {tuple(p.shape)} / true phases {tuple(t.shape)}: expected "
                f"(B, {self.n_leads}, 3) / (B, {self.n_leads})"
            )
        if not torch.isfinite(p).all():
            raise ValueError("ENSO phase scores: probabilities contain NaN/inf")
        if (p < -SUM_TOL).any() or (p > 1 + SUM_TOL).any():
            raise ValueError("ENSO phase scores: probabilities outside [0, 1]")
        if ((p.sum(-1) - 1).abs() > SUM_TOL).any():
            raise ValueError("ENSO phase scores: the probabilities of a forecast do not sum to 1")
        if t.numel() and (t.min() < 0 or t.max() > 2):
            raise ValueError(f"true phase codes must be 0..2, got {t.min()}..{t.max()}")
        p = p.clamp(0.0, 1.0)
        terms = phase_probability_terms(p, t, self.reference)
        self.sums += torch.stack(
            [
                torch.full((self.n_leads,), float(p.shape[0]), dtype=torch.float64),
                terms["brier"].sum(0),
                terms["rps"].sum(0),
                terms["rps_reference"].sum(0),
                terms["p_true"].sum(0),
                terms["log_score"].sum(0),
            ]
        )
        b = (p * N_BINS).floor().long().clamp(0, N_BINS - 1)  # (B, L, 3)
        lead = torch.arange(self.n_leads)[None, :, None]
        phase = torch.arange(3)[None, None, :]
        flat = (((lead * 3 + phase) * N_BINS + b) * 3).reshape(-1)
        size = self.reliability.numel()
        add = torch.bincount(flat + _RN, minlength=size).double()
        add += torch.bincount(flat + _RP, weights=p.reshape(-1), minlength=size)
        add += torch.bincount(flat + _RO, weights=terms["onehot"].reshape(-1), minlength=size)
        self.reliability += add.reshape(self.reliability.shape)

    def merge(self, other: PhaseProbabilitySums) -> PhaseProbabilitySums:
        """Add another state's sums (same leads and reference) into this one."""
        if other.n_leads != self.n_leads or not torch.equal(other.reference, self.reference):
            raise ValueError("PhaseProbabilitySums.merge: other leads or reference")
        self.sums += other.sums
        self.reliability += other.reliability
        return self

    def all_reduce(self) -> PhaseProbabilitySums:
        """Sum the states of all processes (no-op when single-process)."""
        self.sums = all_reduce_sum(self.sums)
        self.reliability = all_reduce_sum(self.reliability)
        return self

    def scores(self) -> dict[str, Any]:
        """Per lead and pooled over leads: Brier, RPS, RPS of the reference, RPSS, mean
        p_true, log score (nats); the reliability table per phase pooled over leads."""
        s = self.sums.numpy()
        n = s[_PN]
        if (n < 1).any():
            raise ValueError("ENSO phase scores: no forecast at some lead")
        tot = s.sum(1)
        out: dict[str, Any] = {"n_forecasts_per_lead": int(n[0])}
        for key, row in (
            ("brier", _BS),
            ("rps", _RPS),
            ("rps_reference", _RREF),
            ("p_true", _PT),
            ("log_score", _LS),
        ):
            out[f"{key}_per_lead"] = (s[row] / n).tolist()
            out[key] = float(tot[row] / tot[_PN])
        out["rpss_per_lead"] = [None if r is None else 1.0 - r for r in _ratio(s[_RPS], s[_RREF])]
        out["rpss"] = None if tot[_RREF] <= 0 else float(1.0 - tot[_RPS] / tot[_RREF])
        out["reference"] = self.reference_label
        out["reference_probabilities"] = dict(zip(PHASES, self.reference.tolist(), strict=True))
        out["log_score_floor"] = LOG_FLOOR
        rel = self.reliability.sum(0).numpy()  # (3, N_BINS, 3)
        out["reliability"] = {
            "bin_edges": [k / N_BINS for k in range(N_BINS + 1)],
            "phases": {
                name: {
                    "n": rel[k, :, _RN].astype(np.int64).tolist(),
                    "mean_probability": _ratio(rel[k, :, _RP], rel[k, :, _RN]),
                    "observed_frequency": _ratio(rel[k, :, _RO], rel[k, :, _RN]),
                }
                for k, name in enumerate(PHASES)
            },
        }
        return out
