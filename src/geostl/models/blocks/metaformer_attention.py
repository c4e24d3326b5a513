"""Token-mixing MetaFormer translator blocks for SimVP: ViT, Swin, UniFormer and MLP-Mixer, as
OpenSTL's ``MetaBlock`` builds them. All map (N, dim, h, w) → (N, dim, h, w), working on the
h·w latent pixels as tokens of width dim; attention uses 8 heads (dim must be divisible by 8).

- **ViT** (Dosovitskiy et al., ICLR 2021), timm ``Block`` (qkv bias, LayerNorm eps 1e-5)::

      x = x + drop_path(MHSA(LN(x)));  x = x + drop_path(MLP(LN(x)))    (global attention)

- **Swin** (Liu et al., "Swin Transformer", ICCV 2021), timm ``SwinTransformerBlock`` under
  OpenSTL's forward: the same two residual steps with MHSA inside non-overlapping ws×ws windows
  plus a learned relative position bias ((2ws−1)² × heads); odd layers roll the grid by ws/2
  first and back afterwards. OpenSTL calls the attention with ``mask=None``, so a shifted window
  mixes pixels that the roll wrapped around the grid's edges (kept here for fidelity). Window
  rule (OpenSTL): ws = 7 if h % 7 == 0 else max(4, h // 16), capped at 8; timm then uses
  ws = min(h, w) and no shift when min(h, w) ≤ ws. ws must divide h and w: at a 16×16 latent
  (Moving MNIST, 64×64, N_S = 4) ws = 4 (shift 2); at 18×18 (72×72 TEC maps, N_S = 4) the rule
  gives 4, which does not divide 18 (OpenSTL fails there with a reshape error), so this stops
  with a clear error.
- **UniFormer** (Li et al., ICLR 2022): OpenSTL uses the convolutional block where the layer
  changes width or is the first one, the self-attention block elsewhere::

      conv:      x = x + dw3×3(x);  x = x + drop_path(1×1(dw5×5(1×1(BN(x)))))
                 x = x + drop_path(ConvMLP(BN(x)))
      attention: x = x + dw3×3(x);  x = x + drop_path(γ1 · MHSA(LN(x)))
                 x = x + drop_path(γ2 · MLP(LN(x)))          (γ init 1e-6)

- **MLP-Mixer** (Tolstikhin et al., NeurIPS 2021), timm ``MixerBlock`` with
  ``mlp_ratio=(0.5, mlp_ratio)`` (LayerNorm eps 1e-6)::

      x = x + drop_path(MLP_tokens(LN(x)ᵀ)ᵀ)     token MLP: h·w → dim/2 → h·w
      x = x + drop_path(MLP_channels(LN(x)))    channel MLP: dim → mlp_ratio·dim → dim

  The token MLP's weights depend on h·w, so the block only runs on the grid it was built for.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from geostl.models.blocks.base import TRANSLATOR_BLOCKS, BlockArgs
from geostl.models.blocks.drop_path import DropPath
from geostl.models.blocks.metaformer_common import (
    ConvMlp,
    MultiHeadSelfAttention,
    TokenMlp,
    check_resolution,
    from_tokens,
    init_weights,
    to_tokens,
)

HEADS = 8


@TRANSLATOR_BLOCKS.register("vit")
class ViTBlock(nn.Module):
    """Vision Transformer block on (N, dim, h, w); see the module docstring."""

    def __init__(self, args: BlockArgs) -> None:
        super().__init__()
        dim, mlp_ratio, drop, drop_path = args.dim, args.mlp_ratio, args.drop, args.drop_path
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, HEADS, drop, "vit")
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = TokenMlp(dim, int(dim * mlp_ratio), drop)
        self.drop_path = DropPath(drop_path)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        t = to_tokens(x)
        t = t + self.drop_path(self.attn(self.norm1(t)))
        t = t + self.drop_path(self.mlp(self.norm2(t)))
        return from_tokens(t, h, w)


def swin_window(input_resolution: tuple[int, int], layer_index: int) -> tuple[int, int]:
    """OpenSTL's Swin (window size, shift) for a latent grid (h, w) and a layer index.

    Raises ValueError when the window does not divide the grid.
    """
    h, w = input_resolution
    window = min(8, 7 if h % 7 == 0 else max(4, h // 16))
    shift = 0 if layer_index % 2 == 0 else window // 2
    if min(h, w) <= window:
        window, shift = min(h, w), 0
    if h % window or w % window:
        raise ValueError(
            f"swin: OpenSTL's window rule (7 if h % 7 == 0 else max(4, h // 16), at most 8) "
            f"gives window {window} for the {h}×{w} latent grid, which does not divide it. "
            "Choose a grid whose latent size (H and W over 2^(N_S//2)) is a multiple of 7 or "
            "of that window, e.g. pad 72×72 TEC maps to 80×80 (data.padding.multiple) for a "
            "20×20 latent, or use another model_type"
        )
    return window, shift


def relative_position_index(window: int) -> torch.Tensor:
    """(window², window²) index into the (2·window − 1)² relative-position table: for pixels
    i = (y_i, x_i) and j, (y_i − y_j + window − 1)·(2·window − 1) + (x_i − x_j + window − 1)."""
    ys, xs = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    coords = torch.stack([ys.flatten(), xs.flatten()])
    rel = coords[:, :, None] - coords[:, None, :] + (window - 1)
    return rel[0] * (2 * window - 1) + rel[1]


@TRANSLATOR_BLOCKS.register("swin")
class SwinBlock(nn.Module):
    """Swin Transformer block (window attention, shifted on odd layers) on (N, dim, h, w)."""

    def __init__(self, args: BlockArgs) -> None:
        super().__init__()
        dim, mlp_ratio, drop, drop_path = args.dim, args.mlp_ratio, args.drop, args.drop_path
        self.resolution = args.resolution("swin")
        self.window, self.shift = swin_window(self.resolution, args.layer_index)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, HEADS, drop, "swin")
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * self.window - 1) ** 2, HEADS)
        )
        self.register_buffer(
            "relative_position_index", relative_position_index(self.window), persistent=False
        )
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = TokenMlp(dim, int(dim * mlp_ratio), drop)
        self.drop_path = DropPath(drop_path)
        self.apply(init_weights)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_resolution("swin", x, self.resolution)
        n, c, h, w = x.shape
        ws, s = self.window, self.shift
        t = to_tokens(x)
        y = self.norm1(t).reshape(n, h, w, c)
        if s:
            y = torch.roll(y, shifts=(-s, -s), dims=(1, 2))
        windows = y.reshape(n, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
        windows = windows.reshape(-1, ws * ws, c)
        bias = self.relative_position_bias_table[self.relative_position_index.reshape(-1)]
        bias = bias.reshape(ws * ws, ws * ws, HEADS).permute(2, 0, 1)
        y = self.attn(windows, bias)
        y = y.reshape(n, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(n, h, w, c)
        if s:
            y = torch.roll(y, shifts=(s, s), dims=(1, 2))
        t = t + self.drop_path(y.reshape(n, h * w, c))
        t = t + self.drop_path(self.mlp(self.norm2(t)))
        return from_tokens(t, h, w)


class UniFormerConvBlock(nn.Module):
    """UniFormer's convolutional block (CBlock) on (N, dim, h, w); see the module docstring."""

    def __init__(self, dim: int, mlp_ratio: float, drop: float, drop_path: float) -> None:
        super().__init__()
        self.pos_embed = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.BatchNorm2d(dim)
        self.conv1 = nn.Conv2d(dim, dim, 1)
        self.attn = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.conv2 = nn.Conv2d(dim, dim, 1)
        self.norm2 = nn.BatchNorm2d(dim)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio), drop)
        self.drop_path = DropPath(drop_path)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.pos_embed(x)
        x = x + self.drop_path(self.conv2(self.attn(self.conv1(self.norm1(x)))))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class UniFormerAttentionBlock(nn.Module):
    """UniFormer's self-attention block (SABlock) on (N, dim, h, w); see the module docstring."""

    def __init__(
        self, dim: int, mlp_ratio: float, drop: float, drop_path: float, init_value: float = 1e-6
    ) -> None:
        super().__init__()
        self.pos_embed = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, HEADS, drop, "uniformer")
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = TokenMlp(dim, int(dim * mlp_ratio), drop)
        self.gamma_1 = nn.Parameter(torch.full((dim,), float(init_value)))
        self.gamma_2 = nn.Parameter(torch.full((dim,), float(init_value)))
        self.drop_path = DropPath(drop_path)
        self.apply(partial(init_weights, conv=None))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.pos_embed(x)
        h, w = x.shape[-2:]
        t = to_tokens(x)
        t = t + self.drop_path(self.gamma_1 * self.attn(self.norm1(t)))
        t = t + self.drop_path(self.gamma_2 * self.mlp(self.norm2(t)))
        return from_tokens(t, h, w)


