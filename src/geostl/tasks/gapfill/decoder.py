"""Per-period convolutional decoder with overlapping transposed conv and land mask (§3.2 6)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MonthlyConvDecoder"]


class MonthlyConvDecoder(nn.Module):
    """Tokens of each period -> one (H, W) map.

    1x1 conv E -> hidden; ConvTranspose2d hidden -> hidden/2 with kernel (Ph + 2 ov, Pw + 2 ov),
    stride (Ph, Pw), padding ov, whose output is exactly (H' Ph, W' Pw) = (H, W) with
    neighbouring patches overlapping by ov pixels; refinement (Conv3x3, BatchNorm, GELU) x 2;
    1x1 head -> 1 channel; per-period affine y * scale[m] + bias[m]; land pixels set to 0.

    Args:
        embed_dim: E.
        patch_hw: (Ph, Pw).
        hidden: channels after the 1x1 conv (model default 256).
        overlap: ov, pixels of overlap between neighbouring patches.
        num_periods: length of the scale and bias vectors (months, or days).
    """

    def __init__(
        self,
        embed_dim: int = 128,
        patch_hw: tuple[int, int] = (4, 4),
        hidden: int = 128,
        overlap: int = 1,
        num_periods: int = 12,
    ) -> None:
        super().__init__()
        if hidden % 2:
            raise ValueError(f"hidden: expected an even channel count, got {hidden}")
        ph, pw = (int(p) for p in patch_hw)
        half = hidden // 2
        self.reduce = nn.Conv2d(embed_dim, hidden, kernel_size=1)
        self.upsample = nn.ConvTranspose2d(
            hidden,
            half,
            kernel_size=(ph + 2 * overlap, pw + 2 * overlap),
            stride=(ph, pw),
            padding=overlap,
        )
        self.refine = nn.Sequential(
            nn.Conv2d(half, half, 3, padding=1),
            nn.BatchNorm2d(half),
            nn.GELU(),
            nn.Conv2d(half, half, 3, padding=1),
            nn.BatchNorm2d(half),
            nn.GELU(),
        )
        self.head = nn.Conv2d(half, 1, kernel_size=1)
        self.scale = nn.Parameter(torch.ones(num_periods))
        self.bias = nn.Parameter(torch.zeros(num_periods))
        self.num_periods = int(num_periods)

    def forward(
        self,
        tokens: torch.Tensor,
        batch: int,
        periods: int,
        grid_hw: tuple[int, int],
        land: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Decode.

        Args:
            tokens: (B*M, H'*W', E) in (h, w) order.
            batch, periods: B and M (M <= num_periods).
            grid_hw: (H', W').
            land: (H, W) or (B, H, W) bool, True = land (output 0 there); None = no land.

        Returns:
            (B, M, H, W) maps.
        """
        if periods > self.num_periods:
            raise ValueError(f"{periods} periods but the decoder has {self.num_periods} scales")
        h_, w_ = grid_hw
        n, _, E = tokens.shape
        x = tokens.transpose(1, 2).reshape(n, E, h_, w_)
        x = self.head(self.refine(self.upsample(self.reduce(x))))  # (B*M, 1, H, W)
        y = x.reshape(batch, periods, *x.shape[-2:])
        y = y * self.scale[:periods, None, None] + self.bias[:periods, None, None]
        if land is not None:
            land = land.to(torch.bool)
            if land.shape[-2:] != y.shape[-2:]:
                raise ValueError(
                    f"land: grid {tuple(land.shape[-2:])} does not match the output "
                    f"{tuple(y.shape[-2:])}"
                )
            if land.ndim == 3:
                land = land[:, None]
            y = y.masked_fill(land, 0.0)
        return y
