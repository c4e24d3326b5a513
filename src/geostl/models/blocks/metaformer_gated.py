"""Gated-aggregation MetaFormer translator blocks for SimVP: HorNet and MogaNet, as OpenSTL's
``MetaBlock`` builds them. Both map (N, dim, h, w) → (N, dim, h, w).

- **HorNet** (Rao et al., "HorNet: Efficient High-Order Spatial Interactions with Recursive
  Gated Convolutions", NeurIPS 2022), OpenSTL ``HorNetSubBlock`` (order 4, layer scale 1e-6)::

      x = x + drop_path(γ1 · gnConv(LN_channels(x)))
      x = x + drop_path(γ2 · Linear(GELU(Linear_×mlp_ratio(LN(x)))))      (per pixel)

  gnConv of order n on width C: widths C_k = C / 2^(n−1−k), k = 0..n−1 (C/8, C/4, C/2, C for
  n = 4); a 1×1 conv to 2C split into p_0 (C_0) and q (ΣC_k); a 7×7 depth-wise conv on q split
  into (q_0..q_{n−1}); p_{k+1} = 1×1_{C_k→C_{k+1}}(p_k) ⊙ q_{k+1} (p_0 ⊙ q_0 first); a 1×1 output
  conv. Needs C divisible by 2^(n−1). No dropout (OpenSTL does not pass ``drop``).
- **MogaNet** (Li et al., "MogaNet: Multi-order Gated Aggregation Network", ICLR 2024), OpenSTL
  ``MogaSubBlock`` (dilations (1, 2, 3), channel split 1:3:4, layer scale 1e-5)::

      x = x + drop_path(γ1 · MOGA(BN(x)))
      x = x + drop_path(γ2 · CAFFN(BN(x)))
      MOGA(x) = 1×1(SiLU(gate(y)) ⊙ SiLU(value(y))) + x,  y = SiLU(z + σ ⊙ (z − mean_hw(z))),
                z = 1×1(x); value: 5×5 dw, then 5×5 dw (dilation 2) on 3/8 of the channels and
                7×7 dw (dilation 3) on 4/8 of them, concatenated with the first 1/8, then 1×1
      CAFFN(x) = 1×1(u + σ' ⊙ (u − GELU(1×1_{→1}(u)))),  u = dropout(GELU(3×3 dw(1×1_{×r}(x))))

  Needs C divisible by 8.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from geostl.models.blocks.base import TRANSLATOR_BLOCKS, BlockArgs
from geostl.models.blocks.dilated_depthwise import DilatedDepthwiseConv2d
from geostl.models.blocks.drop_path import DropPath
from geostl.models.blocks.metaformer_common import LayerNorm2d, init_weights


class RecursiveGatedConv(nn.Module):
    """HorNet's gnConv of ``order`` n on (N, dim, h, w); see the module docstring."""

    def __init__(self, dim: int, order: int = 4) -> None:
        super().__init__()
        if dim % 2 ** (order - 1):
            raise ValueError(
                f"hornet: the block width {dim} must be divisible by 2^(order-1) = "
                f"{2 ** (order - 1)} (change hid_S·T_in or hid_T)"
            )
        self.dims = [dim // 2**k for k in reversed(range(order))]
        self.proj_in = nn.Conv2d(dim, 2 * dim, 1)
        self.dwconv = nn.Conv2d(sum(self.dims), sum(self.dims), 7, padding=3, groups=sum(self.dims))
        self.proj_out = nn.Conv2d(dim, dim, 1)
        self.pws = nn.ModuleList(
            nn.Conv2d(self.dims[k], self.dims[k + 1], 1) for k in range(order - 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p, q = torch.split(self.proj_in(x), (self.dims[0], sum(self.dims)), dim=1)
        qs = torch.split(self.dwconv(q), self.dims, dim=1)
        y = p * qs[0]
        for k, pw in enumerate(self.pws):
            y = pw(y) * qs[k + 1]
        return self.proj_out(y)


@TRANSLATOR_BLOCKS.register("hornet")
class HorNetBlock(nn.Module):
    """HorNet block on (N, dim, h, w); see the module docstring."""

    #: runs on channels-last memory in the MetaTranslator (measured faster)
    channels_last = True

    def __init__(
        self,
        args: BlockArgs,
        *,
        order: int = 4,
        init_value: float = 1e-6,
    ) -> None:
        super().__init__()
        dim, mlp_ratio, drop_path = args.dim, args.mlp_ratio, args.drop_path
        self.norm1 = LayerNorm2d(dim)
        self.gnconv = RecursiveGatedConv(dim, order)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, int(mlp_ratio * dim))
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(int(mlp_ratio * dim), dim)
        self.gamma1 = nn.Parameter(torch.full((dim,), float(init_value)))
        self.gamma2 = nn.Parameter(torch.full((dim,), float(init_value)))
        self.drop_path = DropPath(drop_path)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.gamma1[:, None, None] * self.gnconv(self.norm1(x)))
        y = self.pwconv2(self.act(self.pwconv1(self.norm2(x.permute(0, 2, 3, 1)))))
        return x + self.drop_path((self.gamma2 * y).permute(0, 3, 1, 2))


class MultiOrderDWConv(nn.Module):
    """MogaNet's multi-order depth-wise convs on (N, dim, h, w) (channel split 1:3:4)."""

    def __init__(self, dim: int, dilations: tuple[int, int, int] = (1, 2, 3)) -> None:
        super().__init__()
        if dim % 8:
            raise ValueError(
                f"moganet: the block width {dim} must be divisible by 8 (channel split 1:3:4; "
                "change hid_S·T_in or hid_T)"
            )
        self.dim_1, self.dim_2 = int(3 / 8 * dim), int(4 / 8 * dim)
        self.dim_0 = dim - self.dim_1 - self.dim_2
        d0, d1, d2 = dilations
        self.DW_conv0 = DilatedDepthwiseConv2d(
            dim, dim, 5, padding=(1 + 4 * d0) // 2, groups=dim, dilation=d0
        )
        self.DW_conv1 = DilatedDepthwiseConv2d(
            self.dim_1, self.dim_1, 5, padding=(1 + 4 * d1) // 2, groups=self.dim_1, dilation=d1
        )
        self.DW_conv2 = DilatedDepthwiseConv2d(
            self.dim_2, self.dim_2, 7, padding=(1 + 6 * d2) // 2, groups=self.dim_2, dilation=d2
        )
        self.PW_conv = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0 = self.DW_conv0(x)
        x1 = self.DW_conv1(x0[:, self.dim_0 : self.dim_0 + self.dim_1])
        x2 = self.DW_conv2(x0[:, x0.shape[1] - self.dim_2 :])
        return self.PW_conv(torch.cat([x0[:, : self.dim_0], x1, x2], dim=1))


class MultiOrderGatedAggregation(nn.Module):
    """MogaNet's spatial aggregation (MOGA) with its attention shortcut (module docstring)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj_1 = nn.Conv2d(dim, dim, 1)
        self.gate = nn.Conv2d(dim, dim, 1)
        self.value = MultiOrderDWConv(dim)
        self.proj_2 = nn.Conv2d(dim, dim, 1)
        self.act_value = nn.SiLU()
        self.act_gate = nn.SiLU()
        self.sigma = nn.Parameter(torch.full((1, dim, 1, 1), 1e-5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.proj_1(x)
        z = self.act_value(z + self.sigma * (z - F.adaptive_avg_pool2d(z, 1)))
        return self.proj_2(self.act_gate(self.gate(z)) * self.act_gate(self.value(z))) + x


class ChannelAggregationFFN(nn.Module):
    """MogaNet's channel-aggregation FFN (CAFFN) on (N, dim, h, w); see the module docstring."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.drop = nn.Dropout(drop)
        self.decompose = nn.Conv2d(hidden, 1, 1)
        self.sigma = nn.Parameter(torch.full((1, hidden, 1, 1), 1e-5))
        self.decompose_act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.drop(self.act(self.dwconv(self.fc1(x))))
        u = u + self.sigma * (u - self.decompose_act(self.decompose(u)))
        return self.drop(self.fc2(u))


@TRANSLATOR_BLOCKS.register("moga")
@TRANSLATOR_BLOCKS.register("moganet")
class MogaNetBlock(nn.Module):
    """MogaNet block on (N, dim, h, w); see the module docstring."""

    #: runs on channels-last memory in the MetaTranslator (measured faster)
    channels_last = True

    def __init__(
        self,
        args: BlockArgs,
        *,
        init_value: float = 1e-5,
    ) -> None:
        super().__init__()
        dim, mlp_ratio, drop, drop_path = args.dim, args.mlp_ratio, args.drop, args.drop_path
        self.norm1 = nn.BatchNorm2d(dim)
        self.attn = MultiOrderGatedAggregation(dim)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.BatchNorm2d(dim)
        self.mlp = ChannelAggregationFFN(dim, int(dim * mlp_ratio), drop)
        self.layer_scale_1 = nn.Parameter(torch.full((1, dim, 1, 1), float(init_value)))
        self.layer_scale_2 = nn.Parameter(torch.full((1, dim, 1, 1), float(init_value)))
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.layer_scale_1 * self.attn(self.norm1(x)))
        return x + self.drop_path(self.layer_scale_2 * self.mlp(self.norm2(x)))
