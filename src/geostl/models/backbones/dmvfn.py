"""DMVFN backbone (Hu et al., "A Dynamic Multi-Scale Voxel Flow Network for Video Prediction",
CVPR 2023), laid out as OpenSTL's ``DMVFN_Model`` with OpenSTL's default configuration
(routing 32 channels; 9 blocks of widths 160, 160, 160, 80, 80, 80, 44, 44, 44 at scales
4, 4, 4, 2, 2, 2, 1, 1, 1; β = 0.5, γ = 0.8).

One step predicts the next frame from the last two, img0 and img1 (all C_in channels):

1. **routing**: v = σ(Linear(RoutingModule(cat(img0, img1)))) ∈ (0, 1)^n (n blocks), rescaled
   v ← clamp(β·n·v / (Σv + 1e-6), 0, 1); each block is switched on with r_i ~ Bernoulli(v_i) in
   training (straight-through gradient). In eval r_i = [v_i > 0.5], a deterministic choice
   (OpenSTL samples at test time too, and applies batch element 0's routing to the whole batch);
2. **multi-scale voxel flow**: flow (4 channels, one 2-D flow per input frame) and mask start
   at 0; block i sees cat(img0, img1, warp(img0, flow_0), warp(img1, flow_1), mask) and the flow
   (see :class:`~.dmvfn_blocks.MVFB`) and returns increments; flow += r_i·Δflow,
   mask += r_i·Δmask, per sample;
3. **output**: σ(mask)·warp(img0) + (1 − σ(mask))·warp(img1), of which the first C_out
   channels are the forecast (B, C_out, H, W); optionally clamped to ``clamp`` (OpenSTL clamps
   to [0, 1] for video pixels; None here by default, geostl's fields are normalised).

Rollout: t_out steps. Step k uses the last two frames of the sequence so far: the input frames
x[:, −2], x[:, −1] at k = 0, then the previous forecasts (or, in training, the truth with
probability ``teacher_forcing`` per sample and step: OpenSTL trains one-step ahead, i.e.
teacher_forcing 1), each completed with its ``future_aux`` channels. ``truth=None`` is
closed-loop for any t_out. Earlier input frames are not used (as in OpenSTL's inference).

Training loss (``deep_supervision``, when truth is given in training): OpenSTL supervises every
block's output: ``aux_losses["block_l1"]`` = mean over future steps of
Σ_i γ^(n−1−i)·mean|out_i − truth|, out_i being block i's output with its own increment taken
unweighted (the last block's is the forecast). OpenSTL measures it with a 5-level Laplacian
pyramid L1 and adds a VGG-19 perceptual term (weight 0.5); both need image-specific parts
(ImageNet weights) and are left out: here it is a plain L1, added to the trainer's MSE.

No ``readout``: the forecast is a blend of warped input frames, not the output of a layer, so
``residual: last`` (which zeroes a readout) is refused with a clear error.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from geostl.models.backbones._contract import check_construction, check_forward
from geostl.models.backbones._rollout import _blend
from geostl.models.backbones.dmvfn_blocks import (
    MVFB,
    RoutingModule,
    bernoulli_straight_through,
    warp,
)
from geostl.models.registry import BACKBONES

DEFAULT_FEATURES = (160, 160, 160, 80, 80, 80, 44, 44, 44)
DEFAULT_SCALES = (4, 4, 4, 2, 2, 2, 1, 1, 1)


@BACKBONES.register("dmvfn")
class DMVFN(nn.Module):
    """Dynamic multi-scale voxel flow network; see the module docstring.

    Args:
        in_shape: (T_in, C_in, H, W), T_in >= 2, C_in = out_channels + aux_channels.
        out_channels: C_out, the target channels (first in x).
        t_out: default forecast length (any t_out can be asked at call time).
        aux_channels: A, auxiliary channels after the targets in x and in ``future_aux``.
        routing_out_channels: width of the routing module (32).
        num_features: width of each MVFB (multiples of 4; OpenSTL's 9 defaults).
        scale: downsampling factor of each MVFB (same length as ``num_features``).
        beta: routing sparsity β (0.5: about half the blocks on).
        gamma: decay of the block-loss weights γ (0.8).
        deep_supervision: put the per-block L1 in ``aux_losses`` during training.
        clamp: (low, high) to clamp the forecast to, or None.

    Forward: ``(x, future_aux, t_out, truth=None, teacher_forcing=None)``
    → (B, t_out, C_out, H, W).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        out_channels: int,
        t_out: int,
        aux_channels: int = 0,
        routing_out_channels: int = 32,
        num_features: Sequence[int] = DEFAULT_FEATURES,
        scale: Sequence[int] = DEFAULT_SCALES,
        beta: float = 0.5,
        gamma: float = 0.8,
        deep_supervision: bool = True,
        clamp: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        t_in, c_in, h, w = check_construction("dmvfn", in_shape, out_channels, t_out, aux_channels)
        if t_in < 2:
            raise ValueError(f"dmvfn: in_shape T_in must be >= 2 (two frames in), got {t_in}")
        features = [int(f) for f in num_features]
        scales = [int(s) for s in scale]
        if not features or any(f < 4 or f % 4 for f in features):
            raise ValueError(
                f"dmvfn: num_features must list multiples of 4 (>= 4), got {num_features!r}"
            )
        if len(scales) != len(features) or any(s < 1 for s in scales):
            raise ValueError(
                f"dmvfn: scale must list one positive int per block ({len(features)}), "
                f"got {scale!r}"
            )
        if not isinstance(routing_out_channels, int) or routing_out_channels < 1:
            raise ValueError(
                f"dmvfn: routing_out_channels must be a positive int, got {routing_out_channels!r}"
            )
        if not 0.0 < float(beta):
            raise ValueError(f"dmvfn: beta must be > 0, got {beta!r}")
        if min(h, w) < 2 * max(scales):
            raise ValueError(
                f"dmvfn: H={h} and W={w} must be at least 2·max(scale) = {2 * max(scales)}"
            )
        if clamp is not None and (len(clamp) != 2 or float(clamp[0]) >= float(clamp[1])):
            raise ValueError(f"dmvfn: clamp must be None or (low, high) with low < high: {clamp}")
        self.t_in, self.h, self.w = t_in, h, w
        self.out_channels, self.aux_channels, self.t_out = out_channels, aux_channels, t_out
        self.scales = scales
        self.beta, self.gamma = float(beta), float(gamma)
        self.deep_supervision = bool(deep_supervision)
        self.clamp = None if clamp is None else (float(clamp[0]), float(clamp[1]))
        in_planes = 4 * c_in + 1 + 4
        self.stu = nn.ModuleList(MVFB(in_planes, f) for f in features)
        self.routing = RoutingModule(2 * c_in, routing_out_channels)
        self.l1 = nn.Linear(routing_out_channels, len(features))
        self.aux_losses: dict[str, torch.Tensor] = {}

    def routing_vector(self, img0: torch.Tensor, img1: torch.Tensor) -> torch.Tensor:
        """Block switches r (B, n) in {0, 1} (sampled in training, v > 0.5 in eval)."""
        n = len(self.stu)
        v = torch.sigmoid(self.l1(self.routing(torch.cat([img0, img1], dim=1))))
        v = torch.clamp(self.beta * n * v / (v.sum(1, keepdim=True) + 1e-6), 0.0, 1.0)
        if self.training:
            return bernoulli_straight_through(v)
        return (v > 0.5).to(v.dtype)

    def step(
        self, img0: torch.Tensor, img1: torch.Tensor, supervise: bool
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One frame: img0, img1 (B, C_in, H, W) → (forecast (B, C_out, H, W), per-block
        outputs (B, C_out, H, W) when ``supervise``, else [])."""
        b, _, h, w = img0.shape
        ref = self.routing_vector(img0, img1)
        flow = img0.new_zeros(b, 4, h, w)
        mask = img0.new_zeros(b, 1, h, w)
        warped0, warped1 = img0, img1
        blocks: list[torch.Tensor] = []
        c = self.out_channels
        for i, (block, s) in enumerate(zip(self.stu, self.scales, strict=True)):
            d_flow, d_mask = block(torch.cat([img0, img1, warped0, warped1, mask], 1), flow, s)
            r = ref[:, i].reshape(b, 1, 1, 1)
            if supervise and i < len(self.stu) - 1:
                now_flow, now_mask = flow + d_flow, torch.sigmoid(mask + d_mask)
                out = warp(img0[:, :c], now_flow[:, :2]) * now_mask + warp(
                    img1[:, :c], now_flow[:, 2:]
                ) * (1 - now_mask)
                blocks.append(self._clamp(out))
            flow = flow + d_flow * r
            mask = mask + d_mask * r
            warped0 = warp(img0, flow[:, :2])
            warped1 = warp(img1, flow[:, 2:])
        m = torch.sigmoid(mask)
        pred = self._clamp(warped0[:, :c] * m + warped1[:, :c] * (1 - m))
        if supervise:
            blocks.append(pred)
        return pred, blocks

    def _clamp(self, y: torch.Tensor) -> torch.Tensor:
        return y if self.clamp is None else torch.clamp(y, *self.clamp)

    def forward(
        self,
        x: torch.Tensor,
        future_aux: torch.Tensor | None,
        t_out: int,
        truth: torch.Tensor | None = None,
        teacher_forcing: float | None = None,
    ) -> torch.Tensor:
        """Roll out ``t_out`` frames: (B, T_in, C_in, H, W) → (B, t_out, C_out, H, W)."""
        self.aux_losses = {}
        tf = check_forward(
            "dmvfn",
            x,
            future_aux,
            t_out,
            truth,
            teacher_forcing,
            t_in=self.t_in,
            c_out=self.out_channels,
            aux=self.aux_channels,
            hw=(self.h, self.w),
        )
        supervise = self.training and truth is not None and self.deep_supervision
        n = len(self.stu)
        weights = [self.gamma ** (n - 1 - i) for i in range(n)]
        img0, img1 = x[:, -2], x[:, -1]
        outputs: list[torch.Tensor] = []
        block_loss = x.new_zeros(())
        for k in range(t_out):
            pred, blocks = self.step(img0, img1, supervise)
            outputs.append(pred)
            if supervise:
                for wgt, out in zip(weights, blocks, strict=True):
                    block_loss = block_loss + wgt * (out - truth[:, k]).abs().mean()
            if k + 1 == t_out:
                break
            fed = pred if truth is None or tf <= 0.0 else _blend(truth[:, k], pred, tf)
            nxt = torch.cat([fed, future_aux[:, k]], dim=1) if self.aux_channels else fed
            img0, img1 = img1, nxt
        if supervise:
            self.aux_losses = {"block_l1": block_loss / t_out}
        return torch.stack(outputs, dim=1)
