"""SpatioTemporalModel: gappy fine steps (days, hours) -> one map per coarse period (ClimaNet).

    x (B, C, M, T, H, W) + masks
      -> VideoEncoder on (B*M, C, T, H, W): tokens (B*M, T'H'W', E)
      -> TemporalAttentionAggregator: (B, M*H'W', E)
      -> + SpatialPositionalEncoding2D, SpatialTransformer per period: (B*M, H'W', E)
      -> MonthlyConvDecoder: (B, M, H, W), land = 0

Defaults are the spec's (§3.2): E = 128, patch (1, 4, 4), 31 steps, 12 periods, hidden 256,
overlap 1, spatial depth 2, 4 heads; 2 124 826 parameters.

One conscious change to the seed: land pixels, missing pixels and padded steps are all marked
*not valid* in the encoder's validity channel (the seed leaves land flagged as observed zeros),
so no value under any mask can reach the output.
"""

from __future__ import annotations

import torch
from torch import nn

from geostl.tasks.gapfill.decoder import MonthlyConvDecoder
from geostl.tasks.gapfill.spatial import SpatialPositionalEncoding2D, SpatialTransformer
from geostl.tasks.gapfill.temporal import TemporalAttentionAggregator
from geostl.tasks.gapfill.video_encoder import VideoEncoder

__all__ = ["SpatioTemporalModel"]


class SpatioTemporalModel(nn.Module):
    """Masked gap-filling transformer.

    Args:
        in_chans: C value channels.
        embed_dim: E.
        patch: (Pt, Ph, Pw).
        max_steps: T, steps per period after padding (31 days or 24 hours).
        max_periods: size of the period encoding table.
        num_periods: length of the decoder's per-period scale and bias.
        hidden: decoder width after the 1x1 conv.
        overlap: transposed-conv overlap in pixels.
        max_hw: (rows, columns) of the 2-D encoding, on the patch grid.
        spatial_depth, num_heads, dropout: spatial transformer settings.
    """

    def __init__(
        self,
        in_chans: int = 1,
        embed_dim: int = 128,
        patch: tuple[int, int, int] = (1, 4, 4),
        max_steps: int = 31,
        max_periods: int = 12,
        num_periods: int = 12,
        hidden: int = 256,
        overlap: int = 1,
        max_hw: tuple[int, int] = (256, 256),
        spatial_depth: int = 2,
        num_heads: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.config = {
            "in_chans": in_chans,
            "embed_dim": embed_dim,
            "patch": tuple(patch),
            "max_steps": max_steps,
            "max_periods": max_periods,
            "num_periods": num_periods,
            "hidden": hidden,
            "overlap": overlap,
            "max_hw": tuple(max_hw),
            "spatial_depth": spatial_depth,
            "num_heads": num_heads,
            "dropout": dropout,
        }
        self.patch = tuple(int(p) for p in patch)
        self.encoder = VideoEncoder(in_chans, embed_dim, self.patch, dropout)
        self.aggregator = TemporalAttentionAggregator(
            embed_dim, max_steps // self.patch[0], max_periods, num_heads, dropout
        )
        self.spatial_encoding = SpatialPositionalEncoding2D(embed_dim, *max_hw)
        self.spatial = SpatialTransformer(embed_dim, spatial_depth, num_heads, dropout)
        self.decoder = MonthlyConvDecoder(embed_dim, self.patch[1:], hidden, overlap, num_periods)

    def forward(
        self,
        x: torch.Tensor,
        missing: torch.Tensor,
        padded: torch.Tensor,
        land: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Reconstruct one map per period.

        Args:
            x: (B, C, M, T, H, W) values (anything, NaN included, where not valid).
            missing: (B, C or 1, M, T, H, W) bool, True = missing observation.
            padded: (B, M, T) bool, True = padding step (e.g. day 30 of February).
            land: (H, W) or (B, H, W) bool, True = land; None = no land.

        Returns:
            ``{"pred": (B, M, H, W)}``, 0 on land.
        """
        if x.ndim != 6:
            raise ValueError(f"x: expected (B, C, M, T, H, W), got {tuple(x.shape)}")
        B, C, M, T, H, W = x.shape
        if padded.shape != (B, M, T):
            raise ValueError(f"padded: expected (B, M, T) = {(B, M, T)}, got {tuple(padded.shape)}")
        if missing.ndim != 6 or missing.shape[0] != B or missing.shape[2:] != (M, T, H, W):
            raise ValueError(
                f"missing: expected (B, C or 1, M, T, H, W) = {(B, C, M, T, H, W)}, "
                f"got {tuple(missing.shape)}"
            )
        invalid = missing.to(torch.bool) | padded[:, None, :, :, None, None].to(torch.bool)
        if land is not None:
            land = land.to(torch.bool)
            land_b = land if land.ndim == 3 else land.expand(B, H, W)
            invalid = invalid | land_b[:, None, None, None]
        valid = ~invalid
        valid = valid.expand(B, C, M, T, H, W)
        fold = (B * M, C, T, H, W)
        x_f = x.permute(0, 2, 1, 3, 4, 5).reshape(fold)
        v_f = valid.permute(0, 2, 1, 3, 4, 5).reshape(fold)
        tokens, grid = self.encoder(x_f, v_f)
        t_, h_, w_ = grid
        pt = self.patch[0]
        padded_patch = padded.to(torch.bool).reshape(B, M, t_, pt).all(dim=-1)
        z = self.aggregator(tokens, B, M, grid, padded_patch)  # (B, M*S, E)
        z = z.reshape(B * M, h_ * w_, -1) + self.spatial_encoding(h_, w_)
        z = self.spatial(z)
        return {"pred": self.decoder(z, B, M, (h_, w_), land)}
