"""Stochastic depth (Huang et al., "Deep Networks with Stochastic Depth", ECCV 2016).

Applied to a residual branch f(x) as ``x + DropPath(p)(f(x))``: in training, each sample's
branch is zeroed with probability p and otherwise scaled by 1/(1 − p), so its expected value is
unchanged; in eval mode (or with p = 0) the module is the identity.
"""

from __future__ import annotations

import torch
from torch import nn


class DropPath(nn.Module):
    """Per-sample stochastic depth on a tensor (N, ...) of any rank ≥ 1.

    Args:
        p: drop probability in [0, 1).
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop_path must be in [0, 1), got {p!r}")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, ...) → (N, ...): identity in eval; in training x · Bernoulli(1 − p) / (1 − p),
        one draw per sample (broadcast over the other dimensions)."""
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"
