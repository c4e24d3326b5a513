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

Rollout: T_in + t_out − 1 steps. Steps t < T_in read input frame t; the output of step
T_in − 1 + k is future frame k. At a future step the frame fed in is
cat(target channels, future_aux[k]) where the target channels are the model's previous output,
or, in training with scheduled sampling, the true frame with probability ``teacher_forcing``
drawn per sample and per step (Bernoulli). With ``truth=None`` the rollout is closed-loop, for
any t_out.

OpenSTL's cell also builds two convolutions its forward never uses (``conv_o``: 2·hidden →
hidden, k×k; ``conv_last``: 2·hidden → hidden, 1×1). They are 3.41 M of the 15.08 M parameters
of the iono configuration in the seed's Table 1. ``openstl_inert_params=True`` (default) keeps
them, frozen (``requires_grad=False``), so parameter counts and state-dict keys match OpenSTL;
they never affect an output. ``False`` leaves them out (11.68 M at the iono configuration).

``channel_mixer=True`` (``fusion: mixer``): every fed frame (input, fed-back and teacher-forced
frames alike) goes through the Channel Mixer Layer in the patched layout
(:class:`geostl.models.channel_mixer.ChannelMixer`), and the first cell reads
p²·(C_out + C_in) channels (iono mixer-16: 18.36 M, seed Table 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from geostl.models.backbones._contract import check_construction, check_forward
from geostl.models.channel_mixer import ChannelMixer
from geostl.models.patching import merge_patched_channels, patch, unpatch
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
        inert_params: also build OpenSTL's unused ``conv_o`` and ``conv_last`` (frozen).
    """

    def __init__(
        self,
        in_channels: int,
        hidden: int,
        height: int,
        width: int,
        filter_size: int,
        layer_norm: bool,
        inert_params: bool,
    ) -> None:
        super().__init__()
        self.hidden = hidden
        gates = (4 * hidden, height, width) if layer_norm else None
        self.conv_x = _conv(in_channels, 4 * hidden, filter_size, gates)
        self.conv_h = _conv(hidden, 4 * hidden, filter_size, gates)
        if inert_params:
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
class ConvLSTM(nn.Module):
    """Stacked ConvLSTM with space-to-depth patching and scheduled sampling.

    Args:
        in_shape: (T_in, C_in, H, W) of the input frames, C_in = out_channels + aux_channels.
        out_channels: C_out, the target channels (first in x).
        t_out: default forecast length (any t_out can be asked at call time).
        aux_channels: A, auxiliary channels after the targets in x (and in ``future_aux``).
        num_hidden: hidden channels of each stacked cell (iono: 4 × 128).
        filter_size: odd gate-convolution kernel size (iono: 5).
        stride: must be 1 (OpenSTL's argument; another stride changes the state size).
        patch_size: space-to-depth factor p; H and W must be divisible by it (iono: 4).
        layer_norm: LayerNorm after the gate convolutions (iono: False).
        openstl_inert_params: keep OpenSTL's unused, frozen cell convolutions (see module doc).
        channel_mixer: Channel Mixer Layer on every fed frame (set by ``fusion: mixer``).

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
        channel_mixer: bool = False,
    ) -> None:
        super().__init__()
        t_in, c_in, h, w = check_construction(
            "convlstm", in_shape, out_channels, t_out, aux_channels
        )
        hidden = [int(n) for n in num_hidden]
        if not hidden or any(n < 1 for n in hidden):
            raise ValueError(f"convlstm: num_hidden must list positive ints, got {num_hidden!r}")
        if not isinstance(filter_size, int) or filter_size < 1 or filter_size % 2 == 0:
            raise ValueError(
                f"convlstm: filter_size must be a positive odd int, got {filter_size!r}"
            )
        if stride != 1:
            raise ValueError(
                f"convlstm: stride must be 1, got {stride!r} (a strided gate convolution would "
                "shrink the hidden state between steps)"
            )
        if not isinstance(patch_size, int) or patch_size < 1 or h % patch_size or w % patch_size:
            raise ValueError(
                f"convlstm: patch_size={patch_size!r} must be a positive int dividing H={h} and "
                f"W={w} (pad the grid with data.padding.multiple or pick another patch_size)"
            )
        self.t_in, self.h, self.w = t_in, h, w
        self.out_channels, self.aux_channels, self.t_out = out_channels, aux_channels, t_out
        self.patch_size = patch_size
        self.num_hidden = hidden
        hp, wp = h // patch_size, w // patch_size
        frame_in = patch_size * patch_size * c_in
        self.mixer: ChannelMixer | None = None
        if channel_mixer:
            self.mixer = ChannelMixer(
                c_in, out_channels, "patched", patch_size, "fusion 'mixer' (backbone 'convlstm')"
            )
            frame_in = self.mixer.out_channels
        self.cells = nn.ModuleList(
            ConvLSTMCell(
                frame_in if i == 0 else hidden[i - 1],
                n,
                hp,
                wp,
                filter_size,
                bool(layer_norm),
                bool(openstl_inert_params),
            )
            for i, n in enumerate(hidden)
        )
        self.readout = nn.Conv2d(hidden[-1], patch_size * patch_size * out_channels, 1, bias=False)
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
            "convlstm",
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
        hs = [frames.new_zeros(b, n, hp, wp) for n in self.num_hidden]
        cs = [frames.new_zeros(b, n, hp, wp) for n in self.num_hidden]
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
            if self.mixer is not None:
                net = self.mixer(net)
            hs[0], cs[0] = self.cells[0](net, hs[0], cs[0])
            for i in range(1, len(self.cells)):
                hs[i], cs[i] = self.cells[i](hs[i - 1], hs[i], cs[i])
            if t >= self.t_in - 1:
                generated = self.readout(hs[-1])
                outputs.append(generated)
        return unpatch(torch.stack(outputs, dim=1), p)
