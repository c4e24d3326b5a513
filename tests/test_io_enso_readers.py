"""COBE-SST monthly GRIB reader and McNoldy's ONI / Nino 3.4 table reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geostl.io.cobe import open_cobe_sst
from geostl.io.oni_table import open_oni_table

eccodes = pytest.importorskip("eccodes", reason="writing test GRIB files needs eccodes")
pytest.importorskip("cfgrib", reason="reading GRIB needs cfgrib")

_MISSING = 9999.0


def _write_month(path: Path, yyyymm: int, values: np.ndarray) -> None:
    """A GRIB1 message like COBE's: JMA centre, parameter 11 (K), 1-deg cells, bitmap land."""
    gid = eccodes.codes_grib_new_from_samples("GRIB1")
    keys = {
        "centre": 34,
        "table2Version": 3,
        "indicatorOfParameter": 11,
        "indicatorOfTypeOfLevel": 1,
        "level": 0,
        "dataDate": yyyymm * 100 + 1,
        "dataTime": 0,
        "Ni": 4,
        "Nj": 3,
        "latitudeOfFirstGridPointInDegrees": 1.5,
        "latitudeOfLastGridPointInDegrees": -0.5,
        "longitudeOfFirstGridPointInDegrees": 0.5,
        "longitudeOfLastGridPointInDegrees": 3.5,
        "iDirectionIncrementInDegrees": 1.0,
        "jDirectionIncrementInDegrees": 1.0,
        "jScansPositively": 0,
        "bitmapPresent": 1,
        "missingValue": _MISSING,
        "bitsPerValue": 16,
    }
    for key, value in keys.items():
        eccodes.codes_set(gid, key, value)
    eccodes.codes_set_values(gid, values.ravel())
    with open(path, "wb") as fh:
        eccodes.codes_write(gid, fh)
    eccodes.codes_release(gid)


def _field(base: float) -> np.ndarray:
    vals = base + np.arange(12.0).reshape(3, 4)  # rows lat 1.5, 0.5, -0.5 (north first)
    vals[1, 2] = _MISSING  # land
    return vals


def test_cobe_glob_one_file_per_month_degc(tmp_path: Path) -> None:
    # written out of order on purpose; the reader sorts by month
    _write_month(tmp_path / "sst202002.grb", 202002, _field(20.0))
    _write_month(tmp_path / "sst202001.grb", 202001, _field(10.0))
    ds = open_cobe_sst(str(tmp_path / "sst*.grb"))
    assert ds["sst"].shape == (2, 3, 4)
    assert ds["sst"].attrs["units"] == "degC"
    np.testing.assert_array_equal(
        ds["time"].values.astype("datetime64[M]").astype(str), ["2020-01", "2020-02"]
    )
    np.testing.assert_allclose(ds["lat"].values, [-0.5, 0.5, 1.5])
    jan = ds["sst"].isel(time=0).values
    assert np.isnan(jan[1, 2])  # land stays missing
    assert jan[0, 0] == pytest.approx(18.0, abs=0.01)  # lat -0.5 row = last written row
    assert jan[2, 3] == pytest.approx(13.0, abs=0.01)


def test_cobe_negative_kelvin_and_kelvin_are_converted(tmp_path: Path) -> None:
    _write_month(tmp_path / "a.grb", 202001, _field(10.0 - 273.15))
    _write_month(tmp_path / "b.grb", 202002, _field(10.0 + 273.15))
    ds = open_cobe_sst([tmp_path / "a.grb", tmp_path / "b.grb"])
    np.testing.assert_allclose(ds["sst"].values[0], ds["sst"].values[1], atol=0.02)
    assert ds["sst"].values[0, 2, 0] == pytest.approx(10.0, abs=0.02)


def test_cobe_errors_name_the_file(tmp_path: Path) -> None:
    _write_month(tmp_path / "odd.grb", 202001, _field(100.0))
    with pytest.raises(ValueError, match=r"odd\.grb.*fit no SST unit"):
        open_cobe_sst(tmp_path / "odd.grb")
    _write_month(tmp_path / "c.grb", 202001, _field(10.0))
    _write_month(tmp_path / "d.grb", 202001, _field(11.0))
    with pytest.raises(ValueError, match="2020-01 appears in more than one file"):
        open_cobe_sst([tmp_path / "c.grb", tmp_path / "d.grb"])
    with pytest.raises(ValueError, match=r"not SST in K"):
        open_cobe_sst(tmp_path / "c.grb", units="K")


_ONI = """ONI and Nino 3.4 table (test copy of the layout)
Source: a note line
Columns: free text before the header

YEAR MON/MMM NINO34_MEAN CLIM_ANOM ONI PHASE
1891 1 25.69 -0.93 -99.99 L
1891 2 26.10 -0.81 -0.86 L
1891 3 26.92 -0.51 -0.41 N
1891 4 27.80 0.52 0.60 E
"""


def test_oni_table_columns_and_phases(tmp_path: Path) -> None:
    path = tmp_path / "ONI_NINO34_test.txt"
    path.write_text(_ONI)
    ds = open_oni_table(path)
    np.testing.assert_allclose(ds["nino34"].values, [25.69, 26.10, 26.92, 27.80])
    np.testing.assert_array_equal(ds["phase"].values, [1, 1, 2, 0])
    assert np.isnan(ds["oni"].values[0])
    assert ds["clim_anom"].values[3] == pytest.approx(0.52)
    assert str(ds["time"].values[3])[:7] == "1891-04"


def test_oni_table_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(_ONI.replace("0.60 E", "0.60 X"))
    with pytest.raises(ValueError, match=r"bad\.txt: line 9: PHASE 'X'"):
        open_oni_table(path)
    path.write_text(_ONI.replace("26.92 -0.51", "26.92"))
    with pytest.raises(ValueError, match="line 8 has 5 columns, expected 6"):
        open_oni_table(path)
    path.write_text("YEAR MON ONI\n1891 1 0.1\n")
    with pytest.raises(ValueError, match="no header row"):
        open_oni_table(path)
