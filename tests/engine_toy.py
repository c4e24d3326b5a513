"""Test helpers for the engine: a tiny Forecaster-contract model and the TEC sample datasets.

``TinyForecaster`` follows the Forecaster contract (``forward(batch, teacher_forcing=None) ->
{"pred", "aux_losses"}``, ``constructor_args()``) with a recurrent rollout, dropout and
scheduled sampling (a random draw per step), so resume tests exercise every RNG.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

import torch
from torch import nn

from geostl.commands.demo import TEC_DEMO_CONFIG
from geostl.data import build_datasets
from geostl.data.windows import forcing_frames
from geostl.datasets import sample


class TinyForecaster(nn.Module):
    """Residual conv step applied autoregressively: y_t = x_{t-1} + conv(x_{t-1}, aux_t)."""

    def __init__(self, model_cfg: dict[str, Any], meta: dict[str, int]) -> None:
        super().__init__()
        self.model_cfg, self.meta = dict(model_cfg), dict(meta)
        c, f, s = meta["target_channels"], meta["forcing_channels"], meta["static_channels"]
        hidden = int(model_cfg.get("hidden", 8))
        self.enc = nn.Conv2d(c + f + s, hidden, 3, padding=1)
        self.drop = nn.Dropout(float(model_cfg.get("dropout", 0.0)))
        self.dec = nn.Conv2d(hidden, c, 3, padding=1)
        self.aux_weight = float(model_cfg.get("aux", 0.0))

    def forward(self, batch: dict, teacher_forcing: float | None = None) -> dict:
        x = batch["inputs"][:, -1]
        truth = batch["targets"] if self.training else None
        static = batch["static"]
        future = forcing_frames(batch, "out")  # scalar drivers made planes here, as the fusions
        outs = []
        for t in range(future.shape[1]):
            h = torch.relu(self.enc(torch.cat([x, future[:, t], static], dim=1)))
            y = x + self.dec(self.drop(h))
            outs.append(y)
            if truth is not None and teacher_forcing is not None:
                use = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < teacher_forcing
                x = torch.where(use, truth[:, t], y)
            else:
                x = y
        pred = torch.stack(outs, dim=1)
        aux = {}
        if self.aux_weight > 0:
            aux["smooth"] = self.aux_weight * (pred[..., 1:] - pred[..., :-1]).pow(2).mean()
        return {"pred": pred, "aux_losses": aux}

    def constructor_args(self) -> tuple[dict, dict]:
        return dict(self.model_cfg), dict(self.meta)


def meta_of(ds) -> dict[str, int]:
    """The Forecaster ``meta`` of a WindowDataset."""
    h, w = ds.area_mask.shape
    return {
        "t_in": ds.t_in,
        "t_out": ds.t_out,
        "target_channels": len(ds.target_names),
        "forcing_channels": len(ds.forcing_names),
        "static_channels": len(ds.static_names),
        "height": int(h),
        "width": int(w),
    }


@lru_cache(maxsize=4)
def _tec(t_out: int) -> tuple[dict, dict]:
    cfg = copy.deepcopy(TEC_DEMO_CONFIG)
    cfg["window"]["t_out"] = t_out
    sources = {"maps": sample("tec"), "omni": sample("tec_drivers")}
    return build_datasets(cfg, sources), sources


def tec_datasets(t_out: int = 12) -> tuple[dict, dict, dict]:
    """``(datasets, sources, data_config)`` of the built-in TEC sample (demo config)."""
    datasets, sources = _tec(t_out)
    cfg = copy.deepcopy(TEC_DEMO_CONFIG)
    cfg["window"]["t_out"] = t_out
    return datasets, sources, cfg


def tiny_model(ds, seed: int = 0, **cfg) -> TinyForecaster:
    torch.manual_seed(seed)
    return TinyForecaster({"hidden": 4, **cfg}, meta_of(ds))
