"""Operational forecasts (geostl.forecast): a checkpoint and new files in, the next maps out.

The reference for the forecast values is the training pipeline itself: the same window of the
run config's own WindowDataset (built from the built-in sample, both days) scored through
``predict_windows``; the forecast is built only from the second day's IONEX file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

import geostl
from conftest import TINY_TEC_OVERRIDES
from geostl.commands.run import prepare
from geostl.data import ForcingStack
from geostl.engine import load_checkpoint, normaliser_from_checkpoint, predict_windows
from geostl.forecast import pick_issue_time
from geostl.io import open_ionex, open_omni2
from geostl.runconfig import load_config

DATA = Path(geostl.__file__).parent / "datasets" / "_data" / "tec"
DAY116 = DATA / "uqrg1160.19i.gz"
OMNI = DATA / "omni2_2019_0411-0503.dat.gz"
CONFIG = Path(__file__).parents[1] / "configs" / "tec_convlstm.yaml"
TINY = list(TINY_TEC_OVERRIDES)


@pytest.fixture(scope="module")
def tiny_run(tiny_tec_run) -> Path:
    return tiny_tec_run


@pytest.fixture(scope="module")
def day116() -> xr.Dataset:
    return open_ionex([DAY116])


@pytest.fixture(scope="module")
def omni() -> xr.Dataset:
    return open_omni2(OMNI)


def test_forecast_equals_the_training_pipelines_window(tiny_run, day116, omni):
    model = geostl.load(tiny_run)
    issue = np.datetime64("2019-04-26T10:00", "ns")
    out = model.forecast(day116, drivers={"omni": omni}, issue=issue)
    ref = _pipeline_forecast(tiny_run, issue)  # (T_out, 71, 73) TECU
    got = out["tec"].isel(init_time=0).values
    assert got.shape == ref.shape == (12, 71, 73)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-4)
    assert out.init_time.values[0] == issue
    leads = out.lead_time.values.astype("timedelta64[m]").astype(int)
    assert leads.tolist() == list(range(15, 181, 15))
    assert (out.valid_time.values[0] == issue + out.lead_time.values).all()
    np.testing.assert_array_equal(out.lat.values, day116.lat.values)
    assert out["tec"].attrs["units"] == "TECU"


def test_driver_values_after_the_issue_time_are_never_read(tiny_run, day116, omni):
    model = geostl.load(tiny_run)
    issue = np.datetime64("2019-04-26T12:00", "ns")
    clean = model.forecast(day116, drivers={"omni": omni}, issue=issue)
    poisoned = omni.copy(deep=True)
    for name in poisoned.data_vars:
        if "time" in poisoned[name].dims:
            poisoned[name] = poisoned[name].where(poisoned.time <= issue, 1e6)
    dirty = model.forecast(day116, drivers={"omni": poisoned}, issue=issue)
    np.testing.assert_array_equal(dirty["tec"].values, clean["tec"].values)
    # a poisoned value *before* the issue time does change the forecast (the test can fail)
    early = omni.copy(deep=True)
    early["kp"] = early["kp"].where(early.time != np.datetime64("2019-04-26T10:00"), 9.0)
    moved = model.forecast(day116, drivers={"omni": early}, issue=issue)
    assert not np.array_equal(moved["tec"].values, clean["tec"].values)


def test_default_issue_is_the_last_complete_window(tiny_run, day116, omni):
    model = geostl.load(tiny_run)
    out = model.forecast(day116, drivers=omni)  # one driver source: a Dataset is enough
    assert out.init_time.values[0] == day116.time.values[-1]  # 2019-04-27 00:00


def test_missing_input_map_is_an_error_naming_its_time(tiny_run, day116, omni):
    model = geostl.load(tiny_run)
    holed = day116.drop_sel(time=np.datetime64("2019-04-26T09:30"))
    with pytest.raises(ValueError, match=r"input map missing at 2019-04-26 09:30:00"):
        model.forecast(holed, drivers=omni, issue="2019-04-26T10:00")
    with pytest.raises(ValueError, match=r"no input map at the issue time 2019-04-26 10:05"):
        model.forecast(day116, drivers=omni, issue="2019-04-26T10:05")
    # the default issue skips windows through the hole: the last complete one (8 maps) ends
    # just before it
    out = model.forecast(holed.sel(time=slice(None, "2019-04-26T11:00")), drivers=omni)
    assert out.init_time.values[0] == np.datetime64("2019-04-26T09:15")


def test_missing_driver_before_the_issue_time_is_an_error(tiny_run, day116, omni):
    model = geostl.load(tiny_run)
    short = omni.sel(time=slice(None, "2019-04-26T05:00"))
    with pytest.raises(ValueError, match=r"driver 'omni:kp'.*no value at target time 2019-04-26"):
        model.forecast(day116, drivers=short, issue="2019-04-26T10:00")


def test_pick_issue_time_on_a_hand_made_axis():
    t = np.datetime64("2020-01-01T00:00", "ns") + np.arange(6) * np.timedelta64(1, "h")
    tec = np.ones((6, 2, 2))
    tec[5] = np.nan  # the last map is all missing
    ds = xr.Dataset({"tec": (("time", "lat", "lon"), tec)}, coords={"time": t})
    init, times = pick_issue_time(ds, ("tec",), 3, np.timedelta64(1, "h"))
    assert init == t[4] and list(times) == list(t[2:5])
    with pytest.raises(ValueError, match=r"no input map at the issue time 2020-01-01 05:00"):
        pick_issue_time(ds, ("tec",), 3, np.timedelta64(1, "h"), issue=t[5])
    with pytest.raises(ValueError, match="no 4 consecutive maps 0 days 01:00:00 apart"):
        pick_issue_time(ds.isel(time=[0, 1, 2, 4]), ("tec",), 4, np.timedelta64(1, "h"))


def test_observed_drivers_need_only_their_own_times():
    from geostl.data import ChannelSchema

    schema = ChannelSchema.from_dict(
        {
            "targets": {"source": "maps", "variables": ["tec"]},
            "forcings": [
                {"name": "kp", "source": "omni", "role": "observed", "align": "previous"}
            ],  # fmt: skip
        }
    )
    times = np.datetime64("2020-01-01T00:00", "ns") + np.arange(4) * np.timedelta64(1, "h")
    omni = xr.Dataset({"kp": ("time", [1.0, 2.0])}, coords={"time": times[:2]})
    needed = np.ones(4, dtype=bool)
    with pytest.raises(ValueError, match="no value at target time 2020-01-01T02:00"):
        ForcingStack(schema, {"omni": omni}, times, np.zeros(1), np.zeros(1), needed)
    stack = ForcingStack(
        schema,
        {"omni": omni},
        times,
        np.zeros(1),
        np.zeros(1),
        needed,
        needed_observed=np.array([True, True, False, False]),
    )
    assert stack.read("kp", np.arange(2))[:, 0, 0].tolist() == [1.0, 2.0]


def test_regrid_back_to_ionex(day116):
    from geostl.tasks.iono.regrid import regrid_ionex, regrid_to_ionex

    native = regrid_to_ionex(regrid_ionex(day116, "native"), "native")
    np.testing.assert_array_equal(native.tec.values[..., :72], day116.tec.values[..., :72])
    np.testing.assert_array_equal(native.tec.values[..., 72], day116.tec.values[..., 0])
    back = regrid_to_ionex(regrid_ionex(day116, "iono72"), "iono72")
    np.testing.assert_array_equal(back.lat.values, day116.lat.values)
    diff = np.abs(back.tec.values[..., :72] - day116.tec.values[..., :72])
    # two linear interpolations in latitude smooth the maps a little (figures in the docstring)
    assert 0.05 < float(np.nanmean(diff)) < 0.12 and float(np.nanmax(diff)) < 3.5
    ends = (slice(None), [0, -1], slice(0, 72))  # the end rows lie on source rows: copied
    np.testing.assert_array_equal(back.tec.values[ends], day116.tec.values[ends])


def test_relative_source_paths_follow_their_config_file(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    (folder / "run.yaml").write_text(
        f"_base_: {CONFIG}\n"
        "data:\n  sources:\n    maps: {paths: [data/a.19i.gz, data/b.19i.gz], format: ionex}\n"
    )
    monkeypatch.chdir(tmp_path)
    here = ["data.sources.omni.paths=here/omni2_x.dat", "data.sources.omni.format=omni2"]
    cfg = load_config([folder / "run.yaml"], here)
    paths = cfg["data"]["sources"]["maps"]["paths"]
    assert paths == [str(folder / "data" / "a.19i.gz"), str(folder / "data" / "b.19i.gz")]
    assert cfg["data"]["sources"]["omni"]["paths"] == str(tmp_path / "here" / "omni2_x.dat")


@pytest.mark.slow
def test_geostl_test_runs_from_another_directory(tiny_run, tmp_path, monkeypatch):
    """A checkpoint whose config names map files (absolute, as the loader stores relative
    ones), tested from another directory; then, the maps moved, re-pointed with --data."""
    import shutil

    from geostl.cli import main
    from geostl.engine.checkpoint import save_checkpoint

    project = tmp_path / "project"
    (project / "maps").mkdir(parents=True)
    for day in ("uqrg1150.19i.gz", "uqrg1160.19i.gz"):
        shutil.copy(DATA / day, project / "maps" / day)
    (project / "run.yaml").write_text(
        f"_base_: {CONFIG}\n"
        "data:\n  sources:\n    maps: {paths: ['maps/uqrg1*.19i.gz'], format: ionex}\n"
    )
    monkeypatch.chdir(tmp_path)  # not the config's folder
    cfg = load_config([project / "run.yaml"], TINY)
    assert cfg["data"]["sources"]["maps"]["paths"] == [str(project / "maps" / "uqrg1*.19i.gz")]
    ckpt = load_checkpoint(tiny_run)  # the same model, its config now reading the files
    ckpt["config"] = {**ckpt["config"], "data": {**ckpt["config"]["data"],
                                                  "sources": cfg["data"]["sources"]}}  # fmt: skip
    path = save_checkpoint(project / "runs" / "files" / "best.pt", ckpt)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["test", "--ckpt", str(path), "--out", "scored"]) == 0
    scored = json.loads((elsewhere / "scored" / "metrics.json").read_text())
    moved = tmp_path / "moved"
    shutil.move(project / "maps", moved)
    assert main(["test", "--ckpt", str(path), "--out", "gone"]) == 2  # the files are gone
    code = main(["test", "--ckpt", str(path), "--out", "again", "--data",
                 f"maps={moved}/uqrg1150.19i.gz,{moved}/uqrg1160.19i.gz"])  # fmt: skip
    assert code == 0
    again = json.loads((elsewhere / "again" / "metrics.json").read_text())
    assert again["tables"] == scored["tables"]


def _pipeline_forecast(ckpt_path: Path, issue: np.datetime64) -> np.ndarray:
    """The forecast of the run config's own test window ending at ``issue``, (T_out, H, W)."""
    ckpt = load_checkpoint(ckpt_path)
    _, datasets = prepare(ckpt["config"], normaliser=normaliser_from_checkpoint(ckpt))
    test = datasets["test"]
    k = [i for i in range(len(test)) if test.window_times(i)[test.t_in - 1] == issue]
    assert len(k) == 1
    model = geostl.load(ckpt_path).model
    preds = torch.cat([pred for _, pred in predict_windows(model, test, batch_size=len(test))])
    return test.grid_adjust.undo(preds[k[0], :, 0]).numpy()


