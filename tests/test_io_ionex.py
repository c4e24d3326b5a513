"""IONEX reader: real files against their independent NetCDF conversions, generated edge cases."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from geostl.io import open_ionex
from lzw_encoder import compress_lzw as _compress_lzw

REAL = [
    ("uqrg11[56]0.19i.gz", "uqrg_2019-04-25_to_2019-04-26_15min.nc", 193, "UPC-IonSAT"),
    ("codg00[89]0.20i.gz", "codg_2020-01-08_to_2020-01-09_1h.nc", 49, "AIUB"),
    ("igrg33[89]0.10i.gz", "igrg_2010-12-04_to_2010-12-05_2h.nc", 25, "GRL/UWM"),
]


@pytest.mark.shared_files(
    "tec/ionex/*.gz",
    "tec/*.nc",
    what="real IONEX files and their reference NetCDF conversions",
)
@pytest.mark.parametrize(("pattern", "reference", "n_time", "centre"), REAL)
def test_real_files_match_reference_conversion(
    shared_data: Path, pattern: str, reference: str, n_time: int, centre: str
) -> None:
    ds = open_ionex(str(shared_data / "tec" / "ionex" / pattern))
    ref = xr.open_dataset(shared_data / "tec" / reference, engine="h5netcdf")
    assert ds.tec.dims == ("time", "lat", "lon")
    assert ds.tec.dtype == np.float32 and ds.tec.attrs["units"] == "TECU"
    assert ds.sizes["time"] == n_time
    np.testing.assert_array_equal(ds.time.values, ref.time.values)
    np.testing.assert_array_equal(ds.lat.values, ref.lat.values)
    np.testing.assert_array_equal(ds.lon.values, ref.lon.values)
    np.testing.assert_array_equal(ds.tec.values, ref.tec.values)
    assert ds.attrs["centre"] == centre
    assert ds.attrs["shell_height_km"] == 450.0 and ds.attrs["base_radius_km"] == 6371.0
    assert "rms" in ds and ds.rms.attrs["units"] == "TECU"
    assert float(ds.rms.min()) >= 0


@pytest.mark.shared_files("tec/ionex", what="real IONEX files")
def test_midnight_epoch_taken_from_later_file(shared_data: Path) -> None:
    folder = shared_data / "tec" / "ionex"
    day1 = open_ionex(folder / "codg0080.20i.gz")
    day2 = open_ionex(folder / "codg0090.20i.gz")
    both = open_ionex([folder / "codg0090.20i.gz", folder / "codg0080.20i.gz"])  # any order
    midnight = np.datetime64("2020-01-09T00:00", "ns")
    assert day1.time.values[-1] == midnight and day2.time.values[0] == midnight
    assert (both.time.values == midnight).sum() == 1
    np.testing.assert_array_equal(both.tec.sel(time=midnight).values, day2.tec[0].values)
    assert both.attrs["source_files"] == "codg0080.20i.gz,codg0090.20i.gz"


@pytest.mark.shared_files("tec/ionex/uqrg1150.19i.gz", what="real UPC UQRG IONEX file")
def test_uqrg_epoch_of_last_map_is_not_trusted(shared_data: Path) -> None:
    # the header says EPOCH OF LAST MAP 23:59:24; the last map's own epoch is 24:00
    ds = open_ionex(shared_data / "tec" / "ionex" / "uqrg1150.19i.gz")
    assert ds.time.values[-1] == np.datetime64("2019-04-26T00:00", "ns")
    assert np.all(np.diff(ds.time.values) == np.timedelta64(15, "m"))


# ---------------------------------------------------------------- generated files


def _lab(text: str, label: str) -> str:
    return f"{text:<60}{label}"


def _make_ionex(
    day: int = 1,
    n_maps: int = 2,
    lats: tuple[float, float, float] = (10.0, -10.0, -10.0),
    lons: tuple[float, float, float] = (-180.0, 180.0, 20.0),
    exponent: int = -1,
    rms: bool = False,
    map_exponent: int | None = None,
    seed: int = 0,
) -> tuple[str, np.ndarray, np.ndarray | None]:
    """IONEX 1.0 text for a small grid, and the expected TEC / RMS in TECU (float64)."""
    rng = np.random.default_rng(seed)
    lat = np.arange(lats[0], lats[1] + lats[2] / 2, lats[2])
    lon = np.arange(lons[0], lons[1] + lons[2] / 2, lons[2])
    hours = [0, 12, 24][:n_maps] if n_maps <= 3 else list(range(n_maps))
    head = [
        _lab("     1.0            IONOSPHERE MAPS     GPS", "IONEX VERSION / TYPE"),
        _lab("testgen             TESTCENTRE          01-JAN-20 00:00", "PGM / RUN BY / DATE"),
        _lab(f"  2020     1    {day:2d}     0     0     0", "EPOCH OF FIRST MAP"),
        _lab(f"  {n_maps:4d}", "# OF MAPS IN FILE"),
        _lab("  COSZ", "MAPPING FUNCTION"),
        _lab("  6371.0", "BASE RADIUS"),
        _lab("     2", "MAP DIMENSION"),
        _lab("   450.0 450.0   0.0", "HGT1 / HGT2 / DHGT"),
        _lab(f"  {lats[0]:6.1f}{lats[1]:6.1f}{lats[2]:6.1f}", "LAT1 / LAT2 / DLAT"),
        _lab(f"  {lons[0]:6.1f}{lons[1]:6.1f}{lons[2]:6.1f}", "LON1 / LON2 / DLON"),
        _lab(f"  {exponent:4d}", "EXPONENT"),
        _lab("", "END OF HEADER"),
    ]
    body: list[str] = []
    tec = np.zeros((n_maps, lat.size, lon.size))
    rmsv = np.zeros_like(tec)
    for kind, store in (("TEC", tec), ("RMS", rmsv)) if rms else (("TEC", tec),):
        for m, hour in enumerate(hours):
            ints = rng.integers(0, 900, size=(lat.size, lon.size))
            ints[0, 1] = 9999
            exp = exponent
            body.append(_lab(f"{m + 1:6d}", f"START OF {kind} MAP"))
            day_, hh = (day + 1, 0) if hour == 24 else (day, hour)
            body.append(
                _lab(f"  2020     1    {day_:2d}    {hh:2d}     0     0", "EPOCH OF CURRENT MAP")
            )
            if map_exponent is not None and m == 1:
                exp = map_exponent
                body.append(_lab(f"  {exp:4d}", "EXPONENT"))
            for j, la in enumerate(lat):
                rec = f"  {la:6.1f}{lons[0]:6.1f}{lons[1]:6.1f}{lons[2]:6.1f} 450.0"
                body.append(_lab(rec, "LAT/LON1/LON2/DLON/H"))
                for k in range(0, lon.size, 16):
                    body.append("".join(f"{v:5d}" for v in ints[j, k : k + 16]))
            body.append(_lab(f"{m + 1:6d}", f"END OF {kind} MAP"))
            store[m] = np.where(ints == 9999, np.nan, ints * 10.0**exp)
    body.append(_lab("", "END OF FILE"))
    return "\n".join(head + body) + "\n", tec, (rmsv if rms else None)


def test_generated_file_with_rms_and_in_map_exponent(tmp_path: Path) -> None:
    text, tec, rms = _make_ionex(rms=True, map_exponent=-2, n_maps=3)
    path = tmp_path / "test0010.20i"
    path.write_text(text)
    ds = open_ionex(path)
    assert ds.sizes == {"time": 3, "lat": 3, "lon": 19}
    np.testing.assert_array_equal(ds.lat.values, [10.0, 0.0, -10.0])
    np.testing.assert_allclose(ds.tec.values, tec.astype(np.float32), rtol=1e-7)
    np.testing.assert_allclose(ds.rms.values, rms.astype(np.float32), rtol=1e-7)
    assert np.isnan(ds.tec.values[:, 0, 1]).all()
    # the in-map EXPONENT -2 applies to map 2 only
    assert np.nanmax(ds.tec.values[1]) < 9.0 < np.nanmax(ds.tec.values[0])
    assert ds.time.values[-1] == np.datetime64("2020-01-02T00:00", "ns")
    assert "rms" not in open_ionex(path, rms=False)


def test_compressed_and_long_igs_names(tmp_path: Path) -> None:
    text, tec, _ = _make_ionex()
    long_gz = tmp_path / "COD0OPSFIN_20200010000_01D_12H_GIM.INX.gz"
    long_gz.write_bytes(gzip.compress(text.encode()))
    short_z = tmp_path / "codg0010.20i.Z"
    short_z.write_bytes(_compress_lzw(text.encode()))
    if shutil.which("gzip"):  # the .Z we wrote is what gzip itself decodes
        import subprocess

        out = subprocess.run(["gzip", "-dc", str(short_z)], capture_output=True, check=True)
        assert out.stdout == text.encode()
    for path in (long_gz, short_z):
        ds = open_ionex(path)
        np.testing.assert_allclose(ds.tec.values, tec.astype(np.float32), rtol=1e-7)
        assert ds.attrs["source_files"] == path.name


def test_glob_join_of_generated_days(tmp_path: Path) -> None:
    t1, tec1, _ = _make_ionex(day=1, n_maps=3, seed=1)
    t2, tec2, _ = _make_ionex(day=2, n_maps=3, seed=2)
    (tmp_path / "test0010.20i").write_text(t1)
    (tmp_path / "test0020.20i").write_text(t2)
    ds = open_ionex(str(tmp_path / "test00?0.20i"))
    assert ds.sizes["time"] == 5
    expected = np.concatenate([tec1[:2], tec2]).astype(np.float32)
    np.testing.assert_allclose(ds.tec.values, expected, rtol=1e-7)


def test_truncated_file(tmp_path: Path) -> None:
    text, _, _ = _make_ionex(n_maps=2)
    lines = text.splitlines()
    cut = next(i for i, ln in enumerate(lines) if ln.rstrip().endswith("END OF TEC MAP"))
    path = tmp_path / "trunc.20i"
    # file ends inside map 2
    path.write_text("\n".join(lines[: cut + 6]) + "\n")
    with pytest.raises(ValueError, match=r"trunc\.20i: TEC map 2.*truncated"):
        open_ionex(path)
    # a latitude line with too few values
    short = lines[: cut - 1] + lines[cut:]
    path.write_text("\n".join(short) + "\n")
    with pytest.raises(ValueError, match=r"trunc\.20i: TEC map 1, latitude -10: expected 19"):
        open_ionex(path)


def test_latitude_record_mismatch(tmp_path: Path) -> None:
    text, _, _ = _make_ionex()
    bad = text.replace("    0.0-180.0 180.0  20.0 450.0", "    0.0-180.0 160.0  20.0 450.0", 1)
    assert bad != text
    path = tmp_path / "bad.20i"
    path.write_text(bad)
    with pytest.raises(ValueError, match=r"bad\.20i: TEC map 1, latitude line 2.*header grid"):
        open_ionex(path)


def test_files_with_different_grids(tmp_path: Path) -> None:
    a, _, _ = _make_ionex(day=1)
    b, _, _ = _make_ionex(day=2, lons=(-180.0, 180.0, 30.0))
    (tmp_path / "a.20i").write_text(a)
    (tmp_path / "b.20i").write_text(b)
    with pytest.raises(ValueError, match=r"IONEX grids differ: a\.20i .* b\.20i"):
        open_ionex([tmp_path / "a.20i", tmp_path / "b.20i"])


def test_overlapping_files_and_missing_path(tmp_path: Path) -> None:
    a, _, _ = _make_ionex(day=1, n_maps=3)
    (tmp_path / "a.20i").write_text(a)
    (tmp_path / "b.20i").write_text(a)
    with pytest.raises(ValueError, match="overlap in time"):
        open_ionex([tmp_path / "a.20i", tmp_path / "b.20i"])
    with pytest.raises(FileNotFoundError, match="no IONEX file matches"):
        open_ionex(str(tmp_path / "zz*.20i"))
