"""COBE-SST monthly GRIB files (JMA Tokyo Climate Center), one file per month (Keydana 2021).

The seed reads ``sst189101.grb`` … ``sst202012.grb`` (GRIB1, 1° grid 360 × 180, lon 0.5…359.5°E,
lat 89.5°S…89.5°N, land missing). The files declare GRIB parameter 11 "Temperature" in K but
hold °C values; readers that normalise units (GDAL, hence R's ``stars``) subtract 273.15 and show
"negative Kelvin", which the seed undoes by adding 273.15. cfgrib (used here) reads the raw
values, so the numbers are already °C and only the ``units`` attribute is wrong.

:func:`open_cobe_sst` therefore decides the unit from the values, not from the attribute
(``units="auto"``): all finite values within −5…45 are °C; all within 268…320 are K
(converted by subtracting 273.15); all within −278.15…−228.15 are the GDAL-style "negative
Kelvin" (273.15 added). Any other range is an error naming the file. Pass ``units="degC"`` or
``"K"`` to state the file's unit instead.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from geostl.io._files import PathsLike, expand_paths
from geostl.io.gridded import open_dataset
from geostl.io.registry import READERS

_RANGES = {
    "degC": (-5.0, 45.0, 0.0),
    "K": (268.0, 320.0, -273.15),
    "negK": (-278.15, -228.15, 273.15),
}


def _offset_for(values: np.ndarray, units: str, where: str) -> float:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ValueError(f"{where}: no finite SST value (all missing)")
    lo, hi = float(finite.min()), float(finite.max())
    if units != "auto":
        if units not in ("degC", "K"):
            raise ValueError(f"units must be 'auto', 'degC' or 'K', got {units!r}")
        low, high, offset = _RANGES[units]
        if lo < low or hi > high:
            raise ValueError(
                f"{where}: values {lo:.2f}..{hi:.2f} are not SST in {units} ({low}..{high})"
            )
        return offset
    for low, high, offset in _RANGES.values():
        if lo >= low and hi <= high:
            return offset
    raise ValueError(
        f"{where}: values {lo:.2f}..{hi:.2f} fit no SST unit (degC -5..45, K 268..320, "
        "negative Kelvin -278.15..-228.15); pass units= to state it"
    )


def open_cobe_sst(paths: PathsLike, variable: str | None = None, units: str = "auto") -> xr.Dataset:
    """Read COBE-SST monthly GRIB files (a glob such as ``"cobe/sst*.grb"`` or a list).

    Args:
        paths: files, one month each (any order; sorted by time here).
        variable: GRIB short name of the SST field; the file's only data variable when None.
        units: ``"auto"`` (decide from the values, see module docstring), ``"degC"`` or ``"K"``.

    Returns:
        Dataset with ``sst`` (time, lat, lon) float32 °C, lat ascending, land/missing NaN,
        monthly ``time`` (first of the month, datetime64[ns]) strictly increasing.

    Raises:
        ValueError: a file without exactly one field, repeated months, mismatching grids,
            or values that are not SST in any known unit.
    """
    files = expand_paths(paths, "COBE-SST GRIB file")
    fields = []
    grid = None
    for path in files:
        ds = open_dataset(path, format="grib")
        names = list(ds.data_vars)
        name = variable or (names[0] if len(names) == 1 else None)
        if name is None or name not in ds:
            raise ValueError(
                f"{path}: expected one SST field{f' named {variable!r}' if variable else ''}; "
                f"found {names}"
            )
        da = ds[name].load()
        if "time" in da.dims:
            if da.sizes["time"] != 1:
                raise ValueError(f"{path}: {da.sizes['time']} months in one file, expected 1")
            da = da.isel(time=0)
        if set(da.dims) != {"lat", "lon"}:
            raise ValueError(f"{path}: field {name!r} has dims {da.dims}, expected (lat, lon)")
        # geostl's GRIB convention leaves a single month as the scalar ``valid_time``
        time_name = next((t for t in ("valid_time", "time") if t in ds.coords), None)
        if time_name is None:
            raise ValueError(f"{path}: no time / valid_time coordinate in the GRIB message")
        time = ds[time_name].values
        ds.close()  # values are loaded; do not keep one open file per month
        month = np.datetime64(np.asarray(time).ravel()[0], "M").astype("datetime64[ns]")
        da = da.sortby("lat").transpose("lat", "lon")
        key = (tuple(da["lat"].values), tuple(da["lon"].values))
        if grid is None:
            grid = key
        elif key != grid:
            raise ValueError(f"{path}: grid differs from the first file's ({files[0].name})")
        values = da.values.astype(np.float64)
        values = values + _offset_for(values, units, str(path))
        fields.append((month, values.astype(np.float32), path.name))
    fields.sort(key=lambda f: f[0])
    times = np.array([f[0] for f in fields])
    repeated = times[1:][np.diff(times) == np.timedelta64(0)]
    if repeated.size:
        raise ValueError(f"month {str(repeated[0])[:7]} appears in more than one file")
    assert grid is not None
    attrs = {"units": "degC", "long_name": "COBE-SST monthly mean sea surface temperature"}
    return xr.Dataset(
        {"sst": (("time", "lat", "lon"), np.stack([f[1] for f in fields]), attrs)},
        coords={"time": times, "lat": np.array(grid[0]), "lon": np.array(grid[1])},
        attrs={"source_files": ",".join(f[2] for f in fields)},
    )


READERS.register(
    "cobe",
    open_cobe_sst,
    takes="files",
    patterns=("sst??????.grb",),
    description="COBE-SST monthly 1 deg GRIB files (JMA), one file per month, degC",
)
