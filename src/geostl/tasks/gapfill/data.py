"""Datasets of the gap-filling task: gappy hours of a built-in sample -> true daily means.

The sample (default ``t2m``: ERA5 UK 2 m temperature, March 2019, hourly, 0.25 deg, 33 x 49)
is cropped from its north-west corner to ``data.crop`` (32 x 48 drops the southernmost row,
50.0 N, and the easternmost column, 2.0 E, so that 16 x 16 tiles cover it) and laid out as days
x 24 hours. Splits are chronological day ranges of the month (``data.splits``, inclusive): the
validation days are never the test days. Values are normalised with the mean and standard
deviation (K) of the train days' hours only.

Every sample is a dict of tensors (one tile, ``M = data.window`` days)::

    inputs   (1, M, 24, h, w) float32  normalised hourly values, 0 where missing
    missing  (1, M, 24, h, w) bool     True = hidden hour (cloud)
    padded   (M, 24) bool              all False (UTC days have 24 hours)
    targets  (M, h, w) float32         normalised true daily mean of all 24 hours
    tile     () int64                  tile index (row-major), day () int64 first day (0-based)

``train`` draws ``data.train_windows`` distinct (tile, start day, fresh cloud mask) windows
seeded by ``(train.seed + 1, index)``; ``val`` and ``test`` are every tile of consecutive
``M``-day blocks under one fixed cloud mask of the whole month (``cloud_mask`` seeded by
``train.seed``), so their scores are reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from geostl.tasks.gapfill.gap_masks import cloud_mask
from geostl.tasks.gapfill.layout import tile_maps

__all__ = ["GapfillField", "GapfillWindows", "build_gapfill_datasets", "load_field"]

HOURS = 24


@dataclass
class GapfillField:
    """The complete field and the fixed evaluation mask (float64, K).

    hourly (D*24, H, W), daily (D, H, W) true daily means, eval_missing (D*24, H, W) bool,
    lat (H,), lon (W,), mean/std (K) of the train days' hours.
    """

    name: str
    hourly: np.ndarray
    daily: np.ndarray
    eval_missing: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    mean: float
    std: float
    tile: tuple[int, int]
    window: int
    splits: dict[str, tuple[int, int]]

    @property
    def grid(self) -> tuple[int, int]:
        return self.hourly.shape[1], self.hourly.shape[2]

    def normalise(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std


def load_field(data: Mapping[str, Any], seed: int) -> GapfillField:
    """Read, crop and check the sample of ``data`` (the task's resolved ``data`` section)."""
    from geostl.datasets import sample

    name = data["sample"]
    ds = sample(name)
    if name not in ds:
        raise KeyError(f"data.sample {name!r}: the sample has no variable {name!r} ({list(ds)})")
    H, W = data["crop"]
    field = ds[name].isel(lat=slice(0, H), lon=slice(0, W))
    if field.shape[1:] != (H, W):
        raise ValueError(f"data.crop {[H, W]}: the sample {name!r} is only {field.shape[1:]}")
    if bool(field.isnull().any()):
        raise ValueError(f"sample {name}: NaN in the complete field; expected a gap-free cut")
    hourly = field.values.astype(np.float64)
    if hourly.shape[0] % HOURS:
        raise ValueError(f"sample {name}: {hourly.shape[0]} hours is not a whole number of days")
    days = hourly.shape[0] // HOURS
    splits = {k: (int(v[0]), int(v[1])) for k, v in data["splits"].items()}
    if splits["test"][1] > days:
        raise ValueError(f"data.splits.test {list(splits['test'])}: the sample has {days} days")
    first, last = splits["train"]
    train_hours = hourly[(first - 1) * HOURS : last * HOURS]
    missing = cloud_mask(hourly.shape, data["fraction"], tuple(data["scale"]), seed)
    return GapfillField(
        name=name,
        hourly=hourly,
        daily=hourly.reshape(days, HOURS, H, W).mean(axis=1),
        eval_missing=missing,
        lat=field["lat"].values.astype(np.float64),
        lon=field["lon"].values.astype(np.float64),
        mean=float(train_hours.mean()),
        std=float(train_hours.std()),
        tile=(int(data["tile"][0]), int(data["tile"][1])),
        window=int(data["window"]),
        splits=splits,
    )


class GapfillWindows(Dataset):
    """``M``-day windows of one tile (see the module docstring for the sample dict).

    ``starts``: (N,) 0-based first days; ``tiles``: (N,) tile indices; ``mask_seeds``: (N,)
    seeds of fresh cloud masks, or None to cut the windows out of ``field.eval_missing``.
    """

    def __init__(
        self,
        field: GapfillField,
        starts: np.ndarray,
        tiles: np.ndarray,
        mask_seeds: np.ndarray | None,
        fraction: float,
        scale: tuple[float, float, float],
    ) -> None:
        self.field, self.starts, self.tiles = field, starts, tiles
        self.mask_seeds, self.fraction, self.scale = mask_seeds, fraction, scale
        M = field.window
        days = field.daily.shape[0]
        self._hourly = tile_maps(field.normalise(field.hourly), field.tile).reshape(
            -1, days, HOURS, *field.tile
        )  # (N_tiles, D, 24, h, w)
        self._daily = tile_maps(field.normalise(field.daily), field.tile)  # (N_tiles, D, h, w)
        self._eval = tile_maps(field.eval_missing, field.tile).reshape(-1, days, HOURS, *field.tile)
        self._padded = torch.zeros(M, HOURS, dtype=torch.bool)

    def description(self, data_cfg: Mapping[str, Any] | None) -> dict[str, Any]:
        """What a checkpoint stores about the data (plain values; the Trainer calls this)."""
        f = self.field
        return {
            "config": dict(data_cfg) if data_cfg is not None else None,
            "task": "gapfill",
            "variable": f.name,
            "units": {f.name: "K"},
            "mean": f.mean,
            "std": f.std,
            "lat": torch.from_numpy(f.lat.copy()),
            "lon": torch.from_numpy(f.lon.copy()),
            "tile": list(f.tile),
            "window": f.window,
        }

    @property
    def n_tiles(self) -> int:
        return self._hourly.shape[0]

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        t, d, M = int(self.tiles[i]), int(self.starts[i]), self.field.window
        x = self._hourly[t, d : d + M]  # (M, 24, h, w)
        if self.mask_seeds is None:
            miss = self._eval[t, d : d + M]
        else:
            shape = (M * HOURS, *self.field.tile)
            seed = int(self.mask_seeds[i])
            miss = cloud_mask(shape, self.fraction, self.scale, seed).reshape(x.shape)
        x = np.where(miss, 0.0, x)
        return {
            "inputs": torch.from_numpy(x[None].astype(np.float32)),
            "missing": torch.from_numpy(np.ascontiguousarray(miss[None])),
            "padded": self._padded,
            "targets": torch.from_numpy(self._daily[t, d : d + M].astype(np.float32)),
            "tile": torch.tensor(t, dtype=torch.int64),
            "day": torch.tensor(d, dtype=torch.int64),
        }


def build_gapfill_datasets(
    data: Mapping[str, Any], seed: int
) -> tuple[GapfillField, dict[str, GapfillWindows]]:
    """``(field, {"train", "val", "test"})`` from the task's resolved ``data`` section."""
    field = load_field(data, seed)
    M = field.window
    n_tiles = (field.grid[0] // field.tile[0]) * (field.grid[1] // field.tile[1])
    frac, scale = float(data["fraction"]), tuple(float(s) for s in data["scale"])
    out: dict[str, GapfillWindows] = {}
    first, last = field.splits["train"]
    rng = np.random.default_rng([seed + 1, 0])
    n = int(data["train_windows"])
    out["train"] = GapfillWindows(
        field,
        starts=rng.integers(first - 1, last - M + 1, n),
        tiles=rng.integers(0, n_tiles, n),
        mask_seeds=rng.integers(0, 2**31, n),
        fraction=frac,
        scale=scale,
    )
    for split in ("val", "test"):
        first, last = field.splits[split]
        blocks = np.arange(first - 1, last, M)
        out[split] = GapfillWindows(
            field,
            starts=np.repeat(blocks, n_tiles),
            tiles=np.tile(np.arange(n_tiles), len(blocks)),
            mask_seeds=None,
            fraction=frac,
            scale=scale,
        )
    return field, out
