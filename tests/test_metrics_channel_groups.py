"""Per-variable metrics pooled over pressure levels, against a float64 numpy computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geostl.metrics import ForecastMetrics
from geostl.metrics.channel_groups import level_groups, pool_channels

CHANNELS = ["r_150", "r_850", "t_150", "t_850", "t2m"]
UNITS = {"r_150": "%", "r_850": "%", "t_150": "K", "t_850": "K", "t2m": "K"}
LAT = np.array([-60.0, -20.0, 10.0, 45.0, 80.0])


def _data(seed: int = 0):
    g = np.random.default_rng(seed)
    shape = (3, 2, len(CHANNELS), LAT.size, 4)  # (B, T, C, H, W)
    pred = g.normal(size=shape) * 3 + 280
    target = g.normal(size=shape) * 3 + 280
    valid = g.random(shape) > 0.3  # channels get different weight sums
    return pred, target, valid


def _accumulate(pred, target, valid) -> ForecastMetrics:
    fm = ForecastMetrics(CHANNELS, ["+1 h", "+2 h"], lat=LAT, units=UNITS)
    half = pred.shape[0] // 2 + 1  # two batches: the sums must add up across them
    for s in (slice(0, half), slice(half, None)):
        fm.update(
            torch.from_numpy(pred[s]), torch.from_numpy(target[s]), torch.from_numpy(valid[s])
        )
    return fm


def test_level_groups() -> None:
    assert level_groups(CHANNELS) == {
        "r": ["r_150", "r_850"],
        "t": ["t_150", "t_850"],
        "t2m": ["t2m"],
    }


def test_pooled_metrics_match_a_float64_hand_computation() -> None:
    pred, target, valid = _data()
    fm = _accumulate(pred, target, valid)
    table = pool_channels(fm, level_groups(CHANNELS)).compute()
    assert table.channels() == ["r", "t", "t2m"]
    assert table.unit("rmse", "r") == "%" and table.unit("mse", "t") == "K^2"
    coslat = np.cos(np.deg2rad(LAT))[None, None, None, :, None]
    for name, cols in (("r", [0, 1]), ("t", [2, 3]), ("t2m", [4])):
        d = (pred - target)[:, :, cols]
        for weighting, w in (("plain", 1.0), ("lat", coslat)):
            ww = np.broadcast_to(w, valid.shape)[:, :, cols] * valid[:, :, cols]
            mse = (ww * d**2).sum() / ww.sum()
            mae = (ww * np.abs(d)).sum() / ww.sum()
            assert table.value("mse", name, "all", weighting) == pytest.approx(mse, rel=1e-12)
            assert table.value("mae", name, "all", weighting) == pytest.approx(mae, rel=1e-12)
            assert table.value("rmse", name, "all", weighting) == pytest.approx(
                np.sqrt(mse), rel=1e-12
            )
            lead2 = (ww[:, 1] * d[:, 1] ** 2).sum() / ww[:, 1].sum()
            assert table.value("mse", name, "+2 h", weighting) == pytest.approx(lead2, rel=1e-12)
    # with unequal weight sums the pooled MSE is not the mean of the channels' MSEs
    per_channel = fm.compute()
    mean_of_two = np.mean([per_channel.value("mse", c, "all", "lat") for c in ("r_150", "r_850")])
    assert table.value("mse", "r", "all", "lat") != pytest.approx(mean_of_two, rel=1e-9)


def test_pool_channels_refuses_mixed_units_and_unknown_channels() -> None:
    fm = _accumulate(*_data(1))
    with pytest.raises(ValueError, match=r"group 'bad' mixes units \['%', 'K'\]"):
        pool_channels(fm, {"bad": ["r_150", "t_150"]})
    with pytest.raises(ValueError, match="names channel 'z_500'"):
        pool_channels(fm, {"z": ["z_500"]})
    with pytest.raises(ValueError, match="'r_150' is in more than one group"):
        pool_channels(fm, {"a": ["r_150"], "b": ["r_150", "r_850"]})
    with pytest.raises(ValueError, match="no data"):
        pool_channels(ForecastMetrics(CHANNELS), {"r": ["r_150"]})
