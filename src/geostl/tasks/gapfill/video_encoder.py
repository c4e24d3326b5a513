"""Masked Conv3d patch embedding of gappy fine-step fields (ClimaNet ``VideoEncoder``)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["VideoEncoder"]


class VideoEncoder(nn.Module):
    """Embed (value, validity) patches of every fine step of every period as tokens.

    The input value is multiplied by the validity mask and the mask is appended as C extra
    channels, so a masked value never reaches the output: ``x~ = concat(x * valid, valid)``.
    A Conv3d with kernel = stride = ``patch`` turns (2C, T, H, W) into (E, T', H', W'); the
    tokens are flattened in (t, h, w) order, layer-normalised and passed through dropout.

    Args:
        in_chans: C, value channels per step.
        embed_dim: E, token width.
        patch: (Pt, Ph, Pw) patch size in (steps, rows, columns).
        dropout: dropout probability after the LayerNorm (spec default 0).
    """

    def __init__(
        self,
        in_chans: int = 1,
        embed_dim: int = 128,
        patch: tuple[int, int, int] = (1, 4, 4),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_chans = int(in_chans)
        self.patch = tuple(int(p) for p in patch)
        if len(self.patch) != 3 or min(self.patch) < 1:
            raise ValueError(f"patch: expected three positive integers (Pt, Ph, Pw), got {patch}")
        self.proj = nn.Conv3d(2 * in_chans, embed_dim, kernel_size=self.patch, stride=self.patch)
        self.norm = nn.LayerNorm(embed_dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, tuple]:
        """Embed one batch.

        Args:
            x: (N, C, T, H, W) values (N = batch x periods); entries where ``valid`` is False
                may hold anything, NaN included: they are replaced by 0 before use.
            valid: (N, C, T, H, W) or (N, 1, T, H, W) bool, True = observed.

        Returns:
            tokens (N, T'*H'*W', E) in (t, h, w) order and the token grid (T', H', W').
        """
        if x.ndim != 5 or x.shape[1] != self.in_chans:
            raise ValueError(f"x: expected (N, {self.in_chans}, T, H, W), got {tuple(x.shape)}")
        _, _, T, H, W = x.shape
        pt, ph, pw = self.patch
        if T % pt or H % ph or W % pw:
            raise ValueError(
                f"x: (T, H, W) = ({T}, {H}, {W}) must be divisible by the patch {self.patch}"
            )
        valid = valid.to(torch.bool).expand_as(x)
        values = torch.where(valid, x, torch.zeros((), dtype=x.dtype, device=x.device))
        features = torch.cat([values, valid.to(x.dtype)], dim=1)
        emb = self.proj(features)  # (N, E, T', H', W')
        grid = tuple(emb.shape[2:])
        tokens = emb.flatten(2).transpose(1, 2)  # (N, T'H'W', E)
        return self.drop(self.norm(tokens)), grid
