"""Initialisation of a K×D codebook (one codeword per row) by name, as the SVQ paper's options.

Names and their meaning here (the seed names them; where it does not say more, the reading
below is ours):

- ``kaiming``: kaiming-uniform with torch's defaults (a = 0, fan_in = D): U(−√(6/D), √(6/D));
- ``normal``: N(0, 1) (the seed's default);
- ``xavier``: xavier-uniform, U(−√(6/(K + D)), √(6/(K + D)));
- ``sparse``: ``torch.nn.init.sparse_`` with sparsity 0.9: in every column, 90 % of the K
  entries are zero, the rest N(0, 0.01²);
- ``trunc``: N(0, 1) truncated to [−2, 2] (torch's ``trunc_normal_`` defaults);
- ``orthogonal``: a (semi-)orthogonal matrix (``orthogonal_``, gain 1);
- ``random``: U[0, 1) (``torch.rand``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def _random(t: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return t.copy_(torch.rand(t.shape, dtype=t.dtype, device=t.device))


CODEBOOK_INITS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "kaiming": lambda t: nn.init.kaiming_uniform_(t),
    "normal": lambda t: nn.init.normal_(t, 0.0, 1.0),
    "xavier": lambda t: nn.init.xavier_uniform_(t),
    "sparse": lambda t: nn.init.sparse_(t, sparsity=0.9),
    "trunc": lambda t: nn.init.trunc_normal_(t, 0.0, 1.0, -2.0, 2.0),
    "orthogonal": lambda t: nn.init.orthogonal_(t),
    "random": _random,
}


def init_codebook(size: int, dim: int, method: str) -> torch.Tensor:
    """A new (size, dim) float32 codebook initialised by ``method`` (see the module docstring).

    Raises:
        ValueError: unknown ``method`` (the accepted names are listed).
    """
    if method not in CODEBOOK_INITS:
        raise ValueError(
            f"svq: init_method must be one of {sorted(CODEBOOK_INITS)}, got {method!r}"
        )
    return CODEBOOK_INITS[method](torch.empty(size, dim))
