"""PredRNN++ backbone, laid out as OpenSTL's ``PredRNNpp_Model`` (Wang et al., ICML 2018).

A stack of causal LSTM cells (:class:`~geostl.models.backbones.predrnn_cells.CausalLSTMCell`)
with PredRNN's zig-zag spatiotemporal memory, and a gradient highway unit
(:class:`~geostl.models.backbones.predrnn_cells.GradientHighwayUnit`) between the first and
second layer: layer 1 reads z_t = GHU(h¹_t, z_{t−1}) instead of h¹_t, a short path for
gradients across time. A bias-free 1×1 ``readout`` maps the top hidden state to the patched
target channels; rollout and (reverse) scheduled sampling as
:mod:`geostl.models.backbones._rollout`.

Iono configuration (seed Table 1, one channel, 72×72, patch 4): num_hidden 4×128, filter 5 →
38.58 M parameters, of which 4 × 0.82 M are OpenSTL's unused, frozen ``conv_o`` of the causal
cells (``openstl_inert_params=True``; False leaves them out: 35.31 M).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from geostl.models.backbones._rollout import PatchedRecurrentBackbone
from geostl.models.backbones.predrnn_cells import CausalLSTMCell, GradientHighwayUnit
from geostl.models.registry import BACKBONES

State = tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor, torch.Tensor]


@BACKBONES.register("predrnnpp")
class PredRNNpp(PatchedRecurrentBackbone):
    """Stacked causal LSTM with a gradient highway unit (at least two layers).

    Args:
        in_shape: (T_in, C_in, H, W) of the input frames, C_in = out_channels + aux_channels.
        out_channels: C_out, the target channels (first in x).
        t_out: default forecast length (any t_out can be asked at call time).
        aux_channels: A, auxiliary channels after the targets in x (and in ``future_aux``).
        num_hidden: hidden channels of each layer, all equal, >= 2 layers (iono: 4 × 128).
        filter_size: odd gate-convolution kernel size (iono: 5).
        stride: must be 1 (OpenSTL's argument).
        patch_size: space-to-depth factor p dividing H and W (iono: 4).
        layer_norm: LayerNorm after each gate convolution (iono: False).
        openstl_inert_params: keep OpenSTL's unused, frozen ``conv_o`` of each cell.
        frame_transform: the fusion's per-frame hook, applied by the rollout (``fusion: mixer``).

    Forward: ``(x, future_aux, t_out, truth=None, teacher_forcing=None)``
    → (B, t_out, C_out, H, W); ``teacher_forcing`` may be a ``(warmup, future)`` pair.
    """

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
        openstl_inert_params: bool = False,
        frame_transform: Any = None,
    ) -> None:
        super().__init__(
            "predrnnpp",
            in_shape,
            out_channels,
            t_out,
            aux_channels,
            num_hidden,
            filter_size,
            stride,
            patch_size,
            min_layers=2,
            frame_transform=frame_transform,
        )
        n = self.num_hidden[0]
        self.highway = GradientHighwayUnit(n, self.hp, self.wp, filter_size, bool(layer_norm))
        self.cells = nn.ModuleList(
            CausalLSTMCell(
                self.frame_channels if i == 0 else self.num_hidden[i - 1],
                hidden,
                self.hp,
                self.wp,
                filter_size,
                bool(layer_norm),
                bool(openstl_inert_params),
            )
            for i, hidden in enumerate(self.num_hidden)
        )
        self.build_readout()

    def init_state(self, batch: int, ref: torch.Tensor) -> State:
        """Zero (h per layer, c per layer, m, highway z), each (B, hidden, h, w)."""
        zeros = [ref.new_zeros(batch, n, self.hp, self.wp) for n in self.num_hidden]
        return list(zeros), list(zeros), zeros[0], zeros[0]

    def step(self, net: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Layer 0, the highway, then layers 1… on z and the hidden states below."""
        hs, cs, m, z = state
        hs, cs = list(hs), list(cs)
        hs[0], cs[0], m = self.cells[0](net, hs[0], cs[0], m)
        z = self.highway(hs[0], z)
        for i in range(1, len(self.cells)):
            hs[i], cs[i], m = self.cells[i](z if i == 1 else hs[i - 1], hs[i], cs[i], m)
        return hs[-1], (hs, cs, m, z)
