"""``write_forecast``: a forecast Dataset to the file format its name (or ``format``) asks for.

==========  ==================================  ==========================================
format      file names                          writer
==========  ==================================  ==========================================
``netcdf``  ``*.nc``, ``*.nc4``                 NetCDF-4 (h5netcdf), CF-1.10 attributes (TEC
                                                in ``1e16 m-2``, UDUNITS' spelling of TECU)
``zarr``    ``*.zarr`` (a folder)               Zarr (``xarray.Dataset.to_zarr``), same attrs
``ionex``   ``*.YYi``, ``*.ionex``, with .gz    IONEX 1.0 (:func:`geostl.io.write_ionex`):
                                                one init time, the ``tec`` variable
==========  ==================================  ==========================================

Every format gets the physical lower bounds of :mod:`geostl.outputs.bounds` applied (a negative
TEC is written as 0, the count stated on the variable or in a COMMENT record).
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import warnings
from pathlib import Path

import xarray as xr

from .bounds import clip_to_bounds
from .netcdf import cf_dataset, write_dataset_netcdf

__all__ = ["FORECAST_FORMATS", "forecast_format", "write_forecast"]

FORECAST_FORMATS = {
    "netcdf": ("*.nc", "*.nc4"),
    "zarr": ("*.zarr",),
    "ionex": ("*.??i", "*.??i.gz", "*.ionex", "*.ionex.gz", "*.inx", "*.inx.gz"),
}


def forecast_format(path: str | os.PathLike, format: str | None = None) -> str:
    """The output format of ``path``: ``format`` if given, else from the name's extension."""
    if format is not None:
        if format not in FORECAST_FORMATS:
            raise ValueError(f"--format {format!r}: choose one of {', '.join(FORECAST_FORMATS)}")
        return format
    name = Path(path).name.lower()
    for fmt, patterns in FORECAST_FORMATS.items():
        if any(fnmatch.fnmatch(name, p) for p in patterns):
            return fmt
    known = ", ".join(p for patterns in FORECAST_FORMATS.values() for p in patterns)
    raise ValueError(
        f"{path}: cannot tell the output format from the name (known: {known}); give --format "
        f"({', '.join(FORECAST_FORMATS)})"
    )


def write_forecast(ds: xr.Dataset, path: str | os.PathLike, format: str | None = None) -> Path:
    """Write a forecast Dataset (the layout of :mod:`geostl.outputs.netcdf`) as ``format``.

    Returns the path written. Raises ValueError for an unknown format, or (IONEX) a forecast
    without a ``tec`` variable or with more than one init time.
    """
    fmt = forecast_format(path, format)
    out = Path(path)
    clipped, _ = clip_to_bounds(ds)
    if fmt == "netcdf":
        return write_dataset_netcdf(clipped, out)
    if fmt == "zarr":
        return _write_zarr(cf_dataset(clipped), out)
    from geostl.io.ionex_write import write_ionex

    issue = ds.attrs.get("issue_time", "")
    description = [
        f"geostl forecast, model {ds.attrs.get('model', 'unknown')}",
        f"issued {issue}" if issue else "",
    ]
    comments = [f"{k}: {ds.attrs[k]}" for k in ("future_forcings", "input") if k in ds.attrs]
    return write_ionex(ds, out, description=[d for d in description if d], comments=comments).path


def _write_zarr(ds: xr.Dataset, out: Path) -> Path:
    """Zarr, atomically: a temporary folder beside ``out``, then a rename (an existing
    ``out`` is replaced only once the new store is complete)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        with warnings.catch_warnings():
            # Zarr 3 notes that consolidated metadata is not in its spec yet; it is what lets
            # xarray.open_zarr read the store without a warning, so it is written
            warnings.filterwarnings("ignore", message="Consolidated metadata", module="zarr")
            ds.to_zarr(tmp, mode="w", consolidated=True)
        if out.exists():
            old = out.with_name(f".{out.name}.old{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out
