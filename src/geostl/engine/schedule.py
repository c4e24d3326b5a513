"""Learning-rate schedules, all stepped once per optimisation step (iteration).

With ``s`` the number of optimisation steps already taken (the learning rate used by step
``s``, 0-based), base rate ``lr`` and ``N = epochs x steps_per_epoch`` total steps:

- ``onecycle``: ``torch.optim.lr_scheduler.OneCycleLR(max_lr=lr, total_steps=N)`` with its
  defaults (cosine annealing, ``div_factor`` 25, ``final_div_factor`` 1e4); the rising phase
  lasts ``warmup_steps`` steps when that is > 0, else 30 % of ``N`` (``pct_start`` 0.3).
- ``cosine``: linear warm-up ``lr (s + 1) / W`` for ``s < W = warmup_steps``, then
  ``lr / 2 (1 + cos(pi (s - W) / (N - W)))``.
- ``constant``: the same linear warm-up, then ``lr``.

The warm-up length is ``warmup_steps``, or ``warmup_epochs x steps_per_epoch`` (OpenSTL's
``warmup_epoch``; its timm cosine steps once per epoch, from ``warmup_lr`` 1e-5 up and down to
``min_lr`` 1e-6, where this one steps every iteration from ``lr / W`` up and down to 0).
"""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LRScheduler, OneCycleLR

from geostl.engine.config import SCHEDULES, TrainConfig


class WarmupCosine(LRScheduler):
    """Linear warm-up over ``warmup_steps`` then cosine decay to 0 at ``total_steps``
    (``cosine=True``), or then constant (``cosine=False``). State is plain numbers."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        total_steps: int,
        warmup_steps: int = 0,
        cosine: bool = True,
        last_epoch: int = -1,
    ) -> None:
        if total_steps < 1:
            raise ValueError(f"schedule: total_steps must be >= 1, got {total_steps}")
        if cosine and warmup_steps >= total_steps:
            raise ValueError(
                f"the warm-up ({warmup_steps} steps: train.warmup_steps, or train.warmup_epochs "
                f"x steps per epoch) must be shorter than the training ({total_steps} steps = "
                "epochs x steps per epoch)"
            )
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.cosine = bool(cosine)
        super().__init__(optimizer, last_epoch)

    def factor(self, s: int) -> float:
        """Multiplier of the base rate at step ``s``."""
        w, n = self.warmup_steps, self.total_steps
        if s < w:
            return (s + 1) / w
        if not self.cosine:
            return 1.0
        return 0.5 * (1.0 + math.cos(math.pi * min(s - w, n - w) / (n - w)))

    def get_lr(self) -> list[float]:
        f = self.factor(self.last_epoch)
        return [base * f for base in self.base_lrs]


def warmup_steps(cfg: TrainConfig, steps_per_epoch: int) -> int:
    """Warm-up length in steps: ``warmup_steps``, else ``warmup_epochs x steps_per_epoch``."""
    return cfg.warmup_steps or cfg.warmup_epochs * steps_per_epoch


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int
) -> LRScheduler:
    """The schedule named by ``cfg.schedule`` for ``cfg.epochs x steps_per_epoch`` steps.

    Call ``scheduler.step()`` after every ``optimizer.step()``.
    """
    if steps_per_epoch < 1:
        raise ValueError(f"build_scheduler: steps_per_epoch must be >= 1, got {steps_per_epoch}")
    total = cfg.epochs * steps_per_epoch
    warmup = warmup_steps(cfg, steps_per_epoch)
    if cfg.schedule == "onecycle":
        if warmup >= total:
            raise ValueError(
                f"the warm-up ({warmup} steps: train.warmup_steps, or train.warmup_epochs x "
                f"steps per epoch) must be shorter than the training ({total} steps = epochs x "
                "steps per epoch)"
            )
        pct = warmup / total if warmup > 0 else 0.3
        return OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total, pct_start=pct)
    if cfg.schedule in ("cosine", "constant"):
        return WarmupCosine(optimizer, total, warmup, cosine=cfg.schedule == "cosine")
    raise ValueError(f"train.schedule: {cfg.schedule!r} is not one of {SCHEDULES}")


def fast_forward(scheduler: LRScheduler, steps: int) -> None:
    """Step a freshly built ``scheduler`` ``steps`` times without training, so that it stands
    where a run of its length stands after ``steps`` optimisation steps.

    This is how a resume with a new ``train.epochs`` continues: the schedule is rebuilt for
    the new total and the run goes on from its current step on the new curve (for
    ``constant`` that is the old curve; ``onecycle`` and ``cosine`` stretch to the new end).
    """
    import warnings

    with warnings.catch_warnings():  # "lr_scheduler.step() before optimizer.step()"
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(steps):
            scheduler.step()
