"""geostl.io.write_ionex: files that geostl's reader and an independent parser read back."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import geostl
from geostl.io import open_ionex, write_ionex

SAMPLE = Path(geostl.__file__).parent / "datasets" / "_data" / "tec" / "uqrg1150.19i.gz"


def parse_ionex(path: Path) -> dict:
    """A plain IONEX 1.0 parser written for this test from the format description only:
    header labels in columns 61-80, maps as I5 values in 10**EXPONENT TECU, 9999 missing."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt") as f:
        lines = f.read().splitlines()
    header: dict[str, list[str]] = {}
    k = 0
    while lines[k][60:].strip() != "END OF HEADER":
        header.setdefault(lines[k][60:].strip(), []).append(lines[k][:60])
        k += 1
    exponent = int(header["EXPONENT"][0])
    lat1, lat2, dlat = (float(v) for v in header["LAT1 / LAT2 / DLAT"][0].split())
    lon1, lon2, dlon = (float(v) for v in header["LON1 / LON2 / DLON"][0].split())
    n_lat = round((lat2 - lat1) / dlat) + 1
    n_lon = round((lon2 - lon1) / dlon) + 1
    epochs, maps = [], []
    k += 1
    while lines[k][60:].strip() != "END OF FILE":
        label = lines[k][60:].strip()
        if label == "EPOCH OF CURRENT MAP":
            y, mo, d, h, mi, s = (int(v) for v in lines[k][:36].split())
            epochs.append(np.datetime64(f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}"))
            grid = np.full((n_lat, n_lon), np.nan)
            maps.append(grid)
        elif label == "LAT/LON1/LON2/DLON/H":
            row = round((float(lines[k][2:8]) - lat1) / dlat)
            values: list[int] = []
            while len(values) < n_lon:
                k += 1
                text = lines[k]
                values += [int(text[i : i + 5]) for i in range(0, len(text), 5)]
            grid[row] = [np.nan if v == 9999 else v * 10.0**exponent for v in values]
        k += 1
    return {"header": header, "epochs": np.array(epochs), "maps": np.array(maps)}


def _forecast(values: np.ndarray, init: str = "2019-04-27T00:00") -> xr.Dataset:
    lead = np.arange(1, values.shape[0] + 1) * np.timedelta64(15, "m")
    init_t = np.array([np.datetime64(init, "ns")])
    lat = 87.5 - 2.5 * np.arange(values.shape[1])
    lon = -180.0 + 5.0 * np.arange(values.shape[2])
    return xr.Dataset(
        {"tec": (("init_time", "lead_time", "lat", "lon"), values[None], {"units": "TECU"})},
        coords={
            "init_time": init_t,
            "lead_time": lead.astype("timedelta64[ns]"),
            "valid_time": (("init_time", "lead_time"), init_t[:, None] + lead[None]),
            "lat": lat,
            "lon": lon,
        },
    )


def test_forecast_maps_read_back_by_both_readers(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 120, size=(3, 71, 73))
    values[0, 5, 7] = np.nan
    values[1, 0, 0] = -0.3  # clipped to 0
    written = write_ionex(_forecast(values), tmp_path / "geos1170.19i", description="test")
    assert written.n_maps == 3 and written.n_clipped == 1
    expected = np.where(values < 0, 0.0, values)
    mine = parse_ionex(written.path)
    np.testing.assert_allclose(mine["maps"], expected, atol=0.05, equal_nan=True)
    start = np.datetime64("2019-04-27T00:00")
    assert list(mine["epochs"]) == [start + np.timedelta64(15 * k, "m") for k in (1, 2, 3)]
    assert mine["header"]["# OF MAPS IN FILE"][0].strip() == "3"
    assert mine["header"]["INTERVAL"][0].strip() == "900"
    assert any("1 values below 0" in c for c in mine["header"]["COMMENT"])
    theirs = open_ionex([written.path])
    np.testing.assert_allclose(theirs["tec"].values, expected, atol=0.05, equal_nan=True)
    assert (theirs.time.values == mine["epochs"].astype("datetime64[ns]")).all()


def test_a_real_file_round_trips(tmp_path):
    ds = open_ionex([SAMPLE])
    written = write_ionex(ds["tec"], tmp_path / "uqrg1150.19i.gz")
    back = open_ionex([written.path])
    original = ds["tec"].values
    assert written.n_clipped == int((original < 0).sum())  # the UPC maps hold a few
    np.testing.assert_allclose(
        back["tec"].values, np.maximum(original, 0.0), atol=0.05, equal_nan=True
    )
    np.testing.assert_array_equal(back.time.values, ds.time.values)
    mine = parse_ionex(written.path)
    np.testing.assert_allclose(mine["maps"], back["tec"].values, atol=1e-9, equal_nan=True)


def test_bad_grids_and_values_are_refused(tmp_path):
    values = np.ones((2, 4, 5))
    ds = _forecast(values)
    irregular = ds.assign_coords(lon=[0.0, 5.0, 10.0, 20.0, 25.0])
    with pytest.raises(ValueError, match="lon is not a regular grid"):
        write_ionex(irregular, tmp_path / "a.19i")
    with pytest.raises(ValueError, match="does not fit I5 at EXPONENT -1"):
        write_ionex(_forecast(np.full((2, 4, 5), 1500.0)), tmp_path / "b.19i")
    two = xr.concat([ds, ds.assign_coords(init_time=ds.init_time + np.timedelta64(1, "h"))],
                    "init_time")  # fmt: skip
    with pytest.raises(ValueError, match="holds one forecast; this one has 2 init times"):
        write_ionex(two, tmp_path / "c.19i")
    assert not list(tmp_path.iterdir())  # nothing half-written
