"""Cloud-like gap masks: contiguous blobs from a thresholded, smoothed random field.

White Gaussian noise on the (time, row, column) grid is smoothed with a Gaussian of standard
deviation ``scale`` = (steps, pixels, pixels); the ``round(fraction * size)`` largest values are
marked missing. Smoothing makes neighbours correlated, so the gaps form contiguous blobs that
persist over a few steps, like clouds over a satellite swath; the fraction is exact.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

__all__ = ["cloud_mask"]


def cloud_mask(
    shape: tuple[int, int, int],
    fraction: float,
    scale: tuple[float, float, float] = (2.0, 2.0, 2.0),
    seed: int = 0,
) -> np.ndarray:
    """Bool (T, H, W) mask with exactly ``round(fraction * T * H * W)`` True (= missing) values.

    Args:
        shape: (T, H, W).
        fraction: missing fraction in [0, 1].
        scale: Gaussian smoothing sigma in (steps, rows, columns); 0 along an axis = independent.
        seed: random seed (same seed, same mask).
    """
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"shape: expected three positive sizes (T, H, W), got {shape}")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction: expected a value in [0, 1], got {fraction}")
    if len(scale) != 3 or min(scale) < 0:
        raise ValueError(f"scale: expected three sigmas >= 0 (steps, rows, columns), got {scale}")
    rng = np.random.default_rng(seed)
    field = gaussian_filter(rng.standard_normal(shape), sigma=scale, mode="reflect")
    n_missing = int(round(fraction * field.size))
    mask = np.zeros(field.size, dtype=bool)
    if n_missing:
        mask[np.argsort(field, axis=None, kind="stable")[-n_missing:]] = True
    return mask.reshape(shape)
