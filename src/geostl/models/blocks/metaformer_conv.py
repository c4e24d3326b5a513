"""Convolutional MetaFormer translator blocks for SimVP, as OpenSTL's ``MetaBlock`` builds them.

All map (N, dim, h, w) → (N, dim, h, w); ``layer_scale`` γ are per-channel scales.

- **ConvMixer** (Trockman & Kolter, "Patches Are All You Need?", TMLR 2023), OpenSTL
  ``ConvMixerSubBlock`` with kernel 11::

      x = x + BN(GELU(dw_conv_11×11(x)))
      x = BN(GELU(conv_1×1(x)))                       (no residual around the channel mixing)

  It has no MLP, dropout or stochastic depth: ``mlp_ratio``, ``drop`` and ``drop_path`` are
  accepted and unused, as in OpenSTL.
- **ConvNeXt** (Liu et al., "A ConvNet for the 2020s", CVPR 2022), timm ``ConvNeXtBlock`` with
  ``conv_mlp=True`` and layer scale 1e-6::

      x = x + drop_path(γ · ConvMlp(LayerNorm2d(dw_conv_7×7(x))))

  (OpenSTL does not pass ``drop`` to it: no dropout.)
- **PoolFormer** (Yu et al., "MetaFormer Is Actually What You Need for Vision", CVPR 2022), pool
  size 3, GroupNorm(1) norms, layer scale 1e-5::

      x = x + drop_path(γ1 · (AvgPool_3×3(GN(x)) − GN(x)))
      x = x + drop_path(γ2 · ConvMlp(GN(x)))

- **VAN** (Guo et al., "Visual Attention Network", CVM 2023), layer scale 1e-2::

      x = x + drop_path(γ1 · Attn(BN(x)))     Attn: 1×1 → GELU → LKA → 1×1, + shortcut
      x = x + drop_path(γ2 · FFN(BN(x)))      FFN: 1×1 (×mlp_ratio) → 3×3 dw → GELU → 1×1
      LKA(u) = u ⊙ 1×1(dw_7×7,dil 3(dw_5×5(u)))
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from geostl.models.blocks.base import TRANSLATOR_BLOCKS, BlockArgs
from geostl.models.blocks.dilated_depthwise import DilatedDepthwiseConv2d
from geostl.models.blocks.drop_path import DropPath
from geostl.models.blocks.metaformer_common import ConvMlp, LayerNorm2d, init_weights


@TRANSLATOR_BLOCKS.register("convmixer")
class ConvMixerBlock(nn.Module):
    """ConvMixer block on (N, dim, h, w); see the module docstring."""

    #: runs on channels-last memory in the MetaTranslator (measured faster)
    channels_last = True

    def __init__(
        self,
        args: BlockArgs,
        *,
        kernel_size: int = 11,
    ) -> None:
        super().__init__()
        dim = args.dim
        self.conv_dw = nn.Conv2d(dim, dim, kernel_size, groups=dim, padding="same")
        self.act_1 = nn.GELU()
        self.norm_1 = nn.BatchNorm2d(dim)
        self.conv_pw = nn.Conv2d(dim, dim, 1)
        self.act_2 = nn.GELU()
        self.norm_2 = nn.BatchNorm2d(dim)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.norm_1(self.act_1(self.conv_dw(x)))
        return self.norm_2(self.act_2(self.conv_pw(x)))


@TRANSLATOR_BLOCKS.register("convnext")
class ConvNeXtBlock(nn.Module):
    """ConvNeXt block on (N, dim, h, w); see the module docstring."""

    #: runs on channels-last memory in the MetaTranslator (measured faster)
    channels_last = True

    def __init__(
        self,
        args: BlockArgs,
        *,
        init_value: float = 1e-6,
    ) -> None:
        super().__init__()
        dim, mlp_ratio, drop_path = args.dim, args.mlp_ratio, args.drop_path
        self.conv_dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = LayerNorm2d(dim)
        self.mlp = ConvMlp(dim, int(mlp_ratio * dim))
        self.gamma = nn.Parameter(torch.full((dim,), float(init_value)))
        self.drop_path = DropPath(drop_path)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mlp(self.norm(self.conv_dw(x)))
        return x + self.drop_path(self.gamma[:, None, None] * y)


@TRANSLATOR_BLOCKS.register("poolformer")
class PoolFormerBlock(nn.Module):
    """PoolFormer block on (N, dim, h, w); see the module docstring."""

    def __init__(
        self,
        args: BlockArgs,
        *,
        pool_size: int = 3,
        init_value: float = 1e-5,
    ) -> None:
        super().__init__()
        dim, mlp_ratio, drop, drop_path = args.dim, args.mlp_ratio, args.drop, args.drop_path
        self.norm1 = nn.GroupNorm(1, dim)
        self.pool = nn.AvgPool2d(
            pool_size, stride=1, padding=pool_size // 2, count_include_pad=False
        )
        self.norm2 = nn.GroupNorm(1, dim)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio), drop)
        self.drop_path = DropPath(drop_path)
        self.layer_scale_1 = nn.Parameter(torch.full((dim,), float(init_value)))
        self.layer_scale_2 = nn.Parameter(torch.full((dim,), float(init_value)))
        self.apply(partial(init_weights, conv="trunc"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm1(x)
        x = x + self.drop_path(self.layer_scale_1[:, None, None] * (self.pool(y) - y))
        return x + self.drop_path(self.layer_scale_2[:, None, None] * self.mlp(self.norm2(x)))


class LargeKernelAttention(nn.Module):
    """VAN's LKA on (N, dim, h, w): u ⊙ 1×1(dilated 7×7 dw (d = 3)(5×5 dw(u)))."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.conv_spatial = DilatedDepthwiseConv2d(dim, dim, 7, padding=9, groups=dim, dilation=3)
        self.conv1 = nn.Conv2d(dim, dim, 1)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return u * self.conv1(self.conv_spatial(self.conv0(u)))


class VANAttention(nn.Module):
    """1×1 → GELU → LKA → 1×1, plus the input (attention shortcut)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj_1 = nn.Conv2d(dim, dim, 1)
        self.activation = nn.GELU()
        self.spatial_gating_unit = LargeKernelAttention(dim)
        self.proj_2 = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj_2(self.spatial_gating_unit(self.activation(self.proj_1(x)))) + x


@TRANSLATOR_BLOCKS.register("van")
class VANBlock(nn.Module):
    """Visual Attention Network block on (N, dim, h, w); see the module docstring."""

    #: runs on channels-last memory in the MetaTranslator (measured faster)
    channels_last = True

    def __init__(
        self,
        args: BlockArgs,
        *,
        init_value: float = 1e-2,
    ) -> None:
        super().__init__()
        dim, mlp_ratio, drop, drop_path = args.dim, args.mlp_ratio, args.drop, args.drop_path
        self.norm1 = nn.BatchNorm2d(dim)
        self.attn = VANAttention(dim)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.BatchNorm2d(dim)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio), drop, depthwise=True)
        self.layer_scale_1 = nn.Parameter(torch.full((dim,), float(init_value)))
        self.layer_scale_2 = nn.Parameter(torch.full((dim,), float(init_value)))
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.layer_scale_1[:, None, None] * self.attn(self.norm1(x)))
        return x + self.drop_path(self.layer_scale_2[:, None, None] * self.mlp(self.norm2(x)))
