"""Normaliser: streaming statistics vs a float64 NumPy reference; train-only fitting."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from geostl.data import Normaliser, RunningStats, build_datasets, fit_normaliser


def test_running_stats_match_numpy_over_uneven_chunks():
    rng = np.random.default_rng(0)
    x = rng.normal(280.0, 7.0, size=(37, 5, 6))
    x[rng.random(x.shape) < 0.2] = np.nan
    rs = RunningStats()
    for a, b in [(0, 1), (1, 10), (10, 11), (11, 37)]:
        rs.update(x[a:b])
    ref = x[np.isfinite(x)]
    assert rs.count == ref.size
    np.testing.assert_allclose(rs.mean, ref.mean(), rtol=1e-12)
    np.testing.assert_allclose(rs.std, ref.std(), rtol=1e-10)
    assert (rs.minimum, rs.maximum) == (ref.min(), ref.max())


def test_fit_reads_only_selected_steps_in_chunks():
    data = np.arange(20.0)
    calls = []

    def read(a, b):
        calls.append((a, b))
        return data[a:b]

    sel = np.zeros(20, dtype=bool)
    sel[2:9] = True
    sel[15:17] = True
    n = fit_normaliser({"x": read}, sel, chunk=3)
    assert calls == [(2, 5), (5, 8), (8, 9), (15, 17)]
    ref = data[sel]
    assert n.offsets["x"] == pytest.approx(ref.mean()) and n.scales["x"] == pytest.approx(ref.std())


def test_transform_inverse_numpy_torch_no_clipping_and_state_dict():
    n = Normaliser(
        {"tec": 0.0, "dst": -500.0}, {"tec": 200.0, "dst": 600.0}, {"tec": "fixed", "dst": "fixed"}
    )
    x = np.array([[[[450.0]], [[-700.0]]]])  # (1, C=2, 1, 1), beyond the usual range
    y = n.transform(x, ["tec", "dst"])
    np.testing.assert_allclose(y.ravel(), [450 / 200, (-700 + 500) / 600])  # not clipped
    np.testing.assert_allclose(n.inverse(y, ["tec", "dst"]), x)
    yt = n.transform(torch.tensor(x, dtype=torch.float32), ["tec", "dst"])
    assert yt.dtype == torch.float32
    np.testing.assert_allclose(yt.numpy(), y, rtol=1e-6)
    # channel axis elsewhere
    np.testing.assert_allclose(
        n.transform(np.array([200.0, 100.0]), ["tec", "dst"], axis=0), [1.0, 1.0]
    )
    state = n.state_dict()
    assert json.loads(json.dumps(state)) == state
    m = Normaliser.from_state_dict(state)
    np.testing.assert_array_equal(m.transform(x, ["tec", "dst"]), y)
    with pytest.raises(KeyError, match="'kp'"):
        n.transform(x, ["tec", "kp"])
    with pytest.raises(ValueError, match="2 channels, expected 1"):
        n.transform(x, ["tec"])


def test_constant_channel_needs_fixed_scaling():
    with pytest.raises(ValueError, match="'x' is constant"):
        fit_normaliser({"x": lambda a, b: np.ones(b - a)}, np.ones(4, dtype=bool))


def test_no_statistic_sees_validation_or_test_data():
    times = pd.date_range("2020-01-01", periods=300, freq="1h")
    rng = np.random.default_rng(1)
    field = rng.normal(20.0, 2.0, size=(300, 3, 4)).astype(np.float32)
    kp = rng.uniform(0, 9, size=300)
    train = times < "2020-01-06"
    field[~train] = 1e6  # extreme values only outside train
    kp[~train] = -1e6
    maps = xr.Dataset(
        {"tec": (("time", "lat", "lon"), field, {"units": "TECU"})},
        coords={"time": times, "lat": [10.0, 0.0, -10.0], "lon": [0, 5, 10, 15.0]},
    )
    omni = xr.Dataset({"kp": ("time", kp, {"units": "1"})}, coords={"time": times})
    cfg = {
        "schema": {
            "targets": {"source": "maps", "variables": ["tec"]},
            "forcings": [{"name": "kp", "source": "omni", "align": "previous"}],
        },
        "splits": {
            "train": {"start": "2020-01-01", "end": "2020-01-06"},
            "val": {"start": "2020-01-07", "end": "2020-01-09"},
            "test": {"start": "2020-01-10", "end": "2020-01-13"},
        },
        "window": {"t_in": 4, "t_out": 4},
    }
    ds = build_datasets(cfg, {"maps": maps, "omni": omni})
    norm = ds["train"].normaliser
    assert norm is ds["val"].normaliser is ds["test"].normaliser
    ref = field[train].astype(np.float64)
    assert norm.stats["tec"]["max"] < 100 and norm.stats["kp"]["min"] >= 0
    assert norm.stats["tec"]["count"] == ref.size
    np.testing.assert_allclose(norm.offsets["tec"], ref.mean(), rtol=1e-10)
    np.testing.assert_allclose(norm.scales["tec"], ref.std(), rtol=1e-9)
    np.testing.assert_allclose(norm.offsets["kp"], kp[train].mean(), rtol=1e-12)
