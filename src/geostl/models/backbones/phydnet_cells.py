"""PhyDNet's recurrent parts (Le Guen & Thome, CVPR 2020), laid out as OpenSTL's
``PhyCell``, ``PhyD_ConvLSTM`` and ``K2M``.

- :class:`PhyCellCell`: a physically constrained predictor–corrector on latent states
  (B, D, h, w). Prediction h̃ = h + F(h) with F = 1×1 conv ∘ GroupNorm(7) ∘ k×k conv D → F_hidden
  (the k×k filters are pushed towards finite-difference operators by the moment loss);
  correction with the Kalman-like gain K = σ(conv3×3([x; h])): h' = h̃ + K·(x − h̃).
- :class:`PhyDConvLSTMCell`: ConvLSTM with one biased convolution over [x; h] and gate order
  i, f, o, g.
- :func:`moment_matrix`: the moments of a k×k kernel, m = M·w·Mᵀ with
  M[i, j] = (j − (k−1)//2)^i / i!. The PhyCell moment loss asks filter q = k·a + b of F's first
  convolution to have the single moment (a, b), i.e. to approximate ∂^{a+b}/∂y^a∂x^b.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def moment_basis(k: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """M (k, k) with M[i, j] = (j − (k−1)//2)^i / i! (OpenSTL's ``_MK``)."""
    pos = torch.arange(k, dtype=dtype) - (k - 1) // 2
    rows = [pos**i / math.factorial(i) for i in range(k)]
    return torch.stack(rows)


def moment_matrix(kernels: torch.Tensor) -> torch.Tensor:
    """Moments of square kernels (…, k, k) → (…, k, k), computed in float64: M·w·Mᵀ."""
    k = kernels.shape[-1]
    m = moment_basis(k).to(kernels.device)
    return torch.einsum("ia,...ab,jb->...ij", m, kernels.double(), m)


def moment_targets(k: int) -> torch.Tensor:
    """(k², k, k): target q = k·a + b is one at (a, b), zero elsewhere (OpenSTL constraints)."""
    return torch.eye(k * k).reshape(k * k, k, k)


class PhyCellCell(nn.Module):
    """One PhyCell layer on (B, dim, h, w) states.

    Args:
        dim: channels of the input and the state.
        f_hidden: number of k×k filters of F (OpenSTL: 49 = 7²).
        kernel_size: odd size of F's filters (OpenSTL: 7).
        groups: GroupNorm groups inside F (OpenSTL: 7).
    """

    def __init__(self, dim: int, f_hidden: int, kernel_size: int, groups: int = 7) -> None:
        super().__init__()
        self.dim = dim
        self.conv1 = nn.Conv2d(dim, f_hidden, kernel_size, padding=kernel_size // 2)
        self.norm = nn.GroupNorm(groups, f_hidden)
        self.conv2 = nn.Conv2d(f_hidden, dim, 1)
        self.convgate = nn.Conv2d(2 * dim, dim, 3, padding=1)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """x, h (B, dim, h, w) → corrected state (B, dim, h, w)."""
        gain = torch.sigmoid(self.convgate(torch.cat([x, h], dim=1)))
        predicted = h + self.conv2(self.norm(self.conv1(h)))
        return torch.lerp(predicted, x, gain)  # predicted + gain·(x − predicted), one kernel


class PhyDConvLSTMCell(nn.Module):
    """ConvLSTM cell of PhyDNet: conv over [x; h] (with bias) → i, f, o, g."""

    def __init__(self, in_channels: int, hidden: int, kernel_size: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.conv = nn.Conv2d(
            in_channels + hidden, 4 * hidden, kernel_size, padding=kernel_size // 2
        )

    def forward(
        self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, in, h, w), h and c (B, hidden, h, w) → new (h, c)."""
        i, f, o, g = torch.split(self.conv(torch.cat([x, h], dim=1)), self.hidden, dim=1)
        c_new = torch.addcmul(torch.sigmoid(f) * c, torch.sigmoid(i), torch.tanh(g))
        return torch.sigmoid(o) * torch.tanh(c_new), c_new