@pytest.mark.slow
def test_a_weather_model_forecasts_from_a_netcdf_file(tmp_path):
    """ERA5 t2m (SimVP, standard scaling): the forecast from a NetCDF file of the last days."""
    from geostl.commands.run import train
    from geostl.datasets import sample

    cfg = load_config(
        [CONFIG.parent / "t2m_simvp.yaml"],
        [
            f"run.dir={tmp_path}",
            "run.name=t2m",
            "train.epochs=1",
            "train.max_minutes=null",
            "train.max_steps_per_epoch=2",
            "model.backbone.hid_T=8",
            "data.splits.train={start: '2019-03-01T00:00', end: '2019-03-04T00:00'}",
            "data.splits.val={start: '2019-03-05T00:00', end: '2019-03-06T00:00'}",
            "data.splits.test={start: '2019-03-28T00:00', end: '2019-03-30T00:00'}",
            "eval.baselines=[persistence]",
        ],
    )
    ckpt = train(cfg, figures=False) / "best.pt"
    path = tmp_path / "era5_t2m_last_days.nc"
    sample("t2m").sel(time=slice("2019-03-27", "2019-03-31")).to_netcdf(path, engine="h5netcdf")
    issue = np.datetime64("2019-03-28T12:00", "ns")
    with xr.open_dataset(path, engine="h5netcdf") as maps:
        out = geostl.load(ckpt).forecast(maps, issue=issue)
    ref = _pipeline_forecast(ckpt, issue)
    got = out["t2m"].isel(init_time=0).values
    assert got.shape == ref.shape == (12, 33, 49)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-3)  # K, float32 output
    assert out["t2m"].attrs["units"] == "K"


