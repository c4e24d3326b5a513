"""Masked L1 loss of ClimaNet: |pred - target| averaged over valid sea pixels of each period."""

from __future__ import annotations

import torch

__all__ = ["masked_l1", "masked_l1_terms"]


def masked_l1(
    pred: torch.Tensor,
    target: torch.Tensor,
    land: torch.Tensor | None = None,
    target_valid: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean over (batch, period) of the mean |pred - target| over that period's counted pixels.

    A pixel counts where it is not land and (when given) ``target_valid`` is True. Periods with
    no counted pixel are left out of the average (the later ClimaNet clamps their denominator at
    1, which gives them a 0 loss and so still pulls the average down; here they do not count).

    Args:
        pred, target: (B, M, H, W), in the same units; target may be NaN where not counted.
        land: (H, W) or (B, H, W) bool, True = land.
        target_valid: (B, M, H, W) bool, True = the target exists.

    Returns:
        scalar loss (target units).
    """
    total, n = masked_l1_terms(pred, target, land, target_valid)
    return total / n


def masked_l1_terms(
    pred: torch.Tensor,
    target: torch.Tensor,
    land: torch.Tensor | None = None,
    target_valid: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum over counted periods of their mean |pred - target|, number of counted periods).

    Same arguments as :func:`masked_l1`, which is ``sum / count``. Both terms are additive over
    batches (and processes): a split's pooled loss is ``sum of sums / sum of counts``.
    """
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(
            f"pred {tuple(pred.shape)} and target {tuple(target.shape)}: expected the same "
            "(B, M, H, W) shape"
        )
    counted = torch.ones_like(pred, dtype=torch.bool)
    if land is not None:
        land = land.to(torch.bool)
        counted = counted & ~(land[:, None] if land.ndim == 3 else land)
    if target_valid is not None:
        counted = counted & target_valid.to(torch.bool)
    if bool((~torch.isfinite(target) & counted).any()):
        raise ValueError("target: NaN or inf at a counted pixel; mark it in target_valid")
    return _terms(pred, target, counted)


def _terms(pred, target, counted) -> tuple[torch.Tensor, torch.Tensor]:
    err = torch.where(counted, (pred - target).abs(), torch.zeros((), dtype=pred.dtype))
    n = counted.sum(dim=(-2, -1))
    keep = n > 0
    if not bool(keep.any()):
        raise ValueError("masked_l1: no counted pixel in any period (all land or invalid)")
    per_period = err.sum(dim=(-2, -1))[keep] / n[keep]
    return per_period.sum(), keep.sum()
