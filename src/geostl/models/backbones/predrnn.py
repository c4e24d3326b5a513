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

Fusions: ``frame_transform`` (``fusion: mixer``) mixes every fed frame (the shared
rollout). ``action_channels=True`` (``fusion: action``) feeds only the p²·C_out patched target
channels as frames and uses the p²·A patched auxiliary channels of each step as the action of
every layer's :class:`~geostl.models.backbones.predrnn_action_cell.
ActionSpatioTemporalLSTMCell` (input frame t's auxiliary channels at warm-up steps,
``future_aux[k]`` at forecast steps).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from geostl.models.backbones._rollout import PatchedRecurrentBackbone
from geostl.models.backbones.predrnn_action_cell import ActionSpatioTemporalLSTMCell
from geostl.models.backbones.predrnn_cells import SpatioTemporalLSTMCell
from geostl.models.patching import split_patched_channels
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
        frame_transform: the fusion's per-frame hook, applied by the rollout (``fusion: mixer``).
        action_channels: action-conditioned cells on the auxiliary channels (set by
            ``fusion: action``; needs aux_channels >= 1, not with ``frame_transform``).

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
        frame_transform: Any = None,
        action_channels: bool = False,
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
            frame_transform=frame_transform,
        )
        self.action_channels = bool(action_channels)
        if self.action_channels:
            hooked = frame_transform is not None
            self.cells = self._action_cells(filter_size, bool(layer_norm), hooked)
        else:
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

    def _action_cells(self, filter_size: int, layer_norm: bool, mixer: bool) -> nn.ModuleList:
        """Action-conditioned cells: layer 0 reads the p²·C_out target channels, every layer
        gets the p²·A patched auxiliary channels as its action."""
        if mixer:
            raise ValueError(
                f"{self.NAME}: action_channels and frame_transform cannot be combined (one fusion)"
            )
        if self.aux_channels < 1:
            raise ValueError(
                f"{self.NAME}: action_channels needs auxiliary channels to act with, "
                "got aux_channels=0"
            )
        area = self.patch_size * self.patch_size
        return nn.ModuleList(
            ActionSpatioTemporalLSTMCell(
                area * self.out_channels if i == 0 else self.num_hidden[i - 1],
                area * self.aux_channels,
                n,
                self.hp,
                self.wp,
                filter_size,
                layer_norm,
            )
            for i, n in enumerate(self.num_hidden)
        )

    def init_state(self, batch: int, ref: torch.Tensor) -> State:
        """Zero (h per layer, c per layer, m), each (B, hidden, h, w)."""
        zeros = [ref.new_zeros(batch, n, self.hp, self.wp) for n in self.num_hidden]
        return list(zeros), list(zeros), zeros[0]

    def run_cell(
        self,
        i: int,
        x: torch.Tensor,
        h: torch.Tensor,
        c: torch.Tensor,
        m: torch.Tensor,
        action: torch.Tensor | None,
    ) -> tuple[torch.Tensor, ...]:
        """Layer ``i``'s cell → (h', c', m', Δc, Δm); the action only with action cells."""
        if action is None:
            return self.cells[i](x, h, c, m)
        return self.cells[i](x, h, c, m, action)

    def cell_step(
        self,
        i: int,
        x: torch.Tensor,
        hs: list[torch.Tensor],
        cs: list[torch.Tensor],
        m,
        action: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Run layer ``i`` on ``x``, updating hs[i], cs[i]; returns the new memory m."""
        hs[i], cs[i], m, _, _ = self.run_cell(i, x, hs[i], cs[i], m, action)
        return m

    def split_action(self, net: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(frame, action): with action cells the fed frame's patched target channels and its
        patched auxiliary channels; otherwise (net, None)."""
        if not self.action_channels:
            return net, None
        return split_patched_channels(net, self.patch_size, self.out_channels)

    def step(self, net: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step through the stack; m goes up the layers and on to the next step."""
        hs, cs, m = state
        hs, cs = list(hs), list(cs)
        frame, action = self.split_action(net)
        for i in range(len(self.cells)):
            m = self.cell_step(i, frame if i == 0 else hs[i - 1], hs, cs, m, action)
        return hs[-1], (hs, cs, m)
