"""Code-usage diagnostic of SVQ (the seed's optional ``evaluate_usage``).

Our reading of "standardise w, threshold |w| at 2σ/3σ, perplexity of the usage histogram":
all code weights of a batch are standardised together, z = (w − mean(w)) / std(w); code k is
"used" by a latent vector when |z_k| > n_sigma; the histogram counts, per code, the vectors
that use it; its perplexity is exp(H) with H = −Σ p_k ln p_k, p = counts / Σ counts (K when
all codes are used equally, 1 when one code takes all uses).
"""

from __future__ import annotations

import torch


def code_usage(weights: torch.Tensor, n_sigma: float = 2.0) -> torch.Tensor:
    """Usage histogram of code weights.

    Args:
        weights: (..., K) code weights w of any number of latent vectors.
        n_sigma: threshold on |standardised w| (the seed reports 2 and 3).

    Returns:
        (K,) float64 counts: for each code, the number of vectors with |z_k| > n_sigma.
    """
    if weights.dim() < 1 or weights.numel() < 2:
        raise ValueError(
            f"code_usage: weights must be (..., K) with >= 2 values, got {tuple(weights.shape)}"
        )
    w = weights.detach().to(torch.float64).reshape(-1, weights.shape[-1])
    std = w.std()
    if not torch.isfinite(std) or std == 0:
        raise ValueError("code_usage: the code weights have zero or non-finite spread")
    z = (w - w.mean()) / std
    return (z.abs() > n_sigma).sum(dim=0).to(torch.float64)


def perplexity(counts: torch.Tensor) -> float:
    """exp(entropy) of a usage histogram ``counts`` (K,), non-negative, not all zero."""
    c = counts.detach().to(torch.float64).reshape(-1)
    if (c < 0).any() or c.sum() <= 0:
        raise ValueError("perplexity: counts must be non-negative with a positive sum")
    p = c / c.sum()
    nz = p[p > 0]
    return float(torch.exp(-(nz * nz.log()).sum()))
