"""MAU backbone: motion-aware units between a strided encoder and decoder, laid out as
OpenSTL's ``MAU_Model`` (Chang et al., "MAU: A Motion-Aware Unit for Video Prediction and
Beyond", NeurIPS 2021).

Structure (OpenSTL layout, so parameter counts match its class):

- optional space-to-depth patching (iono: p = 1), frame (p²·C_in, H/p, W/p);
- encoder: 1×1 conv p²·C_in → hidden + LeakyReLU(0.2), then log2(sr_size) stride-2 3×3 convs
  hidden → hidden, each + LeakyReLU(0.2): the latent grid is (H/p/sr, W/p/sr);
- a stack of :class:`~geostl.models.backbones.mau_cell.MAUCell` (equal widths); layer 0 gets
  the encoded frame as its spatial input, every cell attends over its last ``tau`` temporal
  states and spatial inputs (zeros before the first step);
- decoder: log2(sr_size) stride-2 3×3 transposed convs hidden → hidden (LeakyReLU(0.2) after
  all but the last); with ``model_mode='recall'`` the encoder feature of the same resolution
  is added after each;
- ``readout``: 1×1 conv hidden → p²·C_out (OpenSTL's ``srcnn``), then depth-to-space.

Rollout, scheduled sampling and future auxiliary channels as :mod:`.convlstm`: T_in + t_out − 1
steps, future frame k fed at step T_in + k as cat(own output or truth, future_aux[k]).

OpenSTL's class also builds two 1×1 convolutions its forward never uses (``merge``:
2·hidden → hidden, ``conv_last_sr``: 2·p²·C_in → p²·C_in; 8 259 parameters at the iono
configuration). ``openstl_inert_params=True`` (opt-in; default False) keeps them frozen so
counts and state-dict keys match OpenSTL.

Parameters at the iono configuration (72×72, C 1, hidden 4×64, filter 5, patch 1, sr 4,
τ 5): 4 762 116 (OpenSTL's class: 4.76 M). The seed's Table 1 gives 4.72 M because the seed's
fork of MAU_Model drops ``srcnn`` (65), ``merge`` (8 256) and ``conv_last_sr`` (3) and makes
the last transposed conv hidden → p²·C_out (577 instead of 36 928 parameters):
4 762 116 − 65 − 8 256 − 3 − 36 351 = 4 717 441 = 4.72 M.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from geostl.models.backbones._contract import check_construction
from geostl.models.backbones._rollout import RecurrentRollout
from geostl.models.backbones.mau_cell import MAUCell
from geostl.models.registry import BACKBONES

MODEL_MODES = ("normal", "recall")


@BACKBONES.register("mau")
class MAU(RecurrentRollout):
    """Motion-aware unit network with a strided encoder/decoder and scheduled sampling.

    Args:
        in_shape: (T_in, C_in, H, W), C_in = out_channels + aux_channels.
        out_channels: C_out, the target channels (first in x).
        t_out: default forecast length (any t_out can be asked at call time).
        aux_channels: A, auxiliary channels after the targets.
        num_hidden: width of each MAU cell; all equal (iono: 4 × 64).
        filter_size: odd cell kernel size (iono: 5).
        stride: must be 1 (OpenSTL's argument).
        patch_size: space-to-depth factor p (iono: 1).
        sr_size: encoder downsampling factor, a power of two (iono: 4); H/p and W/p must be
            divisible by it.
        tau: attention history length (iono: 5).
        cell_mode: ``"normal"`` or ``"residual"``.
        model_mode: ``"normal"`` or ``"recall"`` (encoder skips into the decoder).
        openstl_inert_params: keep OpenSTL's unused, frozen ``merge`` and ``conv_last_sr``.

    Forward: ``(x, future_aux, t_out, truth=None, teacher_forcing=None)``
    → (B, t_out, C_out, H, W).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        out_channels: int,
        t_out: int,
        aux_channels: int = 0,
        num_hidden: Sequence[int] = (64, 64, 64, 64),
        filter_size: int = 5,
        stride: int = 1,
        patch_size: int = 1,
        sr_size: int = 4,
        tau: int = 5,
        cell_mode: str = "normal",
        model_mode: str = "normal",
        openstl_inert_params: bool = False,
    ) -> None:
        super().__init__()
        t_in, c_in, h, w = check_construction("mau", in_shape, out_channels, t_out, aux_channels)
        hidden = [int(n) for n in num_hidden]
        if not hidden or any(n < 1 for n in hidden) or len(set(hidden)) != 1:
            raise ValueError(
                f"mau: num_hidden must list one positive width repeated per layer (the MAU "
                f"attention compares states of adjacent layers), got {num_hidden!r}"
            )
        if not isinstance(filter_size, int) or filter_size < 1 or filter_size % 2 == 0:
            raise ValueError(f"mau: filter_size must be a positive odd int, got {filter_size!r}")
        if stride != 1:
            raise ValueError(f"mau: stride must be 1, got {stride!r}")
        if not isinstance(patch_size, int) or patch_size < 1 or h % patch_size or w % patch_size:
            raise ValueError(
                f"mau: patch_size={patch_size!r} must be a positive int dividing H={h} and W={w}"
            )
        if not isinstance(sr_size, int) or sr_size < 1 or sr_size & (sr_size - 1):
            raise ValueError(f"mau: sr_size must be a power of two >= 1, got {sr_size!r}")
        hp, wp = h // patch_size, w // patch_size
        if hp % sr_size or wp % sr_size:
            raise ValueError(
                f"mau: sr_size={sr_size} must divide the patched grid H/p={hp}, W/p={wp} "
                "(pad the grid with data.padding.multiple or pick another sr_size)"
            )
        if not isinstance(tau, int) or tau < 1:
            raise ValueError(f"mau: tau must be an int >= 1, got {tau!r}")
        if model_mode not in MODEL_MODES:
            raise ValueError(f"mau: model_mode must be one of {MODEL_MODES}, got {model_mode!r}")
        self.t_in, self.h, self.w = t_in, h, w
        self.out_channels, self.aux_channels, self.t_out = out_channels, aux_channels, t_out
        self.backbone_name = "mau"
        self.patch_size = self.frame_patch = patch_size
        self.tau, self.model_mode = tau, model_mode
        self.num_hidden = hidden
        width = hidden[0]
        frame_in = patch_size * patch_size * c_in
        n = int(math.log2(sr_size))
        self.latent_hw = (hp // sr_size, wp // sr_size)
        act = 0.2
        encoders = [nn.Sequential(nn.Conv2d(frame_in, width, 1), nn.LeakyReLU(act))]
        encoders += [
            nn.Sequential(nn.Conv2d(width, width, 3, stride=2, padding=1), nn.LeakyReLU(act))
            for _ in range(n)
        ]
        self.encoders = nn.ModuleList(encoders)
        decoders: list[nn.Module] = []
        for i in range(n):
            up = nn.ConvTranspose2d(width, width, 3, stride=2, padding=1, output_padding=1)
            decoders.append(nn.Sequential(up, nn.LeakyReLU(act)) if i < n - 1 else up)
        self.decoders = nn.ModuleList(decoders)
        self.cells = nn.ModuleList(
            MAUCell(width, *self.latent_hw, filter_size, tau, cell_mode) for _ in hidden
        )
        self.readout = nn.Conv2d(width, patch_size * patch_size * out_channels, 1)
        if openstl_inert_params:
            self.merge = nn.Conv2d(2 * width, width, 1)
            self.conv_last_sr = nn.Conv2d(2 * frame_in, frame_in, 1)
            for module in (self.merge, self.conv_last_sr):
                module.requires_grad_(False)

    def _step(
        self,
        frame: torch.Tensor,
        t_states: list[torch.Tensor],
        t_hist: list[list[torch.Tensor]],
        s_hist: list[list[torch.Tensor]],
    ) -> torch.Tensor:
        """Encode one patched frame (B, p²·C_in, h, w), update the cells, decode the output."""
        feats = []
        s = frame
        for enc in self.encoders:
            s = enc(s)
            feats.append(s)
        for i, cell in enumerate(self.cells):
            t_att = torch.stack(t_hist[i][-self.tau :])
            s_att = torch.stack(s_hist[i][-self.tau :])
            s_hist[i].append(s)
            t_states[i], s = cell(t_states[i], s, t_att, s_att)
            t_hist[i].append(t_states[i])
            # only the last tau entries are ever read
            del t_hist[i][: -self.tau], s_hist[i][: -self.tau]
        out = s
        for i, dec in enumerate(self.decoders):
            out = dec(out)
            if self.model_mode == "recall":
                out = out + feats[-2 - i]
        return self.readout(out)

    def init_state(self, batch: int, ref: torch.Tensor) -> tuple:
        """Zero (temporal state per layer, its last tau per layer, spatial inputs' last tau per
        layer), each (B, hidden, *latent_hw)."""
        zeros = ref.new_zeros(batch, self.num_hidden[0], *self.latent_hw)
        t_states = [zeros for _ in self.cells]
        t_hist = [[zeros] * self.tau for _ in self.cells]
        s_hist = [[zeros] * self.tau for _ in self.cells]
        return t_states, t_hist, s_hist

    def step(self, net: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        """One step on the patched frame (B, p²·C_in, H/p, W/p): the decoded readout is both
        top state and forecast (B, p²·C_out, H/p, W/p)."""
        return self._step(net, *state), state

    def predict(self, top: torch.Tensor) -> torch.Tensor:
        """:meth:`step` already reads out: the identity."""
        return top
