"""A frame of reference that turns with the Sun, for global maps of Sun-controlled fields.

Large-scale ionospheric structure is tied to the Sun, which moves westward over the ground at
15 degrees of longitude per hour. In a frame that turns with the Sun the pattern is nearly
still, so a forecaster working there only has to learn how it changes, not how it moves.

For a window whose last input frame is at time t0, every frame is resampled onto longitudes
fixed relative to the Sun at t0: a frame at time t0 + d hours (d < 0 for input frames, d > 0
for forecast frames) becomes ``g(lon) = f(lon - 15 d)`` (degrees east, periodic linear
interpolation between columns, :func:`geostl.baselines.rotation_weights`). Forecasts made in
that frame are turned back with ``f(lon) = g(lon + 15 d)``. With the Forecaster's
``residual: last`` the zero forecast in this frame is exactly sun-fixed persistence.

Columns that repeat a meridian (IONEX's 180 E) and padded columns (whose longitudes continue
past the grid) are resampled like the meridian they fall on; they stay invalid in the masks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from geostl.baselines.sun_fixed import EARTH_ROTATION_DEG_PER_HOUR, rotation_weights


class SunFixedFrame(nn.Module):
    """Resample (B, T, C, H, W) frames between geographic and Sun-fixed longitudes.

    Args:
        lon: (W,) longitudes of the grid columns in degrees east (must cover the globe).
        step_hours: time between consecutive frames in hours.
    """

    def __init__(self, lon: Sequence[float], step_hours: float) -> None:
        super().__init__()
        self.lon = np.asarray(lon, dtype=np.float64)
        if not np.isfinite(step_hours) or step_hours <= 0:
            raise ValueError(f"SunFixedFrame: step_hours must be > 0, got {step_hours!r}")
        self.step_hours = float(step_hours)
        rotation_weights(self.lon, 0.0)  # raises a clear error for a non-global grid
        self._cache: dict[float, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def _weights(self, shift_deg: float, device: torch.device, dtype: torch.dtype):
        key = round(float(shift_deg), 9)
        if key not in self._cache:
            left, right, w = rotation_weights(self.lon, key)
            self._cache[key] = (
                torch.from_numpy(left),
                torch.from_numpy(right),
                torch.from_numpy(w),
            )
        left, right, w = self._cache[key]
        return left.to(device), right.to(device), w.to(device=device, dtype=dtype)

    def _resample(self, x: torch.Tensor, shifts_deg: np.ndarray) -> torch.Tensor:
        """Frame t sampled at ``lon + shifts_deg[t]``; x (B, T, C, H, W)."""
        if x.shape[-1] != self.lon.size:
            raise ValueError(
                f"SunFixedFrame: frames have {x.shape[-1]} columns, the grid has {self.lon.size}"
            )
        if x.shape[1] != len(shifts_deg):
            raise ValueError(f"SunFixedFrame: {x.shape[1]} frames but {len(shifts_deg)} shifts")
        out = []
        for t, shift in enumerate(shifts_deg):
            left, right, w = self._weights(shift, x.device, x.dtype)
            frame = x[:, t]
            a = frame.index_select(-1, left)
            b = frame.index_select(-1, right)
            out.append(a + w * (b - a))
        return torch.stack(out, dim=1)

    def offsets_hours(self, t_in: int, t_out: int) -> tuple[np.ndarray, np.ndarray]:
        """Hours from the last input frame: (T_in,) for the inputs (<= 0), (T_out,) ahead (> 0)."""
        before = (np.arange(t_in) - (t_in - 1)) * self.step_hours
        ahead = np.arange(1, t_out + 1) * self.step_hours
        return before, ahead

    def to_frame(self, x: torch.Tensor, hours: np.ndarray) -> torch.Tensor:
        """Geographic -> Sun-fixed: ``g(lon) = f(lon - 15 d)`` for frames at offsets ``hours``."""
        return self._resample(x, -EARTH_ROTATION_DEG_PER_HOUR * np.asarray(hours))

    def from_frame(self, g: torch.Tensor, hours: np.ndarray) -> torch.Tensor:
        """Sun-fixed -> geographic: ``f(lon) = g(lon + 15 d)``."""
        return self._resample(g, EARTH_ROTATION_DEG_PER_HOUR * np.asarray(hours))
