"""Built-in real data samples shipped inside the package (no network access).

=============== ===================================================================
name            content
=============== ===================================================================
``tec``         UPC UQRG global TEC maps, 2019-04-25 00:00 .. 04-27 00:00 UTC, 15 min
                (193, 71, 73), read from the shipped IONEX files with ``open_ionex``
``tec_drivers`` OMNI2 hourly solar-wind / geomagnetic drivers 2019-04-11 .. 05-03
                (552 hours), read from the shipped OMNI2 text cut with ``open_omni2``
``sst``         ERSSTv5 monthly SST 2010-01 .. 2020-08, global 2 deg (128, 89, 180), land NaN
``sst_indices`` CPC ERSSTv5 Nino indices 1950-01 .. 2021-09 (``open_index``)
``t2m``         ERA5 hourly 2 m temperature, UK, March 2019 (744, 33, 49)
=============== ===================================================================

``sst`` and ``t2m`` are stored as int16 with a 0.01 quantum (max error 0.005 degC / K); see
``_data/*/PROVENANCE.md`` and ``docs/data.md``.
"""

from __future__ import annotations

import io
import lzma
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
import xarray as xr

from geostl.io import open_index, open_ionex, open_omni2


def _data_dir() -> Path:
    return Path(str(resources.files("geostl.datasets") / "_data"))


def _open_packed(path: Path, name: str) -> xr.Dataset:
    """Open an xz-compressed NetCDF-4 sample, decode the int16 packing, return float32."""
    raw = lzma.decompress(path.read_bytes())
    with xr.open_dataset(io.BytesIO(raw), engine="h5netcdf") as ds:
        ds = ds.load()
    attrs = dict(ds[name].attrs)
    ds[name] = ds[name].astype(np.float32)
    ds[name].attrs.update(attrs)
    ds[name].attrs["packing"] = "int16, quantum 0.01 (max abs error 0.005) - see PROVENANCE.md"
    return ds


def _tec() -> xr.Dataset:
    folder = _data_dir() / "tec"
    return open_ionex([folder / "uqrg1150.19i.gz", folder / "uqrg1160.19i.gz"])


def _tec_drivers() -> xr.Dataset:
    return open_omni2(_data_dir() / "tec" / "omni2_2019_0411-0503.dat.gz")


def _sst() -> xr.Dataset:
    path = _data_dir() / "sst" / "ersst_v5_sst_2010-01_2020-08_int16.nc.xz"
    ds = _open_packed(path, "sst")
    ds.attrs["source_files"] = "ersst_v5_sst.mnmean_2010-01_2020-08.nc (repacked)"
    return ds


def _sst_indices() -> xr.Dataset:
    return open_index(_data_dir() / "sst" / "cpc_ersst5.nino.mth.91-20.ascii.gz")


def _t2m() -> xr.Dataset:
    path = _data_dir() / "t2m" / "era5_t2m_2019-03_uk_0.25deg_int16.nc.xz"
    ds = _open_packed(path, "t2m")
    ds.attrs["source_files"] = "era5-2mt-2019-03-uk.grib (repacked)"
    return ds


_SAMPLES: dict[str, tuple[Callable[[], xr.Dataset], str]] = {
    "tec": (_tec, "UPC UQRG TEC maps 2019-04-25..27, 15 min, 71x73 (TECU)"),
    "tec_drivers": (_tec_drivers, "OMNI2 hourly drivers 2019-04-11..05-03 (Kp, Dst, F10.7 ...)"),
    "sst": (_sst, "ERSSTv5 monthly SST 2010-01..2020-08, 2 deg global (degC)"),
    "sst_indices": (_sst_indices, "CPC ERSSTv5 Nino indices 1950-01..2021-09 (degC)"),
    "t2m": (_t2m, "ERA5 hourly 2 m temperature, UK, March 2019, 0.25 deg (K)"),
}


#: the ``geostl.io.READERS`` format of each sample's original files: the format a user's own
#: files replace it with (``geostl forecast --input``, ``--data NAME=PATH``)
SAMPLE_FORMATS = {
    "tec": "ionex",
    "tec_drivers": "omni2",
    "sst": "netcdf",
    "sst_indices": "index",
    "t2m": "netcdf",
}


def available() -> dict[str, str]:
    """Names of the built-in samples with a one-line description each."""
    return {name: desc for name, (_, desc) in _SAMPLES.items()}


def sample(name: str) -> xr.Dataset:
    """Load a built-in real data sample by name (see ``available()``); no network access.

    Returns an ``xarray.Dataset`` following the reader conventions (dims ``time``/``lat``/
    ``lon``, units and long names on every variable, NaN for missing values).
    """
    if name not in _SAMPLES:
        raise KeyError(f"unknown sample {name!r}; available: {', '.join(_SAMPLES)}")
    ds = _SAMPLES[name][0]()
    ds.attrs["geostl_sample"] = name
    return ds
