"""The field's baselines: 27-day persistence, an agency's predicted maps, IRI-2020 (PyIRI)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from engine_toy import tec_datasets, tiny_model
from geostl.baselines.recurrence import recurrence_forecast
from geostl.engine import evaluate
from geostl.io import write_ionex


def _daily(days: int) -> xr.DataArray:
    t = np.datetime64("2020-01-01", "ns") + np.arange(days) * np.timedelta64(1, "D")
    values = np.arange(days, dtype=np.float64)[:, None, None] * np.ones((1, 2, 3))
    values[3, 0, 1] = np.nan
    return xr.DataArray(
        values, dims=("time", "lat", "lon"), coords={"time": t, "lat": [10.0, 0.0],
                                                      "lon": [0.0, 1.0, 2.0]}
    )  # fmt: skip


def test_recurrence_takes_the_map_27_days_before():
    da = _daily(40)
    valid = np.array([["2020-01-28", "2020-01-31"], ["2020-02-05", "2020-01-30"]],
                     dtype="datetime64[ns]")  # fmt: skip
    forecast, ok = recurrence_forecast(da, valid)
    # the map of day d holds the value d (days since 2020-01-01); 27 days before:
    assert forecast[:, :, 1, 2].tolist() == [[0.0, 3.0], [8.0, 2.0]]
    assert not ok[0, 1, 0, 1] and ok[0, 1].sum() == 5  # the NaN pixel of day 3
    with pytest.raises(ValueError, match=r"27 days before.*no map at 2019-12-31 00:00:00"):
        recurrence_forecast(da, np.array([["2020-01-27"]], dtype="datetime64[ns]"))


def _shifted_back(maps: xr.Dataset, period: np.timedelta64) -> xr.Dataset:
    """The sample with a copy of itself ``period`` earlier (a hand-made long record)."""
    early = maps.assign_coords(time=maps.time - period)
    return xr.concat([early, maps], dim="time")


def test_27_day_persistence_in_the_engine_has_a_known_answer():
    ds, sources, _ = tec_datasets(t_out=4)
    test = ds["test"]
    model = tiny_model(ds["train"], seed=1)
    long = dict(sources, maps=_shifted_back(sources["maps"], np.timedelta64(27, "D")))
    tables = evaluate(model, test, {"baselines": ["persistence_27d"]}, long)
    # 27 days before each valid time the record holds the same map: a perfect forecast
    for lead in ("+15 min", "+1 h", "all"):
        assert tables["27-day persistence"].value("rmse", "tec", lead, "lat") == 0.0
    with pytest.raises(ValueError, match=r"27 days before the valid times.*no map at 2019-03-3"):
        evaluate(model, test, {"baselines": ["persistence_27d"]}, sources)


def test_an_agency_prediction_read_from_ionex(tmp_path):
    """A predicted IONEX file (the truth + 1 TECU at every test valid time) scores MAE 1."""
    ds, sources, _ = tec_datasets(t_out=4)
    test = ds["test"]
    maps = sources["maps"]["tec"]
    first = test.window_times(0)[test.t_in]
    last = test.window_times(len(test) - 1)[-1]
    predicted = (maps.sel(time=slice(first, last)) + 1.0).rename("tec")
    path = write_ionex(predicted, tmp_path / "cod1160.19p").path  # a made-up 1-day prediction
    cfg = {"baselines": [], "references": {"CODE 1-day": {"paths": [str(path)],
                                                           "format": "ionex"}}}  # fmt: skip
    tables = evaluate(tiny_model(ds["train"]), test, cfg)
    for lead in ("+15 min", "all"):
        mae = tables["CODE 1-day"].value("mae", "tec", lead, "lat")
        assert mae == pytest.approx(1.0, abs=1e-5)  # the UPC maps are 0.1 TECU exact
    assert "skill_CODE 1-day" in tables["model"].metrics()
    short = write_ionex(predicted.isel(time=slice(0, -1)), tmp_path / "short.19p").path
    cfg["references"] = {"CODE": {"paths": [str(short)], "format": "ionex"}}
    with pytest.raises(ValueError, match=r"eval.references.CODE: no map at 2019-04-27 00:00"):
        evaluate(tiny_model(ds["train"]), test, cfg)


def test_iri_tec_equals_pyiri_called_directly():
    pyiri = pytest.importorskip("PyIRI")
    import PyIRI.main_library as library

    from geostl.baselines.iri import IRI_ALTITUDES_KM, iri_tec

    lat, lon = np.array([45.0, 0.0, -30.0]), np.array([-120.0, 0.0, 60.0, 150.0])
    times = np.array([["2019-04-26T10:00", "2019-04-26T13:30"]], dtype="datetime64[ns]")
    got = iri_tec(times, lat, lon, np.array([72.5]))
    grid_lon, grid_lat = np.meshgrid(lon, lat)
    *_, edp = library.IRI_density_1day(2019, 4, 26, np.array([10.0, 13.5]), grid_lon.ravel(),
                                       grid_lat.ravel(), IRI_ALTITUDES_KM, 72.5,
                                       pyiri.coeff_dir, 0)  # fmt: skip
    want = library.edp_to_vtec(edp, IRI_ALTITUDES_KM).reshape(2, 3, 4)
    np.testing.assert_allclose(got[0], want, rtol=1e-12)
    assert 1.0 < float(want.mean()) < 60.0  # TECU


@pytest.mark.slow
def test_iri_in_the_engine_uses_the_f107_at_the_issue_time():
    pytest.importorskip("PyIRI")
    from geostl.baselines.iri import iri_tec
    from geostl.engine.config import EvalConfig
    from geostl.engine.evaluate import _ExtraBaselines

    ds, sources, _ = tec_datasets(t_out=2)
    test = ds["test"]
    extra = _ExtraBaselines(test, sources, EvalConfig.from_dict({"baselines": ["iri"]}), ["iri"])
    batch = torch.utils.data.default_collate([test[0], test[5]])
    got = extra.forecasts(batch)["iri"]  # (2, 2, 1, 72, 76) on the padded grid
    for row, k in enumerate((0, 5)):
        f107 = test.forcings.series("f107")[test.starts[k] + test.t_in - 1]  # the issue time
        times = test.window_times(k)[test.t_in :][None]
        want = iri_tec(times, test.axis.rows, test.axis.cols, np.array([f107]))
        np.testing.assert_array_equal(test.grid_adjust.undo(got[row, :, 0]).numpy(), want[0])
