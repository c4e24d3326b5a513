"""Pieces shared by the MetaFormer translator blocks (:mod:`.metaformer_conv`,
:mod:`.metaformer_gated`, :mod:`.metaformer_attention`).

Every block maps (N, dim, h, w) → (N, dim, h, w), is constructed from one
:class:`~geostl.models.blocks.base.BlockArgs` (``Block(args, *, own_setting=default)``) and
registers itself in :data:`~geostl.models.blocks.base.TRANSLATOR_BLOCKS` (the SimVP translator
interface, :mod:`geostl.models.blocks.base`).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def init_weights(module: nn.Module, *, conv: str | None = "fan_out", linear: bool = True) -> None:
    """OpenSTL's per-block initialisation, applied with ``block.apply``.

    ``conv="fan_out"``: conv weights ~ N(0, 2/fan_out), fan_out = k_h·k_w·C_out / groups;
    ``conv="trunc"``: truncated normal (std 0.02); ``conv=None``: PyTorch's default. Linear
    weights (when ``linear``) truncated normal (std 0.02). Biases 0; norm weights 1, biases 0.
    """
    if isinstance(module, nn.Conv2d) and conv is not None:
        if conv == "fan_out":
            fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
            nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / (fan_out // module.groups)))
        else:
            nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear) and linear:
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm2d, LayerNorm2d)):
        if module.weight is not None:
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of (N, C, H, W) at every pixel (channels-first), eps 1e-6."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class TokenMlp(nn.Module):
    """Linear MLP on tokens (..., dim): Linear → GELU → dropout → Linear → dropout."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0, out_dim: int | None = None):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, out_dim or dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class ConvMlp(nn.Module):
    """MLP of 1×1 convs on (N, dim, h, w): 1×1 (→ hidden) [→ 3×3 depth-wise] → GELU →
    dropout → 1×1 (→ dim) → dropout. ``depthwise=True`` is VAN's convolutional FFN."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0, depthwise: bool = False):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.dwconv = (
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden) if depthwise else nn.Identity()
        )
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.act(self.dwconv(self.fc1(x))))
        return self.drop(self.fc2(x))


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention on tokens (B, L, dim): qkv Linear (with bias) → softmax(q·kᵀ/√d_h
    [+ bias]) · v → Linear projection → dropout. d_h = dim / heads.

    ``bias`` (optional, (heads, L, L)) is added to the attention logits (Swin's relative
    position bias).
    """

    def __init__(self, dim: int, heads: int = 8, proj_drop: float = 0.0, name: str = "attention"):
        super().__init__()
        if dim % heads:
            raise ValueError(
                f"{name}: the block width {dim} must be divisible by its {heads} attention heads "
                "(change hid_S·T_in or hid_T)"
            )
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        logits = (q * self.scale) @ k.transpose(-2, -1)
        if bias is not None:
            logits = logits + bias
        y = (logits.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(y))


def to_tokens(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) → (N, H·W, C), pixels in row-major order."""
    return x.flatten(2).transpose(1, 2)


def from_tokens(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(N, H·W, C) → (N, C, H, W), the inverse of :func:`to_tokens`."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], h, w)


def check_resolution(name: str, x: torch.Tensor, expected: tuple[int, int]) -> None:
    """Stop with a clear message when a fixed-resolution block sees another latent grid."""
    if tuple(x.shape[-2:]) != tuple(expected):
        raise ValueError(
            f"{name}: built for a latent grid {expected[0]}×{expected[1]}, got "
            f"{x.shape[-2]}×{x.shape[-1]} (the block's weights depend on the grid)"
        )
