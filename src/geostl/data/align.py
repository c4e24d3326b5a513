"""Alignment of a driver series onto the target's time axis.

A driver sample stamped ``t_k`` is taken to describe the interval ``[t_k, t_k + D)`` where
``D`` is the driver's interval (given in the config, or inferred as the driver's most common
time step). For a target time ``t`` the rules are:

- ``previous``: the latest sample with ``t_k <= t``; it must still be current, ``t - t_k < D``.
- ``previous_complete`` (causal; default for observed drivers): the latest sample whose
  interval has ended, ``t_k + D <= t``, and it must be the most recent one,
  ``t - (t_k + D) < D``. An OMNI2 hourly average stamped 10:00 is used from 11:00 to 11:59.
- ``nearest``: the sample closest to ``t`` (ties go to the earlier one), ``|t - t_k| <= D/2``.
- ``linear``: linear interpolation between the samples either side of ``t``, which must be at
  most ``D`` apart (an exact stamp needs no neighbour).
- ``daily``: daily indices stamped at 00:00; every time of a day gets that day's value.

A target time with no sample satisfying the rule (outside the driver's span, or a hole in it),
or whose sample is NaN, has no value. That is an error naming the variable and the first
missing time, unless a fill rule is given explicitly: ``"ffill"`` (hold the last aligned value;
leading holes are still an error) or a number (a constant).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ALIGN_RULES = ("previous", "previous_complete", "nearest", "linear", "daily")
CAUSAL_RULES = ("previous", "previous_complete")
_DAY_NS = 86_400 * 10**9


def _as_ns(times: np.ndarray, what: str) -> np.ndarray:
    t = np.asarray(times)
    if not np.issubdtype(t.dtype, np.datetime64):
        raise TypeError(f"{what}: expected datetime64 times, got dtype {t.dtype}")
    return t.astype("datetime64[ns]").astype(np.int64)


def infer_interval(driver_times: np.ndarray, name: str) -> np.timedelta64:
    """The most common step of ``driver_times`` (N,) as timedelta64[ns]; the driver interval."""
    t = _as_ns(driver_times, f"driver {name!r}")
    if t.size < 2:
        raise ValueError(
            f"driver {name!r}: cannot infer its interval from {t.size} sample(s); "
            "give 'interval' in the config"
        )
    steps, counts = np.unique(np.diff(t), return_counts=True)
    return np.timedelta64(int(steps[np.argmax(counts)]), "ns")


def parse_interval(interval: str | np.timedelta64 | pd.Timedelta, name: str) -> np.timedelta64:
    """Parse ``"1h"``, ``"15min"``, ``"1D"``... into a positive timedelta64[ns]."""
    try:
        td = pd.Timedelta(interval)
    except (ValueError, TypeError) as err:
        raise ValueError(f"driver {name!r}: cannot parse interval {interval!r} ({err})") from None
    if td <= pd.Timedelta(0):
        raise ValueError(f"driver {name!r}: interval must be positive, got {interval!r}")
    return np.timedelta64(td.value, "ns")


def align_indices(
    driver_times: np.ndarray,
    target_times: np.ndarray,
    rule: str,
    interval: np.timedelta64,
    name: str = "driver",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where each target time reads the driver: value = (1 - w) * x[i0] + w * x[i1].

    Args:
        driver_times: (N,) datetime64, strictly increasing.
        target_times: (T,) datetime64.
        rule: one of ``ALIGN_RULES``.
        interval: the driver interval ``D`` (timedelta64).

    Returns:
        ``i0``, ``i1`` (T,) int64 indices into the driver, ``w`` (T,) float64 weight of ``i1``
        (0 except for ``linear``) and ``ok`` (T,) bool, False where the rule finds no sample.
    """
    if rule not in ALIGN_RULES:
        raise ValueError(
            f"driver {name!r}: unknown align rule {rule!r} "
            f"(choose one of: {', '.join(ALIGN_RULES)})"
        )
    td = _as_ns(driver_times, f"driver {name!r}")
    tt = _as_ns(target_times, "target times")
    if td.size == 0:
        raise ValueError(f"driver {name!r}: has no samples")
    if np.any(np.diff(td) <= 0):
        k = int(np.argmax(np.diff(td) <= 0))
        raise ValueError(
            f"driver {name!r}: time axis is not strictly increasing at index {k + 1} "
            f"({np.datetime64(int(td[k + 1]), 'ns')})"
        )
    d = int(np.asarray(interval).astype("timedelta64[ns]").astype(np.int64))
    n = td.size
    w = np.zeros(tt.shape, dtype=np.float64)
    if rule == "previous":
        i0 = np.searchsorted(td, tt, side="right") - 1
        ok = i0 >= 0
        i0c = np.clip(i0, 0, n - 1)
        ok &= (tt - td[i0c]) < d
    elif rule == "previous_complete":
        i0 = np.searchsorted(td, tt - d, side="right") - 1
        ok = i0 >= 0
        i0c = np.clip(i0, 0, n - 1)
        ok &= (tt - (td[i0c] + d)) < d
    elif rule == "nearest":
        right = np.clip(np.searchsorted(td, tt, side="left"), 0, n - 1)
        left = np.clip(right - 1, 0, n - 1)
        take_left = np.abs(tt - td[left]) <= np.abs(td[right] - tt)
        i0c = np.where(take_left, left, right)
        ok = 2 * np.abs(tt - td[i0c]) <= d
    elif rule == "linear":
        i0 = np.searchsorted(td, tt, side="right") - 1
        ok = i0 >= 0
        i0c = np.clip(i0, 0, n - 1)
        exact = ok & (td[i0c] == tt)
        i1c = np.clip(i0c + 1, 0, n - 1)
        has_right = ok & (i0c + 1 < n)
        span = td[i1c] - td[i0c]
        inside = has_right & (span > 0) & (span <= d)
        w = np.where(inside & ~exact, (tt - td[i0c]) / np.where(span > 0, span, 1), 0.0)
        ok = exact | inside
        i1 = np.where(exact, i0c, i1c)
        return i0c.astype(np.int64), i1.astype(np.int64), w, ok
    else:  # daily
        off = td % _DAY_NS
        if np.any(off != 0):
            k = int(np.argmax(off != 0))
            raise ValueError(
                f"driver {name!r}: align='daily' needs samples stamped at 00:00, "
                f"got {np.datetime64(int(td[k]), 'ns')}"
            )
        day = tt - tt % _DAY_NS
        i0 = np.clip(np.searchsorted(td, day, side="left"), 0, n - 1)
        ok = td[i0] == day
        i0c = i0
    return i0c.astype(np.int64), i0c.astype(np.int64), w, ok


