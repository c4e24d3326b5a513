"""``DataConfig``: the data section of a run config, and ``build_datasets``.

Plain-dict form (the engine loads it from YAML)::

    {
      "schema": {...},                                 # see geostl.data.schema
      "splits": {"train": {"start": ..., "end": ...}, "val": {...}, "test": {...}},
      "window": {"t_in": 12, "t_out": 12, "stride": 1, "time_step": None},
      "normalisation": {"method": "standard",          # or "minmax" (train min -> 0, max
                                                       # -> 1), or "fixed" (every channel)
                        "fixed": {"tec": {"offset": 0.0, "scale": 200.0}},
                        "chunk": 256},                 # time steps per streaming read
      "future_forcings": "known",                      # known | oracle | none
      "padding": {"multiple": 4, "mode": "pad"},       # or None; mode pad | crop
    }

Unknown keys are errors that suggest close matches. ``to_dict`` round-trips ``from_dict``.
Computed calendar/position features get the fixed scalings of
``geostl.data.features.DEFAULT_FIXED_SCALING`` unless ``normalisation.fixed`` names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from geostl._keys import check_choice, check_keys

from .features import DEFAULT_FIXED_SCALING
from .forcings import ForcingStack
from .masks import GridAdjust, crop_to_multiple, pad_to_multiple
from .normalise import Normaliser, fit_normaliser
from .schema import ChannelSchema
from .splits import Split, check_splits, parse_splits
from .static import build_static
from .timeaxis import target_axis
from .windows import FUTURE_POLICIES, WindowDataset

_TOP_KEYS = ("schema", "splits", "window", "normalisation", "future_forcings", "padding")


@dataclass(frozen=True)
class DataConfig:
    """Validated data configuration (see module docstring for the dict form)."""

    schema: ChannelSchema
    splits: dict[str, Split]
    t_in: int
    t_out: int
    stride: int = 1
    time_step: str | None = None
    norm_method: str = "standard"
    fixed: dict[str, tuple[float, float]] = field(default_factory=dict)
    norm_chunk: int = 256
    future_forcings: str = "known"
    pad_multiple: int | None = None
    pad_mode: str = "pad"

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "data") -> DataConfig:
        check_keys(d, _TOP_KEYS, where, required=("schema", "splits", "window"))
        schema = ChannelSchema.from_dict(d["schema"], f"{where}.schema")
        splits = parse_splits(d["splits"], f"{where}.splits")
        win = d["window"]
        check_keys(
            win,
            ("t_in", "t_out", "stride", "time_step"),
            f"{where}.window",
            required=("t_in", "t_out"),
        )
        for key in ("t_in", "t_out", "stride"):
            v = win.get(key, 1)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{where}.window.{key}: expected an integer >= 1, got {v!r}")
        norm = d.get("normalisation") or {}
        check_keys(norm, ("method", "fixed", "chunk"), f"{where}.normalisation")
        method = check_choice(
            norm.get("method", "standard"),
            ("standard", "minmax", "fixed"),
            f"{where}.normalisation.method",
        )
        fixed: dict[str, tuple[float, float]] = {}
        channels = set(schema.targets) | set(schema.forcing_names)
        for name, sc in (norm.get("fixed") or {}).items():
            w = f"{where}.normalisation.fixed.{name}"
            if name not in channels:
                check_choice(name, sorted(channels), f"{where}.normalisation.fixed")
            check_keys(sc, ("offset", "scale"), w, required=("offset", "scale"))
            if not float(sc["scale"]) != 0:
                raise ValueError(f"{w}.scale: must be non-zero, got {sc['scale']!r}")
            fixed[name] = (float(sc["offset"]), float(sc["scale"]))
        policy = check_choice(
            d.get("future_forcings", "known"), FUTURE_POLICIES, f"{where}.future_forcings"
        )
        pad = d.get("padding")
        multiple, mode = None, "pad"
        if pad is not None:
            check_keys(pad, ("multiple", "mode"), f"{where}.padding", required=("multiple",))
            multiple = pad["multiple"]
            if not isinstance(multiple, int) or multiple < 1:
                raise ValueError(
                    f"{where}.padding.multiple: expected an integer >= 1, got {multiple!r}"
                )
            mode = check_choice(pad.get("mode", "pad"), ("pad", "crop"), f"{where}.padding.mode")
        ts = win.get("time_step")
        return cls(
            schema,
            splits,
            int(win["t_in"]),
            int(win["t_out"]),
            int(win.get("stride", 1)),
            None if ts is None else str(ts),
            method,
            fixed,
            int(norm.get("chunk", 256)),
            policy,
            multiple,
            mode,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict; ``DataConfig.from_dict(cfg.to_dict()) == cfg``."""
        return {
            "schema": self.schema.to_dict(),
            "splits": {n: s.to_dict() for n, s in self.splits.items()},
            "window": {
                "t_in": self.t_in,
                "t_out": self.t_out,
                "stride": self.stride,
                "time_step": self.time_step,
            },
            "normalisation": {
                "method": self.norm_method,
                "chunk": self.norm_chunk,
                "fixed": {n: {"offset": o, "scale": s} for n, (o, s) in self.fixed.items()},
            },
            "future_forcings": self.future_forcings,
            "padding": None
            if self.pad_multiple is None
            else {"multiple": self.pad_multiple, "mode": self.pad_mode},
        }

    def grid_adjust(self, height: int, width: int) -> GridAdjust:
        """The padding/cropping of a (height, width) grid this config asks for."""
        if self.pad_multiple is None:
            return GridAdjust(height, width, 0, 0)
        fn = pad_to_multiple if self.pad_mode == "pad" else crop_to_multiple
        return fn(height, width, self.pad_multiple)