def test_cli_forecast_writes_ionex_netcdf_and_zarr_equal_to_the_api(tiny_run, day116, tmp_path):
    """geostl forecast on a later day's IONEX file (not seen in training); the files read back
    by geostl's readers and a plain-text parser equal model.forecast(...)."""
    from geostl.cli import main
    from test_ionex_write import parse_ionex

    issue = "2019-04-26T12:00"
    common = ["forecast", "--ckpt", str(tiny_run), "--input", str(DAY116),
              "--drivers", str(OMNI), "--issue", issue]  # fmt: skip
    for name in ("geos1160.19i", "forecast.nc", "forecast.zarr"):
        assert main([*common, "--out", str(tmp_path / name)]) == 0
    api = geostl.load(tiny_run).forecast(day116, drivers={"omni": open_omni2(OMNI)}, issue=issue)
    expected = api["tec"].isel(init_time=0).values
    assert np.nanmin(expected) >= 0.0  # negative TEC never leaves geostl
    epochs = np.datetime64(issue, "ns") + np.arange(1, 13) * np.timedelta64(15, "m")
    mine = parse_ionex(tmp_path / "geos1160.19i")
    np.testing.assert_allclose(mine["maps"], expected, atol=0.05 + 1e-6, equal_nan=True)
    assert (mine["epochs"].astype("datetime64[ns]") == epochs).all()
    assert any("issued 2019-04-26T12:00:00Z" in d for d in mine["header"]["DESCRIPTION"])
    theirs = open_ionex([tmp_path / "geos1160.19i"])
    np.testing.assert_allclose(theirs["tec"].values, expected, atol=0.05 + 1e-6, equal_nan=True)
    with xr.open_dataset(tmp_path / "forecast.nc", engine="h5netcdf") as nc:
        np.testing.assert_array_equal(nc["tec"].isel(init_time=0).values, expected)
        assert nc.attrs["Conventions"] == "CF-1.10"
        assert nc["init_time"].attrs["standard_name"] == "forecast_reference_time"
        assert nc["lead_time"].attrs["standard_name"] == "forecast_period"
        assert nc["tec"].attrs["units"] == "1e16 m-2"  # UDUNITS' spelling of TECU
        assert nc["tec"].attrs["clipped_below_lower_bound"] >= 0
        assert (nc.valid_time.values[0] == epochs).all()
    zarr = xr.open_zarr(tmp_path / "forecast.zarr")
    np.testing.assert_array_equal(zarr["tec"].isel(init_time=0).values, expected)


