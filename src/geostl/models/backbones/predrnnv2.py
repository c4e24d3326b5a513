"""PredRNN-V2 backbone, laid out as OpenSTL's ``PredRNNv2_Model`` (Wang et al., TPAMI 2022).

PredRNN (:mod:`geostl.models.backbones.predrnn`) plus the *memory decoupling* loss: every cell
returns the increments Δc (temporal memory) and Δm (spatiotemporal memory); one shared,
bias-free 1×1 ``adapter`` (hidden → hidden) maps both, each channel's map is L2-normalised over
the h·w positions, and the loss is the mean over steps, layers, samples and channels of
|cos(adapter(Δc), adapter(Δm))| — it pushes the two memories to carry different information.
It is returned as ``aux_losses["decouple"] = decouple_beta · loss`` (seed / OpenSTL:
β = 0.1) in training mode (the engine adds it to the MSE); in eval mode it is not computed.
PredRNN-V2 is meant to be trained with reverse scheduled sampling
(``train.scheduled_sampling.kind: reverse``; :mod:`geostl.models.scheduled_sampling`).

Iono configuration (seed Table 1, one channel): num_hidden 4×128, filter 5, patch 4 →
23.86 M parameters (PredRNN's 23.84 M + the 128×128 adapter).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from geostl.models.backbones.predrnn import PredRNN
from geostl.models.registry import BACKBONES


@BACKBONES.register("predrnnv2")
class PredRNNv2(PredRNN):
    """PredRNN with the memory decoupling loss (arguments as :class:`PredRNN`, including
    ``frame_transform`` and ``action_channels``, plus):

    Args:
        decouple_beta: weight of the decoupling loss in ``aux_losses["decouple"]`` (0.1).
    """

    NAME = "predrnnv2"

    def __init__(
        self,
        in_shape: Sequence[int],
        out_channels: int,
        t_out: int,
        aux_channels: int = 0,
        num_hidden: Sequence[int] = (128, 128, 128, 128),
        filter_size: int = 5,
        stride: int = 1,
        patch_size: int = 4,
        layer_norm: bool = False,
        decouple_beta: float = 0.1,
        frame_transform: Any = None,
        action_channels: bool = False,
    ) -> None:
        super().__init__(
            in_shape,
            out_channels,
            t_out,
            aux_channels,
            num_hidden,
            filter_size,
            stride,
            patch_size,
            layer_norm,
            frame_transform=frame_transform,
            action_channels=action_channels,
        )
        if not isinstance(decouple_beta, int | float) or decouple_beta < 0:
            raise ValueError(
                f"predrnnv2: decouple_beta must be a number >= 0, got {decouple_beta!r}"
            )
        self.decouple_beta = float(decouple_beta)
        n = self.num_hidden[0]
        self.adapter = nn.Conv2d(n, n, 1, bias=False)
        self._cosines: list[torch.Tensor] = []

    def _normalised(self, delta: torch.Tensor) -> torch.Tensor:
        """adapter(Δ) (B, n, h, w) → (B, n, h·w), unit L2 norm over positions."""
        a = self.adapter(delta)
        return F.normalize(a.flatten(2), dim=2)

    def cell_step(
        self,
        i: int,
        x: torch.Tensor,
        hs: list[torch.Tensor],
        cs: list[torch.Tensor],
        m,
        action: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Layer ``i`` as PredRNN, recording |cos(adapter Δc, adapter Δm)| in training."""
        hs[i], cs[i], m, delta_c, delta_m = self.run_cell(i, x, hs[i], cs[i], m, action)
        if self.training:
            cos = (self._normalised(delta_c) * self._normalised(delta_m)).sum(dim=2)
            self._cosines.append(cos.abs().mean())
        return m

    def start_rollout(self) -> None:
        self._cosines = []

    def finish_rollout(
        self, pred: torch.Tensor, truth: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        """``{"decouple": β · mean |cos|}`` in training mode, else empty."""
        if not self._cosines:
            return {}
        loss = torch.stack(self._cosines).mean()
        self._cosines = []
        return {"decouple": self.decouple_beta * loss}
