"""Small TaxiBJ release files generated in the exact layout (``date`` (N,) bytes YYYYMMDDSS,
``data`` (N, 2, 32, 32) float64), for the reader and pipeline tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np


def slot_labels(days: Sequence[str], slots: Sequence[int] = range(1, 49)) -> list[bytes]:
    """``[b"2013070101", ...]`` for every day (YYYYMMDD) and slot."""
    return [f"{d}{s:02d}".encode() for d in days for s in slots]


def flows(n: int, seed: int = 0, first: int = 0) -> np.ndarray:
    """(n, 2, 32, 32) float64 integer counts with a daily cycle and a fixed spatial pattern;
    slot ``first + k`` of the record gets row k (so files cut from one record agree)."""
    rng = np.random.default_rng(seed)
    k = np.arange(first, first + n)[:, None, None, None]
    yy, xx = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    spatial = 40.0 + 30.0 * np.sin(yy / 5.0) * np.cos(xx / 7.0)
    daily = 1.0 + 0.8 * np.sin(2 * np.pi * k / 48.0)
    chan = np.array([1.0, 0.9])[None, :, None, None]
    base = spatial[None, None] * daily * chan
    return np.round(base + rng.integers(0, 5, size=(n, 2, 32, 32))).astype(np.float64)


def write_taxibj(
    path: Path,
    dates: Sequence[bytes],
    data: np.ndarray | None = None,
    date_name: str = "date",
) -> Path:
    """Write one release-layout file (``data`` defaults to :func:`flows`)."""
    data = flows(len(dates)) if data is None else data
    with h5py.File(path, "w") as f:
        f.create_dataset(date_name, data=np.array(list(dates), dtype="S10"))
        f.create_dataset("data", data=data)
    return path