def build_datasets(
    config: DataConfig | dict[str, Any],
    sources: dict[str, xr.Dataset],
    normaliser: Normaliser | None = None,
) -> dict[str, WindowDataset]:
    """One :class:`WindowDataset` per configured split, sharing one normaliser.

    The normaliser is fitted on the train split's target times only (streaming over time
    chunks), unless a fitted ``normaliser`` is given (e.g. from a checkpoint).

    Args:
        config: a DataConfig or its plain-dict form.
        sources: source name -> lazy xr.Dataset.
    """
    cfg = config if isinstance(config, DataConfig) else DataConfig.from_dict(config)
    schema = cfg.schema
    if schema.target_source not in sources:
        raise KeyError(
            f"target source {schema.target_source!r} not given (sources: {sorted(sources)})"
        )
    ds = sources[schema.target_source]
    axis = target_axis(ds, schema.targets, schema.target_source, cfg.time_step)
    check_splits(cfg.splits, cfg.t_in + cfg.t_out, axis.step)
    needed = np.zeros(axis.times.size, dtype=bool)
    for split in cfg.splits.values():
        needed |= split.contains(axis.times)
    forcings = ForcingStack(
        schema, sources, axis.times, axis.rows, axis.cols, needed, kind=axis.kind
    )
    planes, area = build_static(schema, sources, axis.rows, axis.cols, axis.kind)
    if normaliser is None:
        train = cfg.splits["train"].contains(axis.times)
        normaliser = _fit(cfg, ds, forcings, area, train, axis.dims)
    adjust = cfg.grid_adjust(axis.rows.size, axis.cols.size)
    datasets = {
        name: WindowDataset(
            schema,
            sources,
            normaliser,
            cfg.t_in,
            cfg.t_out,
            cfg.stride,
            split,
            cfg.future_forcings,
            adjust,
            axis,
            forcings,
            (planes, area),
        )
        for name, split in cfg.splits.items()
    }
    for name, dataset in datasets.items():
        if len(dataset) == 0:
            split = cfg.splits[name]
            inside = int(split.contains(axis.times).sum())
            raise ValueError(
                f"splits.{name} [{split.start}, {split.end}) holds {inside} target time(s) of "
                f"{schema.target_source!r} but a window needs {cfg.t_in + cfg.t_out} consecutive "
                f"steps (t_in {cfg.t_in} + t_out {cfg.t_out}; windows across gaps are skipped, "
                f"{dataset.n_skipped_gaps} here): no sample in this split"
            )
    return datasets


def _fit(
    cfg: DataConfig,
    ds: xr.Dataset,
    forcings: ForcingStack,
    area: np.ndarray,
    train: np.ndarray,
    dims: tuple[str, str] = ("lat", "lon"),
) -> Normaliser:
    fixed = {
        f.name: DEFAULT_FIXED_SCALING[f.computed]
        for f in cfg.schema.forcings
        if f.computed is not None
    }
    fixed.update(cfg.fixed)
    readers = {}
    for v in cfg.schema.targets:
        var = ds[v].transpose("time", *dims).variable

        def read(a: int, b: int, var: xr.Variable = var) -> np.ndarray:
            x = np.asarray(var[a:b].compute(scheduler="synchronous").values, dtype=np.float64)
            return np.where(area, x, np.nan)

        readers[v] = read
    for name in forcings.names:
        readers[name] = forcings.reader(name)
    if cfg.norm_method == "fixed":
        missing = [n for n in readers if n not in fixed]
        if missing:
            raise KeyError(
                f"normalisation.method is 'fixed' but normalisation.fixed has no "
                f"scaling for channel(s) {missing}"
            )
    method = "minmax" if cfg.norm_method == "minmax" else "standard"
    return fit_normaliser(readers, train, fixed, cfg.norm_chunk, method)
