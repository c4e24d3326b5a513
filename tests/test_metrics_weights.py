"""Tests for geostl.metrics.weights against NumPy float64 references."""

import numpy as np
import pytest
import torch

from geostl.metrics import check_area_mask, combine_weights, latitude_weights


def test_latitude_weights_match_numpy_cos_for_descending_grid():
    lat = np.linspace(90.0, -90.0, 73)  # descending, poles included
    w = latitude_weights(lat)
    assert w.dtype == torch.float64 and w.shape == (73,)
    np.testing.assert_allclose(w.numpy(), np.cos(lat * np.pi / 180.0), rtol=0, atol=1e-15)
    assert float(w.min()) >= 0.0


def test_latitude_weights_known_values():
    w = latitude_weights(torch.tensor([0.0, 60.0, -60.0, 90.0]))
    np.testing.assert_allclose(w.numpy(), [1.0, 0.5, 0.5, 0.0], atol=1e-15)


@pytest.mark.parametrize("bad", [[0.0, 91.0], [-90.5], [0.0, float("nan")]])
def test_latitude_weights_reject_out_of_range(bad):
    with pytest.raises(ValueError, match="lat_deg"):
        latitude_weights(bad)


def test_latitude_weights_reject_2d():
    with pytest.raises(ValueError, match="1-D"):
        latitude_weights(np.zeros((2, 3)))


def test_combine_weights_hand_example():
    """valid (1,1,1,2,2) = [[T, T], [T, F]], area = [[1, 0.5], [2, 1]], lat = [0, 60] deg.

    w = valid * area * cos(lat) = [[1*1*1, 1*0.5*1], [1*2*0.5, 0]] = [[1, 0.5], [1, 0]].
    """
    valid = torch.tensor([[True, True], [True, False]]).reshape(1, 1, 1, 2, 2)
    area = torch.tensor([[1.0, 0.5], [2.0, 1.0]])
    w = combine_weights(valid, area, latitude_weights([0.0, 60.0]))
    assert w.shape == (1, 1, 1, 2, 2) and w.dtype == torch.float64
    np.testing.assert_allclose(w[0, 0, 0].numpy(), [[1.0, 0.5], [1.0, 0.0]], atol=1e-15)


def test_combine_weights_broadcast_matches_numpy():
    rng = np.random.default_rng(1)
    valid = rng.random((2, 3, 2, 5, 4)) > 0.3
    area = rng.random((5, 4)) > 0.2
    lat = rng.uniform(-89, 89, 5)
    w = combine_weights(torch.from_numpy(valid), torch.from_numpy(area), latitude_weights(lat))
    ref = valid * area[None, None, None] * np.cos(np.radians(lat))[None, None, None, :, None]
    np.testing.assert_allclose(w.numpy(), ref, atol=1e-15)


def test_combine_weights_errors():
    valid = torch.ones(1, 1, 1, 2, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match="area_mask"):
        combine_weights(valid, torch.ones(3, 2))
    with pytest.raises(ValueError, match="lat_weights"):
        combine_weights(valid, lat_weights=torch.ones(3))
    with pytest.raises(ValueError, match="valid"):
        combine_weights(valid.float())
    with pytest.raises(ValueError, match="valid"):
        combine_weights(valid[0])


def test_area_mask_rejects_negative_and_nan():
    with pytest.raises(ValueError, match=">= 0"):
        check_area_mask(torch.tensor([[1.0, -0.1]]))
    with pytest.raises(ValueError, match="finite"):
        check_area_mask(torch.tensor([[1.0, float("nan")]]))
    np.testing.assert_array_equal(check_area_mask(np.array([[True, False]])).numpy(), [[1.0, 0.0]])


def test_meridian_weights_count_the_repeated_meridian_once():
    from geostl.metrics import meridian_weights

    ionex = np.arange(-180.0, 180.0 + 2.5, 5.0)
    w = meridian_weights(ionex)
    assert w.shape == (73,) and w.sum() == 72 and w[-1] == 0 and w[0] == 1
    assert meridian_weights(np.arange(0.0, 360.0, 2.0)).sum() == 180  # no duplicate
    # 0 and 360 are the same meridian too
    assert meridian_weights(np.array([0.0, 90.0, 180.0, 270.0, 360.0])).tolist() == [1, 1, 1, 1, 0]
