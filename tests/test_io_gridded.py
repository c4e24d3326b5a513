"""open_dataset: GRIB vs its NetCDF conversion, NetCDF-3/4, Zarr round trip, errors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from geostl.io import open_dataset

needs_cfgrib = pytest.mark.skipif(
    importlib.util.find_spec("cfgrib") is None, reason="cfgrib not installed"
)


@pytest.mark.shared_files(
    "era5/era5_t2m_2019-03_uk_0.25deg_hourly.grib",
    "era5/era5_t2m_2019-03_uk_0.25deg_hourly.nc",
    what="ERA5 t2m sample as GRIB and NetCDF",
)
@needs_cfgrib
def test_era5_grib_equals_netcdf(shared_data: Path) -> None:
    folder = shared_data / "era5"
    grib = open_dataset(folder / "era5_t2m_2019-03_uk_0.25deg_hourly.grib")
    nc = open_dataset(folder / "era5_t2m_2019-03_uk_0.25deg_hourly.nc", variables=["t2m"])
    assert grib.t2m.dims == ("time", "lat", "lon") == nc.t2m.dims
    assert grib.sizes == {"time": 744, "lat": 33, "lon": 49}
    np.testing.assert_array_equal(grib.time.values, nc.time.values)
    np.testing.assert_array_equal(grib.lat.values, nc.lat.values)
    np.testing.assert_array_equal(grib.lon.values, nc.lon.values)
    np.testing.assert_array_equal(grib.t2m.values, nc.t2m.values)
    assert grib.t2m.attrs["units"] == "K"


@pytest.mark.shared_files(
    "era5/era5_ens10_z_t_500_850hPa_2017-01-01_02_3deg.grib",
    what="ERA5 ensemble GRIB sample",
)
@needs_cfgrib
def test_era5_ensemble_grib(shared_data: Path) -> None:
    ds = open_dataset(shared_data / "era5" / "era5_ens10_z_t_500_850hPa_2017-01-01_02_3deg.grib")
    assert ds.t.dims == ("number", "time", "isobaricInhPa", "lat", "lon")
    assert ds.sizes["lat"] == 61 and ds.sizes["lon"] == 120 and ds.sizes["time"] == 4


@pytest.mark.shared_files(
    "sst/ersst_v5_sst.mnmean_2010-01_2020-08.nc",
    "sst/ncar_landsea_1deg.nc",
    what="ERSSTv5 and NCAR land-sea mask",
)
def test_ersst_and_netcdf3_mask(shared_data: Path) -> None:
    sst = open_dataset(shared_data / "sst" / "ersst_v5_sst.mnmean_2010-01_2020-08.nc")
    assert sst.sst.dims == ("time", "lat", "lon") and sst.sst.shape == (128, 89, 180)
    assert sst.lat.values[0] == 88.0 and sst.sst.attrs["units"] == "degC"
    mask = open_dataset(shared_data / "sst" / "ncar_landsea_1deg.nc")
    assert mask.LSMASK.shape == (180, 360)
    assert set(np.unique(mask.LSMASK.values)) <= {0, 1, 2, 3, 4}


def test_zarr_roundtrip_is_lazy(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    time = np.arange("2020-01-01", "2020-01-07", dtype="datetime64[D]").astype("datetime64[ns]")
    src = xr.Dataset(
        {
            "sst": (
                ("time", "latitude", "longitude"),
                rng.normal(size=(6, 4, 5)).astype("f4"),
                {"units": "degC", "long_name": "sea surface temperature"},
            )
        },
        coords={"time": time, "latitude": [3.0, 1.0, -1.0, -3.0], "longitude": np.arange(5.0)},
    )
    store = tmp_path / "sample.zarr"
    src.chunk({"time": 2}).to_zarr(store, consolidated=False)
    ds = open_dataset(store)
    assert ds.sst.dims == ("time", "lat", "lon")
    # lazy without dask: nothing loaded yet, a slice reads only its chunks
    assert not ds.sst.variable._in_memory
    np.testing.assert_array_equal(ds.sst[2:4].values, src.sst.values[2:4])
    np.testing.assert_array_equal(ds.sst.values, src.sst.values)
    np.testing.assert_array_equal(ds.lat.values, [3.0, 1.0, -1.0, -3.0])


def test_many_netcdf_files_and_errors(tmp_path: Path) -> None:
    time = np.arange("2020-01", "2020-05", dtype="datetime64[M]").astype("datetime64[ns]")
    full = xr.Dataset(
        {
            "v": (
                ("valid_time", "lat", "lon"),
                np.arange(4 * 2 * 3, dtype="f4").reshape(4, 2, 3),
                {"units": "K", "long_name": "v"},
            )
        },
        coords={"valid_time": time, "lat": [1.0, 0.0], "lon": [0.0, 1.0, 2.0]},
    )
    full.isel(valid_time=slice(0, 2)).to_netcdf(tmp_path / "a.nc", engine="h5netcdf")
    full.isel(valid_time=slice(2, 4)).to_netcdf(tmp_path / "b.nc", engine="scipy")  # NetCDF-3
    ds = open_dataset(str(tmp_path / "*.nc"))
    assert ds.v.dims == ("time", "lat", "lon")
    np.testing.assert_array_equal(ds.v.values, full.v.values)
    with pytest.raises(KeyError, match=r"variable\(s\) \['t2m'\] not found; available: \['v'\]"):
        open_dataset(tmp_path / "a.nc", variables=["t2m"])
    (tmp_path / "c.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"c\.txt: cannot tell the format"):
        open_dataset(tmp_path / "c.txt")
    with pytest.raises(ValueError, match="unknown format 'hdf4'"):
        open_dataset(tmp_path / "a.nc", format="hdf4")


def test_missing_cfgrib_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import geostl.io.gridded as gridded

    monkeypatch.setattr(gridded.importlib.util, "find_spec", lambda name: None)
    (tmp_path / "x.grib").write_bytes(b"GRIB")
    with pytest.raises(ImportError, match=r"pip install geostl\[grib\]"):
        open_dataset(tmp_path / "x.grib")
