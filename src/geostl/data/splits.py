"""Chronological train / val / test splits by date ranges.

Each split is a half-open range ``[start, end)`` of target times. A window belongs to a split
when all its input and output times lie in the range. Consecutive splits (in time order) may
not overlap and must leave a gap of at least one window, ``T_in + T_out`` time steps:
``next.start - previous.end >= (T_in + T_out) * step``, so no window of one split shares a
time with a window of the next. Validation is never the test set: the two are distinct ranges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geostl._keys import check_keys

SPLIT_NAMES = ("train", "val", "test")
MONTH = np.timedelta64(1, "M")
"""The step of a calendar-monthly time axis."""


def is_month(step: np.timedelta64) -> bool:
    """True for the calendar-month step ``MONTH``."""
    return np.datetime_data(np.asarray(step).dtype)[0] == "M"


def add_steps(t: np.datetime64, n: int, step: np.timedelta64) -> np.datetime64:
    """``t`` plus ``n`` steps (calendar months when ``step`` is ``MONTH``)."""
    if is_month(step):
        return np.datetime64((pd.Timestamp(t) + pd.DateOffset(months=n)).value, "ns")
    return np.datetime64(t, "ns") + n * np.asarray(step).astype("timedelta64[ns]")


@dataclass(frozen=True)
class Split:
    """One split: target times ``start <= t < end`` (datetime64[ns], UTC, naive)."""

    name: str
    start: np.datetime64
    end: np.datetime64

    def contains(self, times: np.ndarray) -> np.ndarray:
        """(T,) bool: which of ``times`` (T,) datetime64 lie in ``[start, end)``."""
        t = np.asarray(times, dtype="datetime64[ns]")
        return (t >= self.start) & (t < self.end)

    def to_dict(self) -> dict[str, str]:
        return {"start": str(self.start), "end": str(self.end)}


def parse_time(value: Any, where: str) -> np.datetime64:
    """``value`` (anything ``pandas.Timestamp`` parses; aware times converted to UTC) as a
    naive datetime64[ns]; an unparsable value is a ValueError naming ``where``."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{where}: cannot parse date {value!r} ({err})") from None
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return np.datetime64(ts.value, "ns")


def parse_splits(d: dict[str, Any], where: str = "splits") -> dict[str, Split]:
    """Build splits from ``{"train": {"start": ..., "end": ...}, "val": ..., "test": ...}``.

    ``train`` is required; ``val`` and ``test`` are optional. Dates are anything
    ``pandas.Timestamp`` parses (``"2019-04-25"``, ``"2019-04-25T06:00"``).
    """
    check_keys(d, SPLIT_NAMES, where, required=("train",))
    out: dict[str, Split] = {}
    for name, rng in d.items():
        check_keys(rng, ("start", "end"), f"{where}.{name}", required=("start", "end"))
        start = parse_time(rng["start"], f"{where}.{name}.start")
        end = parse_time(rng["end"], f"{where}.{name}.end")
        if not start < end:
            raise ValueError(f"{where}.{name}: start {start} must be before end {end}")
        out[name] = Split(name, start, end)
    return out


def check_splits(splits: dict[str, Split], window_steps: int, step: np.timedelta64) -> None:
    """Raise ``ValueError`` if two splits overlap or are closer than one window.

    Args:
        splits: split name -> Split.
        window_steps: ``T_in + T_out``.
        step: the target time step (timedelta64).
    """
    ordered = sorted(splits.values(), key=lambda s: s.start)
    for a, b in zip(ordered[:-1], ordered[1:], strict=True):
        if b.start < a.end:
            raise ValueError(
                f"splits {a.name!r} [{a.start}, {a.end}) and {b.name!r} "
                f"[{b.start}, {b.end}) overlap"
            )
        gap = b.start - a.end
        if b.start < add_steps(a.end, int(window_steps), step):
            raise ValueError(
                f"splits {a.name!r} (ends {a.end}) and {b.name!r} (starts {b.start}) are "
                f"{pd.Timedelta(gap)} apart; at least one window (T_in + T_out = {window_steps} "
                f"steps of {_fmt(step)}) is required between them"
            )


def _fmt(step: np.timedelta64) -> str:
    return "1 calendar month" if is_month(step) else str(pd.Timedelta(step))
