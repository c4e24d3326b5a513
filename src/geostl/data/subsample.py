"""Time subsampling by selection: keep the epochs that fall on multiples of a step from midnight.

``every("2h")`` on 15-minute IONEX maps keeps 00:00, 02:00, ..., 22:00 of each day (the Channel
Mixer paper's 2-hourly frames). Values are *selected*, never averaged: a kept epoch carries the
map stamped at that instant. The step must divide one day (so the kept instants are the same
every day) and must be a whole multiple of the data's own step (the most common difference
between consecutive epochs); otherwise, or when no epoch falls on the step, it is an error
naming the source.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

_DAY_NS = 86_400 * 10**9


def parse_step(step: str, where: str) -> np.timedelta64:
    """``"2h"``, ``"15min"``, ``"1D"`` -> a positive timedelta64[ns] dividing one day."""
    try:
        td = pd.Timedelta(step)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"{where}: cannot read the time step {step!r} ({err}); write e.g. '2h' or '15min'"
        ) from None
    if td <= pd.Timedelta(0):
        raise ValueError(f"{where}: the time step must be positive, got {step!r}")
    if _DAY_NS % td.value != 0:
        raise ValueError(
            f"{where}: the time step {step!r} does not divide one day (24 h), so its multiples "
            "from midnight would fall on different hours every day"
        )
    return np.timedelta64(td.value, "ns")


def subsample_time(ds: xr.Dataset, step: str, where: str = "dataset") -> xr.Dataset:
    """Keep the epochs of ``ds`` at whole multiples of ``step`` after 00:00 UTC of their day.

    Args:
        ds: a dataset with a datetime64 ``time`` coordinate (at least 2 epochs).
        step: a pandas-style duration dividing 24 h, e.g. ``"2h"``.
        where: name used in error messages (e.g. ``data.sources.maps``).

    Returns:
        ``ds.isel(time=kept)`` (lazy where ``ds`` is), attrs gain ``subsampled_every``.

    Raises:
        ValueError: no ``time`` coordinate, a step that is not a multiple of the data's step
            or does not divide a day, or no epoch on the step.
    """
    every = parse_step(step, where)
    if "time" not in ds.coords:
        raise ValueError(f"{where}: no 'time' coordinate to subsample every {step}")
    t = ds["time"].values
    if not np.issubdtype(t.dtype, np.datetime64):
        raise TypeError(f"{where}: 'time' must be datetime64 to subsample, got {t.dtype}")
    ns = t.astype("datetime64[ns]").astype(np.int64)
    if ns.size < 2:
        raise ValueError(f"{where}: needs at least 2 epochs to subsample, has {ns.size}")
    diffs, counts = np.unique(np.diff(ns), return_counts=True)
    data_step = int(diffs[np.argmax(counts)])
    if data_step <= 0:
        raise ValueError(f"{where}: the time axis is not increasing; sort it first")
    step_ns = int(every.astype(np.int64))
    if step_ns % data_step != 0:
        raise ValueError(
            f"{where}: every {step} is not a whole multiple of the data's time step "
            f"{pd.Timedelta(data_step, 'ns')}; subsampling only selects epochs (it never "
            "averages or interpolates)"
        )
    keep = np.flatnonzero((ns % _DAY_NS) % step_ns == 0)
    if keep.size == 0:
        raise ValueError(
            f"{where}: no epoch of its {ns.size} lies on a multiple of {step} from midnight "
            f"(first epoch {t[0]}); the data are offset from the step"
        )
    out = ds.isel(time=keep)
    out.attrs = {**ds.attrs, "subsampled_every": str(pd.Timedelta(step_ns, "ns"))}
    return out
