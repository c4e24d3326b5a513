"""The Channel Mixer Layer of Liu et al. (2024, *Space Weather* 22, e2024SW004121): a parameter-free
permutation that puts each pixel's C channel values side by side as a k×k cell (k = √C).

**The block rule** (Channel_Mixer_Layer ``Understand_Mixer.py``). One frame has N pixels in the
backbone's memory order, pixel n carrying the channel vector v_n (C values; channel 0 first).
With L the width of the grid the backbone consumes and A = ⌊L/k⌋:

1. flatten pixel-major, channel fastest: s[n·C + c] = v_n[c];
2. cut s into consecutive blocks of G = A·k² elements (A pixels each);
3. inside a block, the element at local offset a·k² + b·k + c′ (a < A, b < k, c′ < k) moves
   to local offset b·A·k + a·k + c′: the A cells' rows are interleaved, so the block becomes
   k rows of A·k values;
4. read the permuted sequence back as C_out planes of H_g × L (C_out·H_g·L = N·C).

When k divides L this is the *geometric reading*: every block is k full mosaic rows and
``out[c_out, i, j] = v_n[c]`` with r = c_out·H_g + i, n = (r div k)·(L/k) + (j div k),
c = (r mod k)·k + (j mod k). When k does not divide L (the seed's 16 channels on an 18-wide
patch grid: A = 4, rows of 16 values in 18-wide planes) the cell rows wrap across plane rows;
the seed's code, and so Table 1, use the block rule there, and so does this module.

**Trailing partial block.** N·C is always a multiple of k², so the sequence ends in whole
cells; when N is not a multiple of A the last block holds A′ = N mod A < A pixels. The rule is
applied to it with A′ in place of A (its A′ cells' rows interleaved into k rows of A′·k
values), which keeps the map a permutation. None of the seed's configurations reaches this
case (72×72 raster and 18×18 patched grids with C = 4, 9, 16 all have A | N); it is defined
here so that other grids work, and :func:`trailing_block_pixels` reports it.

**Layouts** (pixel order and sizes; the frame is one time step of the backbone's input):

- ``raster`` (SimVP, TAU): frame (B, C, H, W); pixel order (h, w); L = W, H_g = H, C_out = C.
- ``patched`` (recurrent backbones, patch p): the patched frame (B, p²·C, H/p, W/p) in
  :mod:`geostl.models.patching`'s channel order (ph, pw, c), channel fastest; pixel order
  (hp, wp, ph, pw), i.e. the patched frame read channels-last; L = W/p, H_g = H/p,
  C_out = p²·C.

:class:`ChannelMixer` returns cat[bypass, Mix(frame)] on the channel axis: the bypass is the
untouched target channels (raster: the C_target planes; patched: their p²·C_target
sub-channels), so a backbone built on it sees C_target + C (raster) or p²·(C_target + C)
(patched) input channels. It has no parameters and no buffers.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from geostl.models.patching import split_patched_channels

LAYOUTS = ("raster", "patched")


def mixer_cell_size(channels: int, where: str = "fusion 'mixer'") -> int:
    """k = √channels, the side of each pixel's cell; ``channels`` must be k² with k >= 2.

    Raises:
        ValueError: naming ``where`` and the channel count when it is not a square >= 4.
    """
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(f"{where}: the channel count must be a positive int, got {channels!r}")
    k = math.isqrt(channels)
    if k * k != channels or k < 2:
        raise ValueError(
            f"{where}: the channel mixer lays each pixel's channels out as a k×k cell, so the "
            f"input must have k² channels with k >= 2 (4, 9, 16, 25, …); got {channels} "
            "(targets + auxiliary channels). Change the channel set, or use fusion 'concat'"
        )
    return k


def trailing_block_pixels(pixels: int, channels: int, line_width: int) -> int:
    """A′, the pixels of the trailing partial block (0 when the blocks fill the sequence)."""
    k = mixer_cell_size(channels)
    return pixels % (line_width // k)


def mix_pixels(values: torch.Tensor, line_width: int) -> torch.Tensor:
    """The block rule on pixel-major values: (B, N, C) → the permuted sequence (B, N·C).

    Args:
        values: (B, N, C), pixel n's channel vector in ``values[:, n]``; C = k².
        line_width: L, the width of the grid the backbone consumes (L >= k).

    Returns:
        (B, N·C): element ``b·A·k + a·k + c′`` of each block is input element
        ``a·k² + b·k + c′`` of that block (see the module docstring; the trailing partial
        block uses A′).
    """
    if values.dim() != 3:
        raise ValueError(f"mix_pixels: values must be (B, N, C), got shape {tuple(values.shape)}")
    batch, pixels, channels = values.shape
    k = mixer_cell_size(channels, "mix_pixels")
    per_block = line_width // k if isinstance(line_width, int) else 0
    if per_block < 1:
        raise ValueError(
            f"mix_pixels: line_width L={line_width!r} must be an int >= k={k} (one cell per row)"
        )
    full_blocks = pixels // per_block
    tail = pixels - full_blocks * per_block
    cells = values.reshape(batch, pixels, k, k)  # (b, n, row of the cell, column)
    head = cells[:, : full_blocks * per_block].reshape(batch, full_blocks, per_block, k, k)
    parts = [head.transpose(2, 3).reshape(batch, -1)]  # (a, b, c′) → (b, a, c′)
    if tail:
        rest = cells[:, full_blocks * per_block :]
        parts.append(rest.transpose(1, 2).reshape(batch, -1))
    return torch.cat(parts, dim=1) if tail else parts[0]


def raster_pixels(frame: torch.Tensor) -> torch.Tensor:
    """Raster layout: frame (B, C, H, W) → pixel-major values (B, H·W, C), pixel order (h, w)."""
    b, c, h, w = frame.shape
    return frame.permute(0, 2, 3, 1).reshape(b, h * w, c)


def patched_pixels(patched: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Patched layout: (B, p²·C, Hp, Wp) in (ph, pw, c) channel order → (B, Hp·Wp·p², C),
    pixel order (hp, wp, ph, pw)."""
    b, cp, hp, wp = patched.shape
    p = patch_size
    if cp % (p * p):
        raise ValueError(
            f"patched frame has {cp} channels, not a multiple of p² = {p * p} (shape "
            f"{tuple(patched.shape)})"
        )
    c = cp // (p * p)
    x = patched.reshape(b, p, p, c, hp, wp).permute(0, 4, 5, 1, 2, 3)
    return x.reshape(b, hp * wp * p * p, c)


