"""Read the WeatherBench (v1) 5.625° NetCDF layout into one lazy ``xarray.Dataset``.

Layout (as distributed by TUM mediaTUM, and as OpenSTL's ``dataloader_weather`` reads it)::

    ROOT/2m_temperature/2m_temperature_2010_5.625deg.nc      variable t2m   (time, lat, lon)
    ROOT/relative_humidity/relative_humidity_2010_5.625deg.nc variable r    (time, level, lat, lon)
    ...

one folder per variable, one file per year, hourly ``time``, ``lat`` 32 values -87.1875 ..
87.1875 (ascending), ``lon`` 64 values 0 .. 354.375, pressure ``level`` in hPa for the
13-level variables (50, 100, 150, 200, 250, 300, 400, 500, 600, 700, 850, 925, 1000).

Every (variable, level) pair becomes one data variable (a *channel*) with dims
``(time, lat, lon)``: single-level variables keep their short name (``t2m``), pressure-level
ones are named ``{short}_{level}`` (``r_500``). Units come from the files' ``units`` attrs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from geostl.io.registry import READERS

__all__ = [
    "WEATHERBENCH_LEVELS",
    "WEATHERBENCH_VARIABLES",
    "WBVariable",
    "channel_name",
    "open_weatherbench",
    "weatherbench_file",
]

#: the 13 pressure levels (hPa) of the WeatherBench 5.625° pressure-level variables
WEATHERBENCH_LEVELS = (50, 100, 150, 200, 250, 300, 400, 500, 600, 700, 850, 925, 1000)
#: the 5.625° grid: 32 latitudes, 64 longitudes (degrees)
GRID_LAT = np.arange(32) * 5.625 - 87.1875
GRID_LON = np.arange(64) * 5.625
RESOLUTION = "5.625deg"
#: dask chunk along time (one month of hourly fields; 80 MB for a 13-level float32 variable)
TIME_CHUNK = 744


@dataclass(frozen=True)
class WBVariable:
    """One WeatherBench variable: its folder name, the short name inside the files and
    whether it has a pressure ``level`` dimension."""

    folder: str
    short: str
    pressure_levels: bool


#: short name -> variable (the WeatherBench 5.625° archive's time-varying variables)
WEATHERBENCH_VARIABLES: dict[str, WBVariable] = {
    v.short: v
    for v in (
        WBVariable("2m_temperature", "t2m", False),
        WBVariable("10m_u_component_of_wind", "u10", False),
        WBVariable("10m_v_component_of_wind", "v10", False),
        WBVariable("total_cloud_cover", "tcc", False),
        WBVariable("total_precipitation", "tp", False),
        WBVariable("toa_incident_solar_radiation", "tisr", False),
        WBVariable("geopotential", "z", True),
        WBVariable("temperature", "t", True),
        WBVariable("relative_humidity", "r", True),
        WBVariable("specific_humidity", "q", True),
        WBVariable("u_component_of_wind", "u", True),
        WBVariable("v_component_of_wind", "v", True),
        WBVariable("vorticity", "vo", True),
        WBVariable("potential_vorticity", "pv", True),
    )
}


def channel_name(short: str, level: int | None) -> str:
    """``t2m`` for a single-level variable, ``r_500`` for relative humidity at 500 hPa."""
    return short if level is None else f"{short}_{int(level)}"


def weatherbench_file(root: str | os.PathLike, short: str, year: int) -> Path:
    """``ROOT/<folder>/<folder>_<year>_5.625deg.nc`` for a variable's short name."""
    var = _lookup(short)
    return Path(root) / var.folder / f"{var.folder}_{int(year)}_{RESOLUTION}.nc"


def _lookup(short: str) -> WBVariable:
    if short not in WEATHERBENCH_VARIABLES:
        raise KeyError(
            f"unknown WeatherBench variable {short!r}; expected one of "
            f"{', '.join(WEATHERBENCH_VARIABLES)}"
        )
    return WEATHERBENCH_VARIABLES[short]


