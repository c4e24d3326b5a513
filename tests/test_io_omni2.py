"""OMNI2 hourly reader: real yearly files, a hand-written row, malformed rows."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from geostl.io import OMNI2_COLUMNS, open_omni2

# first row of omni2_2019.dat (2019 day 1 hour 0), with the values of its words by hand
ROW = (
    "2019   1  0 2529 51 52  59  34   4.8   4.4  11.0 123.1  -2.4   3.6   0.8   3.3   1.7   0.2"
    "   1.9   0.8   0.7   1.6   61944.   3.9  456.   0.2  -1.9 0.019  1.46   12813.   0.5    8."
    "   0.9   0.8 0.003  -0.78   1.34   9.4 10  12    -8   28 999999.99 99999.99 99999.99"
    "     0.26     0.17     0.13 -1   4  69.5  -0.0    -3    25  6.4"
)


def _row(year: int, doy: int, hour: int) -> str:
    return f"{year:4d}{doy:4d}{hour:3d}" + ROW[11:]


def test_hand_checked_row(tmp_path: Path) -> None:
    path = tmp_path / "omni2_2019.dat"
    path.write_text(_row(2019, 1, 0) + "\n" + _row(2019, 1, 1) + "\n")
    ds = open_omni2(path)
    assert ds.time.values[0] == np.datetime64("2019-01-01T00:00", "ns")
    assert ds.time.values[1] == np.datetime64("2019-01-01T01:00", "ns")
    first = ds.isel(time=0)
    expected = {
        "b_mag": 4.8,
        "bz_gsm": 1.7,
        "bz_gse": 0.8,
        "sigma_b_mag": 0.2,
        "sigma_b": 1.9,
        "proton_density": 3.9,
        "sw_speed": 456.0,
        "flow_pressure": 1.46,
        "e_field": -0.78,
        "alfven_mach_number": 9.4,
        "kp": 1.0,
        "sunspot_number": 12.0,
        "dst": -8.0,
        "ae": 28.0,
        "ap": 4.0,
        "f107": 69.5,
        "al": -3.0,
        "au": 25.0,
        "mach_number": 6.4,
        "proton_flux_10mev": 0.26,
    }
    for name, value in expected.items():
        assert float(first[name]) == pytest.approx(value), name
    for name in ("proton_flux_1mev", "proton_flux_2mev", "proton_flux_4mev"):
        assert np.isnan(float(first[name])), name
    assert len(OMNI2_COLUMNS) == 52
    for name in ds.data_vars:
        assert ds[name].attrs["units"] and ds[name].attrs["long_name"]
    assert "[hh:00, hh+1:00)" in ds.time.attrs["comment"]


def test_malformed_row_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "omni2_2019.dat.gz"
    text = _row(2019, 1, 0) + "\n" + _row(2019, 1, 1)[:-5] + "\n"
    path.write_bytes(gzip.compress(text.encode()))
    with pytest.raises(ValueError, match=r"omni2_2019\.dat\.gz: line 2 has 54 words, expected 55"):
        open_omni2(path)


def test_overlapping_years(tmp_path: Path) -> None:
    (tmp_path / "a.dat").write_text(_row(2019, 1, 0) + "\n")
    (tmp_path / "b.dat").write_text(_row(2019, 1, 0) + "\n")
    with pytest.raises(ValueError, match="overlap in time"):
        open_omni2([tmp_path / "a.dat", tmp_path / "b.dat"])


@pytest.mark.shared_files("space_weather/omni2_hourly", what="OMNI2 hourly yearly files")
def test_real_years(shared_data: Path) -> None:
    folder = shared_data / "space_weather" / "omni2_hourly"
    ds = open_omni2([folder / "omni2_2020.dat.gz", folder / "omni2_2019.dat.gz"])
    assert ds.sizes["time"] == 8760 + 8784
    assert np.all(np.diff(ds.time.values) == np.timedelta64(1, "h"))
    assert ds.attrs["source_files"] == "omni2_2019.dat.gz,omni2_2020.dat.gz"
    # Kp is real Kp (0..9 in thirds), never a fill value
    kp = ds.kp.values[np.isfinite(ds.kp.values)]
    assert kp.min() >= 0 and kp.max() <= 9
    assert set(np.round(kp * 10).astype(int) % 10) <= {0, 3, 7}
    assert np.nanmax(ds.f107.values) < 999 and np.nanmax(ds.b_mag.values) < 999
    assert np.nanmax(ds.dst.values) < 99999


@pytest.mark.shared_files("space_weather/omni2_hourly", what="OMNI2 hourly yearly files")
def test_all_real_years_and_may_2024_storm(shared_data: Path) -> None:
    folder = shared_data / "space_weather" / "omni2_hourly"
    ds = open_omni2(str(folder / "omni2_*.dat.gz"))
    assert ds.time.values[0] == np.datetime64("2011-01-01T00:00", "ns")
    assert ds.time.values[-1] == np.datetime64("2025-12-31T23:00", "ns")
    storm = ds.dst.sel(time=slice("2024-05-10", "2024-05-12"))
    assert float(storm.min()) == -406.0
    assert ds.dst.sel(time="2025-12-31").isnull().all()  # trailing fill read as NaN
