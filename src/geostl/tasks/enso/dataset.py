"""ENSO samples from an SST map source and an index table, by chronological splits.

:func:`build_enso_datasets` reads the ``sst`` and ``indices`` sources of a run config (any
format the run-config sources accept), crops and thins the grid, derives the targets
(:func:`geostl.tasks.enso.targets.targets_from_indices`: the index anomaly, the centred
3-month ONI and the E/L/N phase), fits the normalisation on the train months only and returns
one :class:`EnsoDataset` per split.

A sample (one window) is a dict of tensors::

    x         (T_in, 1, lon, lat) float32  normalised SST of the input months, land = 0
    sst       (1, lon, lat)       float32  normalised SST of the first target month
    index     (L,)                float32  normalised index at leads 1..L
    phase     (L,)                int64    phase codes (E, L, N = 0, 1, 2) at leads 1..L
    index_c   (L,)                float64  observed index in degC (for the scores)
    last_c    ()                  float64  observed index of the last input month (persistence)
    month     (L,)                int64    calendar month (0..11) of each lead's target
    first     ()                  int64    position of the window's first target month

The longitude-before-latitude layout is the ENSO blog post's (Keydana 2021, "Forecasting
El Niño-Southern Oscillation with torch"), kept so its model's parameter count holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import xarray as xr

from geostl.runconfig import ConfigError
from geostl.tasks.enso.targets import nino34_box_mean, targets_from_indices
from geostl.tasks.enso.windows import EnsoStats, crop_latitudes, fit_stats, make_windows

__all__ = ["EnsoContext", "EnsoDataset", "build_enso_datasets", "model_grid"]


@dataclass(frozen=True)
class EnsoContext:
    """What every split shares: the grid, the series and the train-period constants.

    Attributes:
        sst: (time, lat, lon) cropped and thinned SST, degC, NaN on land.
        times: (T,) month starts. index: (T,) index, degC. phase: (T,) codes.
        ocean: (lat, lon) bool, finite SST in every month.
        stats: the train months' normalisation constants.
        train_months: (T,) bool, the months inside the train split.
        clim_index: (12,) train-months mean index per calendar month, degC.
        clim_phase: (12,) most frequent train phase per calendar month.
        box_clim: (12,) train-months Niño 3.4 box-mean SST per calendar month, degC.
    """

    sst: xr.DataArray
    times: np.ndarray
    index: np.ndarray
    phase: np.ndarray
    ocean: np.ndarray
    stats: EnsoStats
    train_months: np.ndarray
    clim_index: np.ndarray
    clim_phase: np.ndarray
    box_clim: np.ndarray


class EnsoDataset(torch.utils.data.Dataset):
    """The windows of one split (see the module docstring for a sample's keys)."""

    def __init__(self, context: EnsoContext, firsts: np.ndarray, n_input: int, n_leads: int):
        c = context
        starts = np.asarray(firsts, dtype=np.int64) - n_input
        w = make_windows(
            c.sst.values.astype(np.float64), c.index, c.phase, starts, n_input, n_leads,
            c.stats, c.ocean,
        )  # fmt: skip
        leads = starts[:, None] + n_input + np.arange(n_leads)[None]
        month = c.times.astype("datetime64[M]").astype(np.int64) % 12
        self.context, self.n_input, self.n_leads = context, n_input, n_leads
        self.tensors = {
            "x": w.x,
            "sst": w.sst,
            "index": w.index,
            "phase": w.phase,
            "index_c": torch.from_numpy(c.index[leads].astype(np.float64)),
            "last_c": torch.from_numpy(c.index[starts + n_input - 1].astype(np.float64)),
            "month": torch.from_numpy(month[leads].astype(np.int64)),
            "first": torch.from_numpy(starts + n_input),
        }

    def __len__(self) -> int:
        return int(self.tensors["x"].shape[0])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.tensors.items()}

    @property
    def grid(self) -> tuple[int, int]:
        """(lon, lat) size of a frame."""
        return int(self.tensors["x"].shape[3]), int(self.tensors["x"].shape[4])

    def description(self, data_cfg: Mapping[str, Any] | None) -> dict[str, Any]:
        """The checkpoint's ``data`` entry (plain data)."""
        c = self.context
        return {
            "config": dict(data_cfg) if data_cfg is not None else None,
            "stats": {k: float(getattr(c.stats, k)) for k in c.stats.__dataclass_fields__},
            "lat": [float(v) for v in c.sst["lat"].values],
            "lon": [float(v) for v in c.sst["lon"].values],
            "n_input": self.n_input,
            "n_leads": self.n_leads,
        }