def open_weatherbench(
    root: str | os.PathLike,
    variables: Sequence[str],
    years: Sequence[int],
    levels: Mapping[str, Sequence[int]] | Sequence[int] | None = None,
) -> xr.Dataset:
    """Open WeatherBench 5.625° variables for some years as one lazy dataset of channels.

    Args:
        root: the folder holding one sub-folder per variable (``2m_temperature/`` ...).
        variables: short names (``t2m``, ``r``, ``u10``, ...; see ``WEATHERBENCH_VARIABLES``);
            the channel order is this order, levels inside a variable in the given order.
        years: calendar years to read (one file each per variable), in increasing order.
        levels: pressure levels (hPa) for the pressure-level variables: one list for all, or
            ``{short: [levels]}`` per variable. Required when a pressure-level variable is
            asked for; a level that is not in the files is an error.

    Returns:
        ``xarray.Dataset`` with coords ``time`` (datetime64[ns]), ``lat`` (32, degrees north,
        ascending), ``lon`` (64, degrees east, 0 .. 354.375) and one float variable
        ``(time, lat, lon)`` per channel with ``units``, ``long_name``, ``weatherbench_variable``
        and ``level`` (hPa, pressure-level channels only) attrs; values are not loaded.

    Raises:
        FileNotFoundError: the root, a variable folder or a yearly file is missing (named).
        KeyError: an unknown variable, a file without the expected variable, or a level that
            the file does not hold.
        ValueError: no variables or years, levels missing for a pressure-level variable,
            a grid that is not the 5.625° one, files whose times are not increasing or lie
            outside their year, or variables with different time axes (nothing is aligned
            or filled).
    """
    root = Path(root).expanduser()
    if not variables:
        raise ValueError("open_weatherbench: no variables given")
    if not years:
        raise ValueError("open_weatherbench: no years given")
    if list(years) != sorted(set(years)):
        raise ValueError(f"open_weatherbench: years must increase without repeats, got {years}")
    if not root.is_dir():
        raise FileNotFoundError(f"WeatherBench root folder {root} does not exist")
    channels: dict[str, xr.DataArray] = {}
    files: list[str] = []
    first_times: tuple[str, np.ndarray] | None = None
    for short in variables:
        var = _lookup(short)
        wanted = _levels_for(var, levels)
        folder = root / var.folder
        if not folder.is_dir():
            raise FileNotFoundError(
                f"WeatherBench variable {short!r}: folder {folder} does not exist"
            )
        parts = []
        for year in years:
            path = weatherbench_file(root, short, year)
            if not path.exists():
                raise FileNotFoundError(
                    f"WeatherBench variable {short!r}, year {year}: file {path} does not exist"
                )
            parts.append(_read_year(path, var, wanted, year))
            files.append(f"{var.folder}/{path.name}")
        data = xr.concat(parts, dim="time") if len(parts) > 1 else parts[0]
        if first_times is None:
            first_times = (short, data["time"].values)
        elif not np.array_equal(data["time"].values, first_times[1]):
            raise ValueError(
                f"WeatherBench variables {first_times[0]!r} and {short!r} have different time "
                f"axes ({first_times[1].size} vs {data.sizes['time']} times, years {list(years)}); "
                "every channel must share one time axis"
            )
        for level in wanted or [None]:
            name = channel_name(short, level)
            if name in channels:
                raise ValueError(f"open_weatherbench: channel {name!r} asked for twice")
            arr = data if level is None else data.sel(level=level, drop=True)
            arr = arr.rename(name)
            arr.attrs = dict(data.attrs, weatherbench_variable=short)
            if level is not None:
                arr.attrs["level"] = int(level)
                arr.attrs["long_name"] = f"{data.attrs.get('long_name', short)} at {level} hPa"
            channels[name] = arr
    ds = xr.Dataset(channels)
    ds.attrs["source"] = f"WeatherBench 5.625deg ({root})"
    ds.attrs["source_files"] = ",".join(files)
    return ds


def _levels_for(
    var: WBVariable, levels: Mapping[str, Sequence[int]] | Sequence[int] | None
) -> list[int] | None:
    if not var.pressure_levels:
        if isinstance(levels, Mapping) and var.short in levels:
            raise ValueError(
                f"WeatherBench variable {var.short!r} is single-level; levels "
                f"{list(levels[var.short])} cannot be selected"
            )
        return None
    chosen = levels.get(var.short) if isinstance(levels, Mapping) else levels
    if not chosen:
        raise ValueError(
            f"WeatherBench variable {var.short!r} has pressure levels; pass levels= (hPa, "
            f"from {list(WEATHERBENCH_LEVELS)})"
        )
    return [int(lv) for lv in chosen]


def _read_year(path: Path, var: WBVariable, levels: list[int] | None, year: int) -> xr.DataArray:
    """One yearly file -> the variable as (time, [level,] lat, lon), checked, lazy."""
    ds = xr.open_dataset(path, engine=_engine(path), chunks={"time": TIME_CHUNK})
    if var.short not in ds.data_vars:
        raise KeyError(
            f"{path}: variable {var.short!r} not found; available: {sorted(map(str, ds.data_vars))}"
        )
    arr = ds[var.short]
    expected = ("time", "level", "lat", "lon") if var.pressure_levels else ("time", "lat", "lon")
    if arr.dims != expected:
        raise ValueError(f"{path}: variable {var.short!r} has dims {arr.dims}, expected {expected}")
    for coord, grid in (("lat", GRID_LAT), ("lon", GRID_LON)):
        got = np.asarray(ds[coord].values, dtype=np.float64)
        if got.shape != grid.shape or not np.allclose(got, grid, atol=1e-3):
            raise ValueError(
                f"{path}: {coord} is not the 5.625deg grid ({grid.size} values "
                f"{grid[0]} .. {grid[-1]}); got {got.size} values {got[:1]} .. {got[-1:]}"
            )
    if "units" not in arr.attrs:
        raise ValueError(f"{path}: variable {var.short!r} has no 'units' attribute")
    times = ds["time"].values
    if times.size == 0 or np.any(np.diff(times) <= np.timedelta64(0)):
        raise ValueError(f"{path}: time is empty or not strictly increasing")
    if not (times.astype("datetime64[Y]").astype(int) + 1970 == year).all():
        raise ValueError(f"{path}: times outside {year} ({times[0]} .. {times[-1]})")
    if levels is not None:
        have = [int(v) for v in ds["level"].values]
        missing = [lv for lv in levels if lv not in have]
        if missing:
            raise KeyError(
                f"{path}: variable {var.short!r} has no level(s) {missing} hPa; available: {have}"
            )
        arr = arr.assign_coords(level=have).sel(level=levels)
    attrs = {"units": str(arr.attrs["units"]), "long_name": str(arr.attrs.get("long_name", ""))}
    arr = arr.assign_coords(lat=GRID_LAT, lon=GRID_LON)
    arr.attrs = attrs
    return arr


def _engine(path: Path) -> str:
    with open(path, "rb") as fh:
        magic = fh.read(4)
    return "scipy" if magic[:3] == b"CDF" else "h5netcdf"


READERS.register(
    "weatherbench",
    open_weatherbench,
    takes="folder",
    patterns=("*5.625deg*",),
    description="WeatherBench 5.625 deg folder (one sub-folder per variable, yearly NetCDF)",
)