@TRANSLATOR_BLOCKS.register("uniformer")
def uniformer_block(args: BlockArgs) -> nn.Module:
    """OpenSTL's UniFormer choice: the self-attention block when the layer keeps its width
    (``args.out_dim`` == ``args.dim``, None meaning the same) and is not the first
    (``args.layer_index`` > 0), else the conv block."""
    if args.keeps_width and args.layer_index > 0:
        return UniFormerAttentionBlock(args.dim, args.mlp_ratio, args.drop, args.drop_path)
    return UniFormerConvBlock(args.dim, args.mlp_ratio, args.drop, args.drop_path)


@TRANSLATOR_BLOCKS.register("mlp")
@TRANSLATOR_BLOCKS.register("mlpmixer")
class MLPMixerBlock(nn.Module):
    """MLP-Mixer block on (N, dim, h, w) for a fixed grid (h, w); see the module docstring."""

    def __init__(self, args: BlockArgs) -> None:
        super().__init__()
        dim, mlp_ratio, drop, drop_path = args.dim, args.mlp_ratio, args.drop, args.drop_path
        self.resolution = args.resolution("mlpmixer")
        tokens = self.resolution[0] * self.resolution[1]
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp_tokens = TokenMlp(tokens, int(0.5 * dim), drop)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp_channels = TokenMlp(dim, int(mlp_ratio * dim), drop)
        self.drop_path = DropPath(drop_path)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_resolution("mlpmixer", x, self.resolution)
        h, w = x.shape[-2:]
        t = to_tokens(x)
        t = t + self.drop_path(self.mlp_tokens(self.norm1(t).transpose(1, 2)).transpose(1, 2))
        t = t + self.drop_path(self.mlp_channels(self.norm2(t)))
        return from_tokens(t, h, w)
