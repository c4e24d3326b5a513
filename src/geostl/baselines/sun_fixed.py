"""Sun-fixed persistence for global ionosphere maps.

The ionosphere's large-scale structure is tied to the Sun, which moves westward over the
ground at 15 degrees of longitude per hour. Sun-fixed persistence therefore rotates the last
map westward with the Sun: the forecast at longitude ``lon`` and lead ``dt`` hours is the
last map at longitude ``lon + 15 * dt`` (degrees east), linearly interpolated between grid
columns with the longitude axis treated as periodic.

It is the baseline a TEC model must beat: on 15-minute global maps it roughly halves the
error of plain persistence at a 3-hour lead.
"""

from __future__ import annotations

import numpy as np
import torch

EARTH_ROTATION_DEG_PER_HOUR = 15.0


def _periodic_columns(lon_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique longitudes modulo 360 in ascending order, and for each column its unique index.

    A grid like IONEX's (-180 .. 180 step 5) holds the same meridian twice; both columns map
    to one unique longitude.
    """
    wrapped = np.mod(np.asarray(lon_deg, dtype=np.float64), 360.0)
    wrapped = np.round(wrapped, 9) % 360.0
    unique, inverse = np.unique(wrapped, return_inverse=True)
    return unique, inverse


def rotation_weights(lon_deg, shift_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column indices and weights that sample a map at ``lon + shift_deg``.

    Args:
        lon_deg: (W,) longitudes of the grid columns in degrees east, covering the globe.
        shift_deg: longitude offset in degrees (positive samples to the east).

    Returns:
        ``(left, right, w)``, each (W,): the forecast column j is
        ``(1 - w[j]) * map[..., left[j]] + w[j] * map[..., right[j]]``.
    """
    lon = np.asarray(lon_deg, dtype=np.float64)
    if lon.ndim != 1 or lon.size < 2:
        raise ValueError(f"sun-fixed persistence: lon must be a 1-D axis, got shape {lon.shape}")
    unique, inverse = _periodic_columns(lon)
    gaps = np.diff(np.concatenate([unique, unique[:1] + 360.0]))
    if gaps.max() > 2.0 * np.median(gaps) + 1e-9:
        raise ValueError(
            "sun-fixed persistence needs a global longitude axis; the grid has a gap of "
            f"{gaps.max():g} degrees (median spacing {np.median(gaps):g})"
        )
    # One representative original column for each unique longitude.
    representative = np.zeros(unique.size, dtype=np.int64)
    representative[inverse[::-1]] = np.arange(lon.size)[::-1]
    target = np.mod(lon + shift_deg, 360.0)
    # Position of each target in the periodic sequence unique[0..n-1], unique[0]+360.
    extended = np.concatenate([unique, unique[:1] + 360.0])
    target = np.where(target < unique[0], target + 360.0, target)
    k = np.clip(np.searchsorted(extended, target, side="right") - 1, 0, unique.size - 1)
    w = (target - extended[k]) / (extended[k + 1] - extended[k])
    left = representative[k]
    right = representative[(k + 1) % unique.size]
    return left, right, w


def sun_fixed_persistence(
    last_frame: torch.Tensor, lon_deg, lead_hours, valid: torch.Tensor | None = None
):
    """Rotate the last map westward with the Sun for each lead time.

    Args:
        last_frame: (..., H, W) last observed map, any units (TECU for TEC).
        lon_deg: (W,) column longitudes in degrees east; must cover the globe.
        lead_hours: (T_out,) lead times in hours.
        valid: optional (..., H, W) bool validity of ``last_frame``.

    Returns:
        ``(forecast, forecast_valid)`` of shape (..., T_out, H, W): the forecast in the units
        of ``last_frame`` and its validity (a forecast pixel is valid when both columns it
        interpolates with a non-zero weight are valid).
    """
    lon = np.asarray(lon_deg, dtype=np.float64)
    if last_frame.shape[-1] != lon.size:
        raise ValueError(
            f"sun-fixed persistence: last_frame has {last_frame.shape[-1]} columns but lon has "
            f"{lon.size} values"
        )
    leads = np.atleast_1d(np.asarray(lead_hours, dtype=np.float64))
    frames, masks = [], []
    for lead in leads:
        left, right, w = rotation_weights(lon, EARTH_ROTATION_DEG_PER_HOUR * lead)
        left_t = torch.as_tensor(left, device=last_frame.device)
        right_t = torch.as_tensor(right, device=last_frame.device)
        w_t = torch.as_tensor(w, dtype=last_frame.dtype, device=last_frame.device)
        a = last_frame.index_select(-1, left_t)
        b = last_frame.index_select(-1, right_t)
        frames.append(a + w_t * (b - a))
        if valid is not None:
            # The right column only matters when it carries weight.
            right_ok = valid.index_select(-1, right_t) | (w_t == 0)
            masks.append(valid.index_select(-1, left_t) & right_ok)
    forecast = torch.stack(frames, dim=-3)
    if valid is None:
        forecast_valid = torch.ones_like(forecast, dtype=torch.bool)
    else:
        forecast_valid = torch.stack(masks, dim=-3)
    return forecast, forecast_valid
