"""Fine time steps grouped into coarse periods, padded to a fixed length, tiled spatially.

ClimaNet arranges gappy daily maps as months x days, every month padded to 31 days; the
same layout serves hours in days (padded to 24, which UTC days always fill). For a field
(time, lat, lon) the builder returns

    values  (N, 1, M, T, h, w) float32, 0 where not observed (NaN, padding, land)
    missing (N, 1, M, T, h, w) bool, True = missing observation over the sea (NaN, not land),
            and every pixel of a calendar step absent from the time axis
    padded  (N, M, T) bool, True = step beyond the period's calendar length (Feb 29-31)
    land    (N, h, w) bool, True = land

with N spatial tiles of h x w pixels (row-major), M periods and T steps per period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["PERIODS", "PeriodLayout", "build_period_layout", "tile_maps", "untile_maps"]

#: period name -> (steps per period after padding, step name)
PERIODS: dict[str, tuple[int, str]] = {"month": (31, "day"), "day": (24, "hour")}


@dataclass
class PeriodLayout:
    """Period x step arrays of one field (see the module docstring for shapes)."""

    values: np.ndarray
    missing: np.ndarray
    padded: np.ndarray
    land: np.ndarray
    periods: pd.DatetimeIndex
    period: str
    tile: tuple[int, int]
    grid: tuple[int, int]


def _period_index(times: pd.DatetimeIndex, period: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """(period starts, step index within the period) for every time."""
    if period == "month":
        starts = times.to_period("M").to_timestamp()
        steps = np.asarray(times.day) - 1
    else:
        starts = times.normalize()
        steps = np.asarray(times.hour)
    return pd.DatetimeIndex(starts), steps


def _period_length(start: pd.Timestamp, period: str) -> int:
    return int(start.days_in_month) if period == "month" else 24


def tile_maps(maps: np.ndarray, tile: tuple[int, int]) -> np.ndarray:
    """(..., H, W) -> (N, ..., h, w) with N = (H/h)(W/w) tiles in row-major order."""
    H, W = maps.shape[-2:]
    th, tw = tile
    if H % th or W % tw:
        raise ValueError(
            f"tile {tile}: the grid ({H}, {W}) is not a whole number of tiles; crop the field "
            f"(e.g. .isel(lat=slice(0, {H - H % th}), lon=slice(0, {W - W % tw}))) first"
        )
    lead = maps.shape[:-2]
    x = maps.reshape(*lead, H // th, th, W // tw, tw)
    x = np.moveaxis(x, (-4, -2), (0, 1))  # (H/h, W/w, ..., h, w)
    return x.reshape(-1, *lead, th, tw)


def untile_maps(tiles: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`tile_maps`: (N, ..., h, w) -> (..., H, W)."""
    H, W = grid
    th, tw = tiles.shape[-2:]
    rows, cols = H // th, W // tw
    if rows * cols != tiles.shape[0]:
        raise ValueError(f"tiles: {tiles.shape[0]} tiles do not cover the grid {grid}")
    lead = tiles.shape[1:-2]
    x = tiles.reshape(rows, cols, *lead, th, tw)
    x = np.moveaxis(x, (0, 1), (-4, -2))
    return x.reshape(*lead, H, W)


def build_period_layout(
    field: xr.DataArray,
    period: str = "month",
    land: xr.DataArray | np.ndarray | None = None,
    tile: tuple[int, int] | None = None,
) -> PeriodLayout:
    """Arrange a gappy field (time, lat, lon) as periods x padded steps, tiled.

    Args:
        field: (time, lat, lon) values, NaN = missing. Daily data for ``period="month"``,
            hourly data for ``period="day"``; at most one time per (period, step).
        period: ``"month"`` (days padded to 31) or ``"day"`` (hours, 24).
        land: (lat, lon) land mask, bool or 0/1 (or a land fraction: > 0 counts as land, as in
            the seed); None = all sea.
        tile: (h, w) tile size; None = the whole grid as one tile. The grid must be a whole
            number of tiles.

    Returns:
        A :class:`PeriodLayout`.
    """
    if period not in PERIODS:
        raise ValueError(f"period: expected one of {sorted(PERIODS)}, got {period!r}")
    if tuple(field.dims) != ("time", "lat", "lon"):
        raise ValueError(
            f"field {field.name!r}: expected dims ('time', 'lat', 'lon'), got {field.dims}"
        )
    T, step_name = PERIODS[period]
    times = pd.DatetimeIndex(field["time"].values)
    starts, steps = _period_index(times, period)
    keys = pd.MultiIndex.from_arrays([starts, steps])
    if keys.has_duplicates:
        dup = times[keys.duplicated()][0]
        raise ValueError(
            f"field {field.name!r}: more than one value per {period} and {step_name} "
            f"(e.g. at {dup}); expected {step_name}ly data"
        )
    periods = pd.DatetimeIndex(sorted(set(starts)))
    M = len(periods)
    H, W = field.sizes["lat"], field.sizes["lon"]
    data = np.asarray(field.values, dtype=np.float32)
    if land is None:
        land_map = np.zeros((H, W), dtype=bool)
    else:
        land_map = np.asarray(land)
        if land_map.shape != (H, W):
            raise ValueError(f"land: expected the field's grid {(H, W)}, got {land_map.shape}")
        if land_map.dtype != bool:
            if not np.isfinite(land_map).all():
                raise ValueError("land: NaN in the land mask; expected 0/1 or a land fraction")
            land_map = land_map > 0
    values = np.zeros((M, T, H, W), dtype=np.float32)
    present = np.zeros((M, T, H, W), dtype=bool)
    m_idx = periods.get_indexer(starts)
    values[m_idx, steps] = np.nan_to_num(data, nan=0.0)
    present[m_idx, steps] = np.isfinite(data)
    if bool(np.isinf(data).any()):
        raise ValueError(f"field {field.name!r}: infinite values; expected finite values or NaN")
    padded = np.zeros((M, T), dtype=bool)
    for m, start in enumerate(periods):
        padded[m, _period_length(start, period) :] = True
    missing = ~present & ~land_map & ~padded[:, :, None, None]
    values[~present] = 0.0
    values[:, :, land_map] = 0.0
    tile = tuple(tile) if tile is not None else (H, W)
    v = tile_maps(values, tile)[:, None]
    miss = tile_maps(missing, tile)[:, None]
    n = v.shape[0]
    return PeriodLayout(
        values=v,
        missing=miss,
        padded=np.broadcast_to(padded, (n, M, T)).copy(),
        land=tile_maps(land_map, tile),
        periods=periods,
        period=period,
        tile=tile,
        grid=(H, W),
    )
