"""Parts of DMVFN (Hu et al., "A Dynamic Multi-Scale Voxel Flow Network for Video Prediction",
CVPR 2023), laid out as OpenSTL's ``dmvfn_modules`` so parameter counts match:

- :func:`warp`: backward warping of (N, C, H, W) images by a flow (N, 2, H, W) in pixels
  (channel 0: x / width, channel 1: y / height), bilinear, border padding, corner-aligned grid;
- :class:`RoutingModule`: 3×3 conv → ReLU → 3×3 conv → global average pool, (N, 2C, H, W) →
  (N, routing_out) (the routing vector is made from it by the backbone);
- :func:`bernoulli_straight_through`: a 0/1 Bernoulli sample whose gradient is the identity;
- :class:`MVFB`: the multi-scale voxel flow block. On x = cat(img0, img1, warp(img0),
  warp(img1), mask) (4C + 1 channels) and the current flow (4 channels: one 2-D flow per input
  frame), both downsampled by ``scale``: two stride-2 3×3 convs (→ F/2 → F), three 3×3 convs with
  a residual, a 3×3 squeeze to F/4, bilinear upsampling to half resolution; a full-resolution
  branch (stride-2 3×3 conv to 8, 3×3 conv); a 4×4 stride-2 transposed conv of the two → 5
  channels: a flow increment (4) and a mask increment (1). Every conv but the last is followed
  by a PReLU (one slope per channel).

Deviation for arbitrary grids: the low-resolution branch is upsampled to the size of the
full-resolution branch (OpenSTL multiplies by ``2·scale``, which only lines up when H and W are
multiples of 4·scale, e.g. not for 72×72 with scale 4) and the output is cropped to (H, W);
on grids OpenSTL accepts the result is the same.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` (N, C, H, W) at pixel + ``flow`` (N, 2, H, W) → (N, C, H, W)."""
    n, _, h, w = image.shape
    xs = torch.linspace(-1.0, 1.0, w, device=image.device, dtype=image.dtype)
    ys = torch.linspace(-1.0, 1.0, h, device=image.device, dtype=image.dtype)
    gx = xs.view(1, 1, w).expand(n, h, w) + flow[:, 0] / max((w - 1.0) / 2.0, 1e-12)
    gy = ys.view(1, h, 1).expand(n, h, w) + flow[:, 1] / max((h - 1.0) / 2.0, 1e-12)
    grid = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


class _BernoulliST(torch.autograd.Function):
    @staticmethod
    def forward(ctx, p: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return torch.bernoulli(p)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad


def bernoulli_straight_through(p: torch.Tensor) -> torch.Tensor:
    """0/1 samples with probabilities ``p`` in [0, 1]; the backward pass is the identity."""
    return _BernoulliST.apply(p)


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1), nn.PReLU(c_out))


class RoutingModule(nn.Module):
    """(N, in_channels, H, W) → (N, out_channels): conv, ReLU, conv, global average pool."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.routing = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, 1, 1),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1),
            nn.AdaptiveAvgPool2d((1, 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.routing(x).flatten(1)


class MVFB(nn.Module):
    """Multi-scale voxel flow block (see the module docstring).

    Args:
        in_planes: channels of cat(x, flow) = 4·C + 1 + 4.
        num_feature: width F of the low-resolution branch (a multiple of 4).
    """

    def __init__(self, in_planes: int, num_feature: int) -> None:
        super().__init__()
        f = num_feature
        self.conv0 = nn.Sequential(_conv(in_planes, f // 2, 2), _conv(f // 2, f, 2))
        self.convblock = nn.Sequential(_conv(f, f), _conv(f, f), _conv(f, f))
        self.conv_sq = _conv(f, f // 4)
        self.conv1 = nn.Sequential(_conv(in_planes, 8, 2))
        self.convblock1 = nn.Sequential(_conv(8, 8))
        self.lastconv = nn.ConvTranspose2d(f // 4 + 8, 5, 4, 2, 1)

    def forward(
        self, x: torch.Tensor, flow: torch.Tensor, scale: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, 4C+1, H, W), flow (N, 4, H, W) → flow increment (N, 4, H, W), mask
        increment (N, 1, H, W)."""
        h, w = x.shape[-2:]
        full = torch.cat([x, flow], dim=1)
        if scale != 1:
            x = F.interpolate(x, scale_factor=1.0 / scale, mode="bilinear", align_corners=False)
            flow = (
                F.interpolate(flow, scale_factor=1.0 / scale, mode="bilinear", align_corners=False)
                / scale
            )
        low = self.conv0(torch.cat([x, flow], dim=1))
        low = self.conv_sq(self.convblock(low) + low)
        high = self.convblock1(self.conv1(full))
        low = F.interpolate(low, size=high.shape[-2:], mode="bilinear", align_corners=False)
        out = self.lastconv(torch.cat([low, high], dim=1))[..., :h, :w]
        return out[:, :4], out[:, 4:5]
