"""Built-in samples: load offline, follow the conventions, and equal the shared originals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from geostl.datasets import available, sample
from geostl.datasets.samples import _data_dir

NAMES = ["tec", "tec_drivers", "sst", "sst_indices", "t2m"]


def test_available_and_size_budget() -> None:
    assert list(available()) == NAMES
    total = sum(p.stat().st_size for p in _data_dir().rglob("*") if p.is_file())
    assert total < 4.5e6
    for sub in ("tec", "sst", "t2m"):
        assert (_data_dir() / sub / "PROVENANCE.md").is_file()
    with pytest.raises(KeyError, match="unknown sample 'era5'; available: tec, tec_drivers"):
        sample("era5")


@pytest.mark.parametrize("name", NAMES)
def test_conventions(name: str) -> None:
    ds = sample(name)
    assert ds.time.dtype == np.dtype("datetime64[ns]")
    for var in ds.data_vars:
        assert ds[var].attrs.get("units") and ds[var].attrs.get("long_name"), var
    if name in ("tec", "sst", "t2m"):
        var = {"tec": "tec", "sst": "sst", "t2m": "t2m"}[name]
        assert ds[var].dims == ("time", "lat", "lon") and ds[var].dtype == np.float32


def test_tec_and_drivers_cover_the_same_days() -> None:
    tec = sample("tec")
    drivers = sample("tec_drivers")
    assert tec.sizes == {"time": 193, "lat": 71, "lon": 73}
    assert drivers.time.values[0] == np.datetime64("2019-04-11T00:00", "ns")
    assert drivers.time.values[-1] == np.datetime64("2019-05-03T23:00", "ns")
    span = drivers.sel(time=slice("2019-04-11", "2019-05-03"))
    for var in ("kp", "ap", "dst", "ae", "f107", "sunspot_number", "sw_speed", "bz_gsm", "b_mag"):
        assert int(span[var].isnull().sum()) == 0, var  # the drivers are real values, no fill
    assert int(span.proton_density.isnull().sum()) == 1


@pytest.mark.shared_files(
    "tec/uqrg_2019-04-25_to_2019-04-26_15min.nc",
    what="UQRG 15-min TEC maps as NetCDF",
)
def test_tec_sample_equals_shared_conversion(shared_data: Path) -> None:
    ref = xr.open_dataset(shared_data / "tec" / "uqrg_2019-04-25_to_2019-04-26_15min.nc")
    ds = sample("tec")
    np.testing.assert_array_equal(ds.time.values, ref.time.values)
    np.testing.assert_array_equal(ds.tec.values, ref.tec.values)


@pytest.mark.shared_files("space_weather/omni2_hourly/omni2_2019.dat.gz", what="OMNI2 hourly 2019")
def test_drivers_sample_equals_full_year(shared_data: Path) -> None:
    from geostl.io import open_omni2

    year = open_omni2(shared_data / "space_weather" / "omni2_hourly" / "omni2_2019.dat.gz")
    cut = year.sel(time=slice("2019-04-11", "2019-05-03T23:00"))
    xr.testing.assert_identical(sample("tec_drivers").drop_attrs(), cut.drop_attrs())


@pytest.mark.shared_files(
    "sst/ersst_v5_sst.mnmean_2010-01_2020-08.nc",
    "era5/era5_t2m_2019-03_uk_0.25deg_hourly.nc",
    what="ERSSTv5 and ERA5 t2m originals of the built-in samples",
)
@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("sst", "sst/ersst_v5_sst.mnmean_2010-01_2020-08.nc"),
        ("t2m", "era5/era5_t2m_2019-03_uk_0.25deg_hourly.nc"),
    ],
)
def test_packed_samples_within_half_quantum(shared_data: Path, name: str, path: str) -> None:
    ds = sample(name)
    ref = xr.open_dataset(shared_data / path)
    np.testing.assert_array_equal(ds.time.values, ref.time.values)
    np.testing.assert_array_equal(ds.lat.values, ref.lat.values)
    np.testing.assert_array_equal(ds.lon.values, ref.lon.values)
    a, b = ds[name].values, ref[name].values
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    ok = np.isfinite(b)
    err = np.abs(a[ok].astype(np.float64) - b[ok].astype(np.float64))
    # half the 0.01 quantum, plus one float32 spacing of the decoded value
    assert np.all(err <= 0.005 + np.spacing(np.abs(b[ok]).astype(np.float32)))
    assert ds[name].attrs["units"] == ref[name].attrs["units"]


@pytest.mark.shared_files("sst/cpc_ersst5.nino.mth.91-20.ascii", what="CPC Niño index table")
def test_sst_indices_sample_equals_shared(shared_data: Path) -> None:
    from geostl.io import open_index

    ref = open_index(shared_data / "sst" / "cpc_ersst5.nino.mth.91-20.ascii")
    xr.testing.assert_identical(sample("sst_indices").drop_attrs(), ref.drop_attrs())
