"""Climate-index readers: real CPC/PSL files, generated ONI table, layout detection errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from geostl.io import open_index
from geostl.io.indices import detect_layout

ONI_TEXT = """ SEAS  YR   TOTAL   ANOM
  DJF 1950  24.72  -1.53
  JFM 1950  25.17  -1.34
  NDJ 1950  26.64   0.41
  DJF 1951  26.00  -0.82
"""


def test_generated_oni_table(tmp_path: Path) -> None:
    path = tmp_path / "oni.ascii.txt"
    path.write_text(ONI_TEXT)
    ds = open_index(path)
    assert ds.attrs["layout"] == "cpc_oni"
    times = ["1950-01-01", "1950-02-01", "1950-12-01", "1951-01-01"]  # centre months
    np.testing.assert_array_equal(ds.time.values, np.array(times, dtype="datetime64[ns]"))
    np.testing.assert_array_equal(ds.oni.values, [-1.53, -1.34, 0.41, -0.82])
    np.testing.assert_array_equal(ds.oni_total.values, [24.72, 25.17, 26.64, 26.00])
    assert ds.oni.attrs["units"] == "degC"


def test_psl_header_and_trailer(tmp_path: Path) -> None:
    text = (
        " 2018 2019\n"
        " 2018    -0.86   -0.73   -0.73   -0.36   -0.12    0.12    0.27    0.05    0.30"
        "    0.84    1.00    0.97\n"
        " 2019     0.51  -99.99  -99.99  -99.99  -99.99  -99.99  -99.99  -99.99  -99.99"
        "  -99.99  -99.99  -99.99\n"
        "  -99.99\n  Nino Anom 3.4 Index using HadISST\n  https://psl.noaa.gov/\n"
    )
    path = tmp_path / "nino34.long.anom.data"
    path.write_text(text)
    ds = open_index(path)
    assert ds.attrs["layout"] == "psl_monthly"
    assert list(ds.data_vars) == ["nino34_anom"] and ds.sizes["time"] == 24
    assert ds.nino34_anom.values[0] == -0.86 and ds.nino34_anom.values[12] == 0.51
    assert np.isnan(ds.nino34_anom.values[13:]).all()
    assert ds.time.values[12] == np.datetime64("2019-01-01", "ns")


def test_unknown_layout_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "weird.txt"
    path.write_text("date,value\n2019-01,0.5\n")
    with pytest.raises(ValueError, match=r"weird\.txt: unknown climate-index layout"):
        open_index(path)
    with pytest.raises(ValueError, match="unknown index layout 'xyz'"):
        open_index(path, layout="xyz")
    bad = tmp_path / "oni.txt"
    bad.write_text(ONI_TEXT + "  XYZ 1951  26.00  -0.82\n")
    with pytest.raises(ValueError, match=r"oni\.txt: line 6 is not 'SEAS YR TOTAL ANOM'"):
        open_index(bad)
    assert detect_layout(["Year,01,02,03,04,05,06,07,08,09,10,11,12"]) == "cpc_year_csv"


@pytest.mark.shared_files("sst/cpc_ersst5.nino.mth.91-20.ascii", what="CPC Niño index table")
def test_real_cpc_nino_table(shared_data: Path) -> None:
    ds = open_index(shared_data / "sst" / "cpc_ersst5.nino.mth.91-20.ascii")
    assert ds.attrs["layout"] == "cpc_nino"
    assert ds.sizes["time"] == 861
    assert ds.time.values[0] == np.datetime64("1950-01-01", "ns")
    assert ds.time.values[-1] == np.datetime64("2021-09-01", "ns")
    first = ds.isel(time=0)
    assert float(first.nino12) == 23.01 and float(first.nino34_anom) == -1.99
    assert ds.nino34.attrs["units"] == "degC"


@pytest.mark.shared_files(
    "sst/psl_nino34.long.anom.data.txt",
    "sst/cpc_roni_1950-2026.csv",
    what="PSL Niño 3.4 and CPC RONI tables",
)
def test_real_psl_and_roni(shared_data: Path) -> None:
    psl = open_index(shared_data / "sst" / "psl_nino34.long.anom.data.txt")
    assert psl.sizes["time"] == 150 * 12
    assert float(psl.nino34_anom.sel(time="2019-01-01")) == 0.51
    assert psl.nino34_anom.isnull().sum() == 11
    roni = open_index(shared_data / "sst" / "cpc_roni_1950-2026.csv")
    assert roni.attrs["layout"] == "cpc_year_csv"
    assert float(roni.roni.sel(time="1950-01-01")) == -1.5
    assert float(roni.roni.sel(time="2026-04-01")) == -0.1
    assert roni.roni.sel(time=slice("2026-05-01", None)).isnull().all()


@pytest.mark.shared_files(
    "sst/cpc_ersst5.nino.mth.91-20.ascii",
    "sst/ersst_v5_sst.mnmean_2010-01_2020-08.nc",
    what="CPC Niño table and ERSSTv5",
)
def test_cpc_nino34_matches_ersst_box_mean(shared_data: Path) -> None:
    """The CPC Nino-3.4 index against our own box mean of the ERSST grid (independent data)."""
    sst = xr.open_dataset(shared_data / "sst" / "ersst_v5_sst.mnmean_2010-01_2020-08.nc")
    box = sst.sst.sel(lat=slice(5, -5), lon=slice(190, 240))
    w = np.cos(np.deg2rad(box.lat))
    mean = box.weighted(w).mean(("lat", "lon"))
    idx = open_index(shared_data / "sst" / "cpc_ersst5.nino.mth.91-20.ascii")
    common = idx.nino34.sel(time=mean.time)
    assert np.corrcoef(mean.values, common.values)[0, 1] > 0.999
    assert float(np.abs(mean - common).max()) < 0.1
