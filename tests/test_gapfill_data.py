"""Gap-filling data layout, masked L1 and cloud masks (the gap-filling paper, ClimaNet)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from scipy.ndimage import label

from geostl.tasks.gapfill import build_period_layout, cloud_mask, masked_l1, tile_maps, untile_maps


def _field(times: pd.DatetimeIndex, H: int = 2, W: int = 4) -> xr.DataArray:
    # value = 100 * step number + pixel number, so every slot can be traced back
    vals = np.arange(len(times))[:, None, None] * 100.0 + np.arange(H * W).reshape(1, H, W)
    return xr.DataArray(
        vals.astype(np.float32),
        dims=("time", "lat", "lon"),
        coords={"time": times, "lat": np.arange(H), "lon": np.arange(W)},
        name="ts",
    )


def test_days_in_months_padded_to_31() -> None:
    # Feb 2021 (28 days), Apr 2021 (30), May 2021 (31); 10 April absent from the axis
    feb = pd.date_range("2021-02-01", "2021-02-28")
    apr_may = pd.date_range("2021-04-01", "2021-05-31")
    days = feb.append(apr_may)
    days = days[days != pd.Timestamp("2021-04-10")]
    field = _field(days)
    field[3, 0, 1] = np.nan  # 4 Feb, one pixel missing
    land = np.zeros((2, 4), dtype=bool)
    land[1, 3] = True
    lay = build_period_layout(field, "month", land=land)
    assert lay.values.shape == (1, 1, 3, 31, 2, 4)
    assert list(lay.periods.strftime("%Y-%m")) == ["2021-02", "2021-04", "2021-05"]
    np.testing.assert_array_equal(lay.padded[0].sum(axis=1), [3, 1, 0])
    assert lay.padded[0, 0, 28:].all() and not lay.padded[0, 0, :28].any()
    # 4 Feb is the 4th time (index 3): value 300 + pixel
    assert lay.values[0, 0, 0, 3, 0, 2] == 302.0
    assert lay.missing[0, 0, 0, 3, 0, 1] and lay.values[0, 0, 0, 3, 0, 1] == 0.0
    # 10 April absent: every sea pixel missing, not padded; land never flagged missing
    assert not lay.padded[0, 1, 9]
    assert lay.missing[0, 0, 1, 9].sum() == 7 and not lay.missing[0, 0, 1, 9, 1, 3]
    assert (lay.values[0, 0, :, :, 1, 3] == 0).all()
    # 31 May is the last time
    assert lay.values[0, 0, 2, 30, 1, 0] == (len(days) - 1) * 100 + 4
    assert lay.missing.sum() == 1 + 7


def test_hours_in_days_and_tiles() -> None:
    hours = pd.date_range("2019-03-01", periods=48, freq="h")
    lay = build_period_layout(_field(hours, H=2, W=4), "day", tile=(2, 2))
    assert lay.values.shape == (2, 1, 2, 24, 2, 2)
    assert not lay.padded.any() and not lay.missing.any()
    # tile 1 is columns 2..3; day 2, hour 5 is time 29
    assert lay.values[1, 0, 1, 5, 1, 1] == 29 * 100 + 7
    maps = np.arange(2 * 6 * 8).reshape(2, 6, 8)
    np.testing.assert_array_equal(untile_maps(tile_maps(maps, (3, 4)), (6, 8)), maps)
    assert tile_maps(maps, (3, 4))[3, 1, 0, 0] == maps[1, 3, 4]


def test_layout_errors_name_the_problem() -> None:
    hours = pd.date_range("2019-03-01", periods=24, freq="h")
    with pytest.raises(ValueError, match="more than one value per month"):
        build_period_layout(_field(hours), "month")
    with pytest.raises(ValueError, match="whole number of tiles"):
        build_period_layout(_field(hours, W=5), "day", tile=(2, 2))
    with pytest.raises(ValueError, match="period"):
        build_period_layout(_field(hours), "year")


def test_masked_l1_hand_worked() -> None:
    pred = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]]])  # (1, 2, 2, 2)
    target = torch.tensor([[[[2.0, 2.0], [0.0, 9.0]], [[1.0, float("nan")], [-3.0, 5.0]]]])
    land = torch.tensor([[False, False], [False, True]])
    valid = torch.isfinite(target)
    # period 0: |1-2|, |2-2|, |3-0| over 3 sea pixels = 4/3; period 1: |0-1|, |0+3| over 2 = 2
    loss = masked_l1(pred, target, land, valid)
    assert loss.item() == pytest.approx((4 / 3 + 2) / 2)
    with pytest.raises(ValueError, match="NaN"):
        masked_l1(pred, target, land)


def test_cloud_mask_fraction_seed_and_contiguity() -> None:
    shape = (24, 32, 48)
    mask = cloud_mask(shape, 0.4, scale=(2.0, 2.0, 2.0), seed=3)
    assert mask.sum() == round(0.4 * np.prod(shape))
    np.testing.assert_array_equal(mask, cloud_mask(shape, 0.4, scale=(2.0, 2.0, 2.0), seed=3))
    assert not np.array_equal(mask, cloud_mask(shape, 0.4, scale=(2.0, 2.0, 2.0), seed=4))
    # contiguity: far fewer 3-D connected blobs than an independent mask of the same fraction,
    # and a missing pixel's right-hand neighbour is usually missing too
    iid = np.random.default_rng(3).random(shape) < 0.4
    n_blobs, n_iid = label(mask)[1], label(iid)[1]
    assert n_blobs * 20 < n_iid
    same = (mask[:, :, 1:] & mask[:, :, :-1]).sum() / mask[:, :, :-1].sum()
    assert same > 0.8  # about 0.86 at this scale; 0.4 for independent pixels
    with pytest.raises(ValueError, match="fraction"):
        cloud_mask(shape, 1.5)
