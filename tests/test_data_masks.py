"""Validity masks and padding / cropping to a patch multiple."""

import numpy as np
import torch

from geostl.data import combine_masks, crop_to_multiple, pad_to_multiple, validity_mask


def test_validity_and_area_combination():
    x = np.array([[1.0, np.nan], [np.inf, 2.0]])
    area = np.array([[True, True], [True, False]])
    np.testing.assert_array_equal(
        combine_masks(validity_mask(x), area), [[True, False], [False, False]]
    )
    assert torch.equal(validity_mask(torch.tensor(x)), torch.tensor(np.isfinite(x)))


def test_pad_to_multiple_records_invalid_pixels_and_undoes():
    adj = pad_to_multiple(71, 73, 4)
    assert adj.shape == (72, 76)
    x = np.random.default_rng(0).normal(size=(2, 71, 73)).astype(np.float32)
    m = np.ones((2, 71, 73), dtype=bool)
    xp, mp = adj.apply(x), adj.apply(m, fill=False)
    assert xp.shape == (2, 72, 76) and mp[:, 71:, :].sum() == 0 and mp[:, :, 73:].sum() == 0
    assert mp.sum() == m.sum() and np.all(xp[:, 71:, :] == 0)
    np.testing.assert_array_equal(adj.undo(xp), x)
    np.testing.assert_array_equal(adj.restore(torch.from_numpy(xp)).numpy(), x)
    lat = adj.coords(np.arange(87.5, -90, -2.5), "rows")
    assert lat.size == 72 and lat[-1] == -90.0


def test_crop_to_multiple_restores_with_nan():
    adj = crop_to_multiple(71, 73, 8)
    assert adj.shape == (64, 72)
    x = np.arange(71 * 73, dtype=np.float64).reshape(71, 73)
    xc = adj.apply(x)
    np.testing.assert_array_equal(xc, x[:64, :72])
    back = adj.restore(xc)
    assert back.shape == (71, 73)
    np.testing.assert_array_equal(back[:64, :72], x[:64, :72])
    assert np.isnan(back[64:]).all() and np.isnan(back[:, 72:]).all()
    assert adj.coords(np.arange(73.0), "cols").size == 72
