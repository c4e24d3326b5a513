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

Rollout and scheduled sampling are ConvLSTM's (see :mod:`geostl.models.backbones.convlstm`):
T_in + t_out − 1 steps; at a future step the frame fed in is cat(own previous output or, with
probability ``teacher_forcing`` per sample and step, the true frame; future_aux of that step);
closed loop with ``truth=None``, for any t_out.

Differences from OpenSTL's code, none of which changes parameter counts:

- OpenSTL keeps the MIMS cell state of each block on the module between calls (so a batch
  starts from the previous batch's state, detached; this is why its MIM needs
  ``batch_size == val_batch_size`` and ``drop_last``). Here every rollout starts from zero
  states, as in the paper, and gradients flow through the MIMS state in time.
- OpenSTL also runs the MIMN units on zeros at the first step and discards the result (zero
  output either way); this is skipped. fvcore's trace dropped those calls too, so the MACs
  agree with the seed's 711 G.
- ``openstl_inert_params=True`` (default) keeps OpenSTL's unused MIMN ``conv_last`` (2·hidden →
  hidden, 1×1; 98 304 of the 38.20 M parameters at the iono configuration), frozen.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from geostl.models.backbones._contract import check_construction, check_forward
from geostl.models.backbones.mim_cells import MIMBlock, MIMMemory, SpatioTemporalLSTMCell
from geostl.models.patching import merge_patched_channels, patch, unpatch
from geostl.models.registry import BACKBONES


@BACKBONES.register("mim")
class MIM(nn.Module):
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
        openstl_inert_params: bool = True,
    ) -> None:
        super().__init__()
        t_in, c_in, h, w = check_construction("mim", in_shape, out_channels, t_out, aux_channels)
        hidden = [int(n) for n in num_hidden]
        if len(hidden) < 2 or len(set(hidden)) != 1 or hidden[0] < 1:
            raise ValueError(
                f"mim: num_hidden must list at least 2 equal positive ints (one ST-LSTM layer, "
                f"then MIM blocks sharing one spatiotemporal memory), got {num_hidden!r}"
            )
        if not isinstance(filter_size, int) or filter_size < 1 or filter_size % 2 == 0:
            raise ValueError(f"mim: filter_size must be a positive odd int, got {filter_size!r}")
        if stride != 1:
            raise ValueError(f"mim: stride must be 1, got {stride!r}")
        if not isinstance(patch_size, int) or patch_size < 1 or h % patch_size or w % patch_size:
            raise ValueError(
                f"mim: patch_size={patch_size!r} must be a positive int dividing H={h} and "
                f"W={w} (pad the grid with data.padding.multiple or pick another patch_size)"
            )
        self.t_in, self.h, self.w = t_in, h, w
        self.out_channels, self.aux_channels, self.t_out = out_channels, aux_channels, t_out
        self.patch_size = patch_size
        self.num_hidden = hidden
        n, hp, wp, ln = hidden[0], h // patch_size, w // patch_size, bool(layer_norm)
        frame_in = patch_size * patch_size * c_in
        self.first = SpatioTemporalLSTMCell(frame_in, n, hp, wp, filter_size, ln)
        self.blocks = nn.ModuleList(
            MIMBlock(n, n, hp, wp, filter_size, ln) for _ in range(len(hidden) - 1)
        )
        self.mimn = nn.ModuleList(
            MIMMemory(n, n, hp, wp, filter_size, ln, bool(openstl_inert_params))
            for _ in range(len(hidden) - 1)
        )
        self.readout = nn.Conv2d(n, patch_size * patch_size * out_channels, 1, bias=False)
        self.aux_losses: dict[str, torch.Tensor] = {}

    def forward(
        self,
        x: torch.Tensor,
        future_aux: torch.Tensor | None,
        t_out: int,
        truth: torch.Tensor | None = None,
        teacher_forcing: float | None = None,
    ) -> torch.Tensor:
        """Roll out ``t_out`` frames: (B, T_in, C_in, H, W) → (B, t_out, C_out, H, W)."""
        self.aux_losses = {}
        tf = check_forward(
            "mim",
            x,
            future_aux,
            t_out,
            truth,
            teacher_forcing,
            t_in=self.t_in,
            c_out=self.out_channels,
            aux=self.aux_channels,
            hw=(self.h, self.w),
        )
        p = self.patch_size
        frames = patch(x, p)
        aux = patch(future_aux, p) if self.aux_channels else None
        forced = patch(truth, p) if truth is not None and tf > 0.0 else None
        b, _, _, hp, wp = frames.shape
        layers = len(self.num_hidden)

        def zeros() -> torch.Tensor:
            return frames.new_zeros(b, self.num_hidden[0], hp, wp)

        hs = [zeros() for _ in range(layers)]
        cs = [zeros() for _ in range(layers)]
        ss = [zeros() for _ in range(layers - 1)]  # MIMS cell state of each block
        dh = [zeros() for _ in range(layers - 1)]  # MIMN outputs (diff_h of the block above)
        dc = [zeros() for _ in range(layers - 1)]  # MIMN cell states
        m = zeros()
        outputs: list[torch.Tensor] = []
        generated: torch.Tensor | None = None
        for t in range(self.t_in + t_out - 1):
            if t < self.t_in:
                net = frames[:, t]
            else:
                k = t - self.t_in  # the future frame fed in at this step
                target = generated
                if forced is not None:
                    if tf >= 1.0:
                        target = forced[:, k]
                    else:
                        use = torch.rand(b, device=frames.device) < tf
                        target = torch.where(use[:, None, None, None], forced[:, k], generated)
                net = merge_patched_channels(target, aux[:, k], p) if aux is not None else target
            h_before = hs[0]
            hs[0], cs[0], m = self.first(net, hs[0], cs[0], m)
            for i in range(1, layers):
                if t > 0:
                    diff = hs[0] - h_before if i == 1 else dh[i - 2]
                    dh[i - 1], dc[i - 1] = self.mimn[i - 1](diff, dh[i - 1], dc[i - 1])
                hs[i], cs[i], m, ss[i - 1] = self.blocks[i - 1](
                    hs[i - 1], dh[i - 1], hs[i], cs[i], m, ss[i - 1]
                )
            if t >= self.t_in - 1:
                generated = self.readout(hs[-1])
                outputs.append(generated)
        return unpatch(torch.stack(outputs, dim=1), p)
