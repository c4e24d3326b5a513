"""Rebuild the built-in samples in ``_data/`` from the staged real files (maintainers only).

Usage: ``python -m geostl.datasets._build SHARED_DATA_DIR``. What it does to each file is
described in the PROVENANCE.md beside each sample; nothing here is needed at run time.

* IONEX ``uqrg1150/1160.19i.gz``: copied unchanged.
* OMNI2 2019: the rows of 2019-04-11 00 UT .. 2019-05-03 23 UT copied verbatim, gzip.
* CPC Nino table: copied, gzip.
* ERSSTv5 SST and ERA5 t2m: packed as int16 with ``scale_factor`` 0.01 (CF packing, so any
  NetCDF reader decodes it), HDF5 shuffle, no HDF5 compression; the whole NetCDF-4 file is then
  xz-compressed (``.nc.xz``), which is ~25 % smaller than zlib inside the file.
"""

from __future__ import annotations

import gzip
import lzma
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

DATA = Path(__file__).resolve().parent / "_data"
QUANTUM = 0.01
OMNI_FIRST_DAY, OMNI_LAST_DAY = 101, 123  # 2019-04-11 .. 2019-05-03 (day of year)


def _pack(ds: xr.Dataset, name: str, offset: float, out: Path) -> None:
    var = ds[name]
    q = np.round((var.values.astype(np.float64) - offset) / QUANTUM)
    if np.nanmax(np.abs(q)) > 32000:
        raise ValueError(f"{name}: values do not fit int16 with quantum {QUANTUM}")
    # float64 so that xarray's (x - offset) / scale is not rounded in float32 before packing
    clean = xr.Dataset({name: var.astype(np.float64)}, coords=ds[name].coords, attrs=ds.attrs)
    clean[name].attrs = dict(var.attrs)
    for c in list(clean.coords):
        if c not in clean[name].dims:
            clean = clean.drop_vars(c)
    clean[name].encoding = {}
    enc = {
        name: {
            "dtype": "int16",
            "scale_factor": QUANTUM,
            "add_offset": offset,
            "_FillValue": np.int16(-32768),
            "shuffle": True,
            "chunksizes": var.shape,
        }
    }
    with tempfile.TemporaryDirectory() as tmp:
        nc = Path(tmp) / "x.nc"
        clean.to_netcdf(nc, engine="h5netcdf", encoding=enc)
        out.write_bytes(lzma.compress(nc.read_bytes(), preset=9 | lzma.PRESET_EXTREME))


def build(shared: Path) -> None:
    tec = DATA / "tec"
    sst = DATA / "sst"
    t2m = DATA / "t2m"
    for d in (tec, sst, t2m):
        d.mkdir(parents=True, exist_ok=True)
    for name in ("uqrg1150.19i.gz", "uqrg1160.19i.gz"):
        shutil.copyfile(shared / "tec" / "ionex" / name, tec / name)

    omni = gzip.decompress((shared / "space_weather/omni2_hourly/omni2_2019.dat.gz").read_bytes())
    rows = [
        ln
        for ln in omni.decode("ascii").splitlines(keepends=True)
        if OMNI_FIRST_DAY <= int(ln.split()[1]) <= OMNI_LAST_DAY
    ]
    (tec / "omni2_2019_0411-0503.dat.gz").write_bytes(
        gzip.compress("".join(rows).encode("ascii"), mtime=0)
    )

    nino = (shared / "sst" / "cpc_ersst5.nino.mth.91-20.ascii").read_bytes()
    (sst / "cpc_ersst5.nino.mth.91-20.ascii.gz").write_bytes(gzip.compress(nino, mtime=0))
    with xr.open_dataset(shared / "sst" / "ersst_v5_sst.mnmean_2010-01_2020-08.nc") as ds:
        _pack(ds.load(), "sst", 0.0, sst / "ersst_v5_sst_2010-01_2020-08_int16.nc.xz")
    with xr.open_dataset(shared / "era5" / "era5_t2m_2019-03_uk_0.25deg_hourly.nc") as ds:
        ds = ds.load()
        ds["t2m"].attrs.setdefault("long_name", "2 metre temperature")
        _pack(ds, "t2m", 278.0, t2m / "era5_t2m_2019-03_uk_0.25deg_int16.nc.xz")


if __name__ == "__main__":
    build(Path(sys.argv[1]))
