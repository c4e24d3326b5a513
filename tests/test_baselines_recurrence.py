"""27-day persistence (one solar rotation): the map observed one period before the valid time."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from engine_toy import tec_datasets, tiny_model
from geostl.baselines import SOLAR_ROTATION, recurrence_forecast
from geostl.engine import evaluate


def _daily(days: int, hours: int = 1) -> xr.DataArray:
    """``hours`` maps a day; the map at day d, hour h holds 100 d + h everywhere (2 x 3 grid),
    except one NaN pixel on day 3, hour 0."""
    step = np.timedelta64(24 // hours, "h")
    n = days * hours
    t = np.datetime64("2020-01-01", "ns") + np.arange(n) * step
    day, hour = np.divmod(np.arange(n), hours)
    values = (100.0 * day + hour * (24 // hours))[:, None, None] * np.ones((1, 2, 3))
    values[3 * hours, 0, 1] = np.nan
    return xr.DataArray(
        values,
        dims=("time", "lat", "lon"),
        coords={"time": t, "lat": [10.0, 0.0], "lon": [0.0, 1.0, 2.0]},
    )


def test_the_map_27_days_before_at_the_same_ut():
    da = _daily(40, hours=4)  # maps at 00, 06, 12, 18 UT
    valid = np.array(
        [["2020-01-28T00", "2020-01-31T06"], ["2020-02-05T18", "2020-01-30T12"]],
        dtype="datetime64[ns]",
    )
    forecast, ok = recurrence_forecast(da, valid)
    assert forecast.shape == ok.shape == (2, 2, 2, 3)
    # 2020-01-28 is day 27 -> day 0; 01-31 day 30 -> day 3 at 06 UT; 02-05 day 35 -> day 8
    assert forecast[:, :, 1, 2].tolist() == [[0.0, 306.0], [818.0, 212.0]]
    assert ok[0, 1].all()  # day 3 at 06 UT has no NaN: only 00 UT has
    assert SOLAR_ROTATION == np.timedelta64(27, "D")


def test_a_nan_pixel_of_the_old_map_is_invalid_and_nothing_else():
    da = _daily(40)
    forecast, ok = recurrence_forecast(da, np.array([["2020-01-31"]], dtype="datetime64[ns]"))
    assert np.isnan(forecast[0, 0, 0, 1]) and not ok[0, 0, 0, 1]
    assert ok[0, 0].sum() == 5 and np.all(forecast[0, 0][ok[0, 0]] == 300.0)


def test_a_missing_map_is_an_error_naming_its_time_and_the_source():
    da = _daily(40)
    valid = np.array([["2020-01-29", "2020-01-27T12"]], dtype="datetime64[ns]")
    with pytest.raises(ValueError) as err:
        recurrence_forecast(da, valid, where="tec of the target source 'maps' (a.19i)")
    text = str(err.value)
    assert "tec of the target source 'maps' (a.19i) (27 days before the valid times)" in text
    assert "no map at 2019-12-31 12:00:00" in text and "1 of the 2 maps" in text
    with pytest.raises(ValueError, match=r"no map at 2019-12-31 00:00:00"):
        recurrence_forecast(da, np.array([["2020-01-27"]], dtype="datetime64[ns]"))


def test_another_period_and_bad_arguments():
    da = _daily(40, hours=4)
    valid = np.array([["2020-01-10T06"]], dtype="datetime64[ns]")
    half = np.timedelta64(36, "h")  # 1.5 days before 01-10 06 UT: 01-08 18 UT, day 7
    forecast, _ = recurrence_forecast(da, valid, period=half)
    assert forecast[0, 0, 1, 1] == 718.0
    with pytest.raises(ValueError, match=r"\(1.5 days before the valid times\): no map at"):
        recurrence_forecast(da, np.array([["2020-01-01T12"]], dtype="datetime64[ns]"), period=half)
    with pytest.raises(ValueError, match="period must be positive"):
        recurrence_forecast(da, valid, period=np.timedelta64(0, "D"))
    with pytest.raises(ValueError, match=r"valid_times must be \(B, T\)"):
        recurrence_forecast(da, valid[0])


def _shifted_back(maps: xr.Dataset, period: np.timedelta64) -> xr.Dataset:
    """The sample with a copy of itself ``period`` earlier (a hand-made long record)."""
    early = maps.assign_coords(time=maps.time - period)
    return xr.concat([early, maps], dim="time")


def test_27_day_persistence_in_the_engine_has_a_known_answer():
    ds, sources, _ = tec_datasets(t_out=4)
    test = ds["test"]
    model = tiny_model(ds["train"], seed=1)
    long = _shifted_back(sources["maps"], np.timedelta64(27, "D"))
    # a NaN in the old copy at a test valid time: that pixel must drop out, not score as 0
    first_valid = test.window_times(0)[test.t_in] - np.timedelta64(27, "D")
    hole = long["tec"].copy()
    hole.loc[{"time": first_valid}] = hole.sel(time=first_valid).where(hole.lat < 80)
    long = long.assign(tec=hole)
    tables = evaluate(model, test, {"baselines": ["persistence", "persistence_27d"]},
                      dict(sources, maps=long))  # fmt: skip
    # 27 days before each valid time the record holds the same map: a perfect forecast
    for lead in ("+15 min", "+1 h", "all"):
        assert tables["27-day persistence"].value("rmse", "tec", lead, "lat") == 0.0
    assert tables["persistence"].value("rmse", "tec", "+1 h", "lat") > 0.5
    assert "skill_persistence_27d" in tables["model"].metrics()
    with pytest.raises(ValueError) as err:
        evaluate(model, test, {"baselines": ["persistence_27d"]}, sources)
    assert "tec of the target source 'maps' (uqrg1150.19i.gz,uqrg1160.19i.gz)" in str(err.value)
    assert "(27 days before the valid times): no map at 2019-03-3" in str(err.value)
