"""geostl.evaluate: a forecast Dataset scored against a truth Dataset.

The hand-worked cases compute every expected score with a float64 NumPy formula written here
(cos-latitude weights, the area mask, the baselines rolled and averaged by hand); the slow case
checks that the NetCDF written by ``geostl predict`` scores exactly as ``geostl test`` did.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import geostl
from geostl.datasets import sample
from geostl.metrics import MetricTable
from geostl.outputs.netcdf import write_dataset_netcdf

T0 = np.datetime64("2020-01-01T00:00", "ns")
HOUR = np.timedelta64(1, "h").astype("timedelta64[ns]")
LAT = np.array([60.0, 0.0, -60.0])
LON = np.array([0.0, 90.0, 180.0, 270.0])
#: an area mask with weights (0 = not scored, 0.5 = half weight)
MASK = np.array([[1.0, 1.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0], [0.5, 1.0, 1.0, 1.0]])


def _truth(times, values, lat=LAT, lon=LON, units="TECU", dims=("lat", "lon")) -> xr.Dataset:
    return xr.Dataset(
        {"tec": (("time", *dims), values, {"units": units})},
        coords={"time": np.asarray(times, "datetime64[ns]"), dims[0]: lat, dims[1]: lon},
    )


def _forecast(init, leads_h, values, lat=LAT, lon=LON, units="TECU", dims=("lat", "lon")):
    init = np.asarray(init, "datetime64[ns]")
    leads = np.asarray(leads_h) * HOUR
    return xr.Dataset(
        {"tec": (("init_time", "lead_time", *dims), values, {"units": units})},
        coords={
            "init_time": init,
            "lead_time": leads,
            "valid_time": (("init_time", "lead_time"), init[:, None] + leads[None, :]),
            dims[0]: lat,
            dims[1]: lon,
        },
    )


@pytest.fixture
def case():
    """Truth at T0, T0+1h, T0+2h on a 3 x 4 global grid; a forecast issued at T0 for +1 h and
    +2 h with one pixel without forecast; one truth pixel missing at +2 h."""
    rng = np.random.default_rng(7)
    truth = rng.uniform(5.0, 40.0, size=(3, 3, 4))
    truth[2, 0, 3] = np.nan
    fc = truth[1:] + rng.normal(0.0, 2.0, size=(2, 3, 4))
    fc[0, 1, 2] = np.nan
    return truth, fc[None]


def _scores(p, y, ok, lat_w):
    """float64 reference: per-lead (rmse, mae, bias, mse) and the pooled ones, weights
    ok x MASK x lat_w; p, y (T, H, W)."""
    w = np.where(ok, MASK * lat_w[:, None], 0.0)
    d = np.where(ok, p - y, 0.0)
    per = lambda x: (x).sum(axis=(1, 2))  # noqa: E731
    se, ae, e, W = per(w * d * d), per(w * np.abs(d)), per(w * d), per(w)
    leads = [(se[k] / W[k], ae[k] / W[k], e[k] / W[k]) for k in range(p.shape[0])]
    leads.append((se.sum() / W.sum(), ae.sum() / W.sum(), e.sum() / W.sum()))
    return {
        "mse": [x[0] for x in leads],
        "mae": [x[1] for x in leads],
        "bias": [x[2] for x in leads],
    }


def _check(table, expected, weighting, leads=("+1 h", "+2 h", "all")):
    for i, lead in enumerate(leads):
        for metric in ("mse", "mae", "bias"):
            got = table.value(metric, "tec", lead, weighting)
            assert got == pytest.approx(expected[metric][i], rel=1e-12, abs=1e-12), (metric, lead)
        got = table.value("rmse", "tec", lead, weighting)
        assert got == pytest.approx(np.sqrt(expected["mse"][i]), rel=1e-12)


def _sun_fixed(last, lead_h):
    """The map rotated westward with the Sun, by hand on the 90-degree grid: the value at
    lon + 15 deg/h x lead, linear between columns."""
    f = 15.0 * lead_h / 90.0
    return (1 - f) * last + f * np.roll(last, -1, axis=-1)


def test_hand_worked_scores_with_every_baseline(case):
    truth, fc = case
    times = T0 + HOUR * np.arange(3)
    # climatology fitted on two earlier days at 01:00 and 02:00
    clim_times = [T0 - 48 * HOUR + HOUR, T0 - 48 * HOUR + 2 * HOUR, T0 - 24 * HOUR + HOUR]
    clim_times.append(T0 - 24 * HOUR + 2 * HOUR)
    clim_maps = np.random.default_rng(3).uniform(5.0, 40.0, size=(4, 3, 4))
    tables = geostl.evaluate(
        _forecast([T0], [1, 2], fc),
        _truth(times, truth),
        ["persistence", "sun_fixed", "climatology"],
        mask=MASK,
        climatology=_truth(clim_times, clim_maps),
    )
    assert list(tables) == ["model", "persistence", "sun-fixed persistence", "climatology"]
    y, p = truth[1:], fc[0]
    pers = np.broadcast_to(truth[0], y.shape)
    sun = np.stack([_sun_fixed(truth[0], h) for h in (1, 2)])
    clim = np.stack([(clim_maps[0] + clim_maps[2]) / 2, (clim_maps[1] + clim_maps[3]) / 2])
    ok = np.isfinite(y) & np.isfinite(p)  # the baselines have a value everywhere
    assert ok.sum() == 22
    for weighting, lat_w in (("lat", np.cos(np.deg2rad(LAT))), ("plain", np.ones(3))):
        model = _scores(p, y, ok, lat_w)
        _check(tables["model"], model, weighting)
        for label, f in (
            ("persistence", pers),
            ("sun-fixed persistence", sun),
            ("climatology", clim),
        ):
            ref = _scores(f, y, ok, lat_w)
            _check(tables[label], ref, weighting)
            key = {"persistence": "persistence", "climatology": "climatology"}.get(
                label, "sun_fixed"
            )
            skill = tables["model"].value(f"skill_{key}", "tec", "all", weighting)
            assert skill == pytest.approx(1 - model["mse"][2] / ref["mse"][2], rel=1e-12)
    # n_valid: pixels that count (the mask's 0 excluded)
    counts = (ok & (MASK > 0)).sum(axis=(1, 2))
    assert tables["model"].value("n_valid", "tec", "+1 h", "count") == counts[0]
    assert tables["model"].value("n_valid", "tec", "+2 h", "count") == counts[1]
    assert tables.n_maps == 2 and tables.n_left_out == 0
    assert tables["model"].units == {"tec": "TECU"}


def test_repeated_meridian_counts_once(case):
    truth, fc = case
    times = T0 + HOUR * np.arange(3)
    lon5 = np.array([-180.0, -90.0, 0.0, 90.0, 180.0])
    # the 4-column grid seen from -180, with 180 a copy of -180
    t4 = np.roll(truth, 2, axis=-1)
    f4 = np.roll(fc, 2, axis=-1)
    t5 = np.concatenate([t4, t4[..., :1]], axis=-1)
    f5 = np.concatenate([f4, f4[..., :1]], axis=-1)
    once = geostl.evaluate(
        _forecast([T0], [1, 2], f4, lon=lon5[:4]),
        _truth(times, t4, lon=lon5[:4]),
        ["persistence", "sun_fixed"],
    )
    twice = geostl.evaluate(
        _forecast([T0], [1, 2], f5, lon=lon5), _truth(times, t5, lon=lon5), ["persistence"]
    )
    for label in ("model", "persistence"):
        for lead in ("+1 h", "all"):
            for weighting in ("lat", "plain"):
                a = once[label].value("rmse", "tec", lead, weighting)
                b = twice[label].value("rmse", "tec", lead, weighting)
                assert b == pytest.approx(a, rel=1e-12)
    # sun-fixed persistence on the 5-column grid equals the 4-column one too
    sun5 = geostl.evaluate(
        _forecast([T0], [1, 2], f5, lon=lon5), _truth(times, t5, lon=lon5), ["sun_fixed"]
    )
    a = once["sun-fixed persistence"].value("rmse", "tec", "all")
    assert sun5["sun-fixed persistence"].value("rmse", "tec", "all") == pytest.approx(a, rel=1e-12)


def test_reference_forecast_aligned_by_valid_time(case):
    truth, fc = case
    times = T0 + HOUR * np.arange(3)
    # issued an hour earlier, leads 1..3 h: its +2 h and +3 h are valid at T0+1h and T0+2h
    ref = np.random.default_rng(5).uniform(5.0, 40.0, size=(1, 3, 3, 4))
    ref[0, 2, 2, 0] = np.nan  # a pixel without a reference forecast: left out of every score
    tables = geostl.evaluate(
        _forecast([T0], [1, 2], fc),
        _truth(times, truth),
        mask=MASK,
        references={"agency": _forecast([T0 - HOUR], [1, 2, 3], ref)},
    )
    assert list(tables) == ["model", "persistence", "agency"]
    y, p, r = truth[1:], fc[0], ref[0, 1:]
    ok = np.isfinite(y) & np.isfinite(p) & np.isfinite(r)
    lat_w = np.cos(np.deg2rad(LAT))
    model, agency = _scores(p, y, ok, lat_w), _scores(r, y, ok, lat_w)
    pers = _scores(np.broadcast_to(truth[0], y.shape), y, ok, lat_w)
    _check(tables["model"], model, "lat")
    _check(tables["agency"], agency, "lat")
    skill = tables["model"].value("skill_agency", "tec", "+2 h")
    assert skill == pytest.approx(1 - model["mse"][1] / agency["mse"][1], rel=1e-12)
    skill = tables["agency"].value("skill_persistence", "tec", "all")
    assert skill == pytest.approx(1 - agency["mse"][2] / pers["mse"][2], rel=1e-12)


def test_missing_valid_time_is_named_or_skipped_and_counted(case):
    truth, fc = case
    times = T0 + HOUR * np.arange(3)
    two = _forecast([T0, T0 + HOUR], [1, 2], np.concatenate([fc, fc]))  # 2nd: T0+2h, T0+3h
    with pytest.raises(ValueError, match=r"truth has no map at the valid time 2020-01-01 03:00"):
        geostl.evaluate(two, _truth(times, truth))
    with pytest.warns(UserWarning, match="1 of 4 forecast maps left out"):
        tables = geostl.evaluate(two, _truth(times, truth), mask=MASK, missing_truth="skip")
    assert (tables.n_maps, tables.n_left_out, tables.n_scored) == (4, 1, 3)
    assert tables.left_out == [(T0 + HOUR, T0 + 3 * HOUR)]
    assert "1 of 4 forecast maps left out" in tables["model"].notes["left_out"]
    y = np.stack([truth[1:], np.stack([truth[2], np.full((3, 4), np.nan)])])
    p = np.concatenate([fc, fc])
    last = np.stack([truth[0], truth[1]])[:, None]
    ok = np.isfinite(y) & np.isfinite(p)
    lat_w = np.cos(np.deg2rad(LAT))
    # pooled over both init times: sums per lead over (init, pixel)
    w = np.where(ok, MASK * lat_w[:, None], 0.0)
    for label, f in (("model", p), ("persistence", np.broadcast_to(last, y.shape))):
        d = np.where(ok, f - y, 0.0)
        mse = (w * d * d).sum(axis=(0, 2, 3)) / w.sum(axis=(0, 2, 3))
        assert tables[label].value("mse", "tec", "+2 h") == pytest.approx(mse[1], rel=1e-12)
    # a missing init time (persistence needs the truth there) is named too
    with pytest.raises(ValueError, match=r"no map at the init time 2020-01-01 00:00"):
        geostl.evaluate(_forecast([T0], [1, 2], fc), _truth(times[1:], truth[1:]))
    # ... but not needed without persistence or sun_fixed
    geostl.evaluate(_forecast([T0], [1, 2], fc), _truth(times[1:], truth[1:]), baselines=())


def test_grid_units_and_variable_mismatches_are_named(case):
    truth, fc = case
    times = T0 + HOUR * np.arange(3)
    forecast = _forecast([T0], [1, 2], fc)
    with pytest.raises(ValueError, match=r"coordinate 'lat' differs .*\(reversed order\)"):
        geostl.evaluate(forecast, _truth(times, truth[:, ::-1], lat=LAT[::-1]))
    with pytest.raises(ValueError, match=r"coordinate 'lon' differs .* index 0: 2.5 vs 0"):
        geostl.evaluate(forecast, _truth(times, truth, lon=LON + 2.5))
    with pytest.raises(ValueError, match=r"truth: 3 values along 'lon', the forecast has 4"):
        geostl.evaluate(forecast, _truth(times, truth[..., :3], lon=LON[:3]))
    with pytest.raises(ValueError, match=r"units 'K', truth variable 'tec' 'TECU'"):
        geostl.evaluate(_forecast([T0], [1, 2], fc, units="K"), _truth(times, truth))
    with pytest.raises(ValueError, match=r"variables: \['rms'\] not in the forecast"):
        geostl.evaluate(forecast, _truth(times, truth), variables=["rms"])
    with pytest.raises(ValueError, match=r"'climatology' needs climatology="):
        geostl.evaluate(forecast, _truth(times, truth), ["climatology"])
    with pytest.raises(ValueError, match=r"sun_fixed needs a grid that is global"):
        geostl.evaluate(
            _forecast([T0], [1, 2], fc, lon=LON / 3),  # 0 .. 90 E only
            _truth(times, truth, lon=LON / 3),
            ["sun_fixed"],
        )


def test_file_units_and_a_scalar_init_time(case, tmp_path):
    """A forecast read back from a NetCDF file (TEC in UDUNITS' 1e16 m-2) and with init_time
    squeezed to a scalar scores as the Dataset it came from."""
    truth, fc = case
    times = T0 + HOUR * np.arange(3)
    forecast = _forecast([T0], [1, 2], fc)
    path = write_dataset_netcdf(forecast, tmp_path / "f.nc")
    with xr.open_dataset(path) as read:
        assert read["tec"].attrs["units"] == "1e16 m-2"
        from_file = geostl.evaluate(read.isel(init_time=0), _truth(times, truth))
    direct = geostl.evaluate(forecast, _truth(times, truth))
    assert from_file["model"].rows == direct["model"].rows


def test_pixel_grid_plain_weighting(case):
    truth, fc = case
    times = T0 + HOUR * np.arange(3)
    dims = ("y", "x")
    forecast = _forecast([T0], [1, 2], fc, lat=np.arange(3), lon=np.arange(4), dims=dims)
    tr = _truth(times, truth, lat=np.arange(3), lon=np.arange(4), units="1", dims=dims)
    forecast["tec"].attrs["units"] = "1"
    tables = geostl.evaluate(forecast, tr, mask=MASK)
    assert tables["model"].weightings("rmse") == ["plain"]
    y, p = truth[1:], fc[0]
    ok = np.isfinite(y) & np.isfinite(p)
    _check(tables["model"], _scores(p, y, ok, np.ones(3)), "plain")
    with pytest.raises(ValueError, match=r"sun_fixed needs longitudes; the grid is a pixel grid"):
        geostl.evaluate(forecast, tr, ["sun_fixed"])


# -- geostl predict's NetCDF reproduces geostl test's metrics.json ------------------------------
def _rows(table: MetricTable) -> dict[tuple, float]:
    return {(r["metric"], r["channel"], r["lead"], r["weighting"]): r["value"] for r in table.rows}


def _worst(a: MetricTable, b: MetricTable) -> float:
    """The largest difference of two tables' values, relative to max(1, |value|)."""
    ra, rb = _rows(a), _rows(b)
    assert ra.keys() == rb.keys()
    return max(abs(ra[k] - rb[k]) / max(1.0, abs(ra[k])) for k in ra)


@pytest.mark.slow
def test_scores_of_the_predict_file_reproduce_geostl_test(tiny_tec_run, tmp_path):
    """geostl.evaluate on the NetCDF of geostl predict == that checkpoint's metrics.json."""
    from geostl.cli import main
    from geostl.engine import load_checkpoint

    baselines = "eval.baselines=[persistence,sun_fixed,climatology]"
    assert main(["test", "--ckpt", str(tiny_tec_run), "--out", str(tmp_path), baselines]) == 0
    assert main(["predict", "--ckpt", str(tiny_tec_run), "--out", str(tmp_path / "f.nc")]) == 0
    saved = json.loads((tmp_path / "metrics.json").read_text())["tables"]
    expected = {k: MetricTable.from_dict(v) for k, v in saved.items()}
    cfg = load_checkpoint(tiny_tec_run)["config"]
    truth = sample("tec")
    train = cfg["data"]["splits"]["train"]
    in_train = (truth.time >= np.datetime64(train["start"])) & (
        truth.time < np.datetime64(train["end"])
    )
    training = truth.isel(time=np.flatnonzero(in_train.values))
    names = ["persistence", "sun_fixed", "climatology"]
    with xr.open_dataset(tmp_path / "f.nc", engine="h5netcdf") as forecast:
        assert forecast["tec"].dtype == np.float64
        tables = geostl.evaluate(forecast, truth, baselines=names, climatology=training)
        # stored as float32 the forecast is rounded by ~1e-7 relative: visible at 1e-10
        rounded = geostl.evaluate(
            forecast.astype(np.float32), truth, baselines=names, climatology=training
        )
    assert list(tables) == list(expected)
    compared = 0
    for label, table in tables.items():
        for row in saved[label]["rows"]:
            got = table.value(row["metric"], row["channel"], row["lead"], row["weighting"])
            assert got == pytest.approx(row["value"], rel=1e-11, abs=1e-12), (label, row)
            compared += 1
        assert table.units == expected[label].units and table.notes == expected[label].notes
    assert compared > 100
    assert tables.n_left_out == 0
    # the comparison above can fail: float32 storage moves the model's scores by more
    assert _worst(expected["model"], rounded["model"]) > 1e-10


# -- geostl score -------------------------------------------------------------------------------
SAMPLE = Path(geostl.__file__).parent / "datasets" / "_data" / "tec"


def test_score_command_equals_the_api(tmp_path, capsys):
    """``geostl score`` on a real IONEX truth file: metrics.json holds the API's tables."""
    from geostl.cli import main
    from geostl.io import open_ionex

    day = SAMPLE / "uqrg1160.19i.gz"
    truth = open_ionex([day])
    init = truth["time"].values[[40, 80]]  # 2019-04-26 10:00 and 20:00
    leads = np.arange(1, 5) * np.timedelta64(15, "m").astype("timedelta64[ns]")
    at = truth["tec"].sel(time=(init[:, None] + leads).ravel()).values
    noise = np.random.default_rng(1).normal(0.0, 1.5, size=at.shape)
    values = (at + noise).reshape(2, 4, *at.shape[1:])
    forecast = xr.Dataset(
        {"tec": (("init_time", "lead_time", "lat", "lon"), values, {"units": "TECU"})},
        coords={"init_time": init, "lead_time": leads, "lat": truth.lat, "lon": truth.lon},
    )
    path = write_dataset_netcdf(forecast, tmp_path / "f.nc")
    argv = ["score", "--forecast", str(path), "--truth", str(day)]
    argv += ["--baselines", "persistence", "sun_fixed", "--out", str(tmp_path / "s")]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "8 of 8 forecast maps scored" in printed
    assert "| lead | model | persistence | sun-fixed persistence |" in printed
    saved = json.loads((tmp_path / "s" / "metrics.json").read_text())
    api = geostl.evaluate(forecast, truth, ["persistence", "sun_fixed"])
    assert list(saved["tables"]) == list(api)
    for label, table in api.items():
        assert MetricTable.from_dict(saved["tables"][label]).rows == table.rows
    # the forecast is the truth plus noise of sd 1.5: its RMSE is about that
    assert api["model"].value("rmse", "tec", "all") == pytest.approx(1.5, rel=0.05)
    # a truth (NetCDF) that ends before a valid time: an error naming it, exit code 2
    short = tmp_path / "truth.nc"
    truth.isel(time=slice(0, 82)).to_netcdf(short)  # up to 20:15
    assert main(["score", "--forecast", str(path), "--truth", str(short)]) == 2
    assert "truth has no map at the valid time 2019-04-26 20:30:00" in capsys.readouterr().err


# -- cases of a 3 x 4 grid with 5 hourly maps ----------------------------------------------------
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
    with pytest.raises(ValueError, match=r"truth has no map at the valid time 2020-01-01 04:00"):
        geostl.evaluate(fc, truth_ds.isel(time=[0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"truth: coordinate 'lat' differs from the forecast's"):
        geostl.evaluate(fc, truth_ds.assign_coords(lat=[50.0, 0.0, -50.0]))
    bad_units = truth_ds.assign(tec=truth_ds.tec.assign_attrs(units="el m-2"))
    with pytest.raises(ValueError, match=r"'tec' has units '1e16 m-2', truth variable 'tec'"):
        geostl.evaluate(fc, bad_units)
    with pytest.raises(ValueError, match="needs climatology="):
        geostl.evaluate(fc, truth_ds, baselines=["climatology"])


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


@pytest.mark.slow
def test_predict_without_out_writes_into_the_run_folder(tiny_tec_run, tmp_path, monkeypatch):
    from geostl.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["predict", "--ckpt", str(tiny_tec_run), "--split", "val"]) == 0
    written = tiny_tec_run.parent / "forecast_val.nc"
    assert written.stat().st_size > 0
    assert not list(tmp_path.iterdir())  # nothing in the current directory
    assert xr.open_dataset(written)["tec"].dims[0] == "init_time"
