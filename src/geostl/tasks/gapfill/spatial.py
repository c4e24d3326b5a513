"""Fixed 2-D sinusoidal position encoding and the per-period spatial transformer (§3.2 4-5)."""

from __future__ import annotations

import torch
from torch import nn

from geostl.tasks.gapfill.temporal import sinusoid_table

__all__ = ["SpatialPositionalEncoding2D", "SpatialTransformer"]


class SpatialPositionalEncoding2D(nn.Module):
    """pe(h, w) = concat(s, s) with s = sin/cos(row h) + sin/cos(column w), each E/2 wide.

    The buffer covers a ``max_h`` x ``max_w`` grid of *patches* (token rows and columns).
    """

    def __init__(self, embed_dim: int = 128, max_h: int = 256, max_w: int = 256) -> None:
        super().__init__()
        if embed_dim % 4:
            raise ValueError(f"embed_dim: the 2-D encoding needs a multiple of 4, got {embed_dim}")
        half = embed_dim // 2
        rows, cols = sinusoid_table(max_h, half), sinusoid_table(max_w, half)
        summed = rows[:, None, :] + cols[None, :, :]  # (max_h, max_w, E/2)
        self.register_buffer("table", torch.cat([summed, summed], dim=-1), persistent=False)

    def forward(self, h: int, w: int) -> torch.Tensor:
        """(h*w, E) encodings in row-major (h, w) order."""
        if h > self.table.shape[0] or w > self.table.shape[1]:
            raise ValueError(
                f"token grid ({h}, {w}) exceeds the encoding's {tuple(self.table.shape[:2])}"
            )
        return self.table[:h, :w].reshape(h * w, -1)


class SpatialTransformer(nn.Module):
    """Post-norm ``nn.TransformerEncoder`` (GELU, FFN 4E) over the H'W' tokens of each period."""

    def __init__(
        self, embed_dim: int = 128, depth: int = 2, num_heads: int = 4, dropout: float = 0.0
    ) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            embed_dim,
            num_heads,
            dim_feedforward=4 * embed_dim,
            dropout=dropout,
            activation="gelu",
            batch_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, S, E) -> (N, S, E), N = batch x periods, S = H'W'."""
        return self.encoder(tokens)
