"""The seed's linear scheduled-sampling schedule for recurrent backbones.

The probability of feeding the true frame (teacher forcing) instead of the model's own output
starts at ``start``, drops by ``decay_per_step`` at every training iteration and is floored at
``min``:  p(step) = max(min, start − decay_per_step · step).

With the seed's values (start 1.0, decay 2·10⁻⁵ per iteration) it reaches 0 after 50 000
iterations, which is OpenSTL's ``sampling_stop_iter`` (the schedule is 0 from there on).
Keys are the run configuration's ``train.scheduled_sampling`` keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def teacher_forcing_probability(
    step: int, start: float = 1.0, decay_per_step: float = 2.0e-5, min_value: float = 0.0
) -> float:
    """Teacher-forcing probability at training iteration ``step`` (0-based).

    Returns max(min_value, start − decay_per_step · step), a float in [0, 1].
    """
    if step < 0:
        raise ValueError(f"scheduled sampling: step must be >= 0, got {step}")
    return float(max(min_value, start - decay_per_step * step))


@dataclass(frozen=True)
class ScheduledSampling:
    """Config object for ``train.scheduled_sampling: {start, decay_per_step, min}``."""

    start: float = 1.0
    decay_per_step: float = 2.0e-5
    min: float = 0.0

    def __post_init__(self) -> None:
        for key in ("start", "min"):
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"train.scheduled_sampling.{key} must be a number in [0, 1], got {value!r}"
                )
        if not isinstance(self.decay_per_step, (int, float)) or self.decay_per_step < 0:
            raise ValueError(
                "train.scheduled_sampling.decay_per_step must be a number >= 0, "
                f"got {self.decay_per_step!r}"
            )
        if self.min > self.start:
            raise ValueError(
                f"train.scheduled_sampling.min ({self.min}) is larger than start ({self.start})"
            )

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any]) -> ScheduledSampling:
        """Build from the config mapping; unknown keys are an error naming them."""
        allowed = {"start", "decay_per_step", "min"}
        unknown = sorted(set(cfg) - allowed)
        if unknown:
            raise KeyError(
                f"unknown key(s) {unknown} in train.scheduled_sampling; expected {sorted(allowed)}"
            )
        return cls(**dict(cfg))

    def probability(self, step: int) -> float:
        """Teacher-forcing probability at training iteration ``step``."""
        return teacher_forcing_probability(step, self.start, self.decay_per_step, self.min)
