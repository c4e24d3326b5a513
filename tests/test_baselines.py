"""Persistence, sun-fixed persistence and climatology against independent references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from geostl.baselines import Climatology, persistence, rotation_weights, sun_fixed_persistence

IONEX_LON = np.arange(-180.0, 180.0 + 2.5, 5.0)  # 73 columns, -180 and 180 the same meridian


def test_persistence_repeats_last_frame_and_its_mask():
    x = torch.randn(2, 3, 1, 4, 5)
    mask = torch.ones_like(x, dtype=torch.bool)
    mask[0, -1, 0, 1, 2] = False
    mask[1, 0, 0, 0, 0] = False  # not the last frame: must not matter
    fc, valid = persistence(x, 4, mask)
    assert fc.shape == (2, 4, 1, 4, 5)
    for t in range(4):
        assert torch.equal(fc[:, t], x[:, -1])
    assert not valid[0, :, 0, 1, 2].any()
    assert valid[1].all()


def test_persistence_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(B, T_in, C, H, W\)"):
        persistence(torch.zeros(3, 4, 5), 2)
    with pytest.raises(ValueError, match="input_mask shape"):
        persistence(torch.zeros(1, 2, 1, 3, 3), 2, torch.ones(1, 2, 1, 3, 4, dtype=torch.bool))


@pytest.mark.parametrize("lon", [IONEX_LON, np.arange(0.0, 360.0, 2.5)])
@pytest.mark.parametrize("lead_hours", [0.25, 1.0, 1.7, 3.0, 13.5, 30.0])
def test_rotation_matches_periodic_numpy_interp(lon, lead_hours):
    rng = np.random.default_rng(0)
    unique = np.unique(np.mod(lon, 360.0))
    values_unique = rng.normal(size=(3, unique.size))
    # the map on the grid, with the duplicated meridian carrying the same value
    col = np.searchsorted(unique, np.mod(lon, 360.0))
    frame = values_unique[:, col]
    expected = np.stack(
        [
            np.interp(np.mod(lon + 15.0 * lead_hours, 360.0), unique, row, period=360.0)
            for row in values_unique
        ]
    )
    fc, valid = sun_fixed_persistence(torch.tensor(frame), lon, [lead_hours])
    assert fc.shape == (1, 3, lon.size)
    np.testing.assert_allclose(fc[0].numpy(), expected, rtol=0, atol=1e-12)
    assert valid.all()


def test_pattern_moving_with_the_sun_is_reproduced_exactly():
    # a field fixed to the Sun: g(lon, t) = cos(lon + 15 t) (degrees, t in hours)
    lat = np.array([-30.0, 0.0, 30.0])
    lon = IONEX_LON

    def field(t_hours):
        return np.cos(np.deg2rad(lon + 15.0 * t_hours))[None, :] * np.cos(np.deg2rad(lat))[:, None]

    last = torch.tensor(field(0.0))
    leads = [1.0 / 3.0, 2.0, 5.0]  # 5, 30, 75 degrees: whole grid columns
    fc, _ = sun_fixed_persistence(last, lon, leads)
    for i, lead in enumerate(leads):
        np.testing.assert_allclose(fc[i].numpy(), field(lead), atol=1e-12)


def test_sun_fixed_validity_follows_interpolated_columns():
    frame = torch.ones(2, 72)
    valid = torch.ones(2, 72, dtype=torch.bool)
    valid[0, 10] = False
    lon = np.arange(0.0, 360.0, 5.0)
    _, v = sun_fixed_persistence(frame, lon, [0.0, 1.0 / 6.0], valid=valid)  # 0 and 2.5 deg
    assert not v[0, 0, 10] and v[0, 0, 9]  # zero shift: only column 10 itself
    assert not v[1, 0, 9] and not v[1, 0, 10] and v[1, 0, 11]  # half-way: 9 and 10 use col 10


def test_sun_fixed_needs_global_longitudes():
    with pytest.raises(ValueError, match="global longitude axis"):
        rotation_weights(np.arange(-10.0, 2.25, 0.25), 15.0)
    with pytest.raises(ValueError, match="columns but lon has"):
        sun_fixed_persistence(torch.zeros(3, 10), IONEX_LON, [1.0])


@pytest.mark.shared_files(
    "tec/uqrg_2019-04-25_to_2019-04-26_15min.nc",
    what="UQRG 15-min TEC maps as NetCDF",
)
def test_sun_fixed_beats_persistence_on_real_15min_maps(shared_data):
    """Real UQRG maps: the Sun-fixed frame halves the 3-hour error of plain persistence."""
    ds = xr.open_dataset(shared_data / "tec" / "uqrg_2019-04-25_to_2019-04-26_15min.nc")
    tec = torch.tensor(ds["tec"].values, dtype=torch.float64)
    weight = torch.tensor(np.cos(np.deg2rad(ds["lat"].values)))[:, None].expand(-1, 73).clone()
    weight[:, -1] = 0.0  # the 180 E column repeats -180 E
    steps = 12  # 3 hours of 15-minute maps
    rmse = {}
    for name, lead in [("sun", 3.0), ("anti", -3.0)]:
        fc, _ = sun_fixed_persistence(tec[:-steps], ds["lon"].values, [lead])
        err = (fc[:, 0] - tec[steps:]) ** 2 * weight
        rmse[name] = float((err.sum() / (weight.sum() * err.shape[0])).sqrt())
    err = (tec[:-steps] - tec[steps:]) ** 2 * weight
    rmse["persistence"] = float((err.sum() / (weight.sum() * err.shape[0])).sqrt())
    assert rmse["persistence"] / rmse["sun"] > 1.5
    assert rmse["anti"] > rmse["persistence"]  # rotating the wrong way is worse than not at all


def _series(times, values):
    return xr.DataArray(
        np.asarray(values, dtype=np.float64),
        dims=("time", "x"),
        coords={"time": np.asarray(times, dtype="datetime64[ns]")},
        attrs={"units": "K"},
    )


def test_climatology_time_of_day_hand_example():
    times = ["2020-01-01T00:00", "2020-01-01T12:00", "2020-01-02T00:00", "2020-01-02T12:00"]
    da = _series(times, [[1.0, np.nan], [10.0, 4.0], [3.0, np.nan], [20.0, 6.0]])
    clim = Climatology("time_of_day").fit(da, chunk=1)
    pred = clim.predict(np.array(["2020-03-05T12:00", "2020-03-05T00:00"], dtype="datetime64[ns]"))
    np.testing.assert_allclose(pred[0], [15.0, 5.0])
    assert pred[1, 0] == 2.0 and np.isnan(pred[1, 1])  # never observed: NaN, not filled
    assert clim.count[0, 1] == 0 and clim.units == "K"


def test_climatology_monthly_chunking_does_not_change_result():
    rng = np.random.default_rng(1)
    times = np.arange("2000-01", "2006-01", dtype="datetime64[M]").astype("datetime64[ns]")
    da = _series(times, rng.normal(size=(times.size, 4)))
    a = Climatology("month").fit(da, chunk=7)
    b = Climatology("month").fit(da, chunk=1000)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-14)
    months = times.astype("datetime64[M]").astype(int) % 12
    np.testing.assert_allclose(a.mean[2], da.values[months == 2].mean(axis=0), rtol=1e-12)


def test_climatology_unseen_phase_is_an_error():
    da = _series(["2020-01-01T00:00", "2020-01-01T06:00"], [[1.0], [2.0]])
    clim = Climatology("time_of_day").fit(da)
    with pytest.raises(ValueError, match="no training data for phase time_of_day=180"):
        clim.predict(np.array(["2020-02-01T03:00"], dtype="datetime64[ns]"))
    with pytest.raises(ValueError, match="by must be one of"):
        Climatology("season")
