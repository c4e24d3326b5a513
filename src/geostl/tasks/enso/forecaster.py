"""The ENSO task's model as the Trainer sees it: :class:`EnsoForecaster`.

It wraps :class:`geostl.tasks.enso.model.EnsoConvLSTM` with the ocean mask and the loss
weights, and gives the task-model contract of :class:`geostl.engine.Trainer`:
``loss(batch) -> (loss, diagnostics)`` and ``constructor_args()`` (rebuilt from a checkpoint
by the ``enso`` task's ``build_model``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from geostl.tasks.enso.loss import enso_loss
from geostl.tasks.enso.model import EnsoConvLSTM

__all__ = ["EnsoForecaster", "build_enso_model"]

#: model keys that are EnsoConvLSTM constructor arguments
NET_KEYS = ("hidden", "kernels", "trunk_channels", "embed", "head_hidden")


class EnsoForecaster(nn.Module):
    """EnsoConvLSTM + ocean mask + loss weights.

    Args:
        width, height: grid size (lon, lat).
        n_leads: index / phase leads.
        loss_weights: (w_sst, w_index, w_phase) of the composite loss.
        net: EnsoConvLSTM keyword arguments (``hidden``, ``kernels``, ...).

    The ocean mask (lon, lat) is a buffer (``ocean``), saved in the state dict.
    """

    def __init__(
        self,
        width: int,
        height: int,
        n_leads: int,
        loss_weights: Sequence[float] = (0.2, 0.4, 0.4),
        **net: Any,
    ) -> None:
        super().__init__()
        if len(loss_weights) != 3:
            raise ValueError(
                f"model.loss_weights: expected 3 weights (sst, index, phase), got {loss_weights}"
            )
        self.net = EnsoConvLSTM(width=width, height=height, n_leads=n_leads, **net)
        self.register_buffer("ocean", torch.ones(width, height, dtype=torch.bool))
        self.loss_weights = tuple(float(w) for w in loss_weights)
        self._args = {
            "task": "enso",
            "width": int(width),
            "height": int(height),
            "n_leads": int(n_leads),
            "loss_weights": list(self.loss_weights),
            **{k: list(v) if isinstance(v, tuple | list) else v for k, v in net.items()},
        }

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, T, 1, lon, lat) -> ``sst`` (B, 1, lon, lat), ``index`` (B, L),
        ``phase_logits`` (B, L, 3); see :class:`EnsoConvLSTM`."""
        return self.net(x)

    def loss(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, Any]]:
        """The composite loss of the batch; ``diagnostics`` has its parts and
        ``loss_sum`` / ``count`` (loss × samples, samples) for pooling over a split."""
        n = batch["x"].shape[0]
        if self.training and n < 2:
            raise ValueError(
                "ENSO model: a training batch of 1 sample (BatchNorm1d needs 2); change "
                "train.batch_size so that the train split's last batch has 2 or more windows"
            )
        out = self.net(batch["x"])
        parts = enso_loss(
            out, batch["sst"], self.ocean, batch["index"], batch["phase"], self.loss_weights
        )
        count = torch.tensor(float(n), device=batch["x"].device)
        return parts.total, {
            "sst": parts.sst.detach(),
            "index": parts.index.detach(),
            "phase": parts.phase.detach(),
            "loss_sum": parts.total.detach() * count,
            "count": count,
        }

    def constructor_args(self) -> dict[str, Any]:
        """``{"model_cfg": {task: enso, ...}, "meta": {}}`` for the checkpoint."""
        return {"model_cfg": dict(self._args), "meta": {}}


def build_enso_model(model_cfg: Mapping[str, Any], meta: Mapping[str, Any] | None = None):
    """Rebuild an :class:`EnsoForecaster` from its ``constructor_args()["model_cfg"]``."""
    cfg = dict(model_cfg)
    cfg.pop("task", None)
    net = {k: cfg.pop(k) for k in NET_KEYS if k in cfg}
    return EnsoForecaster(**cfg, **net)