def test_forecast_netcdf_passes_the_cf_checker(tiny_run, day116, tmp_path):
    pytest.importorskip("compliance_checker")
    from compliance_checker.runner import CheckSuite, ComplianceChecker

    from geostl.outputs import write_forecast

    out = geostl.load(tiny_run).forecast(day116, drivers=open_omni2(OMNI))
    path = write_forecast(out, tmp_path / "f.nc")
    CheckSuite.load_all_available_checkers()
    report = tmp_path / "cf.json"
    ComplianceChecker.run_checker(
        str(path), ["cf:1.10"], 0, "normal", output_filename=str(report), output_format="json"
    )
    result = json.loads(report.read_text())["cf:1.10"]
    # the checker's "Errors" are its high-priority checks that did not fully pass; of its
    # medium-priority "Warnings" only the recommended T, Z, Y, X order is not followed (a
    # forecast has two time dims, init_time and lead_time, before the grid)
    high = result.get("high_priorities", [])
    errors = [(r["name"], r["msgs"]) for r in high if r["value"][0] < r["value"][1]]
    assert high and errors == [], errors
    medium = result.get("medium_priorities", [])
    warned = {r["name"] for r in medium if r["value"][0] < r["value"][1]}
    assert warned <= {"§2.4 Dimensions"}, warned


