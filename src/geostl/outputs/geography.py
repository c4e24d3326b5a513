"""Coastlines and the magnetic equator drawn on latitude/longitude maps, from shipped files.

Nothing is downloaded: ``_data/coastlines_110m.npz`` holds Natural Earth's 1:110m land
outlines (public domain; built by ``scripts/make_coastlines.py``) and
``_data/dip_equator_igrf14.csv`` the magnetic (dip) equator at 350 km altitude from the IGRF-14
main field for the epochs 1900-2030 every 5 years, every 2 degrees of longitude (built by
``scripts/make_dip_equator.py``; ``_data/README.md`` gives both sources and licences).

Maps are drawn in the plate carrée projection of the data's grid (one degree of latitude as
long as one degree of longitude); the lines are wrapped into the grid's longitude range
(-180..180, 0..360 or a regional window).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

__all__ = ["coastlines", "dip_equator", "draw_geography", "is_ionospheric"]

COASTLINE_STYLE = {"color": "black", "linewidth": 0.5, "alpha": 0.8}
DIP_EQUATOR_STYLE = {"color": "magenta", "linewidth": 0.9, "linestyle": "--"}
#: the caption of the dashed line
DIP_EQUATOR_LABEL = "dashed: magnetic equator (IGRF-14, 350 km)"


@lru_cache(maxsize=1)
def _coastline_table() -> np.ndarray:
    path = resources.files("geostl.outputs") / "_data" / "coastlines_110m.npz"
    with path.open("rb") as f, np.load(f) as data:
        return np.asarray(data["lonlat"], dtype=np.float64)


@lru_cache(maxsize=1)
def _dip_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    path = resources.files("geostl.outputs") / "_data" / "dip_equator_igrf14.csv"
    lines = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]
    lon = np.array([float(v) for v in lines[0].split(",")[1:]])
    rows = np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]])
    return rows[:, 0], lon, rows[:, 1:]


def _wrap(lon: np.ndarray, lat: np.ndarray, lon_min: float) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes into [lon_min, lon_min + 360); NaN breaks where a line jumps across."""
    wrapped = (lon - lon_min) % 360.0 + lon_min
    jump = np.abs(np.diff(wrapped)) > 180.0
    if not jump.any():
        return wrapped, lat
    at = np.flatnonzero(jump) + 1
    return np.insert(wrapped, at, np.nan), np.insert(lat, at, np.nan)


def coastlines(lon_min: float = -180.0) -> tuple[np.ndarray, np.ndarray]:
    """``(lon, lat)`` (N,) degrees of the 1:110m coastlines, NaN between lines, longitudes in
    ``[lon_min, lon_min + 360)``."""
    table = _coastline_table()
    return _wrap(table[:, 0], table[:, 1], lon_min)


def dip_equator(when: Any, lon: Any) -> np.ndarray:
    """Geodetic latitude (degrees north) of the magnetic equator at 350 km at ``lon`` (degrees
    east, any range) and time ``when`` (datetime64 or a decimal year), linearly interpolated
    between the table's epochs and longitudes. Outside 1900-2030 it is an error."""
    epochs, table_lon, lat = _dip_table()
    if isinstance(when, (int, float)):
        year = float(when)
    else:
        t = np.datetime64(when, "s")
        start = t.astype("datetime64[Y]")
        length = (start + np.timedelta64(1, "Y")).astype("datetime64[s]") - start
        year = 1970 + start.astype(int) + float((t - start) / length)
    if not epochs[0] <= year <= epochs[-1]:
        raise ValueError(
            f"dip_equator: {year:.2f} is outside the IGRF-14 table ({epochs[0]:g}-{epochs[-1]:g})"
        )
    k = int(np.clip(np.searchsorted(epochs, year, side="right") - 1, 0, len(epochs) - 2))
    f = (year - epochs[k]) / (epochs[k + 1] - epochs[k])
    at_epoch = (1.0 - f) * lat[k] + f * lat[k + 1]
    x = (np.asarray(lon, dtype=np.float64) + 180.0) % 360.0 - 180.0
    return np.interp(x, table_lon, at_epoch)


def is_ionospheric(channel: str, units: str) -> bool:
    """True for total electron content maps (channel ``tec``/``vtec`` or TEC units)."""
    name = channel.lower()
    return name in ("tec", "vtec", "gim") or "tecu" in units.lower() or units == "1e16 m-2"


def draw_geography(
    ax: Any, lon_range: tuple[float, float], lat_range: tuple[float, float], when: Any = None
) -> None:
    """Coastlines on ``ax`` and, when ``when`` (the map's time) is given, the magnetic equator;
    the axes keep their limits and get a geographic aspect (1 degree = 1 degree)."""
    lo, hi = sorted(lon_range)
    la, ha = sorted(lat_range)
    x, y = coastlines(lon_min=lo)
    ax.plot(x, y, **COASTLINE_STYLE)
    if when is not None:
        grid = np.linspace(lo, hi, 361)
        ax.plot(grid, dip_equator(when, grid), **DIP_EQUATOR_STYLE)
    ax.set_xlim(lo, hi)
    ax.set_ylim(la, ha)
    ax.set_aspect("equal", adjustable="box")
