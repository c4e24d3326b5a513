"""The motion-aware unit (MAU) cell of Chang et al. (NeurIPS 2021), laid out as OpenSTL's
``MAUCell``.

A cell keeps a temporal state T (B, hidden, h, w) and passes a spatial state S up the stack.
At each step, with ``S`` the spatial state from the layer below and the cell's history of the
last τ temporal states T_{t−τ..t−1} and spatial inputs S_{t−τ..t−1}:

- attention over the history: s' = LN(W_s' ∗ S), α_j = softmax_j(⟨S_{t−j}, s'⟩ / √d) with
  d = hidden·h·w (one scalar per sample and history slot), trend T_trend = Σ_j α_j T_{t−j};
- motion fusion: u_f = σ(LN(W_t' ∗ T)),  T_fused = u_f·T + (1 − u_f)·T_trend;
- update: [t_g, t_t, t_s] = LN(W_t ∗ T_fused), [s_g, s_t, s_s] = LN(W_s ∗ S),
  T_new = σ(t_g)·t_t + (1 − σ(t_g))·s_t,  S_new = σ(s_g)·s_s + (1 − σ(s_g))·t_s
  (+ S with ``cell_mode='residual'``).

Every convolution is k×k with bias and is followed by a LayerNorm over (channels, h, w), as in
OpenSTL (whose ``layer_norm`` flag MAU ignores).
"""

from __future__ import annotations

import math

import torch
from torch import nn

CELL_MODES = ("normal", "residual")


def _conv_ln(in_ch: int, out_ch: int, k: int, h: int, w: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, k, stride=1, padding=k // 2), nn.LayerNorm([out_ch, h, w])
    )


class MAUCell(nn.Module):
    """One MAU cell on a (hidden, height, width) latent grid.

    Args:
        hidden: channels of T and S (input and output widths are equal, as OpenSTL needs).
        height, width: latent grid size (LayerNorm shape and the attention scale √d).
        filter_size: odd kernel size of the four convolutions.
        tau: number of past steps the attention looks at.
        cell_mode: ``"normal"`` or ``"residual"`` (S_new += S).
    """

    def __init__(
        self, hidden: int, height: int, width: int, filter_size: int, tau: int, cell_mode: str
    ) -> None:
        super().__init__()
        if cell_mode not in CELL_MODES:
            raise ValueError(f"mau: cell_mode must be one of {CELL_MODES}, got {cell_mode!r}")
        self.hidden, self.tau, self.cell_mode = hidden, tau, cell_mode
        self.scale = 1.0 / math.sqrt(hidden * height * width)
        k = filter_size
        self.conv_t = _conv_ln(hidden, 3 * hidden, k, height, width)
        self.conv_t_next = _conv_ln(hidden, hidden, k, height, width)
        self.conv_s = _conv_ln(hidden, 3 * hidden, k, height, width)
        self.conv_s_next = _conv_ln(hidden, hidden, k, height, width)

    def forward(
        self,
        t_state: torch.Tensor,
        s_in: torch.Tensor,
        t_history: torch.Tensor,
        s_history: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step.

        Args:
            t_state: T^k_{t−1} (B, hidden, h, w).
            s_in: S^{k−1}_t (B, hidden, h, w), the spatial state from the layer below.
            t_history: T^k_{t−τ..t−1} (τ, B, hidden, h, w).
            s_history: S^{k−1}_{t−τ..t−1} (τ, B, hidden, h, w).

        Returns:
            (T^k_t, S^k_t), each (B, hidden, h, w).
        """
        s_next = self.conv_s_next(s_in)
        t_next = self.conv_t_next(t_state)
        # u·a + (1 − u)·b as one lerp(b, a, u) = b + u·(a − b)
        scores = (s_history * s_next.unsqueeze(0)).sum(dim=(2, 3, 4)) * self.scale  # (τ, B)
        alpha = torch.softmax(scores, dim=0)[:, :, None, None, None]
        trend = (t_history * alpha).sum(dim=0)
        fused = torch.lerp(trend, t_state, torch.sigmoid(t_next))
        t_g, t_t, t_s = torch.split(self.conv_t(fused), self.hidden, dim=1)
        s_g, s_t, s_s = torch.split(self.conv_s(s_in), self.hidden, dim=1)
        t_new = torch.lerp(s_t, t_t, torch.sigmoid(t_g))
        s_new = torch.lerp(t_s, s_s, torch.sigmoid(s_g))
        if self.cell_mode == "residual":
            s_new = s_new + s_in
        return t_new, s_new
