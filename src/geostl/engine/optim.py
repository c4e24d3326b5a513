"""Optimiser by name: Adam or AdamW (decoupled weight decay)."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from geostl.engine.config import OPTIMIZERS, TrainConfig


def build_optimizer(
    params: Iterable[torch.nn.Parameter], cfg: TrainConfig
) -> torch.optim.Optimizer:
    """``torch.optim.Adam`` (L2 weight decay added to the gradient) or ``AdamW`` (decoupled).

    Args:
        params: the trainable parameters.
        cfg: uses ``optimizer``, ``lr`` and ``weight_decay``.
    """
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("build_optimizer: the model has no trainable parameters")
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"train.optimizer: {cfg.optimizer!r} is not one of {OPTIMIZERS}")
