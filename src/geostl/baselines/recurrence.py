"""27-day persistence: the map observed one solar rotation before the valid time.

Active regions and coronal holes recur with the Sun's synodic rotation (about 27 days as seen
from the Earth), and so do their ionospheric effects; the space-weather community uses the map
of the same UT 27 days earlier as a reference forecast for lead times of a day and more. The
forecast for valid time ``t`` is the observed map at ``t - 27 d``, read from the target source.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["SOLAR_ROTATION", "maps_at", "recurrence_forecast", "time_positions"]

SOLAR_ROTATION = np.timedelta64(27, "D")
"""The recurrence period of :func:`recurrence_forecast` (27 days)."""


def time_positions(stamps: np.ndarray, times: np.ndarray, where: str) -> np.ndarray:
    """Positions of ``times`` (any shape, datetime64) in the 1-D axis ``stamps`` (any order).

    Raises:
        ValueError: a time the axis does not hold, naming it, ``where`` and the span held.
    """
    axis = np.asarray(stamps).astype("datetime64[ns]")
    order = np.argsort(axis, kind="stable")
    have = axis[order]
    want = np.asarray(times).astype("datetime64[ns]")
    pos = np.clip(np.searchsorted(have, want.ravel()), 0, max(have.size - 1, 0))
    found = have[pos] == want.ravel() if have.size else np.zeros(want.size, dtype=bool)
    if not found.all():
        first = want.ravel()[int(np.argmax(~found))]
        span = f"{pd.Timestamp(have[0])} .. {pd.Timestamp(have[-1])}" if have.size else "none"
        raise ValueError(
            f"{where}: no map at {pd.Timestamp(first)} ({int((~found).sum())} of the "
            f"{found.size} maps needed are missing; it holds {span})"
        )
    return order[pos].reshape(want.shape)


def maps_at(da: xr.DataArray, times: np.ndarray, dims: tuple[str, str], where: str) -> np.ndarray:
    """``da`` (time, row, col) at ``times`` (any shape) -> (*times.shape, H, W) float64;
    a missing time is an error (:func:`time_positions`)."""
    pos = time_positions(da["time"].values, times, where)
    values = np.asarray(da.transpose("time", *dims).isel(time=pos.ravel()).values, dtype=np.float64)
    return values.reshape(*pos.shape, *values.shape[1:])


def recurrence_forecast(
    da: xr.DataArray,
    valid_times: np.ndarray,
    dims: tuple[str, str] = ("lat", "lon"),
    period: np.timedelta64 | pd.Timedelta = SOLAR_ROTATION,
    where: str = "27-day persistence",
) -> tuple[np.ndarray, np.ndarray]:
    """The maps one ``period`` before each valid time.

    Args:
        da: the observed maps (time, lat, lon) in physical units (e.g. the target source).
        valid_times: (B, T) datetime64 valid times of the forecasts.
        dims: the grid dims of ``da``.
        period: the recurrence period (27 days; any positive timedelta).
        where: the name used in the error message.

    Returns:
        ``(forecast, valid)``: (B, T, H, W) float64 (NaN where the old map is missing a pixel)
        and its finiteness.

    Raises:
        ValueError: ``da`` has no map at some ``t - period`` (naming the first such time and
            ``where``): the source must reach back one period before the first valid time.
            A map that is there but NaN at a pixel is no error: that pixel is invalid.
    """
    step = pd.Timedelta(period).to_timedelta64().astype("timedelta64[ns]")
    if step <= np.timedelta64(0, "ns"):
        raise ValueError(f"{where}: the period must be positive, got {pd.Timedelta(step)}")
    times = np.asarray(valid_times).astype("datetime64[ns]")
    if times.ndim != 2:
        raise ValueError(f"{where}: valid_times must be (B, T), got shape {times.shape}")
    days = float(step / np.timedelta64(1, "D"))
    values = maps_at(da, times - step, dims, f"{where} ({days:g} days before the valid times)")
    return values, np.isfinite(values)
