"""Checks shared by every backbone: constructor arguments and forward inputs of the contract.

Contract: a backbone is built with ``in_shape=(T_in, C_in, H, W)``, ``out_channels=C_out``,
``t_out``, ``aux_channels=A`` with C_in = C_out + A, and called as
``backbone(x, future_aux, t_out, truth=None, teacher_forcing=None)`` where

- ``x`` (B, T_in, C_in, H, W): the C_out target channels first, then the A auxiliary channels;
- ``future_aux`` (B, t_out, A, H, W) or None when A == 0;
- ``truth`` (B, t_out, C_out, H, W) or None (inference: closed loop);
- ``teacher_forcing`` a probability in [0, 1] or None (treated as 0), or a pair
  ``(warmup, future)`` of probabilities (reverse scheduled sampling,
  :class:`geostl.models.scheduled_sampling.TeacherForcing`).

Teacher forcing (training only): at each future step a recurrent backbone feeds the true frame
with probability ``future`` (a float ``teacher_forcing`` is that probability), else its own
output, per sample and per step. With a pair, a backbone that supports reverse scheduled
sampling (the PredRNN family) also feeds, at warm-up steps 1 … T_in − 1, its own
reconstruction of the input frame (its output of the previous step) instead of the given input
frame with probability 1 − ``warmup``; other backbones read the input frames as given and use
only ``future``. :func:`check_forward` returns ``future``; :func:`teacher_forcing_pair` gives
both. ``None`` or a float: warm-up steps read the input frames (warmup = 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def check_construction(
    name: str, in_shape: Sequence[int], out_channels: int, t_out: int, aux_channels: int
) -> tuple[int, int, int, int]:
    """Validate the contract's constructor arguments; returns (T_in, C_in, H, W) as ints."""
    if len(in_shape) != 4 or not all(isinstance(v, int) and v > 0 for v in in_shape):
        raise ValueError(
            f"{name}: in_shape must be four positive ints (T_in, C_in, H, W), got {in_shape!r}"
        )
    t_in, c_in, h, w = (int(v) for v in in_shape)
    for key, value, low in (
        ("out_channels", out_channels, 1),
        ("t_out", t_out, 1),
        ("aux_channels", aux_channels, 0),
    ):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name}: {key} must be an int >= {low}, got {value!r}")
    if c_in != out_channels + aux_channels:
        raise ValueError(
            f"{name}: in_shape C_in={c_in} must equal out_channels + aux_channels = "
            f"{out_channels} + {aux_channels} (targets first, then auxiliary channels)"
        )
    return t_in, c_in, h, w


def check_forward(
    name: str,
    x: torch.Tensor,
    future_aux: torch.Tensor | None,
    t_out: int,
    truth: torch.Tensor | None,
    teacher_forcing: float | Sequence[float] | None,
    *,
    t_in: int,
    c_out: int,
    aux: int,
    hw: tuple[int, int],
) -> float:
    """Validate the forward inputs; returns the future-step teacher-forcing probability
    (0 when None)."""
    h, w = hw
    if x.dim() != 5 or tuple(x.shape[1:]) != (t_in, c_out + aux, h, w):
        raise ValueError(
            f"{name}: x must have shape (B, {t_in}, {c_out + aux}, {h}, {w}) "
            f"(B, T_in, C_out + A, H, W), got {tuple(x.shape)}"
        )
    if not isinstance(t_out, int) or t_out < 1:
        raise ValueError(f"{name}: t_out must be an int >= 1, got {t_out!r}")
    b = x.shape[0]
    if aux == 0:
        if future_aux is not None and future_aux.shape[2] != 0:
            raise ValueError(
                f"{name}: built with aux_channels=0 but future_aux has shape "
                f"{tuple(future_aux.shape)}; pass None"
            )
    else:
        expected = (b, t_out, aux, h, w)
        if future_aux is None or tuple(future_aux.shape) != expected:
            got = None if future_aux is None else tuple(future_aux.shape)
            raise ValueError(
                f"{name}: future_aux must have shape (B, t_out, A, H, W) = {expected}, got {got}"
            )
    if truth is not None and tuple(truth.shape) != (b, t_out, c_out, h, w):
        raise ValueError(
            f"{name}: truth must have shape (B, t_out, C_out, H, W) = {(b, t_out, c_out, h, w)}, "
            f"got {tuple(truth.shape)}"
        )
    return teacher_forcing_pair(name, teacher_forcing)[1]


def teacher_forcing_pair(
    name: str, teacher_forcing: float | Sequence[float] | None
) -> tuple[float, float]:
    """``(warmup, future)`` probabilities of ``teacher_forcing`` (see the module docstring):
    None → (1, 0), a float p → (1, p), a pair → itself; each must lie in [0, 1]."""
    if teacher_forcing is None:
        return 1.0, 0.0
    if isinstance(teacher_forcing, Sequence) and not isinstance(teacher_forcing, str):
        if len(teacher_forcing) != 2:
            raise ValueError(
                f"{name}: teacher_forcing must be a probability or a (warmup, future) pair, "
                f"got {teacher_forcing!r}"
            )
        pair = (float(teacher_forcing[0]), float(teacher_forcing[1]))
    else:
        pair = (1.0, float(teacher_forcing))
    if not all(0.0 <= v <= 1.0 for v in pair):
        raise ValueError(f"{name}: teacher_forcing must be in [0, 1], got {teacher_forcing!r}")
    return pair
