"""Per-channel normalisation ``y = (x - offset) / scale``, fitted on the train split only.

Two methods per channel:

- ``standard``: ``offset`` = mean, ``scale`` = standard deviation (population, ddof=0) of the
  channel's finite values over the train split, computed in float64 by streaming over time
  chunks (Chan et al. pairwise merge of count/mean/M2), so data larger than memory work.
- ``minmax``: ``offset`` = minimum, ``scale`` = maximum - minimum of the channel's finite
  values over the train split, so the train range maps to [0, 1] (OpenSTL's TaxiBJ scaling,
  DeepST's min-max to [-1, 1] then ``(x + 1) / 2``, per channel here);
- ``fixed``: ``offset`` and ``scale`` given in the config, e.g. the Channel Mixer paper's scalings
  TEC/200 TECU -> (0, 200); Kp (0..9) x10/100 -> (0, 10); (Dst + 500)/600 -> (-500, 600).

Nothing is clipped: values outside the training range map outside the usual range.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor


@dataclass
class RunningStats:
    """Streaming NaN-aware count / mean / M2 / min / max in float64."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    minimum: float = float("inf")
    maximum: float = float("-inf")

    def update(self, chunk: np.ndarray) -> None:
        """Add the finite values of ``chunk`` (any shape)."""
        x = np.asarray(chunk, dtype=np.float64).ravel()
        x = x[np.isfinite(x)]
        n_b = int(x.size)
        if n_b == 0:
            return
        mean_b = float(x.mean())
        m2_b = float(np.sum((x - mean_b) ** 2))
        n_a = self.count
        n = n_a + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * n_b / n
        self.m2 = self.m2 + m2_b + delta * delta * n_a * n_b / n
        self.count = n
        self.minimum = min(self.minimum, float(x.min()))
        self.maximum = max(self.maximum, float(x.max()))

    @property
    def std(self) -> float:
        return float(np.sqrt(self.m2 / self.count)) if self.count else float("nan")


