"""geostl.evaluate: any forecast Dataset scored against any truth Dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

import geostl
from geostl.datasets import sample


def _truth_and_forecast():
    """A 3 x 4 global-ish grid, 5 hourly truth maps, one forecast of 2 leads from 02:00."""
    t = np.datetime64("2020-01-01T00:00", "ns") + np.arange(5) * np.timedelta64(1, "h")
    lat = np.array([60.0, 0.0, -60.0])
    lon = np.array([-180.0, -90.0, 0.0, 90.0])
    rng = np.random.default_rng(3)
    truth = rng.uniform(5, 30, size=(5, 3, 4))
    truth[3, 1, 2] = np.nan  # a missing truth pixel at the first valid time
    pred = truth[3:5] + rng.normal(0, 2, size=(2, 3, 4))
    init = np.array([t[2]])
    lead = np.array([1, 2]) * np.timedelta64(1, "h")
    truth_ds = xr.Dataset(
        {"tec": (("time", "lat", "lon"), truth, {"units": "TECU"})},
        coords={"time": t, "lat": lat, "lon": lon},
    )
    fc = xr.Dataset(
        {"tec": (("init_time", "lead_time", "lat", "lon"), pred[None], {"units": "1e16 m-2"})},
        coords={
            "init_time": init,
            "lead_time": lead.astype("timedelta64[ns]"),
            "valid_time": (("init_time", "lead_time"), init[:, None] + lead[None]),
            "lat": lat,
            "lon": lon,
        },
    )
    return truth_ds, fc, truth, pred


def test_hand_worked_rmse_and_persistence_skill():
    truth_ds, fc, truth, pred = _truth_and_forecast()
    tables = geostl.evaluate(fc, truth_ds, baselines=["persistence"])
    w = np.cos(np.deg2rad([60.0, 0.0, -60.0]))[:, None] * np.ones((1, 4))
    last = truth[2]
    for k, lead in enumerate(("+1 h", "+2 h")):
        y = truth[3 + k]
        ok = np.isfinite(y)
        ww = np.where(ok, w, 0.0)
        e_model = np.where(ok, pred[k] - y, 0.0)
        e_pers = np.where(ok, last - y, 0.0)
        rmse = np.sqrt((ww * e_model**2).sum() / ww.sum())
        mse_p = (ww * e_pers**2).sum() / ww.sum()
        assert tables["model"].value("rmse", "tec", lead, "lat") == pytest.approx(rmse, rel=1e-12)
        got = tables["model"].value("skill_persistence", "tec", lead, "lat")
        assert got == pytest.approx(1.0 - rmse**2 / mse_p, rel=1e-12)
        pers = tables["persistence"].value("rmse", "tec", lead, "lat")
        assert pers == pytest.approx(np.sqrt(mse_p), rel=1e-12)


def test_external_references_and_errors():
    truth_ds, fc, truth, _ = _truth_and_forecast()
    maps = truth_ds.isel(time=[3, 4]) + 1.0  # an "agency" forecast as maps on a time dim
    tables = geostl.evaluate(fc, truth_ds, baselines=[], references={"agency": maps})
    assert tables["agency"].value("mae", "tec", "+1 h", "lat") == pytest.approx(1.0, rel=1e-12)
    as_layout = fc.copy(data={"tec": fc["tec"].values * 0 + truth[None, 3:5] + 1.0})
    again = geostl.evaluate(fc, truth_ds, baselines=[], references={"agency": as_layout})
    assert again["agency"].value("mae", "tec", "all", "lat") == pytest.approx(1.0, rel=1e-12)
    with pytest.raises(ValueError, match=r"truth: no map at 2020-01-01 04:00:00"):
        geostl.evaluate(fc, truth_ds.isel(time=[0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"truth: its lat .* differs from the forecast's"):
        geostl.evaluate(fc, truth_ds.assign_coords(lat=[50.0, 0.0, -50.0]))
    bad_units = truth_ds.assign(tec=truth_ds.tec.assign_attrs(units="el m-2"))
    with pytest.raises(ValueError, match=r"tec: the forecast is in '1e16 m-2' but the truth"):
        geostl.evaluate(fc, bad_units)
    with pytest.raises(ValueError, match="needs climatology="):
        geostl.evaluate(fc, truth_ds, baselines=["climatology"])


@pytest.mark.slow
def test_scores_of_the_predict_file_reproduce_geostl_test(tiny_tec_run, tmp_path):
    """geostl.evaluate on the NetCDF of geostl predict == that checkpoint's metrics.json."""
    from geostl.cli import main
    from geostl.engine import load_checkpoint

    baselines = "eval.baselines=[persistence,sun_fixed,climatology]"
    assert main(["test", "--ckpt", str(tiny_tec_run), "--out", str(tmp_path), baselines]) == 0
    assert main(["predict", "--ckpt", str(tiny_tec_run), "--out", str(tmp_path / "f.nc")]) == 0
    saved = json.loads((tmp_path / "metrics.json").read_text())["tables"]
    cfg = load_checkpoint(tiny_tec_run)["config"]
    truth = sample("tec")
    train = cfg["data"]["splits"]["train"]
    in_train = (truth.time >= np.datetime64(train["start"])) & (
        truth.time < np.datetime64(train["end"])
    )
    with xr.open_dataset(tmp_path / "f.nc", engine="h5netcdf") as forecast:
        tables = geostl.evaluate(
            forecast,
            truth,
            baselines=["persistence", "sun_fixed", "climatology"],
            climatology=truth.isel(time=np.flatnonzero(in_train.values)),
        )
    assert set(tables) == set(saved)
    compared = 0
    for label, table in tables.items():
        for row in saved[label]["rows"]:
            got = table.value(row["metric"], row["channel"], row["lead"], row["weighting"])
            assert got == pytest.approx(row["value"], rel=1e-9, abs=1e-12), (label, row)
            compared += 1
    assert compared > 100


def test_27_day_persistence_from_the_truth():
    truth_ds, fc, truth, _ = _truth_and_forecast()
    # a record 27 days longer whose maps 27 days before equal the truth + 2
    early = (truth_ds + 2.0).assign_coords(time=truth_ds.time - np.timedelta64(27, "D"))
    early["tec"].attrs = dict(truth_ds["tec"].attrs)
    long = xr.concat([early, truth_ds], dim="time")
    tables = geostl.evaluate(fc, long, baselines=["persistence_27d"])
    assert tables["27-day persistence"].value("mae", "tec", "all", "lat") == pytest.approx(2.0)
    with pytest.raises(ValueError, match="27 days before"):
        geostl.evaluate(fc, truth_ds, baselines=["persistence_27d"])
