"""SimVP translator blocks (MetaFormer style), chosen by ``model_type``.

A translator block maps (N, dim, h, w) → (N, dim, h, w) and is registered in
``TRANSLATOR_BLOCKS`` (:mod:`geostl.models.blocks.base`, re-exported here) under its lower-case
``model_type``. Every block is constructed from one
:class:`~geostl.models.blocks.base.BlockArgs` (dim, mlp_ratio, drop, drop_path,
input_resolution, layer_index, out_dim; a block may ignore the fields it does not need)::

    Block(BlockArgs(dim, mlp_ratio=8.0, drop_path=0.1, input_resolution=(h, w), ...))

:class:`~.simvp_translators.MetaTranslator` stacks N_T of them. A new block is one file with a
``@TRANSLATOR_BLOCKS.register("name")`` class (TAU: :mod:`.simvp_tau_block`; the MetaFormer
family ConvMixer, ConvNeXt, HorNet, MLP-Mixer, MogaNet, PoolFormer, Swin, UniFormer, VAN, ViT:
:mod:`geostl.models.blocks`, loaded by :mod:`.simvp_metaformer`). Stochastic depth is
:class:`geostl.models.blocks.drop_path.DropPath` (re-exported here).

This file holds :class:`LayerScaledAttentionBlock`, the block shape gSTA and TAU share, and the
**gSTA** block (gated spatiotemporal attention, SimVP v2 / OpenSTL's
``GASubBlock``)::

    x = x + drop_path(γ1 · Attn(BN(x)))          Attn: 1×1 → GELU → LKA gate → 1×1, + shortcut
    x = x + drop_path(γ2 · MLP(BN(x)))           MLP: 1×1 (×mlp_ratio) → 3×3 dw → GELU → 1×1

with the large-kernel attention gate (kernel 21, dilation 3) decomposed into a 5×5 depth-wise
conv, a 7×7 depth-wise conv with dilation 3 and a 1×1 conv to 2·dim channels split into
(f, g): gate = σ(g)·f. γ1, γ2 are per-channel layer scales initialised to 0.01.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from geostl.models.blocks.base import TRANSLATOR_BLOCKS, BlockArgs
from geostl.models.blocks.dilated_depthwise import DilatedDepthwiseConv2d
from geostl.models.blocks.drop_path import DropPath

__all__ = [
    "TRANSLATOR_BLOCKS",
    "BlockArgs",
    "DropPath",
    "GSTABlock",
    "LayerScaledAttentionBlock",
    "MixMlp",
    "init_conv_fan_out",
]


class LargeKernelAttention(nn.Module):
    """Gate of the gSTA block: depth-wise d_k×d_k, dilated depth-wise, 1×1 → σ(g)·f.

    For kernel K and dilation d: d_k = 2d − 1 (padding (d_k − 1)/2), then a depth-wise conv of
    size dd_k = K // d + ((K // d) % 2 − 1) with dilation d (padding d·(dd_k − 1)/2), then a 1×1
    conv to 2·dim channels split into (f, g). K = 21, d = 3 → 5×5 then 7×7 dilated by 3.
    """

    def __init__(self, dim: int, kernel_size: int = 21, dilation: int = 3) -> None:
        super().__init__()
        d_k = 2 * dilation - 1
        dd_k = kernel_size // dilation + ((kernel_size // dilation) % 2 - 1)
        self.conv0 = nn.Conv2d(dim, dim, d_k, padding=(d_k - 1) // 2, groups=dim)
        self.conv_spatial = DilatedDepthwiseConv2d(
            dim, dim, dd_k, padding=dilation * (dd_k - 1) // 2, groups=dim, dilation=dilation
        )
        self.conv1 = nn.Conv2d(dim, 2 * dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f, g = self.conv1(self.conv_spatial(self.conv0(x))).chunk(2, dim=1)
        return torch.sigmoid(g) * f


class SpatialAttention(nn.Module):
    """1×1 → GELU → large-kernel gate → 1×1, plus the input (attention shortcut)."""

    def __init__(self, dim: int, kernel_size: int = 21) -> None:
        super().__init__()
        self.proj_1 = nn.Conv2d(dim, dim, 1)
        self.activation = nn.GELU()
        self.spatial_gating_unit = LargeKernelAttention(dim, kernel_size)
        self.proj_2 = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj_2(self.spatial_gating_unit(self.activation(self.proj_1(x))))
        return y + x


class MixMlp(nn.Module):
    """Convolutional MLP: 1×1 (dim → hidden), 3×3 depth-wise, GELU, dropout, 1×1 (→ dim)."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.act(self.dwconv(self.fc1(x))))
        return self.drop(self.fc2(x))


def init_conv_fan_out(module: nn.Module) -> None:
    """OpenSTL's block initialisation: conv weights ~ N(0, 2/fan_out), biases 0."""
    if isinstance(module, nn.Conv2d):
        fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
        fan_out //= module.groups
        nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class LayerScaledAttentionBlock(nn.Module):
    """The gSTA / TAU block shape on (N, dim, h, w) → (N, dim, h, w)::

        x = x + drop_path(γ1 · attention(BN(x)))
        x = x + drop_path(γ2 · MixMlp(BN(x)))           MixMlp hidden width dim · mlp_ratio

    γ1, γ2 per-channel layer scales initialised to ``init_value``. A subclass names its
    ``attention`` (a module class built as ``attention(dim, kernel_size)``) and its weight
    ``initialise`` (applied to every sub-module after construction). The sub-module names
    (``norm1``, ``attn``, ``drop_path``, ``norm2``, ``mlp``, ``layer_scale_1/2``) are OpenSTL's,
    so state dicts match its ``GASubBlock`` / ``TAUSubBlock``.
    """

    #: runs on channels-last memory in the MetaTranslator (measured faster)
    channels_last = True

    attention: type[nn.Module]

    @staticmethod
    def initialise(module: nn.Module) -> None:
        init_conv_fan_out(module)

    def __init__(self, args: BlockArgs, *, kernel_size: int = 21, init_value: float = 1e-2) -> None:
        super().__init__()
        dim = args.dim
        self.norm1 = nn.BatchNorm2d(dim)
        self.attn = self.attention(dim, kernel_size)
        self.drop_path = DropPath(args.drop_path)
        self.norm2 = nn.BatchNorm2d(dim)
        self.mlp = MixMlp(dim, int(dim * args.mlp_ratio), args.drop)
        self.layer_scale_1 = nn.Parameter(torch.full((dim,), float(init_value)))
        self.layer_scale_2 = nn.Parameter(torch.full((dim,), float(init_value)))
        self.apply(self.initialise)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.layer_scale_1[:, None, None] * self.attn(self.norm1(x)))
        x = x + self.drop_path(self.layer_scale_2[:, None, None] * self.mlp(self.norm2(x)))
        return x


@TRANSLATOR_BLOCKS.register("gsta")
class GSTABlock(LayerScaledAttentionBlock):
    """Gated spatiotemporal attention block on (N, dim, h, w); see the module docstring."""

    attention = SpatialAttention
