"""TAU translator block (temporal attention unit; Tan et al., CVPR 2023; OpenSTL ``TAUSubBlock``).

Registered in :data:`~.simvp_blocks.TRANSLATOR_BLOCKS` as ``model_type="tau"``. It is the gSTA
block (:class:`~.simvp_blocks.GSTABlock`: BatchNorm → attention → layer scale, BatchNorm →
convolutional MLP → layer scale, both residual; the shared class is
:class:`~.simvp_blocks.LayerScaledAttentionBlock`) with the attention replaced by the **temporal
attention unit** on (N, dim, h, w), dim = T·hid_S stacked frame latents::

    y  = proj_2(TA(GELU(proj_1(x)))) + x                 proj_1, proj_2: 1×1 convs
    TA(u) = SA(u) ⊙ DA(u) ⊙ u
    SA(u) = 1×1(dilated dw (dd_k×dd_k, dilation 3)(dw d_k×d_k (u)))     statical (intra-frame)
    DA(u) = σ(W₂ ReLU(W₁ avgpool(u)))                                   dynamical (inter-frame)

SA is the large-kernel decomposition of gSTA (kernel 21, dilation 3 → 5×5 then 7×7 dilated by 3)
but with a dim → dim 1×1 (no gate split). DA is a squeeze-and-excitation over the channels
(i.e. over frames × features): W₁ dim → dim // r and W₂ back, both bias-free, with OpenSTL's
reduction r = max(dim // 16, 4); so the bottleneck is dim // r = 16 units for dim ≥ 64.

Parameters of one block of width d (mlp_ratio 8): 19·d² + 206·d (gSTA: 20·d² + 175·d).
"""

from __future__ import annotations

import torch
from torch import nn

from geostl.models.backbones.simvp_blocks import (
    TRANSLATOR_BLOCKS,
    LayerScaledAttentionBlock,
    init_conv_fan_out,
)
from geostl.models.blocks.dilated_depthwise import DilatedDepthwiseConv2d


class TemporalAttentionModule(nn.Module):
    """TA(u) = SA(u) ⊙ DA(u) ⊙ u on (N, dim, h, w); see the module docstring."""

    def __init__(self, dim: int, kernel_size: int = 21, dilation: int = 3, reduction: int = 16):
        super().__init__()
        d_k = 2 * dilation - 1
        dd_k = kernel_size // dilation + ((kernel_size // dilation) % 2 - 1)
        self.conv0 = nn.Conv2d(dim, dim, d_k, padding=(d_k - 1) // 2, groups=dim)
        self.conv_spatial = DilatedDepthwiseConv2d(
            dim, dim, dd_k, padding=dilation * (dd_k - 1) // 2, groups=dim, dilation=dilation
        )
        self.conv1 = nn.Conv2d(dim, dim, 1)
        self.reduction = max(dim // reduction, 4)
        hidden = dim // self.reduction
        if hidden < 1:
            raise ValueError(f"tau block: dim={dim} too small for the attention bottleneck")
        self.fc = nn.Sequential(
            nn.Linear(dim, hidden, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, dim, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        statical = self.conv1(self.conv_spatial(self.conv0(u)))
        dynamical = self.fc(u.mean(dim=(2, 3)))[:, :, None, None]
        return dynamical * statical * u


class TemporalAttention(nn.Module):
    """1×1 → GELU → temporal attention module → 1×1, plus the input (attention shortcut)."""

    def __init__(self, dim: int, kernel_size: int = 21) -> None:
        super().__init__()
        self.proj_1 = nn.Conv2d(dim, dim, 1)
        self.activation = nn.GELU()
        self.spatial_gating_unit = TemporalAttentionModule(dim, kernel_size)
        self.proj_2 = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj_2(self.spatial_gating_unit(self.activation(self.proj_1(x)))) + x


@TRANSLATOR_BLOCKS.register("tau")
class TAUBlock(LayerScaledAttentionBlock):
    """Temporal attention unit block on (N, dim, h, w) → (N, dim, h, w)::

        x = x + drop_path(γ1 · TemporalAttention(BN(x)))
        x = x + drop_path(γ2 · MixMlp(BN(x)))

    γ1, γ2 per-channel layer scales initialised to ``init_value`` (0.01). Built from a
    :class:`~geostl.models.blocks.base.BlockArgs` (``TAUBlock(args, kernel_size=21,
    init_value=1e-2)``), like gSTA; only the attention and the initialisation differ.
    """

    attention = TemporalAttention

    @staticmethod
    def initialise(module: nn.Module) -> None:
        """OpenSTL's block initialisation: convs N(0, 2/fan_out); linears trunc-normal(0.02)."""
        init_conv_fan_out(module)
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
