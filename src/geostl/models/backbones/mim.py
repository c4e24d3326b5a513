"""MIM backbone, laid out as OpenSTL's ``MIM_Model`` (Wang et al., CVPR 2019, "Memory In Memory:
A Predictive Neural Network for Learning Higher-Order Non-Stationarity from Spatiotemporal
Dynamics").

Structure (cells in :mod:`geostl.models.backbones.mim_cells`):

- frames are space-to-depth patched, (B, T, C, H, W) → (B, T, p²·C, H/p, W/p);
- layer 1 is a spatiotemporal LSTM (PredRNN's ST-LSTM); layers 2..L are MIM blocks. The
  spatiotemporal memory m zig-zags through the stack: layer l gets the m that layer l − 1
  produced at this step, layer 1 the m of the top layer at the previous step;
- L − 1 MIMN (non-stationarity) memories sit between the layers. MIMN 1 reads the change of
  layer 1's hidden state over the step, h¹_t − h¹_{t−1}; MIMN l reads MIMN l − 1's output.
  Block l + 1 gets MIMN l's output as ``diff_h`` (zeros at the first step, when no difference
  exists: OpenSTL also leaves the MIMN states empty there);
- a bias-free 1×1 ``readout`` from the top hidden state to p²·C_out channels, then
  depth-to-space back to (C_out, H, W).

Every layer must have the same width (OpenSTL's MIM also fails otherwise: m is shared by all
layers and the blocks convolve their own hidden state with an ``in_channel``-input convolution).

Rollout and scheduled sampling are the PredRNN family's
(:class:`geostl.models.backbones._rollout.PatchedRecurrentBackbone`): T_in + t_out − 1 steps; at a
future step the frame fed in is cat(own previous output or, with probability ``teacher_forcing``
per sample and step, the true frame; future_aux of that step); closed loop with ``truth=None``,
for any t_out; reverse scheduled sampling (a ``(warmup, future)`` pair) works as for PredRNN.

Differences from OpenSTL's code, none of which changes parameter counts:

- OpenSTL keeps the MIMS cell state of each block on the module between calls (so a batch
  starts from the previous batch's state, detached; this is why its MIM needs
  ``batch_size == val_batch_size`` and ``drop_last``). Here every rollout starts from zero
  states, as in the paper, and gradients flow through the MIMS state in time.
- OpenSTL also runs the MIMN units on zeros at the first step and discards the result (zero
  output either way); this is skipped. fvcore's trace dropped those calls too, so the MACs
  agree with the seed's 711 G.
- ``openstl_inert_params=True`` (opt-in; default False) keeps OpenSTL's unused MIMN
  ``conv_last`` (2·hidden → hidden, 1×1; 98 304 of the 38.20 M parameters at the iono
  configuration), frozen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from geostl.models.backbones._rollout import PatchedRecurrentBackbone
from geostl.models.backbones.mim_cells import MIMBlock, MIMMemory, SpatioTemporalLSTMCell
from geostl.models.registry import BACKBONES


@BACKBONES.register("mim")
class MIM(PatchedRecurrentBackbone):
    """Memory In Memory: ST-LSTM first layer, MIM blocks above, MIMN memories between layers.

    Args:
        in_shape: (T_in, C_in, H, W) of the input frames, C_in = out_channels + aux_channels.
        out_channels: C_out, the target channels (first in x).
        t_out: default forecast length (any t_out can be asked at call time).
        aux_channels: A, auxiliary channels after the targets in x (and in ``future_aux``).
        num_hidden: hidden channels per layer, all equal, at least 2 layers (iono: 4 × 128).
        filter_size: odd convolution kernel size (iono: 5).
        stride: must be 1 (OpenSTL's argument).
        patch_size: space-to-depth factor p; H and W must be divisible by it (iono: 4).
        layer_norm: LayerNorm after every gate convolution (iono: False).
        openstl_inert_params: keep OpenSTL's unused, frozen MIMN ``conv_last`` convolutions.
        frame_transform: the fusion's per-frame hook, applied by the rollout (``fusion: mixer``).

    Forward: ``(x, future_aux, t_out, truth=None, teacher_forcing=None)``
    → (B, t_out, C_out, H, W).
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
            "mim",
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
        hidden = self.num_hidden
        n, hp, wp, ln = hidden[0], self.hp, self.wp, bool(layer_norm)
        self.first = SpatioTemporalLSTMCell(self.frame_channels, n, hp, wp, filter_size, ln)
        self.blocks = nn.ModuleList(
            MIMBlock(n, n, hp, wp, filter_size, ln) for _ in range(len(hidden) - 1)
        )
        self.mimn = nn.ModuleList(
            MIMMemory(n, n, hp, wp, filter_size, ln, bool(openstl_inert_params))
            for _ in range(len(hidden) - 1)
        )
        self.build_readout()

    def init_state(self, batch: int, ref: torch.Tensor) -> dict:
        """Zero states: h, c per layer; MIMS cell state and MIMN output/cell per block; m."""
        layers = len(self.num_hidden)

        def zeros() -> torch.Tensor:
            return ref.new_zeros(batch, self.num_hidden[0], self.hp, self.wp)

        return {
            "h": [zeros() for _ in range(layers)],
            "c": [zeros() for _ in range(layers)],
            "s": [zeros() for _ in range(layers - 1)],  # MIMS cell state of each block
            "dh": [zeros() for _ in range(layers - 1)],  # MIMN outputs (diff_h of the block above)
            "dc": [zeros() for _ in range(layers - 1)],  # MIMN cell states
            "m": zeros(),
            "first_step": True,
        }

    def step(self, net: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        """One step: ST-LSTM layer, then per block its MIMN memory and the MIM block."""
        hs, cs, ss = list(state["h"]), list(state["c"]), list(state["s"])
        dh, dc = list(state["dh"]), list(state["dc"])
        h_before = hs[0]
        hs[0], cs[0], m = self.first(net, hs[0], cs[0], state["m"])
        for i in range(1, len(self.num_hidden)):
            if not state["first_step"]:
                diff = hs[0] - h_before if i == 1 else dh[i - 2]
                dh[i - 1], dc[i - 1] = self.mimn[i - 1](diff, dh[i - 1], dc[i - 1])
            hs[i], cs[i], m, ss[i - 1] = self.blocks[i - 1](
                hs[i - 1], dh[i - 1], hs[i], cs[i], m, ss[i - 1]
            )
        new = {"h": hs, "c": cs, "s": ss, "dh": dh, "dc": dc, "m": m, "first_step": False}
        return hs[-1], new
