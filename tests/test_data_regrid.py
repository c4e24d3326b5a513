"""IONEX 71x73 -> 72x72 / 71x72 regridding and time subsampling by selection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from geostl.data.subsample import subsample_time
from geostl.io import open_ionex
from geostl.tasks.iono.regrid import (
    IONEX_LAT,
    IONEX_LON,
    IONO72_LAT,
    latitude_weights,
    regrid_ionex,
)


def _ionex_like(n_time: int = 3, seed: int = 0, step: str = "15min") -> xr.Dataset:
    """Random maps on IONEX's grid with the +180 column a copy of -180 (as in CODE maps)."""
    rng = np.random.default_rng(seed)
    tec = rng.uniform(0, 80, size=(n_time, 71, 73)).astype(np.float32)
    tec[..., -1] = tec[..., 0]
    times = pd.date_range("2020-01-08", periods=n_time, freq=step).to_numpy()
    return xr.Dataset(
        {
            "tec": (("time", "lat", "lon"), tec, {"units": "TECU"}),
            "kp": ("time", np.arange(n_time, dtype=np.float64)),
        },
        coords={"time": times, "lat": IONEX_LAT.astype(np.float32), "lon": IONEX_LON},
    )


def test_native_drops_only_the_repeated_meridian() -> None:
    ds = _ionex_like()
    out = regrid_ionex(ds, "native")
    assert out["tec"].shape == (3, 71, 72)
    np.testing.assert_array_equal(out["lon"].values, -180.0 + 5.0 * np.arange(72))
    np.testing.assert_array_equal(out["tec"].values, ds["tec"].values[..., :72])
    # the dropped +180 E column equals the kept first column (-180 E) of the source
    np.testing.assert_array_equal(ds["tec"].values[..., -1], out["tec"].values[..., 0])
    assert out.attrs["regrid_seam_max_abs_diff"] == 0.0
    np.testing.assert_array_equal(out["kp"].values, ds["kp"].values)  # no lat/lon: unchanged


def test_iono72_equals_numpy_interp_per_column_in_float64() -> None:
    ds = _ionex_like()
    out = regrid_ionex(ds, "iono72")
    assert out["tec"].shape == (3, 72, 72) and out["tec"].dtype == np.float32
    np.testing.assert_array_equal(out["lat"].values, IONO72_LAT)
    assert IONO72_LAT[0] == 87.5 and IONO72_LAT[-1] == -87.5
    np.testing.assert_allclose(np.diff(IONO72_LAT), -175.0 / 71, rtol=1e-12)
    src = ds["tec"].values[..., :72].astype(np.float64)
    ref = np.empty((3, 72, 72))
    for t in range(3):
        for col in range(72):  # np.interp wants ascending abscissae: flip both axes
            ref[t, :, col] = np.interp(IONO72_LAT[::-1], IONEX_LAT[::-1], src[t, ::-1, col])[::-1]
    np.testing.assert_array_equal(out["tec"].values, ref.astype(np.float32))
    # end rows are copied exactly, nothing extrapolated
    np.testing.assert_array_equal(out["tec"].values[:, 0], ds["tec"].values[:, 0, :72])
    np.testing.assert_array_equal(out["tec"].values[:, -1], ds["tec"].values[:, -1, :72])


def test_latitude_weights_hand_worked() -> None:
    src = np.array([10.0, 5.0, 0.0])
    i0, i1, w = latitude_weights(src, np.array([10.0, 7.5, 6.0, 0.0]))
    np.testing.assert_array_equal(i0, [0, 0, 0, 2])
    np.testing.assert_array_equal(i1, [0, 1, 1, 2])
    np.testing.assert_allclose(w, [0.0, 0.5, 0.8, 0.0])
    with pytest.raises(ValueError, match="no extrapolation"):
        latitude_weights(src, np.array([11.0, 0.0]))


def test_nan_is_propagated_not_filled() -> None:
    ds = _ionex_like(1)
    ds["tec"][0, 1, 4] = np.nan
    out = regrid_ionex(ds, "iono72")["tec"].values[0]
    # target rows 1 (85.04) and 2 (82.57) are bracketed by source row 1 (85.0)
    assert np.isnan(out[1, 4]) and np.isnan(out[2, 4])
    assert np.isfinite(out[0, 4]) and np.isfinite(out[3, 4]) and np.isfinite(out[1, 5])


def test_a_grid_that_is_not_ionex_is_an_error() -> None:
    ds = _ionex_like(1)
    with pytest.raises(ValueError, match=r"data\.sources\.maps: lon is -180\.\.175 \(72 points\)"):
        regrid_ionex(ds.isel(lon=slice(0, 72)), "iono72", "data.sources.maps")
    with pytest.raises(
        ValueError, match=r"x: lat is .*expected IONEX's global grid 87\.5\.\.-87\.5"
    ):
        regrid_ionex(ds.isel(lat=slice(None, None, -1)), "native", "x")
    with pytest.raises(ValueError, match="unknown regrid 'iono73'"):
        regrid_ionex(ds, "iono73")


@pytest.mark.shared_files("tec/ionex/codg0080.20i.gz", what="real CODE IONEX file")
def test_real_code_maps_repeat_the_meridian(shared_data: Path) -> None:
    ds = open_ionex(shared_data / "tec" / "ionex" / "codg0080.20i.gz")
    out = regrid_ionex(ds, "iono72")
    assert out["tec"].shape == (25, 72, 72) and out.attrs["regrid_seam_max_abs_diff"] == 0.0
    np.testing.assert_array_equal(out["tec"].values[:, 0], ds["tec"].values[:, 0, :72])


def test_subsample_keeps_multiples_of_the_step_from_midnight() -> None:
    ds = _ionex_like(193)  # 2020-01-08 00:00 .. 01-10 00:00 every 15 min
    out = subsample_time(ds, "2h", "data.sources.maps")
    t = pd.DatetimeIndex(out["time"].values)
    assert len(t) == 25 and (t.minute == 0).all() and (t.hour % 2 == 0).all()
    # selection, not averaging: the kept maps are the source maps at those instants
    np.testing.assert_array_equal(out["tec"].values, ds["tec"].values[::8])
    np.testing.assert_array_equal(out["kp"].values, ds["kp"].values[::8])
    assert out.attrs["subsampled_every"] == "0 days 02:00:00"
    # an axis starting off the step: 01:15 -> first kept epoch 02:00
    late = subsample_time(ds.isel(time=slice(5, None)), "2h")
    assert pd.Timestamp(late["time"].values[0]) == pd.Timestamp("2020-01-08T02:00")


def test_subsample_errors_name_the_source() -> None:
    hourly = _ionex_like(6, step="1h")
    with pytest.raises(
        ValueError, match=r"data\.sources\.maps: every 30min is not a whole multiple"
    ):
        subsample_time(hourly, "30min", "data.sources.maps")
    with pytest.raises(ValueError, match=r"data\.sources\.m: the time step '5h' does not divide"):
        subsample_time(hourly, "5h", "data.sources.m")
    offset = hourly.assign_coords(time=hourly["time"].values + np.timedelta64(30, "m"))
    with pytest.raises(ValueError, match=r"data\.sources\.m: no epoch .* multiple of 2h"):
        subsample_time(offset, "2h", "data.sources.m")
    with pytest.raises(ValueError, match=r"data\.sources\.m: cannot read the time step 'two'"):
        subsample_time(hourly, "two", "data.sources.m")