class Normaliser:
    """Channel-wise affine normaliser ``y = (x - offset[c]) / scale[c]``.

    Args:
        offsets: channel name -> offset (physical units).
        scales: channel name -> scale (physical units), non-zero.
        methods: channel name -> ``"standard"``, ``"minmax"`` or ``"fixed"`` (how it was
            obtained).
        stats: optional channel name -> fitted statistics (count, mean, std, min, max).
    """

    def __init__(
        self,
        offsets: dict[str, float],
        scales: dict[str, float],
        methods: dict[str, str],
        stats: dict[str, dict[str, float]] | None = None,
    ) -> None:
        if set(offsets) != set(scales) or set(offsets) != set(methods):
            raise ValueError("Normaliser: offsets, scales and methods must name the same channels")
        for name, s in scales.items():
            if not np.isfinite(s) or s == 0:
                raise ValueError(
                    f"Normaliser: channel {name!r} has scale {s!r}; expected a "
                    "finite non-zero number"
                )
            if not np.isfinite(offsets[name]):
                raise ValueError(f"Normaliser: channel {name!r} has offset {offsets[name]!r}")
        self.offsets = {k: float(v) for k, v in offsets.items()}
        self.scales = {k: float(v) for k, v in scales.items()}
        self.methods = dict(methods)
        self.stats = {k: dict(v) for k, v in (stats or {}).items()}

    @property
    def names(self) -> list[str]:
        return list(self.offsets)

    def _params(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        missing = [n for n in names if n not in self.offsets]
        if missing:
            raise KeyError(
                f"Normaliser: no statistics for channel(s) {missing} (known: {self.names})"
            )
        return (
            np.array([self.offsets[n] for n in names], dtype=np.float64),
            np.array([self.scales[n] for n in names], dtype=np.float64),
        )

    def _apply(self, x: ArrayLike, names: Sequence[str], axis: int, inverse: bool) -> ArrayLike:
        off, sc = self._params(list(names))
        ndim = x.ndim
        ax = axis % ndim
        if x.shape[ax] != len(names):
            raise ValueError(
                f"Normaliser: axis {axis} of shape {tuple(x.shape)} has "
                f"{x.shape[ax]} channels, expected {len(names)} ({list(names)})"
            )
        shape = [1] * ndim
        shape[ax] = len(names)
        if isinstance(x, torch.Tensor):
            dtype = x.dtype if x.is_floating_point() else torch.float32
            o = torch.as_tensor(off, dtype=dtype, device=x.device).reshape(shape)
            s = torch.as_tensor(sc, dtype=dtype, device=x.device).reshape(shape)
        else:
            dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
            o = off.astype(dtype).reshape(shape)
            s = sc.astype(dtype).reshape(shape)
        return x * s + o if inverse else (x - o) / s

    def transform(self, x: ArrayLike, names: Sequence[str], axis: int = -3) -> ArrayLike:
        """Physical -> normalised. ``x`` has ``len(names)`` channels along ``axis``
        (default -3, i.e. (..., C, H, W)); NumPy or torch, dtype kept if floating."""
        return self._apply(x, names, axis, inverse=False)

    def inverse(self, x: ArrayLike, names: Sequence[str], axis: int = -3) -> ArrayLike:
        """Normalised -> physical units; the exact inverse of :meth:`transform`."""
        return self._apply(x, names, axis, inverse=True)

    def state_dict(self) -> dict[str, Any]:
        """Plain numbers and strings (JSON/YAML-able); :meth:`from_state_dict` inverts it."""
        return {
            "channels": {
                n: {"method": self.methods[n], "offset": self.offsets[n], "scale": self.scales[n]}
                for n in self.names
            },
            "stats": {n: dict(s) for n, s in self.stats.items()},
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Normaliser:
        try:
            ch = state["channels"]
            return cls(
                {n: c["offset"] for n, c in ch.items()},
                {n: c["scale"] for n, c in ch.items()},
                {n: c["method"] for n, c in ch.items()},
                state.get("stats"),
            )
        except (KeyError, TypeError) as err:
            msg = f"Normaliser.from_state_dict: malformed state, missing {err}"
            raise ValueError(msg) from None

    def __repr__(self) -> str:
        parts = [
            f"{n}: ({self.offsets[n]:.4g}, {self.scales[n]:.4g}, {self.methods[n]})"
            for n in self.names
        ]
        return "Normaliser(" + "; ".join(parts) + ")"


def contiguous_runs(selected: np.ndarray) -> list[tuple[int, int]]:
    """Half-open index ranges ``[a, b)`` where the (T,) bool ``selected`` is True."""
    sel = np.asarray(selected, dtype=bool)
    edges = np.diff(np.concatenate([[0], sel.astype(np.int8), [0]]))
    return list(
        zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True)
    )


def fit_normaliser(
    readers: dict[str, Callable[[int, int], np.ndarray]],
    selected: np.ndarray,
    fixed: dict[str, tuple[float, float]] | None = None,
    chunk: int = 256,
    method: str = "standard",
) -> Normaliser:
    """Fit a Normaliser on the selected (train) time steps only.

    Args:
        readers: channel name -> ``read(a, b)`` returning the channel's physical values for time
            steps ``a <= t < b`` (any trailing shape; NaN = missing). Only selected steps are
            ever requested, ``chunk`` steps at a time, so memory stays flat.
        selected: (T,) bool, True for the train time steps.
        fixed: channel name -> ``(offset, scale)``; these channels are not read at all.
        chunk: time steps per read.
        method: ``"standard"`` (mean, std) or ``"minmax"`` (min, max - min) for the channels
            not in ``fixed``.
    """
    if method not in ("standard", "minmax"):
        raise ValueError(f"fit_normaliser: method {method!r}; expected 'standard' or 'minmax'")
    fixed = fixed or {}
    offsets: dict[str, float] = {}
    scales: dict[str, float] = {}
    methods: dict[str, str] = {}
    stats: dict[str, dict[str, float]] = {}
    runs = contiguous_runs(selected)
    for name, read in readers.items():
        if name in fixed:
            offsets[name], scales[name] = (float(v) for v in fixed[name])
            methods[name] = "fixed"
            continue
        rs = RunningStats()
        for a, b in runs:
            for s in range(a, b, chunk):
                rs.update(read(s, min(s + chunk, b)))
        if rs.count == 0:
            raise ValueError(
                f"Normaliser: channel {name!r} has no finite value in the train "
                "split; give a fixed scaling for it"
            )
        if not rs.std > 0:
            raise ValueError(
                f"Normaliser: channel {name!r} is constant ({rs.mean!r}) over the "
                "train split; give a fixed scaling (offset, scale) for it"
            )
        if method == "minmax":
            offsets[name], scales[name] = rs.minimum, rs.maximum - rs.minimum
        else:
            offsets[name], scales[name] = rs.mean, rs.std
        methods[name] = method
        stats[name] = {
            "count": rs.count,
            "mean": rs.mean,
            "std": rs.std,
            "min": rs.minimum,
            "max": rs.maximum,
        }
    for name in fixed:
        if name not in readers:
            raise KeyError(
                f"Normaliser: fixed scaling given for unknown channel {name!r} "
                f"(channels: {list(readers)})"
            )
    return Normaliser(offsets, scales, methods, stats)
