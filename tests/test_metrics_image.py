"""SSIM / PSNR against scikit-image, with data ranges unlike 1 and no clipping."""

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter, minimum_filter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from geostl.metrics import psnr, ssim, ssim_window


def _random_pair(seed, shape=(37, 45)):
    rng = np.random.default_rng(seed)
    a = rng.normal(280.0, 8.0, shape)  # Kelvin-like values, far outside [0, 1]
    return a, a + rng.normal(0.0, 3.0, shape)


def _smooth_pair(seed, shape=(48, 64)):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    a = 25.0 + 10.0 * np.sin(x / 9.0) * np.cos(y / 13.0)
    a += gaussian_filter(rng.normal(0.0, 6.0, shape), 4.0)
    b = a + gaussian_filter(rng.normal(0.0, 3.0, shape), 3.0) + 0.7
    return a, b


def _sk_ssim(a, b, R, **kw):
    return structural_similarity(
        a, b, data_range=R, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, **kw
    )


@pytest.mark.parametrize("make", [_random_pair, _smooth_pair])
@pytest.mark.parametrize("data_range", [40.0, 0.05, 1000.0])
def test_gaussian_ssim_matches_skimage(make, data_range):
    a, b = make(0)
    got = ssim(torch.from_numpy(a), torch.from_numpy(b), data_range).item()
    assert got == pytest.approx(_sk_ssim(a, b, data_range), abs=1e-4)
    assert got == pytest.approx(_sk_ssim(a, b, data_range), abs=1e-10)  # float64 throughout


@pytest.mark.parametrize("make", [_random_pair, _smooth_pair])
@pytest.mark.parametrize("sample_cov", [True, False])
def test_uniform_7x7_ssim_matches_skimage(make, sample_cov):
    a, b = make(1)
    got = ssim(
        torch.from_numpy(a),
        torch.from_numpy(b),
        30.0,
        window="uniform",
        sample_covariance=sample_cov,
    ).item()
    ref = structural_similarity(a, b, data_range=30.0, win_size=7, use_sample_covariance=sample_cov)
    assert got == pytest.approx(ref, abs=1e-10)


def test_ssim_float32_input_within_1e4():
    a, b = _smooth_pair(2)
    got = ssim(torch.from_numpy(a).float(), torch.from_numpy(b).float(), 30.0).item()
    ref = _sk_ssim(a.astype(np.float32).astype(np.float64), b.astype(np.float32), 30.0)
    assert got == pytest.approx(ref, abs=1e-4)


def test_batched_frames_and_per_channel_data_range():
    rng = np.random.default_rng(3)
    a = rng.normal(0.0, 5.0, (2, 3, 20, 24))
    b = a + rng.normal(0.0, 2.0, a.shape)
    ranges = np.array([10.0, 20.0, 60.0])
    got_s = ssim(torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(ranges))
    got_p = psnr(torch.from_numpy(b), torch.from_numpy(a), torch.from_numpy(ranges))
    assert got_s.shape == (2, 3) and got_p.shape == (2, 3)
    for i in range(2):
        for c in range(3):
            assert got_s[i, c].item() == pytest.approx(
                _sk_ssim(a[i, c], b[i, c], ranges[c]), abs=1e-10
            )
            ref = peak_signal_noise_ratio(a[i, c], b[i, c], data_range=ranges[c])
            assert got_p[i, c].item() == pytest.approx(ref, abs=1e-10)


@pytest.mark.parametrize("make", [_random_pair, _smooth_pair])
def test_psnr_matches_skimage(make):
    a, b = make(4)
    for R in (35.0, 0.5):
        got = psnr(torch.from_numpy(b), torch.from_numpy(a), R).item()
        assert got == pytest.approx(peak_signal_noise_ratio(a, b, data_range=R), abs=1e-10)


