"""The training loss: a masked criterion in normalised units plus weighted auxiliary losses.

``L = sum(m e) / sum(m) + sum_k w_k aux_k`` with ``e = (p - y)^2`` (criterion ``mse``, the
default) or ``e = |p - y|`` (``mae``, the SVQ paper's loss), ``m`` the target validity mask
(padded, missing and out-of-area pixels are 0) and ``w_k`` = 1 unless given.

The probabilistic criteria score the Gaussian N(p, s^2) of a model with ``model.output:
gaussian`` (``s`` its ``pred_std``): ``crps`` (``e`` = the CRPS, normalised units) and ``nll``
(``e`` = the negative log density, nats of the normalised units), from
:mod:`geostl.metrics.crps`.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from geostl.metrics.crps import crps_gaussian, gaussian_nll

CRITERIA = ("mse", "mae", "crps", "nll")
"""Training criteria: mean squared or mean absolute error, or the CRPS or negative log
likelihood of a Gaussian forecast, over the valid elements."""
#: the criteria that score a forecast's standard deviation (``pred_std``) too
PROBABILISTIC_CRITERIA = ("crps", "nll")


def needs_std_message(criterion: str) -> str:
    """The error text for a probabilistic ``criterion`` without a standard deviation."""
    return (
        f"train.criterion {criterion} needs model.output: gaussian (a model that gives "
        "pred_std); with model.output: point use train.criterion mse or mae"
    )


def _masked_diff(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``pred - target`` where ``mask``, 0 elsewhere (shapes and mask dtype checked)."""
    if pred.shape != target.shape or mask.shape != pred.shape:
        raise ValueError(
            f"masked loss: pred {tuple(pred.shape)}, target {tuple(target.shape)} and mask "
            f"{tuple(mask.shape)} must have the same shape"
        )
    if mask.dtype != torch.bool:
        raise ValueError(f"masked loss: mask must be bool, got {mask.dtype}")
    return torch.where(mask, pred - target, torch.zeros((), dtype=pred.dtype, device=pred.device))


def masked_sse(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of squared errors over valid elements and their count.

    Args:
        pred, target: (B, T_out, C, H, W) in normalised units.
        mask: bool of the same shape, True = the element counts.

    Returns:
        ``(sse, count)``: float32 (or pred's dtype) scalar tensors.
    """
    diff = _masked_diff(pred, target, mask)
    return (diff * diff).sum(), mask.sum().to(pred.dtype)


def masked_error_sum(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    criterion: str = "mse",
    std: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum over valid elements of the criterion's error, and their count.

    Args:
        pred, target: (B, T_out, C, H, W) in normalised units (any shape, the same).
        mask: bool of the same shape, True = the element counts.
        criterion: one of ``CRITERIA``: squared or absolute error; ``crps`` / ``nll`` of
            N(pred, std^2) at target (needs ``std``).
        std: the forecast's standard deviation (shape of pred, normalised units, > 0), for
            ``crps`` / ``nll``; ignored by ``mse`` / ``mae``.

    Returns:
        ``(sum, count)``: scalar tensors of pred's dtype. Masked-out elements add nothing and
        pass no gradient (a NaN target there is harmless).
    """
    if criterion == "mse":
        return masked_sse(pred, target, mask)
    if criterion == "mae":
        return _masked_diff(pred, target, mask).abs().sum(), mask.sum().to(pred.dtype)
    if criterion in PROBABILISTIC_CRITERIA:
        if std is None:
            raise ValueError(needs_std_message(criterion))
        if std.shape != pred.shape:
            raise ValueError(
                f"masked loss: std {tuple(std.shape)} must have the shape of pred "
                f"{tuple(pred.shape)}"
            )
        _masked_diff(pred, target, mask)  # shape and mask checks
        zero = torch.zeros((), dtype=pred.dtype, device=pred.device)
        one = torch.ones((), dtype=std.dtype, device=std.device)
        # masked-out elements: a finite stand-in, so that no NaN reaches the gradient
        obs = torch.where(mask, target, pred.detach())
        scale = torch.where(mask, std, one)
        score = crps_gaussian if criterion == "crps" else gaussian_nll
        err = torch.where(mask, score(pred, scale, obs), zero)
        return err.sum(), mask.sum().to(pred.dtype)
    raise ValueError(f"train.criterion: expected one of {CRITERIA}, got {criterion!r}")


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the valid elements (0, still attached to the graph, if none)."""
    sse, count = masked_sse(pred, target, mask)
    return sse / count.clamp_min(1.0)


def total_loss(
    output: Mapping[str, object],
    batch: Mapping[str, torch.Tensor],
    aux_weights: Mapping[str, float] | None = None,
    criterion: str = "mse",
) -> tuple[torch.Tensor, dict[str, float]]:
    """Masked ``criterion`` of ``output["pred"]`` against ``batch["targets"]`` plus weighted
    aux losses, in float32.

    ``mse`` / ``mae`` score ``pred`` alone; ``crps`` / ``nll`` score N(pred, pred_std^2) and
    need ``output["pred_std"]`` ((B, T_out, C, H, W), normalised units; ValueError without).

    Returns:
        ``(loss, parts)``: the scalar loss to back-propagate and ``{criterion: .., name: ..}``
        as floats for logging.
    """
    pred = output["pred"]
    std = output.get("pred_std")
    if criterion in PROBABILISTIC_CRITERIA and std is None:
        raise ValueError(needs_std_message(criterion))
    total, count = masked_error_sum(
        pred.float(),
        batch["targets"].float(),
        batch["target_mask"],
        criterion,
        None if std is None else std.float(),
    )
    main = total / count.clamp_min(1.0)
    loss = main
    parts = {criterion: float(main.detach())}
    weights = dict(aux_weights or {})
    aux = output.get("aux_losses") or {}
    unknown = sorted(set(weights) - set(aux))
    if unknown:
        raise KeyError(f"aux_weights: no auxiliary loss named {unknown} (model gave {sorted(aux)})")
    for name, value in aux.items():
        loss = loss + float(weights.get(name, 1.0)) * value.float()
        parts[name] = float(value.detach())
    return loss, parts
