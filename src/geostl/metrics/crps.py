"""Pointwise probabilistic scores: CRPS of an ensemble and of a Gaussian, Gaussian NLL.

Every function works elementwise on tensors (float64 for scoring, any float dtype and
autograd-safe for training losses) and returns the score of each element; the metric
classes weight and sum them (:mod:`geostl.metrics.ensemble`).

CRPS (continuous ranked probability score, Gneiting & Raftery 2007) of a forecast
distribution F for the outcome y is ``E|X - y| - E|X - X'| / 2`` with X, X' independent draws
of F; it has the unit of y and equals the absolute error for a one-point forecast.

- Ensemble of M members, "ecdf" (the empirical distribution of the members, as
  ``properscoring.crps_ensemble``): ``mean_i |x_i - y| - sum_ij |x_i - x_j| / (2 M^2)``.
- "fair" (Ferro 2014; unbiased for the CRPS of the distribution the members are drawn from):
  ``mean_i |x_i - y| - sum_ij |x_i - x_j| / (2 M (M - 1))``; undefined (NaN) for M = 1.
- Gaussian N(mu, sigma^2): ``sigma (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi))`` with
  ``z = (y - mu) / sigma``.

The pair sum is taken on the sorted members, ``sum_ij |x_i - x_j| = 2 sum_k (2k - M - 1)
x_(k)`` (k = 1..M ascending), so the cost is O(M log M) rather than O(M^2).
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "crps_ensemble",
    "crps_gaussian",
    "ensemble_abs_error",
    "ensemble_pair_spread",
    "gaussian_cdf",
    "gaussian_nll",
]

_SQRT_PI = math.sqrt(math.pi)
_LOG_2PI = math.log(2.0 * math.pi)


def gaussian_cdf(z: torch.Tensor) -> torch.Tensor:
    """Standard normal CDF ``Phi(z) = (1 + erf(z / sqrt 2)) / 2``, elementwise."""
    return 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0)))


def _check_std(std: torch.Tensor) -> None:
    if not torch.is_grad_enabled() or not std.requires_grad:
        bad = ~(std > 0)
        if bool(bad.any()):
            raise ValueError(
                "Gaussian score: the standard deviation must be > 0 everywhere, found "
                f"{int(bad.sum())} values <= 0 or NaN (smallest {float(std.nan_to_num(0).min())})"
            )


def crps_gaussian(mean: torch.Tensor, std: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """CRPS of N(mean, std^2) for the outcome ``obs``, elementwise (unit of obs).

    Args:
        mean, std, obs: broadcastable tensors; ``std`` > 0 (checked when not training).
    """
    _check_std(std)
    z = (obs - mean) / std
    pdf = torch.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return std * (z * (2.0 * gaussian_cdf(z) - 1.0) + 2.0 * pdf - 1.0 / _SQRT_PI)


def gaussian_nll(mean: torch.Tensor, std: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """Negative log density of N(mean, std^2) at ``obs``, elementwise:
    ``log(std) + (obs - mean)^2 / (2 std^2) + log(2 pi) / 2`` (nats; depends on obs' unit)."""
    _check_std(std)
    z = (obs - mean) / std
    return torch.log(std) + 0.5 * z * z + 0.5 * _LOG_2PI


def ensemble_abs_error(members: torch.Tensor, obs: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """``mean_i |x_i - y|`` over the member dimension ``dim`` of ``members``.

    Args:
        members: (..., M, ...) ensemble, members along ``dim``.
        obs: the outcome, of the shape of ``members`` without ``dim``.
    """
    return (members - obs.unsqueeze(dim)).abs().mean(dim=dim)


def ensemble_pair_spread(members: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """``sum_ij |x_i - x_j| / M^2`` (the mean absolute difference of two draws of the members,
    with replacement) over the member dimension ``dim``, from the sorted members."""
    m = members.shape[dim]
    x = torch.sort(members, dim=dim).values
    shape = [1] * members.ndim
    shape[dim] = m
    k = torch.arange(1, m + 1, dtype=members.dtype, device=members.device).reshape(shape)
    return 2.0 * ((2.0 * k - m - 1.0) * x).sum(dim=dim) / (m * m)


def crps_ensemble(
    members: torch.Tensor, obs: torch.Tensor, dim: int = 0, fair: bool = False
) -> torch.Tensor:
    """CRPS of an ensemble for the outcome ``obs``, elementwise (unit of obs).

    Args:
        members: (..., M, ...) ensemble, members along ``dim``.
        obs: the outcome, of the shape of ``members`` without ``dim``.
        fair: the unbiased (fair) estimator; NaN for a one-member ensemble.
    """
    m = members.shape[dim]
    pairs = ensemble_pair_spread(members, dim)
    if fair:
        if m < 2:
            return torch.full_like(obs, math.nan, dtype=members.dtype)
        pairs = pairs * (m / (m - 1.0))
    return ensemble_abs_error(members, obs, dim) - 0.5 * pairs