def test_psnr_hand_example():
    """Errors [[1, -1], [1, -1]] -> MSE 1; R = 10 -> PSNR = 10 log10(100 / 1) = 20 dB.

    With pixel (0, 0) masked and error 3 at (0, 1): MSE = (9 + 1 + 1) / 3 -> 10 log10(300 / 11).
    """
    t = torch.zeros(2, 2)
    assert psnr(torch.tensor([[1.0, -1.0], [1.0, -1.0]]), t, 10.0).item() == pytest.approx(20.0)
    mask = torch.tensor([[False, True], [True, True]])
    p = torch.tensor([[np.nan, 3.0], [1.0, -1.0]])
    got = psnr(p, t, 10.0, mask=mask).item()
    assert got == pytest.approx(10 * np.log10(300 / 11))


def test_masked_ssim_averages_the_map_over_fully_valid_windows():
    a, b = _smooth_pair(5, shape=(40, 50))
    valid = np.ones(a.shape, dtype=bool)
    valid[5:12, 30:41] = False  # a "land" patch
    valid[33, 7] = False
    a_fill, b_fill = a.copy(), b.copy()
    a_fill[~valid], b_fill[~valid] = 1.0e4, -3.0e3  # wild values that must not leak
    _, smap = _sk_ssim(a_fill, b_fill, 30.0, full=True)
    interior = np.zeros(a.shape, dtype=bool)
    interior[5:-5, 5:-5] = True
    full_window = minimum_filter(valid.astype(np.uint8), size=11, mode="constant", cval=0) == 1
    ref = smap[interior & full_window].mean()
    a_nan, b_nan = a.copy(), b.copy()
    a_nan[~valid] = np.nan
    got = ssim(torch.from_numpy(a_nan), torch.from_numpy(b_nan), 30.0, mask=torch.from_numpy(valid))
    assert got.item() == pytest.approx(ref, abs=1e-10)
    # an all-True mask changes nothing
    all_valid = torch.ones(a.shape, dtype=torch.bool)
    unmasked = ssim(torch.from_numpy(a), torch.from_numpy(b), 30.0)
    assert ssim(torch.from_numpy(a), torch.from_numpy(b), 30.0, mask=all_valid).item() == (
        pytest.approx(unmasked.item(), abs=1e-12)
    )


def test_frame_without_a_valid_window_is_nan():
    a = torch.randn(2, 12, 12)
    mask = torch.ones(2, 12, 12, dtype=torch.bool)
    mask[1, 6, 6] = False  # every 11x11 window of a 12x12 frame covers (6, 6)
    out = ssim(a, a + 0.1, 5.0, mask=mask)
    assert not torch.isnan(out[0]) and torch.isnan(out[1])


def test_identical_frames():
    a, _ = _smooth_pair(6)
    t = torch.from_numpy(a)
    assert ssim(t, t, 30.0).item() == pytest.approx(1.0, abs=1e-12)
    assert psnr(t, t, 30.0).item() == float("inf")


def test_window_weights():
    g = ssim_window()
    assert g.shape == (11,) and g.sum().item() == pytest.approx(1.0)
    x = np.arange(-5, 6)
    ref = np.exp(-(x**2) / (2 * 1.5**2))
    np.testing.assert_allclose(g.numpy(), ref / ref.sum(), rtol=1e-14)
    assert ssim_window("uniform").shape == (7,)


def test_bad_input_is_rejected():
    a = torch.zeros(16, 16)
    with pytest.raises(ValueError, match="data_range"):
        ssim(a, a, 0.0)
    with pytest.raises(ValueError, match="data_range"):
        psnr(a, a, -1.0)
    with pytest.raises(ValueError, match="same shape"):
        ssim(a, a[:8], 1.0)
    with pytest.raises(ValueError, match="window size"):
        ssim(a[:8, :8], a[:8, :8], 1.0)
    with pytest.raises(ValueError, match="window"):
        ssim(a, a, 1.0, window="box")
    b = a.clone()
    b[3, 3] = np.nan
    with pytest.raises(ValueError, match="target"):
        ssim(a, b, 1.0)
    with pytest.raises(ValueError, match="mask"):
        psnr(a, a, 1.0, mask=torch.ones(16, 16))
