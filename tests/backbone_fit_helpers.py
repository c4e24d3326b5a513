"""Shared by the backbone tests: a short training of a Forecaster on the built-in TEC sample.

The sample's 71×73 grid is padded to a multiple of 4 (72×76), the targets are TEC, the 7 OMNI
forcings and 2 static planes are auxiliary channels (``concat`` fusion). ``fit_on_tec_sample``
returns the validation loss before training, after it, and per epoch.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from geostl.commands.demo import TEC_DEMO_CONFIG
from geostl.data import build_datasets
from geostl.datasets import sample
from geostl.engine import Trainer, validation_loss
from geostl.models import build_forecaster, meta_from_dataset


@lru_cache(maxsize=2)
def tec_padded(t_out: int = 4, multiple: int = 4) -> tuple[dict, dict]:
    """``(datasets, meta)`` of the TEC sample padded to ``multiple`` (cached)."""
    cfg = copy.deepcopy(TEC_DEMO_CONFIG)
    cfg["window"]["t_out"] = t_out
    cfg["padding"] = {"multiple": multiple}
    data = build_datasets(cfg, {"maps": sample("tec"), "omni": sample("tec_drivers")})
    meta = meta_from_dataset(data["train"])
    meta.pop("lon"), meta.pop("time_step_hours")
    return data, meta


def fit_on_tec_sample(
    backbone: dict[str, Any],
    tmp_path: Path,
    *,
    epochs: int = 2,
    steps: int = 4,
    lr: float = 3e-3,
    batch_size: int = 4,
    t_out: int = 4,
    multiple: int = 4,
    seed: int = 0,
) -> tuple[float, float, list[float]]:
    """Train ``{"name": ..., **kwargs}`` for ``epochs`` × ``steps`` steps (constant lr, teacher
    forcing decaying from 1) and return (val loss before, after, per-epoch val losses)."""
    data, meta = tec_padded(t_out, multiple)
    torch.manual_seed(seed)
    model = build_forecaster({"backbone": backbone}, meta)
    before = validation_loss(model, data["val"], 8)
    cfg = {
        "epochs": epochs,
        "batch_size": batch_size,
        "max_steps_per_epoch": steps,
        "lr": lr,
        "schedule": "constant",
        "seed": seed,
        "scheduled_sampling": {"start": 1.0, "decay_per_step": 0.1, "min": 0.0},
    }
    summary = Trainer(model, data, cfg, None, tmp_path / "fit", progress=False).fit()
    after = validation_loss(model, data["val"], 8)
    return before, after, [r["val_loss"] for r in summary["history"]]
