"""The training loss: masked MSE in normalised units plus weighted auxiliary losses.

``L = sum(m (p - y)^2) / sum(m) + sum_k w_k aux_k`` with ``m`` the target validity mask
(padded, missing and out-of-area pixels are 0) and ``w_k`` = 1 unless given.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch


def masked_sse(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of squared errors over valid elements and their count.

    Args:
        pred, target: (B, T_out, C, H, W) in normalised units.
        mask: bool of the same shape, True = the element counts.

    Returns:
        ``(sse, count)``: float32 (or pred's dtype) scalar tensors.
    """
    if pred.shape != target.shape or mask.shape != pred.shape:
        raise ValueError(
            f"masked loss: pred {tuple(pred.shape)}, target {tuple(target.shape)} and mask "
            f"{tuple(mask.shape)} must have the same shape"
        )
    if mask.dtype != torch.bool:
        raise ValueError(f"masked loss: mask must be bool, got {mask.dtype}")
    diff = torch.where(mask, pred - target, torch.zeros((), dtype=pred.dtype, device=pred.device))
    return (diff * diff).sum(), mask.sum().to(pred.dtype)


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the valid elements (0, still attached to the graph, if none)."""
    sse, count = masked_sse(pred, target, mask)
    return sse / count.clamp_min(1.0)


def total_loss(
    output: Mapping[str, object],
    batch: Mapping[str, torch.Tensor],
    aux_weights: Mapping[str, float] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Masked MSE of ``output["pred"]`` against ``batch["targets"]`` plus weighted aux losses.

    Returns:
        ``(loss, parts)``: the scalar loss to back-propagate and ``{"mse": .., name: ..}``
        as floats for logging.
    """
    pred = output["pred"]
    mse = masked_mse(pred.float(), batch["targets"].float(), batch["target_mask"])
    loss = mse
    parts = {"mse": float(mse.detach())}
    weights = dict(aux_weights or {})
    aux = output.get("aux_losses") or {}
    unknown = sorted(set(weights) - set(aux))
    if unknown:
        raise KeyError(f"aux_weights: no auxiliary loss named {unknown} (model gave {sorted(aux)})")
    for name, value in aux.items():
        loss = loss + float(weights.get(name, 1.0)) * value.float()
        parts[name] = float(value.detach())
    return loss, parts
