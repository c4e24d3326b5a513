"""Weights for geophysical metrics: validity mask x area (land/ocean) mask x cos(latitude).

Every metric in :mod:`geostl.metrics` is a ratio of weighted sums, ``sum(w * err) / sum(w)``, so
the weights need no normalisation: a constant factor cancels in the ratio.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["latitude_weights", "combine_weights", "check_area_mask", "meridian_weights"]


def latitude_weights(
    lat_deg: torch.Tensor | np.ndarray | Sequence[float],
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Return ``cos(latitude)`` for grid-row latitudes given in degrees north.

    Args:
        lat_deg: (H,) latitudes in degrees north, any order (ascending or descending).
        dtype: floating dtype of the result (float64 by default).
        device: device of the result (that of ``lat_deg`` when it is a tensor, else CPU).

    Returns:
        (H,) tensor of weights ``cos(pi * lat / 180)``, in [0, 1]; not normalised.

    Raises:
        ValueError: if ``lat_deg`` is not 1-D, is empty, holds NaN/inf or values outside
            [-90, 90] degrees.
    """
    if isinstance(lat_deg, torch.Tensor):
        lat = lat_deg.detach().to(dtype=torch.float64, device=device or lat_deg.device)
    else:
        lat = torch.as_tensor(np.asarray(lat_deg, dtype=np.float64), device=device)
    if lat.ndim != 1 or lat.numel() == 0:
        raise ValueError(
            f"lat_deg: expected a non-empty 1-D array of latitudes (H,), got shape "
            f"{tuple(lat.shape)}"
        )
    if not bool(torch.isfinite(lat).all()):
        raise ValueError("lat_deg: latitudes must be finite, found NaN or inf")
    worst = float(lat.abs().max())
    if worst > 90.0:
        raise ValueError(
            f"lat_deg: latitudes must lie in [-90, 90] degrees north, found |lat| = {worst}; "
            "were radians or colatitudes passed?"
        )
    # cos(+-90 deg) is ~6e-17 in float64, never negative: no clipping is needed.
    return torch.cos(torch.deg2rad(lat)).to(dtype)


def check_area_mask(area_mask: torch.Tensor | np.ndarray, name: str = "area_mask") -> torch.Tensor:
    """Validate a land/ocean (area) mask and return it as a float64 tensor.

    Args:
        area_mask: (H, W) bool (True = counts) or float weights (finite, >= 0).
        name: argument name used in error messages.

    Returns:
        (H, W) float64 tensor (1.0/0.0 for a bool mask).
    """
    mask = torch.as_tensor(area_mask)
    if mask.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (H, W) mask, got shape {tuple(mask.shape)}")
    if mask.dtype == torch.bool:
        return mask.to(torch.float64)
    if mask.is_complex():
        raise ValueError(f"{name}: expected a bool or real-valued mask, got {mask.dtype}")
    mask = mask.to(torch.float64)
    if not bool(torch.isfinite(mask).all()):
        raise ValueError(f"{name}: float mask must be finite, found NaN or inf")
    if bool((mask < 0).any()):
        raise ValueError(f"{name}: float mask must be >= 0, found {float(mask.min())}")
    return mask


def combine_weights(
    valid: torch.Tensor,
    area_mask: torch.Tensor | np.ndarray | None = None,
    lat_weights: torch.Tensor | None = None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Combine validity, area and latitude weights into one weight tensor.

    ``w[b, t, c, i, j] = valid[b, t, c, i, j] * area_mask[i, j] * lat_weights[i]``

    Args:
        valid: (B, T, C, H, W) bool, True where the value counts.
        area_mask: optional (H, W) land/ocean mask, bool or non-negative float.
        lat_weights: optional (H,) latitude weights, e.g. from :func:`latitude_weights`.
        dtype: floating dtype of the result.

    Returns:
        (B, T, C, H, W) weights of ``dtype`` on the device of ``valid``.
    """
    if valid.dtype != torch.bool:
        raise ValueError(f"valid: expected a bool tensor (True = counts), got {valid.dtype}")
    if valid.ndim != 5:
        raise ValueError(f"valid: expected shape (B, T, C, H, W), got {tuple(valid.shape)}")
    H, W = valid.shape[-2:]
    w = valid.to(dtype)
    if area_mask is not None:
        area = check_area_mask(area_mask)
        if tuple(area.shape) != (H, W):
            raise ValueError(
                f"area_mask: expected shape (H, W) = ({H}, {W}) to match the data, got "
                f"{tuple(area.shape)}"
            )
        w = w * area.to(device=w.device, dtype=dtype)
    if lat_weights is not None:
        lw = torch.as_tensor(lat_weights)
        if lw.ndim != 1 or lw.shape[0] != H:
            raise ValueError(
                f"lat_weights: expected shape (H,) = ({H},) to match the data, got "
                f"{tuple(lw.shape)}"
            )
        w = w * lw.to(device=w.device, dtype=dtype)[:, None]
    return w


def meridian_weights(lon_deg: torch.Tensor | np.ndarray | Sequence[float]) -> torch.Tensor:
    """(W,) float64 column weights that count each meridian once.

    Global grids such as IONEX's (-180 .. 180 step 5, 73 columns) store the same meridian
    twice. Counting both columns would give that meridian double weight in every area mean;
    the later duplicate (modulo 360 degrees) gets weight 0, every other column 1.

    Args:
        lon_deg: (W,) column longitudes in degrees east.
    """
    lon = np.asarray(lon_deg, dtype=np.float64)
    if lon.ndim != 1 or not np.isfinite(lon).all():
        raise ValueError(f"lon: expected a finite 1-D longitude axis in degrees, got {lon.shape}")
    wrapped = np.round(np.mod(lon, 360.0), 9) % 360.0
    _, first = np.unique(wrapped, return_index=True)
    weights = np.zeros(lon.size, dtype=np.float64)
    weights[first] = 1.0
    return torch.from_numpy(weights)
