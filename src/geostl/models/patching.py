"""Space-to-depth patching of frame sequences, as the recurrent backbones use it.

``patch`` turns (B, T, C, H, W) into (B, T, C·p², H/p, W/p): each non-overlapping p×p block of
pixels becomes one pixel whose channel vector lists the block's values. The channel order is
OpenSTL's ``reshape_patch`` order, **(ph, pw, c) with the channel fastest**::

    patched[b, t, (ph·p + pw)·C + c, i, j] = frames[b, t, c, i·p + ph, j·p + pw]

so the first C output channels are the block's top-left pixel, the next C the pixel to its
right, and so on row by row. ``unpatch`` is the exact inverse. Both are pure reshapes and
permutations: values are moved, never changed.
"""

from __future__ import annotations

import torch


def _check(shape: torch.Size, p: int, name: str) -> None:
    if not isinstance(p, int) or p < 1:
        raise ValueError(f"patch size p must be a positive integer, got {p!r}")
    if len(shape) != 5:
        raise ValueError(f"{name} must be 5-D (B, T, C, H, W), got shape {tuple(shape)}")


def patch(frames: torch.Tensor, p: int) -> torch.Tensor:
    """Space-to-depth: (B, T, C, H, W) → (B, T, C·p², H/p, W/p), channel order (ph, pw, c).

    Raises:
        ValueError: H or W is not divisible by ``p`` (the message names p and the shape).
    """
    _check(frames.shape, p, "frames")
    b, t, c, h, w = frames.shape
    if h % p or w % p:
        raise ValueError(
            f"cannot patch frames of shape (B, T, C, H, W) = {tuple(frames.shape)} with patch "
            f"size p={p}: H={h} and W={w} must both be divisible by p "
            "(pad the grid, e.g. data.padding.multiple, or choose another patch_size)"
        )
    x = frames.reshape(b, t, c, h // p, p, w // p, p)
    # (b, t, c, hp, ph, wp, pw) -> (b, t, ph, pw, c, hp, wp)
    x = x.permute(0, 1, 4, 6, 2, 3, 5)
    return x.reshape(b, t, p * p * c, h // p, w // p)


def unpatch(patched: torch.Tensor, p: int) -> torch.Tensor:
    """Depth-to-space, the inverse of :func:`patch`: (B, T, C·p², h, w) → (B, T, C, h·p, w·p).

    Raises:
        ValueError: the channel count is not a multiple of p².
    """
    _check(patched.shape, p, "patched")
    b, t, cp, h, w = patched.shape
    if cp % (p * p):
        raise ValueError(
            f"cannot unpatch a tensor of shape {tuple(patched.shape)} with patch size p={p}: "
            f"its {cp} channels are not a multiple of p² = {p * p}"
        )
    c = cp // (p * p)
    x = patched.reshape(b, t, p, p, c, h, w)
    # (b, t, ph, pw, c, hp, wp) -> (b, t, c, hp, ph, wp, pw)
    x = x.permute(0, 1, 4, 5, 2, 6, 3)
    return x.reshape(b, t, c, h * p, w * p)


def split_patched_channels(
    patched: torch.Tensor, p: int, first: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split patched channels (…, C·p², h, w) into the first ``first`` source channels and the rest.

    Works on (B, C·p², h, w) or (B, T, C·p², h, w). Returns two patched tensors with
    ``first``·p² and (C − first)·p² channels, each in (ph, pw, c) order.
    """
    *lead, cp, h, w = patched.shape
    c = cp // (p * p)
    x = patched.reshape(*lead, p * p, c, h, w)
    a = x[..., :first, :, :].reshape(*lead, p * p * first, h, w)
    b = x[..., first:, :, :].reshape(*lead, p * p * (c - first), h, w)
    return a, b


def merge_patched_channels(first: torch.Tensor, rest: torch.Tensor, p: int) -> torch.Tensor:
    """Inverse of :func:`split_patched_channels`: interleave two patched tensors per sub-pixel.

    ``first`` (…, C1·p², h, w) and ``rest`` (…, C2·p², h, w) → (…, (C1 + C2)·p², h, w), equal to
    patching the channel-concatenation [first source channels, rest source channels].
    """
    *lead, c1p, h, w = first.shape
    c2p = rest.shape[-3]
    a = first.reshape(*lead, p * p, c1p // (p * p), h, w)
    b = rest.reshape(*lead, p * p, c2p // (p * p), h, w)
    return torch.cat([a, b], dim=-3).reshape(*lead, c1p + c2p, h, w)
