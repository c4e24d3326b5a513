"""The seed's composite ENSO loss (the ENSO blog post, Keydana 2021).

``loss = w_sst · MSE_sst + w_index · MSE_index + w_phase · CE_phase`` with the seed's weights
0.2 / 0.4 / 0.4:

- ``MSE_sst``: mean squared error of the next-month SST grid over ocean cells only. The seed
  masks by value (cells whose normalised target is exactly 0, i.e. land set to 0); geostl
  takes an explicit boolean ``ocean`` mask instead, so an ocean cell that happens to equal
  the train mean is not dropped. Pass ``ocean = target != 0`` to get the seed's rule.
- ``MSE_index``: mean squared error of the normalised Niño 3.4 index over all samples and leads.
- ``CE_phase``: mean cross-entropy of the phase logits (classes E, L, N) over samples and leads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

SEED_WEIGHTS = (0.2, 0.4, 0.4)


@dataclass(frozen=True)
class EnsoLoss:
    """The loss and its three parts (each a scalar tensor; ``total`` carries the graph)."""

    total: torch.Tensor
    sst: torch.Tensor
    index: torch.Tensor
    phase: torch.Tensor


def enso_loss(
    pred: dict[str, torch.Tensor],
    sst: torch.Tensor,
    ocean: torch.Tensor,
    index: torch.Tensor,
    phase: torch.Tensor,
    weights: tuple[float, float, float] = SEED_WEIGHTS,
) -> EnsoLoss:
    """Composite loss of :class:`geostl.tasks.enso.model.EnsoConvLSTM` outputs.

    Args:
        pred: model outputs ``sst`` (B, 1, W, H), ``index`` (B, L), ``phase_logits`` (B, L, 3).
        sst: target grid (B, 1, W, H), normalised; values at land cells are ignored.
        ocean: bool (B, 1, W, H) or (W, H), True where the grid loss counts.
        index: normalised Niño 3.4 targets (B, L).
        phase: class targets (B, L), int64 in {0, 1, 2} (E, L, N).
        weights: (w_sst, w_index, w_phase).

    Returns:
        :class:`EnsoLoss`.
    """
    if pred["sst"].shape != sst.shape:
        raise ValueError(f"sst target {tuple(sst.shape)} != prediction {tuple(pred['sst'].shape)}")
    if pred["index"].shape != index.shape:
        raise ValueError(
            f"index target {tuple(index.shape)} != prediction {tuple(pred['index'].shape)}"
        )
    if pred["phase_logits"].shape[:2] != phase.shape:
        raise ValueError(
            f"phase target {tuple(phase.shape)} != logits {tuple(pred['phase_logits'].shape)}[:2]"
        )
    mask = torch.broadcast_to(ocean.to(torch.bool), sst.shape)
    if not bool(mask.any()):
        raise ValueError("ocean mask has no True cell: the grid loss would be empty")
    diff = torch.where(mask, pred["sst"] - sst, torch.zeros_like(sst))
    mse_sst = diff.pow(2).sum() / mask.sum()
    mse_index = F.mse_loss(pred["index"], index)
    ce = F.cross_entropy(pred["phase_logits"].reshape(-1, 3), phase.reshape(-1))
    w_sst, w_index, w_phase = weights
    total = w_sst * mse_sst + w_index * mse_index + w_phase * ce
    return EnsoLoss(total=total, sst=mse_sst, index=mse_index, phase=ce)