def mix_frame(frame: torch.Tensor, layout: str, patch_size: int = 1) -> torch.Tensor:
    """Mix(frame) without the bypass: (B, C_in, H_g, L) → (B, C_in, H_g, L) in ``layout``.

    ``C_in`` is C (raster) or p²·C (patched, ``patch_size`` = p); the output holds the
    permuted values read back as C_out = C_in planes of H_g × L.
    """
    if frame.dim() != 4:
        raise ValueError(f"mix_frame: frame must be (B, C, H, W), got shape {tuple(frame.shape)}")
    if layout == "raster":
        values = raster_pixels(frame)
    elif layout == "patched":
        values = patched_pixels(frame, patch_size)
    else:
        raise ValueError(f"mix_frame: layout must be one of {LAYOUTS}, got {layout!r}")
    return mix_pixels(values, frame.shape[-1]).reshape(frame.shape)


class ChannelMixer(nn.Module):
    """cat[bypass, Mix(frame)] for frames in a backbone's layout (no parameters).

    Args:
        channels: C, the channels of one unpatched frame (targets first, then auxiliary);
            must be k² with k >= 2.
        target_channels: C_target, the leading target channels copied into the bypass.
        layout: ``raster`` or ``patched``.
        patch_size: p of the patched layout (1 for raster).
        where: how errors name the user of the mixer (the fusion and backbone).

    Attributes:
        in_channels: C (raster) or p²·C (patched), the channels of a fed frame.
        out_channels: C_target + C (raster) or p²·(C_target + C) (patched).

    Forward: (…, in_channels, H_g, L) → (…, out_channels, H_g, L); any leading dims (e.g.
    (B, T)) are flattened into the batch.
    """

    def __init__(
        self,
        channels: int,
        target_channels: int,
        layout: str,
        patch_size: int = 1,
        where: str = "fusion 'mixer'",
    ) -> None:
        super().__init__()
        self.cell_size = mixer_cell_size(channels, where)
        if layout not in LAYOUTS:
            raise ValueError(f"{where}: layout must be one of {LAYOUTS}, got {layout!r}")
        if isinstance(target_channels, bool) or not isinstance(target_channels, int):
            raise ValueError(f"{where}: target_channels must be an int, got {target_channels!r}")
        if not 1 <= target_channels < channels:
            raise ValueError(
                f"{where}: target_channels must be in [1, {channels - 1}] (the bypass copies the "
                f"targets, the other channels are auxiliary), got {target_channels}"
            )
        if not isinstance(patch_size, int) or patch_size < 1:
            raise ValueError(f"{where}: patch_size must be a positive int, got {patch_size!r}")
        if layout == "raster" and patch_size != 1:
            raise ValueError(f"{where}: the raster layout has no patching, got p={patch_size}")
        self.channels, self.target_channels = channels, target_channels
        self.layout, self.patch_size = layout, patch_size
        area = patch_size * patch_size
        self.in_channels = area * channels
        self.out_channels = area * (target_channels + channels)

    def bypass(self, frame: torch.Tensor) -> torch.Tensor:
        """The target channels of a (B, in_channels, H_g, L) frame, untouched."""
        if self.layout == "raster":
            return frame[:, : self.target_channels]
        return split_patched_channels(frame, self.patch_size, self.target_channels)[0]

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        if frame.dim() < 4 or frame.shape[-3] != self.in_channels:
            raise ValueError(
                f"ChannelMixer ({self.layout}, C={self.channels}, p={self.patch_size}): frame "
                f"must be (…, {self.in_channels}, H, W), got shape {tuple(frame.shape)}"
            )
        lead = frame.shape[:-3]
        flat = frame.reshape(-1, *frame.shape[-3:])
        mixed = mix_frame(flat, self.layout, self.patch_size)
        out = torch.cat([self.bypass(flat), mixed], dim=1)
        return out.reshape(*lead, *out.shape[1:])

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, target_channels={self.target_channels}, "
            f"layout={self.layout!r}, patch_size={self.patch_size}, k={self.cell_size}"
        )
