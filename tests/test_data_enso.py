"""ENSO targets: Nino 3.4 from an SST field and from the CPC index file, ONI and phases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from geostl.datasets import sample
from geostl.tasks.enso.targets import (
    monthly_anomaly,
    nino34_box_mean,
    nino34_from_sst,
    phase_from_oni,
    running_mean,
    targets_from_indices,
)


def test_running_mean_modes_hand_worked() -> None:
    x = np.array([1.0, 2.0, 6.0, 3.0])
    np.testing.assert_allclose(running_mean(x, 3, "valid"), [3.0, 11 / 3])
    np.testing.assert_allclose(running_mean(x, 3, "centred"), [np.nan, 3.0, 11 / 3, np.nan])
    with pytest.raises(ValueError, match="odd"):
        running_mean(x, 2, "centred")


def test_phase_rule_threshold_inclusive_and_min_run() -> None:
    oni = np.array([0.5, 0.49, -0.5, -0.6, -0.7, 0.1, 0.6, 0.7])
    np.testing.assert_array_equal(phase_from_oni(oni), [0, 2, 1, 1, 1, 2, 0, 0])
    np.testing.assert_array_equal(phase_from_oni(oni, min_run=3), [2, 2, 1, 1, 1, 2, 2, 2])
    with pytest.raises(ValueError, match="NaN"):
        phase_from_oni(np.array([0.1, np.nan]))


def _toy_field() -> xr.DataArray:
    lat = np.array([-6.0, -4.0, 0.0, 4.0, 6.0])
    lon = np.array([-172.0, -170.0, -150.0, -120.0, -118.0])  # -180..180 convention
    time = pd.date_range("2000-01-01", periods=24, freq="MS")
    vals = np.zeros((24, 5, 5))
    vals[:, 1, :] = 10.0  # lat -4
    vals[:, 2, :] = 20.0  # lat 0
    vals[:, 3, :] = 30.0  # lat 4
    vals[:, 0, :] = np.nan  # outside the box: ignored
    return xr.DataArray(vals, dims=("time", "lat", "lon"), coords=(time, lat, lon), name="sst")


def test_box_mean_hand_worked_cos_lat_weights() -> None:
    field = _toy_field()
    w = np.cos(np.deg2rad(4.0))
    expected = (10 * w + 20 + 30 * w) / (2 * w + 1)
    np.testing.assert_allclose(nino34_box_mean(field).values, expected)
    field[3, 2, 2] = np.nan
    with pytest.raises(ValueError, match="NaN inside the Nino 3.4 box"):
        nino34_box_mean(field)


def test_monthly_anomaly_needs_every_calendar_month() -> None:
    series = nino34_box_mean(_toy_field())
    np.testing.assert_allclose(monthly_anomaly(series, ("2000-01", "2000-12")).values, 0.0)
    with pytest.raises(ValueError, match="calendar months"):
        monthly_anomaly(series, ("2000-01", "2000-06"))


def test_derived_index_agrees_with_cpc_file_on_real_ersst() -> None:
    derived = nino34_from_sst(sample("sst")["sst"], base=("2010-01", "2019-12"))
    cpc = sample("sst_indices").sel(time=derived["time"])
    # same ERSSTv5 data and box: absolute means agree to the sample's 0.005 degC packing plus
    # grid-edge conventions
    diff = derived["nino34"].values - cpc["nino34"].values
    assert np.sqrt(np.mean(diff**2)) < 0.03
    # anomalies: 2010-2019 vs CPC's 1991-2020 climatology -> an offset of a few hundredths
    a, b = derived["nino34_anom"].values, cpc["nino34_anom"].values
    assert np.corrcoef(a, b)[0, 1] > 0.99
    assert np.sqrt(np.mean((a - b) ** 2)) < 0.15


def test_targets_from_real_cpc_file() -> None:
    targets = targets_from_indices(sample("sst_indices"))
    # ONI of Jan 2010 = mean of the Dec 2009, Jan, Feb 2010 anomalies in the file
    anom = sample("sst_indices")["nino34_anom"].sel(time=slice("2009-12", "2010-02")).values
    assert targets["oni"].sel(time="2010-01-01").item() == pytest.approx(anom.mean())
    # 2010-11 strong La Nina, 2015-11 strong El Nino, 2013-06 neutral
    assert targets["phase"].sel(time="2010-11-01").item() == 1
    assert targets["phase"].sel(time="2015-11-01").item() == 0
    assert targets["phase"].sel(time="2013-06-01").item() == 2
    with pytest.raises(KeyError, match="nino34_anomaly"):
        targets_from_indices(sample("sst_indices"), index_var="nino34_anomaly")