def model_grid(field: xr.DataArray, data_cfg: Mapping[str, Any]) -> xr.DataArray:
    """The SST field on the model's grid: rows in ``data.lat_range``, then every
    ``data.stride``-th row and column (lazy; the values are not read).

    Args:
        field: (time, lat, lon) the ``sst`` source's ``data.variable``.
        data_cfg: the task's ``data`` section.
    """
    south, north = (float(v) for v in data_cfg["lat_range"])
    out = crop_latitudes(field, south, north)
    stride = int(data_cfg["stride"])
    if stride > 1:
        out = out.isel(lat=slice(None, None, stride), lon=slice(None, None, stride))
    return out


def _month(text: str, key: str) -> np.datetime64:
    try:
        return np.datetime64(str(text), "M")
    except ValueError as err:
        raise ConfigError(f"{key}: expected a month YYYY-MM, got {text!r}") from err


def build_enso_datasets(
    data_cfg: Mapping[str, Any], sources: Mapping[str, xr.Dataset]
) -> dict[str, EnsoDataset]:
    """The train / val / test :class:`EnsoDataset` of the task's ``data`` section.

    Raises:
        ConfigError: a missing source or variable, bad split months, overlapping splits, a
            split without a whole window, or index months missing for SST months.
    """
    for name, var in (("sst", data_cfg["variable"]), ("indices", data_cfg["index"])):
        if name not in sources:
            raise ConfigError(f"data.sources: the ENSO task needs a source {name!r}")
        if var not in sources[name]:
            raise ConfigError(
                f"data.sources.{name}: no variable {var!r} (has {sorted(sources[name].data_vars)})"
            )
    sst = model_grid(sources["sst"][data_cfg["variable"]], data_cfg).load()
    table = sources["indices"]
    if data_cfg["index"] != "nino34_anom":
        table = table.rename({data_cfg["index"]: "nino34_anom"})
    targets = targets_from_indices(table)
    times = sst["time"].values.astype("datetime64[M]")
    target_months = targets["time"].values.astype("datetime64[M]")
    missing = np.setdiff1d(times, target_months)
    if missing.size:
        raise ConfigError(
            f"data.sources.indices: no {data_cfg['index']} value for {missing.size} SST months "
            f"(first {missing[0]})"
        )
    pos = np.searchsorted(target_months, times)
    index = targets["nino34_anom"].values[pos].astype(np.float64)
    phase = targets["phase"].values[pos].astype(np.int64)

    n_input, n_leads = int(data_cfg["n_input"]), int(data_cfg["n_leads"])
    bounds = {}
    for split in ("train", "val", "test"):
        pair = data_cfg["splits"][split]
        if len(pair) != 2:
            raise ConfigError(f"data.splits.{split}: expected [first, last] months, got {pair}")
        a, b = (_month(v, f"data.splits.{split}") for v in pair)
        if b < a:
            raise ConfigError(f"data.splits.{split}: last month {b} before first {a}")
        bounds[split] = (a, b)
    order = [bounds[s] for s in ("train", "val", "test")]
    for (_, end), (start, _) in zip(order, order[1:], strict=False):
        if start <= end:
            raise ConfigError(f"data.splits: splits overlap or are out of order ({bounds})")
    train_months = (times >= bounds["train"][0]) & (times <= bounds["train"][1])
    if np.isnan(index).any():
        bad = times[np.isnan(index)]
        raise ConfigError(
            f"data.sources.indices: {data_cfg['index']} is missing (NaN) for {bad.size} SST "
            f"months (first {bad[0]})"
        )
    values = sst.values.astype(np.float64)
    ocean = np.isfinite(values).all(axis=0)
    stats = fit_stats(values[train_months], index[train_months])
    month = times.astype(np.int64) % 12
    clim_index = np.array([index[train_months & (month == m)].mean() for m in range(12)])
    clim_phase = np.array(
        [np.bincount(phase[train_months & (month == m)], minlength=3).argmax() for m in range(12)]
    )
    box = nino34_box_mean(sst.isel(time=np.flatnonzero(train_months))).values
    box_clim = np.array([box[month[train_months] == m].mean() for m in range(12)])
    context = EnsoContext(
        sst=sst, times=times, index=index, phase=phase, ocean=ocean, stats=stats,
        train_months=train_months, clim_index=clim_index, clim_phase=clim_phase,
        box_clim=box_clim,
    )  # fmt: skip
    out = {}
    for split, (a, b) in bounds.items():
        firsts = np.flatnonzero(
            (times >= a) & (np.arange(len(times)) >= n_input)
        )  # first target month of each window
        firsts = firsts[firsts + n_leads - 1 < len(times)]
        firsts = firsts[times[firsts + n_leads - 1] <= b]
        if firsts.size == 0:
            raise ConfigError(
                f"data.splits.{split}: no window of {n_input} input + {n_leads} target months "
                f"has all its targets in {a}..{b} (SST months {times[0]}..{times[-1]})"
            )
        out[split] = EnsoDataset(context, firsts, n_input, n_leads)
    return out
