"""TAU backbone: SimVP with temporal attention unit blocks and the differential divergence
regulariser (Tan et al., "Temporal Attention Unit: Towards Efficient Spatiotemporal Predictive
Learning", CVPR 2023; OpenSTL's ``TAU`` method = ``SimVP_Model(model_type='tau')`` + the
regulariser).

The network is :class:`~.simvp.SimVP` with ``model_type="tau"`` (the translator blocks of
:mod:`.simvp_tau_block`); the block rollout, shapes and arguments are SimVP's.

**Differential divergence regulariser** (training, when ``truth`` is given): with the forecast
P and the truth Y, both (B, T, C, H, W), the consecutive-frame differences
ΔP_t = P_{t+1} − P_t and ΔY_t (t = 1 … T − 1) are flattened over (C, H, W) and turned into
distributions with a softmax at temperature τ = 0.1: p_t = softmax(ΔP_t / τ),
q_t = softmax(ΔY_t / τ). The term is

    L_dd = mean over (b, t, pixel) of  p · log(p / (q + ε) + ε),   ε = 1e-12,

i.e. KL(p_t ‖ q_t) averaged over the B·(T − 1) frame pairs and divided by C·H·W (OpenSTL takes
the mean over every element, not the sum over each distribution; kept for fidelity). It is 0
for T ≤ 2, as in OpenSTL. ``self.aux_losses["differential_divergence"]`` holds α·L_dd with
α = ``alpha`` (0.1), so the trainer's default weight 1 gives OpenSTL's loss MSE + α·L_dd. It is
computed on the whole forecast of ``t_out`` frames (all chained blocks, as the seed's iono runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

import geostl.models.backbones.simvp_tau_block  # noqa: F401  (registers the "tau" block)
from geostl.models.backbones.simvp import SimVP
from geostl.models.registry import BACKBONES


def differential_divergence(
    pred: torch.Tensor, truth: torch.Tensor, tau: float = 0.1, eps: float = 1e-12
) -> torch.Tensor:
    """TAU's differential divergence of (B, T, ...) ``pred`` from ``truth`` (see module doc).

    Returns a scalar tensor (0 when T ≤ 2).
    """
    if pred.shape != truth.shape or pred.dim() < 3:
        raise ValueError(
            f"differential_divergence: pred and truth must have the same shape (B, T, ...), "
            f"got {tuple(pred.shape)} and {tuple(truth.shape)}"
        )
    b, t = pred.shape[:2]
    if t <= 2:
        return pred.new_zeros(())
    d_pred = (pred[:, 1:] - pred[:, :-1]).reshape(b, t - 1, -1)
    d_true = (truth[:, 1:] - truth[:, :-1]).reshape(b, t - 1, -1)
    p = F.softmax(d_pred / tau, dim=-1)
    q = F.softmax(d_true / tau, dim=-1)
    return (p * torch.log(p / (q + eps) + eps)).mean()


@BACKBONES.register("tau")
class TAU(SimVP):
    """SimVP with TAU translator blocks; α·differential divergence in ``aux_losses``.

    Args:
        in_shape, out_channels, t_out, aux_channels: the backbone contract (see SimVP).
        hid_S, hid_T, N_S, N_T: widths and depths (iono: 64, 512, 4, 8).
        mlp_ratio, drop, drop_path: block settings (OpenSTL defaults 8, 0, 0).
        spatio_kernel_enc, spatio_kernel_dec: encoder / decoder kernel sizes (3).
        alpha: weight of the differential divergence regulariser (0.1; 0 turns it off).
        tau: softmax temperature of the regulariser (0.1).
        frame_transform: the fusion's per-frame hook factory (``fusion: mixer``).

    Forward: ``(x, future_aux, t_out, truth=None, teacher_forcing=None)``
    → (B, t_out, C_out, H, W); ``truth`` only feeds the regulariser (in training mode).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        out_channels: int,
        t_out: int,
        aux_channels: int = 0,
        hid_S: int = 64,
        hid_T: int = 512,
        N_S: int = 4,
        N_T: int = 8,
        mlp_ratio: float = 8.0,
        drop: float = 0.0,
        drop_path: float = 0.0,
        spatio_kernel_enc: int = 3,
        spatio_kernel_dec: int = 3,
        alpha: float = 0.1,
        tau: float = 0.1,
        frame_transform: Any = None,
    ) -> None:
        if not isinstance(alpha, (int, float)) or alpha < 0:
            raise ValueError(f"tau: alpha must be a number >= 0, got {alpha!r}")
        if not isinstance(tau, (int, float)) or tau <= 0:
            raise ValueError(f"tau: tau (softmax temperature) must be > 0, got {tau!r}")
        super().__init__(
            in_shape,
            out_channels,
            t_out,
            aux_channels,
            hid_S=hid_S,
            hid_T=hid_T,
            N_S=N_S,
            N_T=N_T,
            model_type="tau",
            mlp_ratio=mlp_ratio,
            drop=drop,
            drop_path=drop_path,
            spatio_kernel_enc=spatio_kernel_enc,
            spatio_kernel_dec=spatio_kernel_dec,
            frame_transform=frame_transform,
        )
        self.alpha, self.tau = float(alpha), float(tau)

    def forward(
        self,
        x: torch.Tensor,
        future_aux: torch.Tensor | None,
        t_out: int,
        truth: torch.Tensor | None = None,
        teacher_forcing: float | None = None,
    ) -> torch.Tensor:
        """Forecast ``t_out`` frames by chained blocks; in training with ``truth`` also set
        ``aux_losses["differential_divergence"]``."""
        pred = super().forward(x, future_aux, t_out, truth, teacher_forcing)
        if self.training and truth is not None and self.alpha > 0:
            reg = differential_divergence(pred, truth.to(pred.dtype), self.tau)
            self.aux_losses = {"differential_divergence": self.alpha * reg}
        return pred
