"""PredRNN backbone, laid out as OpenSTL's ``PredRNN_Model`` (Wang et al., NeurIPS 2017).

A stack of spatiotemporal LSTM cells (:class:`~geostl.models.backbones.predrnn_cells.
SpatioTemporalLSTMCell`) on space-to-depth patched frames. Each layer keeps its own (h, c)
across steps; one spatiotemporal memory m zig-zags through the stack: layer l gets m from
layer l − 1 at the same step, and layer 0 gets m from the top layer of the previous step.
A bias-free 1×1 ``readout`` maps the top hidden state to the patched target channels. The
rollout, scheduled sampling and reverse scheduled sampling are those of
:mod:`geostl.models.backbones._rollout`.

Iono configuration (seed Table 1, one channel, 72×72, patch 4): num_hidden 4×128, filter 5,
stride 1, no layer norm → 23.84 M parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from geostl.models.backbones._rollout import PatchedRecurrentBackbone
from geostl.models.backbones.predrnn_cells import SpatioTemporalLSTMCell
from geostl.models.registry import BACKBONES

State = tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]


@BACKBONES.register("predrnn")
class PredRNN(PatchedRecurrentBackbone):
    """Stacked ST-LSTM with the zig-zag memory flow.

    Args:
        in_shape: (T_in, C_in, H, W) of the input frames, C_in = out_channels + aux_channels.
        out_channels: C_out, the target channels (first in x).
        t_out: default forecast length (any t_out can be asked at call time).
        aux_channels: A, auxiliary channels after the targets in x (and in ``future_aux``).
        num_hidden: hidden channels of each layer, all equal (iono: 4 × 128).
        filter_size: odd gate-convolution kernel size (iono: 5).
        stride: must be 1 (OpenSTL's argument).
        patch_size: space-to-depth factor p dividing H and W (iono: 4).
        layer_norm: LayerNorm after each gate convolution (iono: False).

    Forward: ``(x, future_aux, t_out, truth=None, teacher_forcing=None)``
    → (B, t_out, C_out, H, W); ``teacher_forcing`` may be a ``(warmup, future)`` pair
    (reverse scheduled sampling).
    """

    NAME = "predrnn"

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
    ) -> None:
        super().__init__(
            self.NAME,
            in_shape,
            out_channels,
            t_out,
            aux_channels,
            num_hidden,
            filter_size,
            stride,
            patch_size,
        )
        self.cells = nn.ModuleList(
            SpatioTemporalLSTMCell(
                self.frame_channels if i == 0 else self.num_hidden[i - 1],
                n,
                self.hp,
                self.wp,
                filter_size,
                bool(layer_norm),
            )
            for i, n in enumerate(self.num_hidden)
        )
        self.build_readout()

    def init_state(self, batch: int, ref: torch.Tensor) -> State:
        """Zero (h per layer, c per layer, m), each (B, hidden, h, w)."""
        zeros = [ref.new_zeros(batch, n, self.hp, self.wp) for n in self.num_hidden]
        return list(zeros), list(zeros), zeros[0]

    def cell_step(
        self, i: int, x: torch.Tensor, hs: list[torch.Tensor], cs: list[torch.Tensor], m
    ) -> torch.Tensor:
        """Run layer ``i`` on ``x``, updating hs[i], cs[i]; returns the new memory m."""
        hs[i], cs[i], m, _, _ = self.cells[i](x, hs[i], cs[i], m)
        return m

    def step(self, net: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step through the stack; m goes up the layers and on to the next step."""
        hs, cs, m = state
        hs, cs = list(hs), list(cs)
        for i in range(len(self.cells)):
            m = self.cell_step(i, net if i == 0 else hs[i - 1], hs, cs, m)
        return hs[-1], (hs, cs, m)
