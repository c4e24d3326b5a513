"""``geostl ingest``: IONEX day files -> one Zarr / NetCDF store equal to ``open_ionex`` of them.

The day files are the real UQRG sample maps (hourly maps of 2019-04-25 and -26, 00 to 24 UT
each, so consecutive files share their boundary epoch with *different* values, as real
archives do) written by ``write_ionex``, cycled and moved to the days their names stand for.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from conftest import TINY_TEC_OVERRIDES
from geostl.archives.ingest import ingest
from geostl.cli import main
from geostl.datasets import sample
from geostl.io import open_ionex, open_omni2, write_ionex

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "src" / "geostl" / "datasets" / "_data" / "tec"


def write_days(folder: Path, n: int, first_day: str = "2019-04-25") -> list[Path]:
    """``n`` IONEX day files ``uqrgDDD0.19i.gz`` of 25 hourly real maps each (00 .. 24 UT)."""
    tec = sample("tec")["tec"]
    hourly = tec.sel(time=tec["time"].dt.minute == 0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    start = np.datetime64(first_day, "D")
    for k in range(n):
        real_day = np.datetime64("2019-04-25", "D") + (k % 2)
        maps = hourly.sel(time=slice(real_day, real_day + np.timedelta64(1, "D")))
        assert maps.sizes["time"] == 25
        day = start + k
        moved = maps.assign_coords(time=maps["time"].values - real_day + day)
        doy = int(str(day - day.astype("datetime64[Y]")).split()[0]) + 1
        path = folder / f"uqrg{doy:03d}0.{str(day)[2:4]}i.gz"
        write_ionex(moved, path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_days(tmp_path_factory.mktemp("ionex"), 4)


def _assert_same_maps(store: xr.Dataset, ref: xr.Dataset) -> None:
    np.testing.assert_array_equal(store["time"].values, ref["time"].values)
    assert set(store.data_vars) == set(ref.data_vars)
    for name in ref.data_vars:
        np.testing.assert_array_equal(store[name].values, ref[name].values)
        assert store[name].dtype == ref[name].dtype == np.float32
        assert store[name].attrs["units"] == "TECU"
    np.testing.assert_array_equal(store["lat"].values, ref["lat"].values)
    np.testing.assert_array_equal(store["lon"].values, ref["lon"].values)


def test_store_equals_open_ionex_of_the_files(days: list[Path], tmp_path: Path) -> None:
    report = ingest(days, tmp_path / "tec.zarr")
    ref = open_ionex(days)
    assert ref.sizes["time"] == 4 * 24 + 1  # boundary epochs kept once
    with xr.open_zarr(tmp_path / "tec.zarr") as ds:
        assert ds["tec"].chunks is not None  # lazy, read chunk by chunk
        assert ds["tec"].encoding["chunks"] == (24, 71, 73)
        _assert_same_maps(ds, ref)
        sums = ds.attrs["source_sha256"].splitlines()
        assert sums == [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" for p in days]
        assert ds.attrs["source_files"].splitlines() == [p.name for p in days]
        assert ds.attrs["geostl_version"]
    assert report.added == 97 and report.times == 97 and len(report.files) == 4
    # the day-boundary rule: 2019-04-27 00 UT comes from the third (later) file
    boundary = open_ionex(days[2])["tec"].isel(time=0).values
    np.testing.assert_array_equal(ref["tec"].sel(time="2019-04-27T00:00").values, boundary)
    assert not np.array_equal(open_ionex(days[1])["tec"].isel(time=-1).values, boundary)


def test_two_processes_give_the_same_store(days: list[Path], tmp_path: Path) -> None:
    ingest(days, tmp_path / "tec.zarr", jobs=2)
    with xr.open_zarr(tmp_path / "tec.zarr") as ds:
        _assert_same_maps(ds, open_ionex(days))


@pytest.mark.parametrize("suffix", [".zarr", ".nc"])
def test_appending_one_day_equals_ingesting_all_at_once(
    days: list[Path], tmp_path: Path, suffix: str
) -> None:
    store = tmp_path / f"tec{suffix}"
    ingest(days[:3], store)
    report = ingest(days[3:], store, append=True)
    assert report.added == 24 and report.replaced == 1 and report.times == 97
    whole = tmp_path / f"whole{suffix}"
    ingest(days, whole)
    with xr.open_dataset(store, engine="zarr" if suffix == ".zarr" else "h5netcdf") as a:
        with xr.open_dataset(whole, engine="zarr" if suffix == ".zarr" else "h5netcdf") as b:
            _assert_same_maps(a, b)
            assert a.attrs["source_sha256"] == b.attrs["source_sha256"]
        _assert_same_maps(a, open_ionex(days))


def test_append_is_idempotent_on_the_same_files(days: list[Path], tmp_path: Path) -> None:
    store = tmp_path / "tec.zarr"
    ingest(days, store)
    before = {p.relative_to(store): p.read_bytes() for p in store.rglob("*") if p.is_file()}
    report = ingest(days, store, append=True)
    assert report.added == 0 and len(report.skipped) == 4 and report.files == []
    after = {p.relative_to(store): p.read_bytes() for p in store.rglob("*") if p.is_file()}
    assert after == before


def test_append_refuses_an_overlap_with_different_values(days: list[Path], tmp_path: Path) -> None:
    store = tmp_path / "tec.zarr"
    ingest(days[:2], store)
    changed = open_ionex(days[1])["tec"]
    changed[5] += 1.0
    other = tmp_path / "again" / days[1].name
    other.parent.mkdir()
    write_ionex(changed, other)
    with pytest.raises(
        ValueError, match=rf"{other.name} has different tec values at 2019-04-26T05"
    ):
        ingest([other], store, append=True)
    with xr.open_zarr(store) as ds:  # the store is unchanged
        _assert_same_maps(ds, open_ionex(days[:2]))


def test_append_refuses_a_day_inside_the_store(days: list[Path], tmp_path: Path) -> None:
    store = tmp_path / "tec.zarr"
    ingest([days[0], days[1], days[3]], store)
    with pytest.raises(ValueError, match="inside the span of .* where the store has none"):
        ingest([days[2]], store, append=True)


def test_cli_errors_and_summary(days: list[Path], tmp_path: Path, capsys) -> None:
    store = tmp_path / "tec.zarr"
    assert main(["ingest", *map(str, days), "--out", str(store)]) == 0
    out = capsys.readouterr().out
    assert "read 4 files" in out and "97 times 2019-04-25T00:00 .. 2019-04-29T00:00" in out
    assert f"{{paths: {store}, format: zarr}}" in out
    assert main(["ingest", str(days[0]), "--out", str(store)]) == 2
    assert "exists; pass --append" in capsys.readouterr().err
    assert main(["ingest", str(days[0]), "--out", str(tmp_path / "x.h5")]) == 2
    assert "must end in .zarr" in capsys.readouterr().err


def test_drivers_go_to_a_sibling_store(tmp_path: Path) -> None:
    src = SAMPLE_DIR / "omni2_2019_0411-0503.dat.gz"
    ingest([src], tmp_path / "omni2.zarr", format="omni2")
    ref = open_omni2(src)
    with xr.open_zarr(tmp_path / "omni2.zarr") as ds:
        xr.testing.assert_identical(ds.load().drop_attrs(), ref.drop_attrs())
        assert ds["kp"].attrs == ref["kp"].attrs


def test_training_from_the_store_gives_the_same_metrics(tmp_path: Path) -> None:
    from geostl.commands.run import train
    from geostl.runconfig import load_config

    files = [SAMPLE_DIR / "uqrg1150.19i.gz", SAMPLE_DIR / "uqrg1160.19i.gz"]
    omni = SAMPLE_DIR / "omni2_2019_0411-0503.dat.gz"
    ingest(files, tmp_path / "tec.zarr", jobs=2)
    ingest([omni], tmp_path / "omni2.zarr")
    config = Path(__file__).resolve().parents[1] / "configs" / "tec_convlstm.yaml"
    sources = {
        "files": [
            f"data.sources.maps={{paths: [{files[0]}, {files[1]}], format: ionex}}",
            f"data.sources.omni={{paths: {omni}, format: omni2}}",
        ],
        "store": [
            f"data.sources.maps={{paths: {tmp_path / 'tec.zarr'}, format: zarr}}",
            f"data.sources.omni={{paths: {tmp_path / 'omni2.zarr'}, format: zarr}}",
        ],
    }
    metrics = {}
    for name, overrides in sources.items():
        cfg = load_config([config], [f"run.dir={tmp_path}", f"run.name={name}",
                                     *TINY_TEC_OVERRIDES, *overrides])  # fmt: skip
        run = train(cfg, figures=False)
        metrics[name] = json.loads((run / "metrics.json").read_text())
        assert metrics[name].pop("checkpoint") == str(run / "best.pt")
    assert metrics["store"] == metrics["files"]
    assert "rmse" in json.dumps(metrics["files"])  # something was scored
