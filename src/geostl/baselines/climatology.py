"""Climatology forecaster: the training-period mean for the same phase of the cycle.

The phase is chosen by ``by``:

- ``"time_of_day"``: mean over training maps at the same UT time of day (diurnal cycle;
  the natural choice for TEC maps over a few days or weeks);
- ``"month"``: mean over training maps of the same calendar month (seasonal cycle of
  monthly SST);
- ``"dayofyear"``: mean over training maps of the same day of year;
- ``None``: one mean map over the whole training period.

The statistics are float64 sums and counts per phase and pixel, accumulated in chunks of
time, so fitting works on a split larger than memory. A pixel with no valid training value
for a phase stays NaN (it is reported, not filled), and asking for a phase that the
training period never saw is an error.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

PHASES = ("time_of_day", "month", "dayofyear", None)


def phase_of(times, by: str | None) -> np.ndarray:
    """Integer phase key of each time (minutes since midnight, month, day of year, or 0)."""
    t = np.asarray(times, dtype="datetime64[ns]")
    if by is None:
        return np.zeros(t.shape, dtype=np.int64)
    if by == "time_of_day":
        day = t.astype("datetime64[D]")
        return ((t - day) // np.timedelta64(1, "m")).astype(np.int64)
    if by == "month":
        return (t.astype("datetime64[M]").astype(np.int64) % 12 + 1).astype(np.int64)
    if by == "dayofyear":
        year = t.astype("datetime64[Y]")
        return ((t.astype("datetime64[D]") - year).astype(np.int64) + 1).astype(np.int64)
    raise ValueError(f"climatology: by must be one of {PHASES}, got {by!r}")


class Climatology:
    """Mean map per phase of the cycle, fitted on the training split only.

    Attributes after :meth:`fit`: ``phases`` (P,) sorted phase keys, ``mean`` (P, ...) float64
    mean in the units of the fitted variable, ``count`` (P, ...) number of valid values.
    """

    def __init__(self, by: str | None = "time_of_day"):
        if by not in PHASES:
            raise ValueError(f"climatology: by must be one of {PHASES}, got {by!r}")
        self.by = by
        self.phases: np.ndarray | None = None
        self.mean: np.ndarray | None = None
        self.count: np.ndarray | None = None
        self.units: str | None = None

    def fit(self, da: xr.DataArray, chunk: int = 256) -> Climatology:
        """Fit on a (time, ...) DataArray of the training period, in physical units."""
        if "time" not in da.dims or da.dims[0] != "time":
            raise ValueError(
                f"climatology: variable {da.name!r} must have 'time' as its first dim, "
                f"got dims {da.dims}"
            )
        keys = phase_of(da["time"].values, self.by)
        phases = np.unique(keys)
        lookup = {int(k): i for i, k in enumerate(phases)}
        shape = (phases.size,) + tuple(da.shape[1:])
        total = np.zeros(shape, dtype=np.float64)
        count = np.zeros(shape, dtype=np.int64)
        for start in range(0, da.sizes["time"], chunk):
            block = np.asarray(da.isel(time=slice(start, start + chunk)).values, dtype=np.float64)
            idx = np.array([lookup[int(k)] for k in keys[start : start + chunk]])
            ok = np.isfinite(block)
            np.add.at(total, idx, np.where(ok, block, 0.0))
            np.add.at(count, idx, ok)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        self.phases, self.count = phases, count
        self.units = da.attrs.get("units")
        return self

    def predict(self, times) -> np.ndarray:
        """Climatological maps for the given times: (T, ...) float64, NaN where never observed."""
        if self.mean is None or self.phases is None:
            raise RuntimeError("climatology: call fit() before predict()")
        keys = phase_of(times, self.by)
        pos = np.searchsorted(self.phases, keys)
        pos = np.clip(pos, 0, self.phases.size - 1)
        missing = self.phases[pos] != keys
        if missing.any():
            where = int(np.argmax(missing.ravel()))
            first = np.asarray(times, dtype="datetime64[ns]").ravel()[where]
            raise ValueError(
                f"climatology: no training data for phase {self.by}={int(keys.ravel()[where])} "
                f"(first needed at {first}); extend the training period or choose another `by`"
            )
        return self.mean[pos]

    def state_dict(self) -> dict:
        """Plain arrays and strings, for checkpoints."""
        return {
            "by": self.by,
            "phases": self.phases,
            "mean": self.mean,
            "count": self.count,
            "units": self.units,
        }
