"""The target's time axis and grid: checks, time step, and sliding-window start indices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from .pixelgrid import GRID_DIMS, LATLON, PIXEL, check_target_grid
from .splits import MONTH, Split, is_month


@dataclass(frozen=True)
class TargetAxis:
    """Target times (T,) datetime64[ns], the grid's rows (H,) and columns (W,), the regular
    time step and the grid kind.

    ``step`` is a timedelta64[ns], or ``np.timedelta64(1, "M")`` for a calendar-monthly axis
    (all times at 00:00 on the first of a month). ``kind`` is ``"latlon"`` (rows = latitudes,
    cols = longitudes in degrees) or ``"pixel"`` (rows = y, cols = x, integers from 0; see
    :mod:`geostl.data.pixelgrid`); ``lat``/``lon`` exist on geographic grids only."""

    times: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    step: np.timedelta64
    kind: str = LATLON

    @property
    def dims(self) -> tuple[str, str]:
        """The (row, column) dim names: ``("lat", "lon")`` or ``("y", "x")``."""
        return GRID_DIMS[self.kind]

    def _geographic(self, what: str) -> np.ndarray:
        if self.kind == PIXEL:
            raise ValueError(
                f"the target grid is a pixel grid (dims y, x): it has no {what}; use "
                "axis.rows / axis.cols"
            )
        return self.rows if what == "latitudes" else self.cols

    @property
    def lat(self) -> np.ndarray:
        """(H,) degrees north (geographic grids only)."""
        return self._geographic("latitudes")

    @property
    def lon(self) -> np.ndarray:
        """(W,) degrees east (geographic grids only)."""
        return self._geographic("longitudes")


def target_axis(
    ds: xr.Dataset, variables: tuple[str, ...], source: str, step: str | None = None
) -> TargetAxis:
    """Check the target variables of ``ds`` and return its axis.

    Every variable must have exactly the dims (time, lat, lon) in any order, or (time, y, x)
    for a pixel grid (the contract of :mod:`geostl.data.pixelgrid`; the kind is recorded in
    ``TargetAxis.kind``); the time axis must be datetime64 and strictly increasing (an unsorted
    or duplicated axis is an error). The step is ``step`` if given, else the most common
    difference between consecutive times.
    """
    kind, rows, cols = check_target_grid(ds, tuple(variables), source)
    t = ds["time"].values
    if not np.issubdtype(t.dtype, np.datetime64):
        raise TypeError(f"source {source!r}: 'time' must be datetime64, got {t.dtype}")
    t = t.astype("datetime64[ns]")
    if t.size < 2:
        raise ValueError(f"source {source!r}: needs at least 2 time steps, has {t.size}")
    d = np.diff(t)
    if np.any(d <= np.timedelta64(0, "ns")):
        k = int(np.argmax(d <= np.timedelta64(0, "ns")))
        what = "duplicated" if d[k] == np.timedelta64(0, "ns") else "not sorted"
        raise ValueError(
            f"source {source!r}: time axis is {what} at index {k + 1} "
            f"({t[k]} then {t[k + 1]}); sort it (and drop duplicates) first"
        )
    if step is None:
        vals, counts = np.unique(d, return_counts=True)
        st = vals[np.argmax(counts)]
        month_start = t.astype("datetime64[M]").astype("datetime64[ns]")
        if np.all(t == month_start) and np.timedelta64(28, "D") <= st <= np.timedelta64(31, "D"):
            st = MONTH
    elif str(step).lower() in ("month", "1month", "ms", "1ms"):
        st = MONTH
    else:
        st = np.timedelta64(pd.Timedelta(step).value, "ns")
    return TargetAxis(t, rows, cols, st, kind)


def window_starts(
    axis: TargetAxis, length: int, stride: int, split: Split | None
) -> tuple[np.ndarray, int]:
    """Start indices of windows of ``length`` steps, every ``stride`` steps, inside ``split``.

    A window whose consecutive times are not all exactly ``axis.step`` apart spans a gap and is
    skipped.

    Returns:
        ``starts`` (N,) int64 and the number of candidate windows skipped for a gap.
    """
    if length < 1 or stride < 1:
        raise ValueError(f"window length and stride must be >= 1, got {length}, {stride}")
    t = axis.times
    inside = np.ones(t.size, dtype=bool) if split is None else split.contains(t)
    idx = np.flatnonzero(inside)
    if idx.size < length:
        return np.zeros(0, dtype=np.int64), 0
    first, last = int(idx[0]), int(idx[-1])
    cand = np.arange(first, last - length + 2, stride, dtype=np.int64)
    irregular = np.concatenate([[0], np.cumsum(~regular_steps(t, axis.step))])
    # diffs between steps s..s+length-1 are irregular[s+length-1] - irregular[s]
    gaps = irregular[cand + length - 1] - irregular[cand]
    ok = gaps == 0
    return cand[ok], int((~ok).sum())


def regular_steps(times: np.ndarray, step: np.timedelta64) -> np.ndarray:
    """(T-1,) bool: True where ``times[k + 1] - times[k]`` is exactly one ``step``."""
    t = np.asarray(times, dtype="datetime64[ns]")
    if is_month(step):
        m = t.astype("datetime64[M]").astype(np.int64)
        at_start = t == t.astype("datetime64[M]").astype("datetime64[ns]")
        return (np.diff(m) == 1) & at_start[1:] & at_start[:-1]
    return np.diff(t) == step
