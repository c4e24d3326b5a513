"""Open gridded NetCDF, Zarr and GRIB data with the project's dimension conventions, lazily.

Conventions applied: dims/coords ``latitude``/``longitude``/``valid_time`` (and a few other
common spellings) are renamed to ``lat``/``lon``/``time``; a GRIB ``time`` that is only the
reference time is replaced by ``valid_time`` when that is the varying one. Values are not
loaded: NetCDF and GRIB open lazily, Zarr through dask, so large stores stay on disk.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Sequence
from pathlib import Path

import xarray as xr

from geostl.io._files import PathsLike, expand_paths
from geostl.io.registry import READERS

FORMATS = ("netcdf", "zarr", "grib")
_RENAME = {
    "latitude": "lat",
    "Latitude": "lat",
    "LATITUDE": "lat",
    "nav_lat": "lat",
    "longitude": "lon",
    "Longitude": "lon",
    "LONGITUDE": "lon",
    "nav_lon": "lon",
    "Time": "time",
    "TIME": "time",
    "t": "time",
}


def _detect_format(path: Path) -> str:
    name = path.name.lower()
    if path.is_dir():
        if name.endswith(".zarr") or (path / ".zgroup").exists() or (path / "zarr.json").exists():
            return "zarr"
        raise ValueError(f"{path}: a directory that is not a Zarr store (no .zgroup / zarr.json)")
    if name.endswith((".grib", ".grb", ".grib2", ".grb2", ".grib1")):
        return "grib"
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic[:4] == b"GRIB":
        return "grib"
    if magic[:3] == b"CDF" or magic[:8] == b"\x89HDF\r\n\x1a\n":
        return "netcdf"
    raise ValueError(
        f"{path}: cannot tell the format (not NetCDF-3/4 by magic bytes, not .grib, not .zarr); "
        f"pass format= one of {', '.join(FORMATS)}"
    )


def _netcdf_engine(path: Path) -> str:
    with open(path, "rb") as fh:
        magic = fh.read(4)
    return "scipy" if magic[:3] == b"CDF" else "h5netcdf"


def _has_consolidated_metadata(path: Path) -> bool:
    """Zarr v2 ``.zmetadata`` or a Zarr v3 ``zarr.json`` with consolidated metadata."""
    if (path / ".zmetadata").exists():
        return True
    meta = path / "zarr.json"
    if meta.exists():
        try:
            return json.loads(meta.read_text()).get("consolidated_metadata") is not None
        except (OSError, ValueError):
            return False
    return False


def _require_cfgrib() -> None:
    if importlib.util.find_spec("cfgrib") is None:
        raise ImportError("reading GRIB needs cfgrib and eccodes: pip install geostl[grib]")


def _open_one(path: Path, fmt: str) -> xr.Dataset:
    if fmt == "netcdf":
        return xr.open_dataset(path, engine=_netcdf_engine(path), chunks=None)
    if fmt == "zarr":
        # chunks=None: lazy indexing without dask, so a window reads its chunks directly
        return xr.open_zarr(path, consolidated=_has_consolidated_metadata(path), chunks=None)
    if fmt == "grib":
        _require_cfgrib()
        return xr.open_dataset(
            path, engine="cfgrib", backend_kwargs={"indexpath": ""}, decode_timedelta=True
        )
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def normalise_dims(ds: xr.Dataset) -> xr.Dataset:
    """Rename latitude/longitude/valid_time spellings to ``lat``/``lon``/``time``.

    For GRIB data with a scalar or constant reference ``time`` and a varying ``valid_time``
    the reference time is dropped (kept in attrs) and ``valid_time`` becomes ``time``.
    """
    names = set(ds.dims) | set(ds.coords)
    if "valid_time" in names:
        if "time" in ds.dims and "valid_time" not in ds.dims and ds["valid_time"].ndim == 1:
            if ds["valid_time"].dims == ("time",):
                ds = ds.assign_coords(time=ds["valid_time"].values).drop_vars("valid_time")
        elif "time" not in ds.dims:
            if "time" in ds.coords:
                ds.attrs["reference_time"] = str(ds["time"].values)
                ds = ds.drop_vars("time")
            if "valid_time" in ds.dims:
                ds = ds.rename({"valid_time": "time"})
            elif "step" in ds.dims and ds["valid_time"].dims == ("step",):
                ds = ds.swap_dims({"step": "valid_time"}).rename({"valid_time": "time"})
    rename = {k: v for k, v in _RENAME.items() if k in (set(ds.dims) | set(ds.coords))}
    clash = [v for k, v in rename.items() if v in ds.variables and v not in rename]
    if clash:
        raise ValueError(f"cannot rename {sorted(rename)} to {clash}: those names already exist")
    return ds.rename(rename) if rename else ds


def open_dataset(
    paths: PathsLike,
    format: str | None = None,
    variables: Sequence[str] | None = None,
) -> xr.Dataset:
    """Open NetCDF (one or many files), a Zarr store or GRIB files as one lazy dataset.

    Args:
        paths: a path, glob pattern or list; several files are combined by coordinates.
        format: ``"netcdf"``, ``"zarr"`` or ``"grib"``; detected from magic bytes / suffix
            when None. NetCDF-4 is read with h5netcdf, NetCDF-3 classic with scipy.
        variables: keep only these data variables; each must exist (the error lists the
            available ones).

    Returns:
        ``xarray.Dataset`` with dims named ``time``/``lat``/``lon`` where they apply, values
        not loaded into memory.
    """
    files = expand_paths(paths, "data file")
    if format is not None and format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    parts = []
    for path in files:
        fmt = format or _detect_format(path)
        ds = normalise_dims(_open_one(path, fmt))
        if variables is not None:
            missing = [v for v in variables if v not in ds.data_vars]
            if missing:
                raise KeyError(
                    f"{path}: variable(s) {missing} not found; available: "
                    f"{sorted(map(str, ds.data_vars))}"
                )
            ds = ds[list(variables)]
        parts.append(ds)
    if len(parts) == 1:
        out = parts[0]
    else:
        out = xr.combine_by_coords(parts, combine_attrs="drop_conflicts")
    out.attrs["source_files"] = ",".join(os.path.basename(p) for p in files)
    return out


for _fmt, _patterns, _what in (
    ("netcdf", ("*.nc", "*.nc4", "*.cdf"), "NetCDF-3/4 files (h5netcdf / scipy)"),
    ("zarr", ("*.zarr",), "Zarr stores"),
    ("grib", ("*.grib", "*.grb", "*.grib2", "*.grb2"), "GRIB 1/2 files (cfgrib)"),
):
    READERS.register(
        _fmt,
        open_dataset,
        takes="files",
        patterns=_patterns,
        description=f"{_what}, dims renamed to time/lat/lon, read lazily",
        fixed={"format": _fmt},
    )
