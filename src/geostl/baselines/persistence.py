"""Plain persistence: the last observed frame, held for every lead time."""

from __future__ import annotations

import torch


def persistence(inputs: torch.Tensor, t_out: int, input_mask: torch.Tensor | None = None):
    """Repeat the last input frame ``t_out`` times.

    Args:
        inputs: (B, T_in, C, H, W) input frames, any units.
        t_out: number of forecast frames.
        input_mask: optional (B, T_in, C, H, W) bool validity of ``inputs``.

    Returns:
        ``(forecast, valid)``: forecast (B, t_out, C, H, W) in the units of ``inputs``, and the
        validity of each forecast pixel (B, t_out, C, H, W) bool: a pixel missing in the last
        input frame has no persistence forecast.
    """
    if inputs.ndim != 5:
        raise ValueError(
            f"persistence: inputs must be (B, T_in, C, H, W), got {tuple(inputs.shape)}"
        )
    if t_out < 1:
        raise ValueError(f"persistence: t_out must be >= 1, got {t_out}")
    last = inputs[:, -1:]
    forecast = last.expand(-1, t_out, -1, -1, -1).clone()
    if input_mask is None:
        valid = torch.ones_like(forecast, dtype=torch.bool)
    else:
        if input_mask.shape != inputs.shape:
            raise ValueError(
                f"persistence: input_mask shape {tuple(input_mask.shape)} differs from inputs "
                f"{tuple(inputs.shape)}"
            )
        valid = input_mask[:, -1:].expand(-1, t_out, -1, -1, -1).clone()
    return forecast, valid