def align_series(
    values: np.ndarray,
    driver_times: np.ndarray,
    target_times: np.ndarray,
    rule: str,
    interval: str | np.timedelta64 | None = None,
    fill: str | float | None = None,
    name: str = "driver",
    needed: np.ndarray | None = None,
) -> np.ndarray:
    """Align a scalar driver series onto ``target_times``.

    Args:
        values: (N,) driver values in its physical units; NaN = missing.
        driver_times: (N,) datetime64, strictly increasing (sample stamps).
        target_times: (T,) datetime64.
        rule: one of ``ALIGN_RULES`` (see module docstring).
        interval: driver interval ``D`` (e.g. ``"1h"``); inferred from the stamps when None.
        fill: None (missing values are an error), ``"ffill"`` or a number.
        name: variable name used in error messages.
        needed: optional (T,) bool, the target times that will be read; a missing value
            elsewhere stays NaN instead of raising. None = every time is needed.

    Returns:
        (T,) float64 aligned values, no NaN where needed.
    """
    vals = np.asarray(values, dtype=np.float64)
    if vals.ndim != 1 or vals.shape[0] != np.asarray(driver_times).shape[0]:
        raise ValueError(
            f"driver {name!r}: expected values of shape ({len(driver_times)},), got {vals.shape}"
        )
    d = infer_interval(driver_times, name) if interval is None else parse_interval(interval, name)
    i0, i1, w, ok = align_indices(driver_times, target_times, rule, d, name)
    out = np.where(w > 0, (1.0 - w) * vals[i0] + w * vals[i1], vals[i0])
    out = np.where(ok, out, np.nan)
    return apply_fill(out, np.asarray(target_times), fill, name, ok, needed)


def apply_fill(
    aligned: np.ndarray,
    target_times: np.ndarray,
    fill: str | float | None,
    name: str,
    found: np.ndarray | None = None,
    needed: np.ndarray | None = None,
) -> np.ndarray:
    """Apply the explicit fill rule to aligned (T,) values, or raise on the first NaN.

    ``found`` (T,) bool says where the align rule found a sample (for the message); only
    ``needed`` (T,) bool times are checked (None = all)."""
    out = np.array(aligned, dtype=np.float64)
    if fill == "ffill":
        out = pd.Series(out).ffill().to_numpy()
    elif isinstance(fill, (int, float)) and not isinstance(fill, bool):
        out = np.where(np.isnan(out), float(fill), out)
    elif fill is not None:
        raise ValueError(f"driver {name!r}: fill must be None, 'ffill' or a number, got {fill!r}")
    bad = np.isnan(out)
    if needed is not None:
        bad &= np.asarray(needed, dtype=bool)
    if np.any(bad):
        k = int(np.argmax(bad))
        why = (
            (
                "no driver sample covers it under the align rule (outside the driver's span "
                "or a hole in it)"
            )
            if found is not None and not found[k]
            else "the driver is NaN"
        )
        extra = " (fill='ffill' cannot fill leading gaps)" if fill == "ffill" else ""
        raise ValueError(
            f"driver {name!r}: no value at target time "
            f"{np.datetime64(target_times[k], 'ns')}: {why}; {int(bad.sum())} target time(s) "
            f"missing in all{extra}. Set an explicit 'fill' rule to accept filled values."
        )
    return out