def test_predict_split_all_covers_every_window(tiny_run):
    from geostl.commands.run import whole_axis

    ckpt = load_checkpoint(tiny_run)
    sources, datasets = prepare(ckpt["config"], normaliser=normaliser_from_checkpoint(ckpt))
    every = whole_axis(datasets["test"], sources)
    # 193 maps of 15 min, windows of 8 + 12 steps: 174 windows, from the first map on
    assert len(every) == 174 > len(datasets["train"]) + len(datasets["test"])
    assert every.window_times(0)[every.t_in - 1] == np.datetime64("2019-04-25T01:45")
    assert every.window_times(173)[-1] == np.datetime64("2019-04-27T00:00")
    np.testing.assert_array_equal(every[30]["targets"], datasets["train"][30]["targets"])


@pytest.mark.slow
def test_a_72x72_model_forecasts_on_the_input_ionex_grid(tmp_path, day116, omni):
    """A model trained on regrid: iono72 maps takes IONEX 71 x 73 maps and gives them back
    on that grid: its 72 x 72 forecast regridded back (tasks.iono.regrid.regrid_to_ionex)."""
    from geostl.commands.run import train
    from geostl.tasks.iono.regrid import regrid_ionex, regrid_to_ionex

    cfg = load_config(
        [CONFIG],
        [f"run.dir={tmp_path}", "run.name=iono72", *TINY, "data.sources.maps.regrid=iono72",
         "data.padding=null"],
    )  # fmt: skip
    ckpt = train(cfg, figures=False) / "best.pt"
    model = geostl.load(ckpt)
    issue = "2019-04-26T10:00"
    out = model.forecast(day116, drivers=omni, issue=issue)
    assert out["tec"].shape == (1, 12, 71, 73)
    np.testing.assert_array_equal(out.lat.values, day116.lat.values)
    on_72 = model.forecast(regrid_ionex(day116, "iono72"), drivers=omni, issue=issue)
    assert on_72["tec"].shape == (1, 12, 72, 72)  # maps already on the model's grid
    back = regrid_to_ionex(on_72, "iono72")
    np.testing.assert_allclose(out["tec"].values, back["tec"].values, rtol=0, atol=1e-5)
