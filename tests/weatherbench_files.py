"""Write small files in the exact WeatherBench 5.625° layout (for the reader tests).

``ROOT/<folder>/<folder>_<year>_5.625deg.nc`` with the variable's short name inside, coords
``time`` / ``lat`` (32, ascending from -87.1875) / ``lon`` (64, from 0) and ``level`` (hPa) for
the pressure-level variables, the real archive's ``units`` attrs. Values are a known function of
(variable, year, time index, level, lat index, lon index) so a test can check every element read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

#: short name -> (folder, units, pressure levels?) as in the WeatherBench 5.625° archive
LAYOUT = {
    "t2m": ("2m_temperature", "K", False),
    "u10": ("10m_u_component_of_wind", "m s**-1", False),
    "v10": ("10m_v_component_of_wind", "m s**-1", False),
    "tcc": ("total_cloud_cover", "(0 - 1)", False),
    "tp": ("total_precipitation", "m", False),
    "tisr": ("toa_incident_solar_radiation", "J m**-2", False),
    "z": ("geopotential", "m**2 s**-2", True),
    "t": ("temperature", "K", True),
    "r": ("relative_humidity", "%", True),
    "q": ("specific_humidity", "kg kg**-1", True),
    "u": ("u_component_of_wind", "m s**-1", True),
    "v": ("v_component_of_wind", "m s**-1", True),
    "vo": ("vorticity", "s**-1", True),
    "pv": ("potential_vorticity", "K m**2 kg**-1 s**-1", True),
}
LEVELS = (50, 100, 150, 200, 250, 300, 400, 500, 600, 700, 850, 925, 1000)
LAT = -87.1875 + 5.625 * np.arange(32)
LON = 5.625 * np.arange(64)


def expected_value(
    short: str, year: int, t_index: np.ndarray, level: int | None, shape=(32, 64)
) -> np.ndarray:
    """The generated field: (T, 32, 64) float32 for time indices ``t_index`` of ``year``."""
    code = sorted(LAYOUT).index(short)
    i = np.arange(shape[0])[:, None]
    j = np.arange(shape[1])[None, :]
    t = np.asarray(t_index, dtype=np.float64)[:, None, None]
    lev = 0 if level is None else level
    out = 100.0 * code + 0.5 * (year - 2000) + 0.01 * t + 0.001 * lev + 0.1 * i + 0.001 * j
    return out.astype(np.float32)


def write_weatherbench(
    root: Path,
    variables: Sequence[str],
    years: Sequence[int],
    hours: int,
    step_hours: int = 1,
    levels: Sequence[int] = LEVELS,
) -> None:
    """Write ``hours`` hours from 1 January of each year at ``step_hours`` for each variable."""
    for short in variables:
        folder, units, has_levels = LAYOUT[short]
        (root / folder).mkdir(parents=True, exist_ok=True)
        for year in years:
            times = pd.date_range(
                f"{year}-01-01", periods=hours // step_hours, freq=f"{step_hours}h"
            )
            idx = np.arange(times.size)
            if has_levels:
                data = np.stack([expected_value(short, year, idx, lv) for lv in levels], axis=1)
                dims = ("time", "level", "lat", "lon")
                coords = {"time": times, "level": np.asarray(levels, dtype=np.int32)}
            else:
                data = expected_value(short, year, idx, None)
                dims = ("time", "lat", "lon")
                coords = {"time": times}
            da = xr.DataArray(
                data,
                dims=dims,
                coords={**coords, "lat": LAT, "lon": LON},
                attrs={"units": units, "long_name": folder.replace("_", " ")},
            )
            xr.Dataset({short: da}).to_netcdf(
                root / folder / f"{folder}_{year}_5.625deg.nc", engine="h5netcdf"
            )
