"""``geostl.evaluate``: score any forecast Dataset against any truth Dataset.

A forecast made by geostl (``geostl predict`` / ``geostl forecast`` / ``model.forecast``) or
elsewhere, in the forecast layout of :mod:`geostl.outputs.netcdf` (dims ``init_time``,
``lead_time`` and the grid; ``valid_time`` = init + lead), is scored with the same sums as
``geostl test`` (:class:`geostl.metrics.ForecastMetrics`: cos-latitude weights with a repeated
meridian counted once, the mask, per lead, physical units, skill against each baseline), beside
baselines built from the truth:

- ``persistence``: the truth at ``init_time`` held;
- ``sun_fixed``: the truth at ``init_time`` rotated westward with the Sun (global longitudes);
- ``climatology``: fitted on ``climatology=`` (a truth Dataset of a training period);
- ``persistence_27d``: the truth 27 days before each valid time (one solar rotation);
- ``references={label: Dataset}``: other forecasts (an agency's predicted maps), in the
  forecast layout (matched by init and lead) or as maps on a ``time`` dim (matched by valid
  time).

Every forecast is scored on the same pixels: valid (finite) in the truth, the forecast and
every baseline, and inside ``mask``. Values are read in float64 as stored.

::

    tables = geostl.evaluate(xr.open_dataset("forecast.nc"), geostl.io.open_ionex(files),
                             baselines=["persistence", "sun_fixed"])
    print(tables["model"].pivot("tec", weighting="lat").to_markdown())
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr

from geostl.baselines import Climatology, persistence, sun_fixed_persistence
from geostl.baselines.recurrence import recurrence_forecast, time_positions
from geostl.engine.evaluate import BASELINE_LABELS, MODEL_LABEL, lead_label
from geostl.metrics import ForecastMetrics, MetricTable, meridian_weights
from geostl.outputs.netcdf import same_units

__all__ = ["evaluate_datasets"]

_GRIDS = (("lat", "lon"), ("y", "x"))


def _grid_dims(ds: xr.Dataset, what: str) -> tuple[str, str]:
    for dims in _GRIDS:
        if all(d in ds.dims for d in dims):
            return dims
    raise ValueError(f"{what}: no (lat, lon) or (y, x) grid dims (dims: {dict(ds.sizes)})")


def _check_grid(forecast: xr.Dataset, other: xr.Dataset, dims: tuple[str, str], what: str) -> None:
    for d in dims:
        if d not in other.coords or d not in forecast.coords:
            raise ValueError(f"{what}: no {d!r} coordinate to match the forecast's")
        a = np.asarray(forecast[d].values, dtype=np.float64)
        b = np.asarray(other[d].values, dtype=np.float64)
        if a.shape != b.shape or not np.allclose(a, b, atol=1e-6):
            raise ValueError(
                f"{what}: its {d} ({b.size} points, {b[0]:g}..{b[-1]:g}) differs from the "
                f"forecast's ({a.size} points, {a[0]:g}..{a[-1]:g}); regrid one of them first "
                "(nothing is interpolated here)"
            )


def _read(ds: xr.Dataset, names: Sequence[str], index: np.ndarray, dims) -> np.ndarray:
    """(*index.shape, C, H, W) float64 of ``ds[names]`` at time positions ``index``."""
    flat = index.ravel()
    planes = [
        np.asarray(ds[v].transpose("time", *dims).isel(time=flat).values, dtype=np.float64)
        for v in names
    ]
    out = np.stack(planes, axis=1)
    return out.reshape(*index.shape, *out.shape[1:])


def evaluate_datasets(
    forecast: xr.Dataset,
    truth: xr.Dataset,
    baselines: Sequence[str] = ("persistence",),
    *,
    variables: Sequence[str] | None = None,
    mask: np.ndarray | xr.DataArray | None = None,
    climatology: xr.Dataset | None = None,
    climatology_by: str = "time_of_day",
    references: Mapping[str, xr.Dataset] | None = None,
    batch_size: int = 16,
) -> dict[str, MetricTable]:
    """Score ``forecast`` against ``truth`` beside the baselines (see the module docstring).

    Args:
        forecast: dims ``init_time`` (N), ``lead_time`` (T) and the grid (lat, lon or y, x),
            coordinate ``valid_time`` (N, T) (or computed as init + lead); values in physical
            units, NaN = no forecast.
        truth: the observed maps on a ``time`` dim and the same grid.
        baselines: any of ``persistence``, ``sun_fixed``, ``climatology``,
            ``persistence_27d`` (``iri`` is the engine's: it needs the run's F10.7 driver).
        variables: the variables to score (default: the forecast's that the truth has).
        mask: (H, W) bool, False pixels not scored (e.g. land for SST).
        climatology: the truth of a training period the climatology is fitted on (needed for
            ``climatology``); ``climatology_by``: its phase (:class:`Climatology`).
        references: ``{label: Dataset}`` of other forecasts scored beside the model.
        batch_size: init times scored at once.

    Returns:
        ``{"model": MetricTable, "persistence": ..., label: ...}`` as ``geostl test`` gives.

    Raises:
        ValueError / KeyError: a different grid, a valid or init time the truth lacks, units
            that differ, an unknown baseline, or no variable to score.
    """
    dims = _grid_dims(forecast, "forecast")
    for need in ("init_time", "lead_time"):
        if need not in forecast.dims:
            raise ValueError(f"forecast: no {need!r} dim (the forecast layout of geostl.outputs)")
    _check_grid(forecast, truth, dims, "truth")
    if variables is None:
        variables = [str(v) for v in forecast.data_vars if "lead_time" in forecast[v].dims]
        variables = [v for v in variables if v in truth.data_vars]
    names = list(variables)
    if not names:
        raise ValueError(
            f"no variable to score: the forecast has {sorted(map(str, forecast.data_vars))}, "
            f"the truth {sorted(map(str, truth.data_vars))}"
        )
    units = {}
    for v in names:
        if v not in truth.data_vars:
            raise KeyError(f"truth: no variable {v!r} (variables: {sorted(map(str, truth))})")
        f_units = str(forecast[v].attrs.get("units", ""))
        t_units = str(truth[v].attrs.get("units", ""))
        if f_units and t_units and not same_units(f_units, t_units):
            raise ValueError(f"{v}: the forecast is in {f_units!r} but the truth in {t_units!r}")
        units[v] = t_units or f_units
    known = ("persistence", "sun_fixed", "climatology", "persistence_27d")
    unknown = [b for b in baselines if b not in known]
    if unknown:
        raise KeyError(f"baselines: unknown {unknown}; choose from {list(known)}")
    geographic = dims == ("lat", "lon")
    if "sun_fixed" in baselines and not geographic:
        raise ValueError("baselines: sun_fixed needs longitudes (the grid is a pixel grid)")
    init = np.asarray(forecast["init_time"].values).astype("datetime64[ns]")
    leads = np.asarray(forecast["lead_time"].values).astype("timedelta64[ns]")
    valid_times = (
        np.asarray(forecast["valid_time"].values).astype("datetime64[ns]")
        if "valid_time" in forecast.coords
        else init[:, None] + leads[None, :]
    )
    minutes = leads.astype(np.int64) / 60e9
    labels = [lead_label(float(m)) for m in minutes]
    lead_hours = minutes / 60.0
    h, w = forecast.sizes[dims[0]], forecast.sizes[dims[1]]
    area = np.ones((h, w), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if area.shape != (h, w):
        raise ValueError(f"mask: shape {area.shape}, expected the grid {(h, w)}")
    weights = torch.from_numpy(area.astype(np.float64))
    lat = None
    if geographic:
        lon = np.asarray(forecast[dims[1]].values, dtype=np.float64)
        weights = weights * meridian_weights(lon)
        lat = np.array(forecast[dims[0]].values, dtype=np.float64)  # a writable copy
    clims = []
    if "climatology" in baselines:
        if climatology is None:
            raise ValueError("baselines: climatology needs climatology= (a training period)")
        _check_grid(forecast, climatology, dims, "climatology")
        clims = [
            Climatology(climatology_by).fit(climatology[v].transpose("time", *dims)) for v in names
        ]
    refs = dict(references or {})
    clash = sorted(
        set(refs) & (set(BASELINE_LABELS) | set(BASELINE_LABELS.values()) | {MODEL_LABEL})
    )
    if clash:
        raise ValueError(f"references: the labels {clash} name a baseline or the model")
    for label, ref in refs.items():
        _check_grid(forecast, ref, dims, f"references[{label!r}]")
    all_labels = [MODEL_LABEL] + [BASELINE_LABELS[b] for b in baselines] + list(refs)
    metrics = {
        f: ForecastMetrics(names, labels, lat=lat, area_mask=weights, units=units)
        for f in all_labels
    }
    order = [str(d) for d in ("init_time", "lead_time", *dims)]
    need_init = bool({"persistence", "sun_fixed"} & set(baselines))
    truth_at_valid = time_positions(truth["time"].values, valid_times, "truth")
    truth_at_init = (
        time_positions(truth["time"].values, init, "truth (at the init times)")
        if need_init
        else None
    )
    ref_index = {label: _reference_index(ref, init, leads, valid_times, label)
                 for label, ref in refs.items()}  # fmt: skip
    for a in range(0, init.size, batch_size):
        stop = min(a + batch_size, init.size)
        pred = np.stack(
            [np.asarray(forecast[v].transpose(*order).isel(init_time=slice(a, stop)).values,
                        dtype=np.float64) for v in names],
            axis=2,
        )  # fmt: skip
        y = _read(truth, names, truth_at_valid[a:stop], dims)
        valid = np.isfinite(y) & np.isfinite(pred) & area
        forecasts: dict[str, np.ndarray] = {}
        if need_init:
            assert truth_at_init is not None
            last = _read(truth, names, truth_at_init[a:stop], dims)  # (B, C, H, W)
            last_t, last_ok = (
                torch.from_numpy(np.nan_to_num(last)),
                torch.from_numpy(np.isfinite(last)),
            )
            if "persistence" in baselines:
                f, ok = persistence(last_t[:, None], leads.size, last_ok[:, None])
                forecasts["persistence"] = f.numpy()
                valid &= ok.numpy()
            if "sun_fixed" in baselines:
                f, ok = sun_fixed_persistence(last_t, lon, lead_hours, last_ok)
                forecasts["sun_fixed"] = f.movedim(-3, 1).numpy()
                valid &= ok.movedim(-3, 1).numpy()
        if "persistence_27d" in baselines:
            r = np.stack(
                [recurrence_forecast(truth[v], valid_times[a:stop], dims, where="truth")[0]
                 for v in names], axis=2,
            )  # fmt: skip
            forecasts["persistence_27d"] = r
            valid &= np.isfinite(r)
        if clims:
            c = np.stack(
                [np.stack([cl.predict(t) for t in valid_times[a:stop]]) for cl in clims], 2
            )
            forecasts["climatology"] = c
            valid &= np.isfinite(c)
        for label, ref in refs.items():
            r = _reference_values(ref, names, ref_index[label], a, stop, dims)
            forecasts[label] = r
            valid &= np.isfinite(r)
        y_t = torch.from_numpy(np.nan_to_num(y))
        ok_t = torch.from_numpy(valid)
        others = {k: torch.from_numpy(np.nan_to_num(f)) for k, f in forecasts.items()}
        metrics[MODEL_LABEL].update(torch.from_numpy(np.nan_to_num(pred)), y_t, ok_t,
                                    references=others)  # fmt: skip
        for key, f in others.items():
            label = BASELINE_LABELS[key] if key in baselines else key
            metrics[label].update(f, y_t, ok_t)
    return {label: m.compute() for label, m in metrics.items()}


def _reference_index(ref: xr.Dataset, init, leads, valid_times, label: str) -> Any:
    """Where the reference holds each (init, lead): ``(init positions (N,), lead positions
    (T,))`` for a forecast-layout Dataset, or (N, T) positions on its ``time`` dim."""
    what = f"references[{label!r}]"
    if "init_time" in ref.dims:
        i = time_positions(ref["init_time"].values, init, f"{what} (init_time)")
        have = np.asarray(ref["lead_time"].values).astype("timedelta64[ns]")
        missing = [x for x in leads if x not in have]
        if missing:
            raise ValueError(f"{what}: no lead time {pd.Timedelta(missing[0])}")
        j = np.array([int(np.flatnonzero(have == x)[0]) for x in leads])
        return i, j
    if "time" not in ref.dims:
        raise ValueError(f"{what}: expected init_time/lead_time dims or a time dim")
    return time_positions(ref["time"].values, valid_times, what)


def _reference_values(ref: xr.Dataset, names, index: Any, a: int, b: int, dims) -> np.ndarray:
    """(B, T, C, H, W) float64 of the reference for the init times ``a:b``."""
    if isinstance(index, tuple):
        i, j = index
        order = ("init_time", "lead_time", *dims)
        planes = [
            np.asarray(
                ref[v].transpose(*order).isel(init_time=i[a:b], lead_time=j).values,
                dtype=np.float64,
            )
            for v in names
        ]
        return np.stack(planes, axis=2)
    return _read(ref, names, index[a:b], dims)
