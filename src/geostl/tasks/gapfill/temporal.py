"""Fixed sinusoidal time encodings and the temporal attention aggregator (ClimaNet, steps 2-3).

The aggregator turns the fine-step tokens of each period (days of a month, hours of a day) into
one token per period: a learned score per step, padded steps set to -inf, softmax pooling over
the steps, then a pre-norm transformer block mixing the periods of each spatial token.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["TemporalAttentionAggregator", "TemporalPositionalEncoding", "sinusoid_table"]


def sinusoid_table(length: int, dim: int) -> torch.Tensor:
    """(length, dim) table with PE[t, 2i] = sin(t / 10000^(2i/dim)), PE[t, 2i+1] = cos(...)."""
    if dim % 2:
        raise ValueError(f"dim: sinusoidal encodings need an even width, got {dim}")
    position = torch.arange(length, dtype=torch.float64)[:, None]
    inv_freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    table = torch.zeros(length, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(position * inv_freq)
    table[:, 1::2] = torch.cos(position * inv_freq)
    return table.to(torch.float32)


class TemporalPositionalEncoding(nn.Module):
    """Fixed (non-learned) sinusoidal encoding of an index 0..max_len-1, width E (buffer)."""

    def __init__(self, embed_dim: int, max_len: int) -> None:
        super().__init__()
        self.max_len = int(max_len)
        self.register_buffer("table", sinusoid_table(max_len, embed_dim), persistent=False)

    def forward(self, length: int) -> torch.Tensor:
        """(length, E) encodings of indices 0..length-1."""
        if length > self.max_len:
            raise ValueError(f"length {length} exceeds the encoding's max_len {self.max_len}")
        return self.table[:length]


class TemporalAttentionAggregator(nn.Module):
    """Softmax-pool the steps of every period, then mix periods per spatial token.

    Args:
        embed_dim: E.
        max_steps: longest period in steps (31 days, 24 hours).
        max_periods: most periods per sample (12 months, 31 days).
        num_heads: heads of the cross-period attention.
        dropout: attention dropout (spec 0).
    """

    def __init__(
        self,
        embed_dim: int = 128,
        max_steps: int = 31,
        max_periods: int = 12,
        num_heads: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.step_encoding = TemporalPositionalEncoding(embed_dim, max_steps)
        self.period_encoding = TemporalPositionalEncoding(embed_dim, max_periods)
        self.scorer = nn.Sequential(
            nn.LayerNorm(embed_dim),
            nn.Linear(embed_dim, embed_dim),
            nn.GELU(),
            nn.Linear(embed_dim, 1),
        )
        self.attn_norm = nn.LayerNorm(embed_dim)
        self.attn = nn.MultiheadAttention(embed_dim, num_heads, dropout=dropout, batch_first=True)
        self.ffn = nn.Sequential(
            nn.LayerNorm(embed_dim),
            nn.Linear(embed_dim, 4 * embed_dim),
            nn.GELU(),
            nn.Linear(4 * embed_dim, embed_dim),
        )

    def forward(
        self,
        tokens: torch.Tensor,
        batch: int,
        periods: int,
        grid: tuple[int, int, int],
        padded: torch.Tensor,
    ) -> torch.Tensor:
        """Aggregate.

        Args:
            tokens: (B*M, T'*H'*W', E) encoder tokens in (t, h, w) order.
            batch, periods: B and M.
            grid: (T', H', W') token grid.
            padded: (B, M, T') bool, True where the whole step patch is padding.

        Returns:
            (B, M*H'*W', E) period tokens in (m, h, w) order.
        """
        t_, h_, w_ = grid
        E = tokens.shape[-1]
        if padded.shape != (batch, periods, t_):
            raise ValueError(
                f"padded: expected (B, M, T') = {(batch, periods, t_)}, got {tuple(padded.shape)}"
            )
        if bool(padded.all(dim=-1).any()):
            raise ValueError("padded: a period has every step padded; nothing to aggregate")
        seq = tokens.reshape(batch, periods, t_, h_ * w_, E).permute(0, 3, 1, 2, 4)
        seq = (
            seq
            + self.step_encoding(t_)[None, None, None]
            + self.period_encoding(periods)[None, None, :, None]
        )  # (B, S, M, T', E)
        scores = self.scorer(seq).squeeze(-1)  # (B, S, M, T')
        scores = scores.masked_fill(padded[:, None], float("-inf"))
        alpha = torch.softmax(scores, dim=-1)
        pooled = (alpha.unsqueeze(-1) * seq).sum(dim=-2)  # (B, S, M, E)
        z = pooled.reshape(batch * h_ * w_, periods, E)
        q = self.attn_norm(z)
        z = z + self.attn(q, q, q, need_weights=False)[0]
        z = z + self.ffn(z)
        z = z.reshape(batch, h_ * w_, periods, E).transpose(1, 2)  # (B, M, S, E)
        return z.reshape(batch, periods * h_ * w_, E)
