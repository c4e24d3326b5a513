"""Validity masks and padding/cropping of the grid to a multiple of a patch size.

Masks are bool, True = valid. ``pad_to_multiple`` adds rows/columns (value 0, mask False) at the
bottom and right; ``crop_to_multiple`` drops rows/columns at the bottom and right. Both return a
:class:`GridAdjust` holding what is needed to undo them (``undo``) or to put a field back on the
original grid (``restore``: cropped pixels come back as NaN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor


def validity_mask(x: ArrayLike) -> ArrayLike:
    """True where ``x`` is finite (NaN/inf = missing); same shape as ``x``."""
    return torch.isfinite(x) if isinstance(x, torch.Tensor) else np.isfinite(x)


def combine_masks(validity: ArrayLike, area: ArrayLike | None) -> ArrayLike:
    """``validity`` (..., H, W) AND the land/ocean ``area`` mask (H, W) (None = all valid)."""
    if area is None:
        return validity
    if tuple(area.shape) != tuple(validity.shape[-2:]):
        raise ValueError(
            f"area mask of shape {tuple(area.shape)} does not match the grid "
            f"{tuple(validity.shape[-2:])}"
        )
    return validity & area


@dataclass(frozen=True)
class GridAdjust:
    """How a grid of shape ``(height, width)`` was padded (>0) or cropped (<0) at bottom/right."""

    height: int
    width: int
    d_rows: int
    d_cols: int

    @property
    def shape(self) -> tuple[int, int]:
        """The adjusted (H, W)."""
        return self.height + self.d_rows, self.width + self.d_cols

    def apply(self, x: ArrayLike, fill: float | bool = 0) -> ArrayLike:
        """Adjust the last two dims of ``x`` (..., height, width) to :attr:`shape`."""
        if tuple(x.shape[-2:]) != (self.height, self.width):
            raise ValueError(
                f"expected a grid of shape {(self.height, self.width)}, got {tuple(x.shape[-2:])}"
            )
        h, w = self.shape
        x = x[..., : min(h, self.height), : min(w, self.width)]
        if self.d_rows <= 0 and self.d_cols <= 0:
            return x
        pr, pc = max(self.d_rows, 0), max(self.d_cols, 0)
        if isinstance(x, torch.Tensor):
            out = torch.full((*x.shape[:-2], h, w), fill, dtype=x.dtype, device=x.device)
        else:
            out = np.full((*x.shape[:-2], h, w), fill, dtype=x.dtype)
        out[..., : h - pr, : w - pc] = x
        return out

    def undo(self, x: ArrayLike) -> ArrayLike:
        """Remove padding from (..., H, W); for a crop, the cropped grid is returned as is."""
        h, w = self.height + min(self.d_rows, 0), self.width + min(self.d_cols, 0)
        return x[..., :h, :w]

    def restore(self, x: ArrayLike) -> ArrayLike:
        """Back to the original (..., height, width); cropped pixels become NaN (float only)."""
        y = self.undo(x)
        if self.d_rows >= 0 and self.d_cols >= 0:
            return y
        shape = (*y.shape[:-2], self.height, self.width)
        if isinstance(y, torch.Tensor):
            out = torch.full(shape, float("nan"), dtype=y.dtype, device=y.device)
        else:
            out = np.full(shape, np.nan, dtype=y.dtype)
        out[..., : y.shape[-2], : y.shape[-1]] = y
        return out

    def coords(self, values: np.ndarray, axis: str) -> np.ndarray:
        """Coordinates (lat for ``axis='rows'``, lon for ``'cols'``) of the adjusted grid.

        Padded positions continue the grid's spacing linearly (so cos(latitude) stays finite;
        those pixels are invalid in every mask)."""
        v = np.asarray(values, dtype=np.float64)
        d = self.d_rows if axis == "rows" else self.d_cols
        if d <= 0:
            return v[: v.size + d] if d < 0 else v.copy()
        step = v[-1] - v[-2] if v.size > 1 else 1.0
        return np.concatenate([v, v[-1] + step * np.arange(1, d + 1)])


def pad_to_multiple(height: int, width: int, multiple: int) -> GridAdjust:
    """Padding of a (height, width) grid up to the next multiple of ``multiple``."""
    if multiple < 1:
        raise ValueError(f"padding multiple must be >= 1, got {multiple}")
    return GridAdjust(height, width, (-height) % multiple, (-width) % multiple)


def crop_to_multiple(height: int, width: int, multiple: int) -> GridAdjust:
    """Cropping of a (height, width) grid down to a multiple of ``multiple``."""
    if multiple < 1:
        raise ValueError(f"crop multiple must be >= 1, got {multiple}")
    if height < multiple or width < multiple:
        raise ValueError(f"cannot crop a {height}x{width} grid to a multiple of {multiple}")
    return GridAdjust(height, width, -(height % multiple), -(width % multiple))
