"""ConvLSTM backbone, laid out as OpenSTL's ``ConvLSTM_Model`` (Shi et al. 2015).

Structure (OpenSTL layout, so parameter counts match its published figures):

- frames are space-to-depth patched, (B, T, C, H, W) → (B, T, p²·C, H/p, W/p)
  (:mod:`geostl.models.patching`, channel order (ph, pw, c));
- a stack of ConvLSTM cells. Cell l gets x (layer 0: the patched frame; above: the hidden state
  of the cell below) and its own (h, c). Two bias-free k×k convolutions give the gate
  pre-activations, ``conv_x(x) + conv_h(h)`` with 4·hidden channels, split in this order into
  i, f, g, o:  c' = σ(f)·c + σ(i)·tanh(g),  h' = σ(o)·tanh(c').  (No forget-gate bias is
  added, as in OpenSTL.) With ``layer_norm`` each convolution is followed by a LayerNorm over
  (4·hidden, H/p, W/p);
- a bias-free 1×1 readout from the top hidden state to p²·C_out channels (target channels
  only), then depth-to-space back to (C_out, H, W).

Rollout: the shared one of :class:`~geostl.models.backbones._rollout.PatchedRecurrentBackbone`
(T_in + t_out − 1 steps; the output of step T_in − 1 + k is future frame k; scheduled sampling
with a float ``teacher_forcing``, reverse scheduled sampling with a ``(warmup, future)`` pair;
closed loop with ``truth=None``, for any t_out). This module gives only the cell stack
(:meth:`ConvLSTM.init_state`, :meth:`ConvLSTM.step`).

OpenSTL's cell also builds two convolutions its forward never uses (``conv_o``: 2·hidden →
hidden, k×k; ``conv_last``: 2·hidden → hidden, 1×1). They are 3.41 M of the 15.08 M parameters
of the iono configuration in the seed's Table 1. ``openstl_inert_params=True`` (opt-in) keeps
them, frozen (``requires_grad=False``), so parameter counts and state-dict keys match OpenSTL;
they never affect an output. The default ``False`` leaves them out (11.68 M at the iono
configuration).

Fusion hook (``fusion: mixer``): the rollout applies the fusion's per-frame module to every fed
frame (input, fed-back and teacher-forced frames alike) in the patched layout, and the first
cell reads its ``out_channels`` (iono mixer-16: 18.36 M with the inert parameters, seed
Table 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from geostl.models.backbones._rollout import PatchedRecurrentBackbone
from geostl.models.registry import BACKBONES


def _conv(in_ch: int, out_ch: int, k: int, norm_shape: tuple[int, int, int] | None) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, k, stride=1, padding=k // 2, bias=False)]
    if norm_shape is not None:
        layers.append(nn.LayerNorm(list(norm_shape)))
    return nn.Sequential(*layers)


class ConvLSTMCell(nn.Module):
    """One ConvLSTM cell on (B, in_channels, height, width) frames.

    Args:
        in_channels: channels of the cell input x.
        hidden: hidden (and cell-state) channels.
        height, width: spatial size (needed by the optional LayerNorm).
        filter_size: odd kernel size of both gate convolutions.
        layer_norm: LayerNorm over (4·hidden, height, width) after each gate convolution.
        openstl_inert_params: also build OpenSTL's unused ``conv_o`` and ``conv_last``
            (frozen).
    """

    def __init__(
        self,
        in_channels: int,
        hidden: int,
        height: int,
        width: int,
        filter_size: int,
        layer_norm: bool,
        openstl_inert_params: bool = False,
    ) -> None:
        super().__init__()
        self.hidden = hidden
        gates = (4 * hidden, height, width) if layer_norm else None
        self.conv_x = _conv(in_channels, 4 * hidden, filter_size, gates)
        self.conv_h = _conv(hidden, 4 * hidden, filter_size, gates)
        if openstl_inert_params:
            self.conv_o = _conv(
                2 * hidden, hidden, filter_size, (hidden, height, width) if layer_norm else None
            )
            self.conv_last = nn.Conv2d(2 * hidden, hidden, 1, bias=False)
            for module in (self.conv_o, self.conv_last):
                module.requires_grad_(False)

    def forward(
        self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: x (B, in, H, W), h and c (B, hidden, H, W) → new (h, c)."""
        i, f, g, o = torch.split(self.conv_x(x) + self.conv_h(h), self.hidden, dim=1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h_new = torch.sigmoid(o) * torch.tanh(c_new)
        return h_new, c_new


@BACKBONES.register("convlstm")
class ConvLSTM(PatchedRecurrentBackbone):
    """Stacked ConvLSTM with space-to-depth patching and (reverse) scheduled sampling.

    Args:
        in_shape: (T_in, C_in, H, W) of the input frames, C_in = out_channels + aux_channels.
        out_channels: C_out, the target channels (first in x).
        t_out: default forecast length (any t_out can be asked at call time).
        aux_channels: A, auxiliary channels after the targets in x (and in ``future_aux``).
        num_hidden: hidden channels of each stacked cell (iono: 4 × 128); may differ per layer.
        filter_size: odd gate-convolution kernel size (iono: 5).
        stride: must be 1 (OpenSTL's argument; another stride changes the state size).
        patch_size: space-to-depth factor p; H and W must be divisible by it (iono: 4).
        layer_norm: LayerNorm after the gate convolutions (iono: False).
        openstl_inert_params: keep OpenSTL's unused, frozen cell convolutions (opt-in; see
            module doc).
        frame_transform: the fusion's per-frame hook (set by ``fusion: mixer``).

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
            "convlstm",
            in_shape,
            out_channels,
            t_out,
            aux_channels,
            num_hidden,
            filter_size,
            stride,
            patch_size,
            frame_transform=frame_transform,
            equal_hidden=False,
        )
        self.cells = nn.ModuleList(
            ConvLSTMCell(
                self.frame_channels if i == 0 else self.num_hidden[i - 1],
                n,
                self.hp,
                self.wp,
                filter_size,
                bool(layer_norm),
                bool(openstl_inert_params),
            )
            for i, n in enumerate(self.num_hidden)
        )
        self.build_readout()

    def init_state(self, batch: int, ref: torch.Tensor) -> tuple[list, list]:
        """Zero (h per layer, c per layer), each (B, hidden_l, H/p, W/p)."""
        hs = [ref.new_zeros(batch, n, self.hp, self.wp) for n in self.num_hidden]
        cs = [ref.new_zeros(batch, n, self.hp, self.wp) for n in self.num_hidden]
        return hs, cs

    def step(self, net: torch.Tensor, state: tuple[list, list]) -> tuple[torch.Tensor, tuple]:
        """One step up the stack: fed frame (B, frame_channels, H/p, W/p) → top h."""
        hs, cs = list(state[0]), list(state[1])
        hs[0], cs[0] = self.cells[0](net, hs[0], cs[0])
        for i in range(1, len(self.cells)):
            hs[i], cs[i] = self.cells[i](hs[i - 1], hs[i], cs[i])
        return hs[-1], (hs, cs)
