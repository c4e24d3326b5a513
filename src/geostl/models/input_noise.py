"""Training-time input-noise ablation of the SVQ paper (Chen et al., arXiv:2312.03406).

During training, each element of the input is, independently with probability ``fraction``
(ρ), multiplied by a factor drawn from U(−2, 2); the other elements are untouched. In eval
mode the module is the identity.
"""

from __future__ import annotations

import torch
from torch import nn


class InputNoise(nn.Module):
    """Multiply a random fraction ρ of elements by U(−2, 2) in training; identity in eval.

    Args:
        fraction: ρ in [0, 1] (the seed uses 0.1 … 0.5); 0 makes the module the identity.

    Forward: x (any shape) → same shape and dtype.
    """

    def __init__(self, fraction: float) -> None:
        super().__init__()
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
            raise ValueError(f"input_noise: fraction must be a number in [0, 1], got {fraction!r}")
        if not 0.0 <= float(fraction) <= 1.0:
            raise ValueError(f"input_noise: fraction must be in [0, 1], got {fraction!r}")
        self.fraction = float(fraction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.fraction == 0.0:
            return x
        selected = torch.rand_like(x) < self.fraction
        factor = torch.empty_like(x).uniform_(-2.0, 2.0)
        return torch.where(selected, x * factor, x)

    def extra_repr(self) -> str:
        return f"fraction={self.fraction}"
