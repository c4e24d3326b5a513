"""Scheduled sampling for recurrent backbones: the linear and the reverse schedule.

This module is the one definition of the run configuration's ``train.scheduled_sampling``
(the engine's ``TrainConfig`` uses :class:`ScheduledSampling` from here).

``kind: linear`` (default; OpenSTL's scheduled sampling for ConvLSTM, PredRNN, PredRNN++, ...):
the probability of feeding the true frame instead of the model's own output at a future step
starts at ``start``, drops by ``decay_per_step`` at every training iteration and is floored at
``min``:  p(k) = max(min, start − decay_per_step · k). Input (warm-up) frames are always read
as given. With the seed's values (start 1.0, decay 2·10⁻⁵) it reaches 0 after 50 000
iterations, OpenSTL's ``sampling_stop_iter``.

``kind: reverse`` (reverse scheduled sampling, PredRNN-V2, Wang et al., TPAMI 2022, §4.3;
OpenSTL's ``reserve_schedule_sampling_exp``), with τ₁ = ``r_sampling_step_1``,
τ₂ = ``r_sampling_step_2`` and α = ``r_exp_alpha`` (seed: 25 000, 50 000, 5 000):

- warm-up (input) steps 1 … T_in − 1 feed the true input frame with probability
  ε(k) = 0.5 for k < τ₁, 1 − 0.5·exp(−(k − τ₁)/α) for τ₁ ≤ k < τ₂, 1 from τ₂ on,
  otherwise the model's own reconstruction of that frame (the encoder is weaned *onto* the
  observations);
- future steps feed the true frame with probability
  η(k) = 0.5 for k < τ₁, 0.5 − 0.5·(k − τ₁)/(τ₂ − τ₁) for τ₁ ≤ k < τ₂, 0 from τ₂ on.

The backbone receives ``teacher_forcing`` as a float (linear: the future-step probability) or
as :class:`TeacherForcing` ``(warmup, future)`` (reverse); see the backbone contract in
``geostl.models.backbones._contract``. Inference is always closed-loop (no teacher forcing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from geostl._keys import check_keys

KINDS = ("linear", "reverse")


class TeacherForcing(NamedTuple):
    """Teacher-forcing probabilities of reverse scheduled sampling.

    ``warmup``: probability of reading the true input frame at warm-up steps 1 … T_in − 1
    (else the model's reconstruction); ``future``: probability of the true frame at a future
    step (else the model's forecast).
    """

    warmup: float
    future: float


def teacher_forcing_probability(
    step: int, start: float = 1.0, decay_per_step: float = 2.0e-5, min_value: float = 0.0
) -> float:
    """Linear schedule at training iteration ``step`` (0-based).

    Returns max(min_value, start − decay_per_step · step), a float in [0, 1].
    """
    if step < 0:
        raise ValueError(f"scheduled sampling: step must be >= 0, got {step}")
    return float(max(min_value, start - decay_per_step * step))


def reverse_teacher_forcing(
    step: int, step_1: int = 25_000, step_2: int = 50_000, exp_alpha: float = 5_000.0
) -> TeacherForcing:
    """Reverse scheduled sampling at training iteration ``step`` (0-based): (ε, η) as above."""
    if step < 0:
        raise ValueError(f"scheduled sampling: step must be >= 0, got {step}")
    if step < step_1:
        return TeacherForcing(0.5, 0.5)
    if step < step_2:
        warmup = 1.0 - 0.5 * math.exp(-float(step - step_1) / exp_alpha)
        future = 0.5 - 0.5 * (step - step_1) / (step_2 - step_1)
        return TeacherForcing(float(warmup), float(future))
    return TeacherForcing(1.0, 0.0)


def _number(value: Any, where: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"{where}: expected a number, got {type(value).__name__} {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    return v


@dataclass(frozen=True)
class ScheduledSampling:
    """``train.scheduled_sampling``: ``{kind, start, decay_per_step, min, r_sampling_step_1,
    r_sampling_step_2, r_exp_alpha}`` (linear keys used by ``kind: linear``, ``r_*`` keys by
    ``kind: reverse``)."""

    start: float = 1.0
    decay_per_step: float = 2.0e-5
    min: float = 0.0
    kind: str = "linear"
    r_sampling_step_1: int = 25_000
    r_sampling_step_2: int = 50_000
    r_exp_alpha: float = 5_000.0

    def __post_init__(self) -> None:
        w = "train.scheduled_sampling"
        if self.kind not in KINDS:
            raise ValueError(f"{w}.kind must be one of {list(KINDS)}, got {self.kind!r}")
        for key in ("start", "min"):
            value = getattr(self, key)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{w}.{key} must be a number in [0, 1], got {value!r}")
        if not isinstance(self.decay_per_step, int | float) or self.decay_per_step < 0:
            raise ValueError(
                f"{w}.decay_per_step must be a number >= 0, got {self.decay_per_step!r}"
            )
        if self.min > self.start:
            raise ValueError(f"{w}.min ({self.min}) is larger than start ({self.start})")
        for key in ("r_sampling_step_1", "r_sampling_step_2"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{w}.{key} must be an int >= 0, got {value!r}")
        if self.r_sampling_step_2 <= self.r_sampling_step_1:
            raise ValueError(
                f"{w}.r_sampling_step_2 ({self.r_sampling_step_2}) must be larger than "
                f"r_sampling_step_1 ({self.r_sampling_step_1})"
            )
        if not isinstance(self.r_exp_alpha, int | float) or not self.r_exp_alpha > 0:
            raise ValueError(f"{w}.r_exp_alpha must be a number > 0, got {self.r_exp_alpha!r}")

    @classmethod
    def from_dict(
        cls, cfg: Mapping[str, Any], where: str = "train.scheduled_sampling"
    ) -> ScheduledSampling:
        """Build from the config mapping; unknown keys and wrong types are errors naming them."""
        if not isinstance(cfg, Mapping):
            raise TypeError(f"{where}: expected a mapping, got {type(cfg).__name__} {cfg!r}")
        allowed = [
            "start",
            "decay_per_step",
            "min",
            "kind",
            "r_sampling_step_1",
            "r_sampling_step_2",
            "r_exp_alpha",
        ]
        check_keys(cfg, allowed, where)
        out: dict[str, Any] = {}
        for key in ("start", "decay_per_step", "min", "r_exp_alpha"):
            if key in cfg:
                out[key] = _number(cfg[key], f"{where}.{key}")
        for key in ("r_sampling_step_1", "r_sampling_step_2"):
            if key in cfg:
                value = cfg[key]
                if not isinstance(value, int) or isinstance(value, bool):
                    raise TypeError(
                        f"{where}.{key}: expected an integer, got {type(value).__name__} {value!r}"
                    )
                out[key] = int(value)
        if "kind" in cfg:
            if cfg["kind"] not in KINDS:
                raise ValueError(
                    f"{where}.kind: {cfg['kind']!r} is not allowed (choose one of: {list(KINDS)})"
                )
            out["kind"] = cfg["kind"]
        return cls(**out)

    def probability(self, step: int) -> float:
        """Probability of the true frame at a *future* step, training iteration ``step``."""
        if self.kind == "reverse":
            return self.teacher_forcing(step).future
        return teacher_forcing_probability(step, self.start, self.decay_per_step, self.min)

    def teacher_forcing(self, step: int) -> float | TeacherForcing:
        """What the backbone gets as ``teacher_forcing`` at training iteration ``step``:
        the linear probability (a float) or the reverse pair :class:`TeacherForcing`."""
        if self.kind == "reverse":
            return reverse_teacher_forcing(
                step, self.r_sampling_step_1, self.r_sampling_step_2, self.r_exp_alpha
            )
        return self.probability(step)
