"""The one input window of an operational forecast, built from the maps before the issue time.

Given a checkpoint's data description and the opened sources (the user's maps and drivers), an
issue window is a :class:`geostl.data.WindowDataset` with exactly one window: the ``t_in`` maps
ending at the issue time, followed by ``t_out`` future steps that have no truth (NaN, so their
target mask is False). The forcings follow the checkpoint's future-forcing policy:

- computed and other ``known`` forcings get their values at the lead times;
- ``observed`` drivers are read at the input times only: every driver sample stamped after the
  issue time is masked out before alignment, so no value after the issue time can reach the
  model (a causal align rule then finds its samples at or before the issue time; a rule that
  would need a later sample is an error naming the driver and the time).

A checkpoint trained with ``future_forcings: oracle`` (true future drivers) is refused: no
operational forecast can give it what it was trained on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from geostl.data import DataConfig, ForcingStack, Normaliser, WindowDataset, build_static
from geostl.data.splits import add_steps, is_month, parse_time
from geostl.data.timeaxis import target_axis

__all__ = ["IssueWindow", "issue_window", "pick_issue_time"]


class IssueWindow:
    """One forecast window and what labels it.

    Attributes:
        dataset: the :class:`WindowDataset` with its single window (index 0).
        init_time: datetime64[ns], the time of the last input map (the issue time).
        input_times: (t_in,) datetime64[ns]; valid_times: (t_out,) datetime64[ns].
        lead_times: (t_out,) timedelta64[ns] (None for a calendar-monthly step).
    """

    def __init__(self, dataset: WindowDataset, init_time: np.datetime64) -> None:
        self.dataset = dataset
        self.init_time = init_time
        times = dataset.window_times(0)
        self.input_times = times[: dataset.t_in]
        self.valid_times = times[dataset.t_in :]
        self.lead_times = None if is_month(dataset.time_step) else (self.valid_times - init_time)


def _fmt(t: np.datetime64) -> str:
    return str(pd.Timestamp(t))


def _step(description: Mapping[str, Any]) -> np.timedelta64:
    return np.timedelta64(int(description["time_step_ns"]), "ns")


def _present(ds: xr.Dataset, variables: tuple[str, ...]) -> np.ndarray:
    """(T,) bool: times at which at least one target value is finite (a map exists)."""
    ok = np.zeros(ds.sizes["time"], dtype=bool)
    for v in variables:
        da = ds[v]
        other = [d for d in da.dims if d != "time"]
        ok |= np.asarray(da.notnull().any(other).values, dtype=bool)
    return ok


def pick_issue_time(
    ds: xr.Dataset,
    variables: tuple[str, ...],
    t_in: int,
    step: np.timedelta64,
    issue: Any = None,
    where: str = "input",
) -> tuple[np.datetime64, np.ndarray]:
    """The issue (init) time and the ``t_in`` input times ending at it.

    Args:
        ds: the target source (a ``time`` dim, datetime64).
        variables: the target variables.
        t_in: input maps per window; step: the model's time step (or ``MONTH``).
        issue: the issue time (anything ``pandas.Timestamp`` parses) or None: the last time
            that ends a complete window of ``t_in`` maps.
        where: what the maps came from, for the messages (e.g. the file names).

    Returns:
        ``(init_time, input_times)``: datetime64[ns] and (t_in,) datetime64[ns].

    Raises:
        ValueError: no map at the issue time, a missing (or all-NaN) input map (naming its
            time and ``where``), or no complete window at all.
    """
    times = np.asarray(ds["time"].values).astype("datetime64[ns]")
    if times.size == 0:
        raise ValueError(f"{where}: no maps (the time axis is empty)")
    present = _present(ds, variables)
    have = set(times[present].astype(np.int64).tolist())

    def window(end: np.datetime64) -> np.ndarray:
        return np.array([add_steps(end, -k, step) for k in range(t_in - 1, -1, -1)])

    span = f"{where} holds maps {_fmt(times[0])} .. {_fmt(times[-1])}"
    if issue is not None:
        init = parse_time(issue, "issue time")
        if int(init.astype(np.int64)) not in have:
            earlier = times[present & (times <= init)]
            hint = f"; the last map before it is at {_fmt(earlier[-1])}" if earlier.size else ""
            raise ValueError(f"no input map at the issue time {_fmt(init)}: {span}{hint}")
        needed = window(init)
        missing = [t for t in needed if int(t.astype(np.int64)) not in have]
        if missing:
            raise ValueError(
                f"input map missing at {_fmt(missing[0])} ({len(missing)} of the {t_in} maps "
                f"{_fmt(needed[0])} .. {_fmt(init)} the model needs are missing or all NaN): "
                f"{span}"
            )
        return init, needed
    for end in times[present][::-1]:
        needed = window(end)
        if all(int(t.astype(np.int64)) in have for t in needed):
            return end, needed
    raise ValueError(
        f"{where}: no {t_in} consecutive maps {_step_text(step)} apart (the model's input "
        f"window): {span}"
    )


def _step_text(step: np.timedelta64) -> str:
    return "1 calendar month" if is_month(step) else str(pd.Timedelta(step))


def _cut_observed(
    schema, sources: Mapping[str, xr.Dataset], init: np.datetime64
) -> dict[str, xr.Dataset]:
    """Sources with every observed driver variable masked (NaN) after ``init``."""
    out = dict(sources)
    for spec in schema.forcings:
        if spec.role != "observed" or spec.source is None:
            continue
        ds = out[spec.source]
        after = ds["time"] > init
        out[spec.source] = ds.assign({spec.variable: ds[spec.variable].where(~after)})
    return out


def issue_window(
    description: Mapping[str, Any],
    sources: Mapping[str, xr.Dataset],
    normaliser: Normaliser,
    issue: Any = None,
    where: str = "input",
) -> IssueWindow:
    """Build the forecast window at ``issue`` (see the module docstring).

    Args:
        description: the checkpoint's ``data`` entry (``config``, ``t_in``, ``t_out``,
            ``time_step_ns``, ``lat``/``lon`` of the sample grid, ...).
        sources: source name -> Dataset: the target source on the model's grid (the user's
            maps, after the source entry's transforms) and every driver / static source.
        normaliser: the checkpoint's fitted normaliser.
        issue: the issue time or None (the end of the last complete window).
        where: what the maps came from, for the messages.

    Raises:
        ValueError: an oracle checkpoint, a grid that is not the model's, missing maps or
            drivers (naming the time).
    """
    data_cfg = DataConfig.from_dict(
        {k: v for k, v in description["config"].items() if k != "sources"}
    )
    schema = data_cfg.schema
    if data_cfg.future_forcings == "oracle":
        raise ValueError(
            "this checkpoint was trained with future_forcings: oracle (the true future values "
            "of observed drivers); an operational forecast cannot give it those. Retrain with "
            "future_forcings: known"
        )
    t_in, t_out = int(description["t_in"]), int(description["t_out"])
    step = _step(description)
    ds = sources[schema.target_source]
    _check_grid(ds, description, data_cfg, where)
    init, input_times = pick_issue_time(ds, schema.targets, t_in, step, issue, where)
    future = np.array([add_steps(init, k, step) for k in range(1, t_out + 1)])
    all_times = np.concatenate([input_times, future]).astype("datetime64[ns]")
    maps = ds[list(schema.targets)].sel(time=input_times).reindex(time=all_times)
    opened = _cut_observed(schema, {**sources, schema.target_source: maps}, init)
    axis = target_axis(maps, schema.targets, schema.target_source, data_cfg.time_step)
    is_input = np.zeros(all_times.size, dtype=bool)
    is_input[:t_in] = True
    forcings = ForcingStack(
        schema,
        dict(opened),
        axis.times,
        axis.rows,
        axis.cols,
        needed=np.ones(all_times.size, dtype=bool),
        kind=axis.kind,
        needed_observed=is_input,
    )
    static = build_static(schema, dict(opened), axis.rows, axis.cols, axis.kind)
    adjust = data_cfg.grid_adjust(axis.rows.size, axis.cols.size)
    dataset = WindowDataset(
        schema,
        dict(opened),
        normaliser,
        t_in,
        t_out,
        1,
        None,
        data_cfg.future_forcings,
        adjust,
        axis,
        forcings,
        static,
    )
    if len(dataset) != 1:
        raise RuntimeError(f"issue window: expected 1 window, built {len(dataset)}")
    return IssueWindow(dataset, init)


def _check_grid(
    ds: xr.Dataset, description: Mapping[str, Any], data_cfg: DataConfig, where: str
) -> None:
    """The maps' grid, padded or cropped as in training, must be the model's sample grid."""
    dims = ("y", "x") if description.get("grid") == "pixel" else ("lat", "lon")
    for name in dims:
        if name not in ds.coords:
            raise ValueError(f"{where}: no {name!r} coordinate; the model's grid has one")
    rows = np.asarray(ds[dims[0]].values, dtype=np.float64)
    cols = np.asarray(ds[dims[1]].values, dtype=np.float64)
    adjust = data_cfg.grid_adjust(rows.size, cols.size)
    for name, got, kind in ((dims[0], rows, "rows"), (dims[1], cols, "cols")):
        trained = np.asarray(description[name], dtype=np.float64)
        mine = adjust.coords(got, kind)
        if mine.shape != trained.shape or not np.allclose(mine, trained, atol=1e-6):
            raise ValueError(
                f"{where}: {name} is {got[0]:g}..{got[-1]:g} ({got.size} points), but the "
                f"model was trained on {trained[0]:g}..{trained[-1]:g} ({trained.size} points "
                "after padding); give maps on the model's grid (IONEX maps for a model trained "
                "with regrid: iono72 or native are regridded for you)"
            )
