"""Calendar and position features computed from the time axis and the grid, never read.

Every feature is returned in physical units (hours, days, degrees, or a dimensionless sin/cos);
scaling to network units is the normaliser's job (see ``DEFAULT_FIXED_SCALING``).

Definitions (``t`` is a UTC timestamp, ``lon`` in degrees east):

- ``ut_hour``: hour of day in UT, ``h = (t - floor_day(t)) / 1 h`` in [0, 24).
- ``ut_hour_sin`` / ``ut_hour_cos``: ``sin/cos(2 pi h / 24)``.
- ``lst_sin`` / ``lst_cos``: local mean solar time ``LST = (h + lon / 15) mod 24`` hours, as
  ``sin/cos(2 pi LST / 24)``; varies with longitude (no equation-of-time correction).
- ``doy_sin`` / ``doy_cos``: ``sin/cos(2 pi (doy - 1 + h / 24) / N)`` with ``doy`` the day of the
  year (1-based) and ``N`` = 365 or 366 days in that year.
- ``doy``: day of the year, 1..366 (1 January = 1, 31 December = 365 or 366 in a leap year),
  integer-valued: the calendar day, not a fraction of it.
- ``day_of_month``: calendar day of the month, 1..31.
- ``month``: calendar month 1..12.
- ``year``: calendar year (integer-valued float).
- ``lat`` / ``lon``: the grid's latitude (degrees north) / longitude (degrees east) as planes.
- ``lat_index`` / ``lon_index``: the row index ``i / H`` / column index ``j / W`` of the model
  grid (H rows, W columns, row 0 and column 0 first as stored), dimensionless fractions in
  [0, 1). On the Channel Mixer paper's 72 x 72 grid these are exactly its ``row/72`` and
  ``col/72`` position channels. They count grid cells, not degrees: the same index means a
  different place on another grid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TIME_FEATURES = (
    "ut_hour",
    "ut_hour_sin",
    "ut_hour_cos",
    "doy",
    "doy_sin",
    "doy_cos",
    "day_of_month",
    "month",
    "year",
)
"""Features that depend on time only: one value per time, broadcast over the grid."""

TIME_LON_FEATURES = ("lst_sin", "lst_cos")
"""Features that depend on time and longitude: shape (T, W), broadcast over latitude."""

GRID_FEATURES = ("lat", "lon", "lat_index", "lon_index")
"""Features that depend on the grid only: constant planes (H, W)."""

COMPUTED_FEATURES = TIME_FEATURES + TIME_LON_FEATURES + GRID_FEATURES

DEFAULT_FIXED_SCALING: dict[str, tuple[float, float]] = {
    "ut_hour": (12.0, 12.0),
    "ut_hour_sin": (0.0, 1.0),
    "ut_hour_cos": (0.0, 1.0),
    "lst_sin": (0.0, 1.0),
    "lst_cos": (0.0, 1.0),
    "doy_sin": (0.0, 1.0),
    "doy_cos": (0.0, 1.0),
    "doy": (183.5, 182.5),
    "day_of_month": (16.0, 15.0),
    "month": (6.5, 3.5),
    "year": (2000.0, 50.0),
    "lat": (0.0, 90.0),
    "lon": (0.0, 180.0),
    "lat_index": (0.0, 1.0),
    "lon_index": (0.0, 1.0),
}
"""Default ``(offset, scale)`` per computed feature, normalised as ``(x - offset) / scale``."""

FEATURE_UNITS: dict[str, str] = {
    **{name: "1" for name in COMPUTED_FEATURES},
    "ut_hour": "h",
    "doy": "day",
    "day_of_month": "day",
    "month": "month",
    "year": "year",
    "lat": "degrees_north",
    "lon": "degrees_east",
}
"""Physical unit of each computed feature ("1" = dimensionless)."""


def _hours(times: np.ndarray) -> np.ndarray:
    t = np.asarray(times, dtype="datetime64[ns]")
    day = t.astype("datetime64[D]")
    return (t - day).astype(np.int64) / 3.6e12


def time_feature(name: str, times: np.ndarray) -> np.ndarray:
    """Feature ``name`` (one of ``TIME_FEATURES``) for ``times`` (T,) datetime64 -> (T,) float64."""
    t = np.asarray(times, dtype="datetime64[ns]")
    h = _hours(t)
    if name == "ut_hour":
        return h
    if name == "ut_hour_sin":
        return np.sin(2 * np.pi * h / 24.0)
    if name == "ut_hour_cos":
        return np.cos(2 * np.pi * h / 24.0)
    idx = pd.DatetimeIndex(t)
    if name == "doy":
        return idx.day_of_year.to_numpy().astype(np.float64)
    if name == "day_of_month":
        return idx.day.to_numpy().astype(np.float64)
    if name in ("doy_sin", "doy_cos"):
        ndays = np.where(idx.is_leap_year, 366.0, 365.0)
        phase = 2 * np.pi * (idx.day_of_year.to_numpy() - 1 + h / 24.0) / ndays
        return np.sin(phase) if name == "doy_sin" else np.cos(phase)
    if name == "month":
        return idx.month.to_numpy().astype(np.float64)
    if name == "year":
        return idx.year.to_numpy().astype(np.float64)
    raise KeyError(f"unknown time feature {name!r} (known: {', '.join(TIME_FEATURES)})")


def time_lon_feature(name: str, times: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Feature ``name`` (``lst_sin``/``lst_cos``): times (T,), lon (W,) degrees -> (T, W)."""
    h = _hours(times)[:, None]
    lst = np.mod(h + np.asarray(lon, dtype=np.float64)[None, :] / 15.0, 24.0)
    if name == "lst_sin":
        return np.sin(2 * np.pi * lst / 24.0)
    if name == "lst_cos":
        return np.cos(2 * np.pi * lst / 24.0)
    raise KeyError(f"unknown local-time feature {name!r} (known: {', '.join(TIME_LON_FEATURES)})")


def grid_feature(name: str, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Plane ``name`` (one of ``GRID_FEATURES``) for a grid lat (H,), lon (W,) degrees.

    Returns (H, W) float64: degrees for ``lat``/``lon``, ``i / H`` / ``j / W`` for
    ``lat_index``/``lon_index``.
    """
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    shape = (lat.size, lon.size)
    if name == "lat":
        return np.broadcast_to(lat[:, None], shape).copy()
    if name == "lon":
        return np.broadcast_to(lon[None, :], shape).copy()
    if name == "lat_index":
        return np.broadcast_to((np.arange(lat.size) / lat.size)[:, None], shape).copy()
    if name == "lon_index":
        return np.broadcast_to((np.arange(lon.size) / lon.size)[None, :], shape).copy()
    raise KeyError(f"unknown grid feature {name!r} (known: {', '.join(GRID_FEATURES)})")
