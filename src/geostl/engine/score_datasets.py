"""Score any forecast Dataset against any truth Dataset (``geostl.evaluate``).

The forecast is a Dataset in geostl's forecast layout (:mod:`geostl.outputs.netcdf`): data
variables on ``(init_time, lead_time, lat, lon)`` (``y, x`` on a pixel grid) in physical units,
NaN where there is no forecast. The truth is a Dataset on ``(time, lat, lon)`` of the same grid,
as the readers of :mod:`geostl.io` return it. Nothing is interpolated: the truth of each forecast
map is the truth map at exactly its valid time, and both grids must be the same.

The scores are those of ``geostl test`` (:func:`geostl.engine.evaluate.evaluate_sums`): float64
sums of :class:`geostl.metrics.ForecastMetrics`, cos-latitude weighted on a geographic grid with
the area weights of :func:`geostl.engine.evaluate.grid_area_weights` (a repeated -180/180
meridian counts once), per lead (labels of :func:`geostl.engine.evaluate.lead_label`) and
pooled, in the truth's units. The baselines are made from the truth with
:func:`geostl.engine.evaluate.baseline_forecasts`: ``persistence`` and ``sun_fixed`` from the
truth map at each init time, ``climatology`` fitted on a truth Dataset of a training period.
External forecasts (``references``) are scored alongside, matched by valid time. Every forecast
is scored on the same pixels: where the truth, the forecast, every baseline and every reference
have a value (and the area mask is above 0).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import xarray as xr

from geostl.baselines import Climatology
from geostl.baselines.recurrence import recurrence_forecast
from geostl.engine.evaluate import (
    BASELINE_LABELS,
    MODEL_LABEL,
    TRUTH_BASELINES,
    _global_in_longitude,
    baseline_forecasts,
    grid_area_weights,
    lead_label,
)
from geostl.metrics import ForecastMetrics, MetricTable
from geostl.outputs.netcdf import same_units

__all__ = ["MISSING_TRUTH", "ScoreTables", "evaluate_datasets"]

#: what to do with a forecast map whose valid time (or init time) the truth lacks
MISSING_TRUTH = ("error", "skip")
#: grid dims of the forecast layout -> grid kind
_GRIDS = {("lat", "lon"): "latlon", ("y", "x"): "pixel"}
#: coordinates of two Datasets are the same grid when they differ by no more than this
#: (degrees on a geographic grid; float32 and float64 copies of one grid agree to ~1e-6)
COORD_TOLERANCE = 1e-5


class ScoreTables(dict[str, MetricTable]):
    """``{forecast label: MetricTable}`` (a dict) with the coverage of the scoring.

    Attributes:
        n_maps: forecast maps (init time x lead time) of the forecast Dataset.
        n_left_out: maps not scored because the truth (at the valid or the init time) or a
            reference lacked their time (only with ``missing_truth="skip"``; else 0).
        left_out: ``(init_time, valid_time)`` datetime64[ns] pairs of those maps.
    """

    n_maps: int = 0
    n_left_out: int = 0
    left_out: list[tuple[np.datetime64, np.datetime64]]

    @property
    def n_scored(self) -> int:
        """Forecast maps that took part in the scores."""
        return self.n_maps - self.n_left_out


def evaluate_datasets(
    forecast: xr.Dataset,
    truth: xr.Dataset,
    baselines: Sequence[str] = ("persistence",),
    *,
    variables: Sequence[str] | None = None,
    mask: xr.DataArray | np.ndarray | torch.Tensor | None = None,
    climatology: xr.Dataset | None = None,
    climatology_by: str | None = "time_of_day",
    references: Mapping[str, xr.Dataset] | None = None,
    missing_truth: str = "error",
    batch_size: int = 8,
) -> ScoreTables:
    """Score a forecast Dataset, the baselines and reference forecasts against a truth Dataset.

    Args:
        forecast: the forecast layout: variables (init_time N, lead_time T, lat H, lon W) or
            (N, T, y H, x W) in physical units, NaN = no forecast; ``init_time`` datetime64,
            ``lead_time`` timedelta64 (a scalar ``init_time`` counts as N = 1).
        truth: variables (time, lat, lon) (or (time, y, x)) on the same grid, ``time``
            datetime64 (unique), NaN = missing.
        baselines: among ``persistence`` (the truth at init_time held), ``sun_fixed`` (the
            truth at init_time rotated with the Sun; global geographic grids only),
            ``climatology`` (needs ``climatology``) and ``persistence_27d`` (the truth 27 days
            before each valid time; a missing one is an error).
        variables: the variables to score (default: the forecast's data variables that the
            truth holds); each must be in the forecast, the truth and every reference.
        mask: (H, W) area mask, bool or non-negative weights (a DataArray on the grid dims is
            checked against the grid); default all ones.
        climatology: a truth Dataset of a training period, (time, H, W) per variable, that the
            ``climatology`` baseline is fitted on (:class:`geostl.baselines.Climatology`).
        climatology_by: the climatology's phase (``time_of_day``, ``month``, ``dayofyear``,
            None).
        references: ``{label: Dataset}`` of external forecasts on the same grid, with the
            variables, scored alongside: in the forecast layout, each forecast map matched by
            its valid time (where a reference holds several maps valid then, the one with the
            same init time), or as maps on a ``time`` dim (an agency's predicted maps as a
            reader returns them), matched by valid time.
        missing_truth: ``"error"`` (default): a valid time (or, for persistence and sun_fixed,
            an init time) that the truth lacks, or a valid time a reference lacks, is an
            error naming it; ``"skip"``: such forecast maps are left out of every score and
            counted in the result (:class:`ScoreTables`, and a ``left_out`` note in each
            table).
        batch_size: init times read and scored at a time.

    Returns:
        A :class:`ScoreTables`: ``{"model": table, <baseline label>: table, ..., <reference
        label>: table}``; the forecast's table (``"model"``) carries ``skill_<name>`` against
        every baseline and reference, each reference's table its skill against the baselines.
        Values in the truth's units; leads labelled as by ``geostl test`` (``+15 min``) and
        ``all``.

    Raises:
        ValueError: a layout, grid, unit or time mismatch, naming the variable, coordinate or
            time; an unknown baseline or ``missing_truth``.
    """
    if missing_truth not in MISSING_TRUTH:
        raise ValueError(f"missing_truth: expected one of {MISSING_TRUTH}, got {missing_truth!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size: expected an integer >= 1, got {batch_size}")
    forecast = _as_forecast_layout(forecast, "forecast")
    row, col = _grid_dims(forecast, "forecast")
    names = _variables(forecast, truth, variables)
    _check_truth(truth, "truth", names, (row, col))
    _check_same_grid(truth, "truth", forecast, (row, col))
    for v in names:
        _check_units(forecast[v], f"forecast variable {v!r}", truth[v], f"truth variable {v!r}")
    pixel = _GRIDS[(row, col)] == "pixel"
    lon = None if pixel else np.array(truth[col].values, dtype=np.float64)
    baselines = _check_baselines(baselines, lon, climatology)

    refs = _references(references, names, forecast, truth, (row, col), baselines)
    init = forecast["init_time"].values
    leads = forecast["lead_time"].values
    valid_times = _valid_times(forecast, "forecast")
    minutes = leads.astype(np.int64) / 60e9
    lead_hours = minutes / 60.0
    labels = [lead_label(m) for m in minutes]
    if len(set(labels)) != len(labels):
        raise ValueError(f"forecast: lead_time labels {labels} are not distinct")

    index = _time_index(truth, "truth")
    at_valid = index.get_indexer(valid_times.ravel()).reshape(valid_times.shape)
    at_init = index.get_indexer(init)
    needs_init = any(b in ("persistence", "sun_fixed") for b in baselines)
    missing = at_valid < 0
    _refuse_or_count(missing_truth, missing, valid_times, "truth", "valid time")
    if needs_init:
        no_init = np.broadcast_to((at_init < 0)[:, None], missing.shape)
        inits = np.broadcast_to(init[:, None], missing.shape)
        _refuse_or_count(missing_truth, no_init, inits, "truth", "init time")
        missing = missing | no_init
    ref_pos = {}
    for label, ref in refs.items():
        pos = _match_by_valid_time(ref, label, init, valid_times)
        _refuse_or_count(
            missing_truth, pos[0] < 0, valid_times, f"reference {label!r}", "valid time"
        )
        missing = missing | (pos[0] < 0)
        ref_pos[label] = pos

    if climatology is not None:
        _check_climatology_source(climatology, names, truth, forecast, (row, col))
    clims = (
        [Climatology(climatology_by).fit(climatology[v].transpose("time", row, col)) for v in names]
        if "climatology" in baselines and climatology is not None
        else []
    )
    area = grid_area_weights(_area_mask(mask, truth, (row, col)), lon)
    units = {v: str(truth[v].attrs.get("units", "")) for v in names}
    lat = None if pixel else np.array(truth[row].values, dtype=np.float64)
    table_labels = [MODEL_LABEL, *(BASELINE_LABELS[b] for b in baselines), *refs]
    metrics = {
        label: ForecastMetrics(names, labels, lat=lat, area_mask=area, units=units)
        for label in table_labels
    }

    truth_vars = [truth[v].transpose("time", row, col).variable for v in names]
    fc_vars = [forecast[v].transpose("init_time", "lead_time", row, col).variable for v in names]
    for start in range(0, init.size, batch_size):
        rows = slice(start, min(start + batch_size, init.size))
        pred = np.stack([np.asarray(x[rows].values, dtype=np.float64) for x in fc_vars], axis=2)
        y = _read_times(truth_vars, at_valid[rows])
        valid = np.isfinite(y) & np.isfinite(pred) & ~missing[rows][:, :, None, None, None]
        last, last_ok = _last_maps(truth_vars, at_init[rows], needs_init)
        base, ok = baseline_forecasts(
            [b for b in baselines if b in TRUTH_BASELINES],
            last,
            last_ok,
            lead_hours,
            lon=lon,
            climatologies=clims,
            valid_times=valid_times[rows],
        )
        if "persistence_27d" in baselines:
            back = np.stack(
                [
                    recurrence_forecast(truth[v], valid_times[rows], (row, col), where="truth")[0]
                    for v in names
                ],
                axis=2,
            )
            valid &= np.isfinite(back)
            base["persistence_27d"] = torch.from_numpy(np.nan_to_num(back))
        others = {}
        for label, ref in refs.items():
            r = _read_reference(ref, names, (row, col), ref_pos[label], rows)
            valid &= np.isfinite(r)
            others[label] = torch.from_numpy(np.nan_to_num(r))
        valid_t = torch.from_numpy(valid) & ok
        y_t = torch.from_numpy(np.nan_to_num(y))
        metrics[MODEL_LABEL].update(
            torch.from_numpy(np.nan_to_num(pred)), y_t, valid_t, references={**base, **others}
        )
        for b, f in base.items():
            metrics[BASELINE_LABELS[b]].update(f, y_t, valid_t)
        for label, ref_t in others.items():
            metrics[label].update(ref_t, y_t, valid_t, references=base)

    out = ScoreTables()
    out.n_maps = int(missing.size)
    out.n_left_out = int(missing.sum())
    out.left_out = [(init[i], valid_times[i, k]) for i, k in zip(*np.nonzero(missing), strict=True)]
    note = (
        f"{out.n_left_out} of {out.n_maps} forecast maps left out (no truth or reference at "
        "their time)"
    )
    for label, m in metrics.items():
        if "plain/w" not in m.sums:
            raise ValueError("forecast: no forecast map to score (init_time is empty)")
        table = m.compute()
        if out.n_left_out:
            table.notes["left_out"] = note
        out[label] = table
    if out.n_left_out:
        warnings.warn(f"evaluate: {note}", stacklevel=2)
    return out


# -- layout and grid checks ---------------------------------------------------------------------
def _as_forecast_layout(ds: xr.Dataset, what: str) -> xr.Dataset:
    """``ds`` with ``init_time`` as a dim (a scalar one expanded) and checked time dtypes."""
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"{what}: expected an xarray.Dataset, got {type(ds).__name__}")
    for name in ("init_time", "lead_time"):
        if name not in ds.coords:
            raise ValueError(
                f"{what}: no {name!r} coordinate; expected the forecast layout (init_time, "
                "lead_time, lat, lon)"
            )
    if "init_time" not in ds.dims:
        ds = ds.expand_dims("init_time")
        if "valid_time" in ds.coords and "init_time" not in ds["valid_time"].dims:
            ds = ds.assign_coords(valid_time=ds["valid_time"].expand_dims("init_time"))
    if "lead_time" not in ds.dims:
        raise ValueError(f"{what}: 'lead_time' must be a dimension")
    if ds["init_time"].dtype.kind != "M":
        raise ValueError(f"{what}: init_time must be datetime64, got {ds['init_time'].dtype}")
    if ds["lead_time"].dtype.kind != "m":
        raise ValueError(f"{what}: lead_time must be timedelta64, got {ds['lead_time'].dtype}")
    return ds.assign_coords(
        init_time=ds["init_time"].values.astype("datetime64[ns]"),
        lead_time=ds["lead_time"].values.astype("timedelta64[ns]"),
    )


def _grid_dims(ds: xr.Dataset, what: str) -> tuple[str, str]:
    for dims in _GRIDS:
        if set(dims) <= set(ds.dims):
            return dims
    raise ValueError(
        f"{what}: no grid dims (lat, lon) or (y, x) among its dims {sorted(map(str, ds.dims))}"
    )


def _variables(forecast: xr.Dataset, truth: xr.Dataset, variables) -> list[str]:
    if variables is None:
        names = [str(v) for v in forecast.data_vars if v in truth.data_vars]
        if not names:
            raise ValueError(
                f"no variable to score: the forecast has {sorted(map(str, forecast.data_vars))}, "
                f"the truth {sorted(map(str, truth.data_vars))}; none is in both"
            )
        return names
    names = [str(v) for v in variables]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"variables: expected distinct variable names, got {names}")
    for ds, what in ((forecast, "forecast"), (truth, "truth")):
        absent = [v for v in names if v not in ds.data_vars]
        if absent:
            raise ValueError(
                f"variables: {absent} not in the {what} (it has {sorted(map(str, ds.data_vars))})"
            )
    return names


def _check_forecast_variables(ds: xr.Dataset, what: str, names, grid) -> None:
    want = {"init_time", "lead_time", *grid}
    for v in names:
        if v not in ds.data_vars:
            raise ValueError(f"{what}: no variable {v!r} (it has {sorted(map(str, ds.data_vars))})")
        if set(ds[v].dims) != want:
            raise ValueError(
                f"{what} variable {v!r}: dims {ds[v].dims}, expected (init_time, lead_time, "
                f"{', '.join(grid)})"
            )


def _check_truth(ds: xr.Dataset, what: str, names, grid) -> None:
    if "time" not in ds.dims:
        raise ValueError(f"{what}: no 'time' dimension (dims {sorted(map(str, ds.dims))})")
    for v in names:
        if v not in ds.data_vars:
            raise ValueError(f"{what}: no variable {v!r} (it has {sorted(map(str, ds.data_vars))})")
        if set(ds[v].dims) != {"time", *grid}:
            raise ValueError(
                f"{what} variable {v!r}: dims {ds[v].dims}, expected (time, {', '.join(grid)})"
            )


def _check_same_grid(ds: xr.Dataset, what: str, forecast: xr.Dataset, grid) -> None:
    """The grid of ``ds`` is the forecast's: same sizes, and coordinate values in the same
    order within :data:`COORD_TOLERANCE` (a coordinate only one of them has is not compared,
    except lat/lon, which a geographic grid needs)."""
    for dim in grid:
        if ds.sizes[dim] != forecast.sizes[dim]:
            raise ValueError(
                f"{what}: {ds.sizes[dim]} values along {dim!r}, the forecast has "
                f"{forecast.sizes[dim]}; the grids must be the same (no interpolation is done)"
            )
        geographic = dim in ("lat", "lon")
        if geographic:
            for d, w in ((ds, what), (forecast, "forecast")):
                if dim not in d.coords:
                    raise ValueError(f"{w}: no {dim!r} coordinate values (degrees) on its grid")
        if dim not in ds.coords or dim not in forecast.coords:
            continue
        a = np.asarray(ds[dim].values, dtype=np.float64)
        b = np.asarray(forecast[dim].values, dtype=np.float64)
        off = np.flatnonzero(~(np.abs(a - b) <= COORD_TOLERANCE))
        if off.size:
            i = int(off[0])
            order = " (reversed order)" if np.allclose(a[::-1], b, atol=COORD_TOLERANCE) else ""
            raise ValueError(
                f"{what}: coordinate {dim!r} differs from the forecast's{order} at {off.size} "
                f"of {a.size} positions, first at index {i}: {a[i]:g} vs {b[i]:g}; the grids "
                "must be the same (no interpolation is done)"
            )


def _units_of(da: xr.DataArray) -> list[str]:
    """The unit strings a variable answers to: ``units`` and ``units_common_name`` (the
    field's name of a unit a file stores in UDUNITS' spelling, e.g. TECU for 1e16 m-2)."""
    return [str(da.attrs[k]) for k in ("units", "units_common_name") if k in da.attrs] or [""]


def _check_units(a: xr.DataArray, what_a: str, b: xr.DataArray, what_b: str) -> None:
    ua, ub = _units_of(a), _units_of(b)  # a side without units is not compared
    if ua == [""] or ub == [""]:
        return  # one side states no units: nothing to compare (arithmetic drops attrs)
    if not any(same_units(x, y) for x in ua for y in ub):
        raise ValueError(
            f"{what_a} has units {ua[0]!r}, {what_b} {ub[0]!r}: the units must agree "
            "(convert one of them first)"
        )


def _check_baselines(baselines, lon, climatology) -> list[str]:
    out = [str(b) for b in baselines]
    known = [*TRUTH_BASELINES, "persistence_27d"]
    unknown = [b for b in out if b not in known]
    if unknown or len(set(out)) != len(out):
        extra = " (iri is the engine's: it needs the run's F10.7 driver)" if "iri" in out else ""
        raise ValueError(f"baselines: expected distinct names among {known}, got {out}{extra}")
    if "sun_fixed" in out:
        if lon is None:
            raise ValueError("baselines: sun_fixed needs longitudes; the grid is a pixel grid")
        if not _global_in_longitude(lon):
            raise ValueError("baselines: sun_fixed needs a grid that is global in longitude")
    if ("climatology" in out) != (climatology is not None):
        raise ValueError(
            "baselines: 'climatology' needs climatology= (a truth Dataset of a training "
            "period), and climatology= is used only with 'climatology' in baselines"
        )
    return out


def _references(references, names, forecast, truth, grid, baselines) -> dict[str, xr.Dataset]:
    out: dict[str, xr.Dataset] = {}
    taken = {MODEL_LABEL, *baselines, *(BASELINE_LABELS[b] for b in baselines)}
    for label, ds in (references or {}).items():
        if not isinstance(label, str) or not label or label in taken:
            raise ValueError(
                f"references: label {label!r} must be a non-empty string other than {sorted(taken)}"
            )
        what = f"reference {label!r}"
        if "init_time" in ds.coords or "time" not in ds.dims:
            ds = _as_forecast_layout(ds, what)
            _check_forecast_variables(ds, what, names, grid)
        else:  # maps on a time dim, e.g. an agency's predicted IONEX maps as read
            _check_truth(ds, what, names, grid)
        _check_same_grid(ds, what, forecast, grid)
        for v in names:
            _check_units(ds[v], f"{what} variable {v!r}", truth[v], f"truth variable {v!r}")
        out[label] = ds
    _check_forecast_variables(forecast, "forecast", names, grid)
    return out


def _check_climatology_source(climatology: xr.Dataset, names, truth, forecast, grid) -> None:
    _check_truth(climatology, "climatology", names, grid)
    _check_same_grid(climatology, "climatology", forecast, grid)
    for v in names:
        _check_units(
            climatology[v], f"climatology variable {v!r}", truth[v], f"truth variable {v!r}"
        )


def _area_mask(mask, truth: xr.Dataset, grid) -> np.ndarray:
    shape = (truth.sizes[grid[0]], truth.sizes[grid[1]])
    if mask is None:
        return np.ones(shape, dtype=bool)
    if isinstance(mask, xr.DataArray):
        if set(mask.dims) != set(grid):
            raise ValueError(f"mask: dims {mask.dims}, expected {grid}")
        _check_same_grid(mask.to_dataset(name="mask"), "mask", truth, grid)
        mask = mask.transpose(*grid).values
    m = np.asarray(mask.cpu() if isinstance(mask, torch.Tensor) else mask)
    if m.shape != shape:
        raise ValueError(f"mask: shape {m.shape}, expected the grid {shape} ({', '.join(grid)})")
    return m


# -- times --------------------------------------------------------------------------------------
def _valid_times(ds: xr.Dataset, what: str) -> np.ndarray:
    """(N, T) datetime64[ns] init_time + lead_time (equal to ``valid_time`` when present)."""
    vt = ds["init_time"].values[:, None] + ds["lead_time"].values[None, :]
    if "valid_time" in ds.coords:
        stored = ds["valid_time"].transpose("init_time", "lead_time").values
        if stored.shape != vt.shape or not (stored.astype("datetime64[ns]") == vt).all():
            raise ValueError(f"{what}: valid_time differs from init_time + lead_time")
    return vt


def _time_index(ds: xr.Dataset, what: str) -> pd.Index:
    times = ds["time"].values
    if times.dtype.kind != "M":
        raise ValueError(f"{what}: time must be datetime64, got {times.dtype}")
    index = pd.Index(times.astype("datetime64[ns]"))
    if not index.is_unique:
        dup = index[index.duplicated()][:3]
        raise ValueError(f"{what}: repeated times {[str(t) for t in dup]}; times must be unique")
    return index


def _refuse_or_count(policy: str, absent: np.ndarray, times: np.ndarray, who: str, what: str):
    """Raise (``policy == "error"``) naming the first of ``times`` (N, T) where ``absent``
    (N, T) is True; with ``"skip"`` the caller counts them."""
    if policy != "error" or not absent.any():
        return
    times = np.unique(times[absent])
    shown = ", ".join(str(pd.Timestamp(t)) for t in times[:5])
    more = f" and {times.size - 5} more" if times.size > 5 else ""
    raise ValueError(
        f"{who} has no map at the {what} {shown}{more} ({times.size} missing); give the maps "
        "of those times, or missing_truth='skip' to score only the covered forecast maps"
    )


def _match_by_valid_time(ref: xr.Dataset, label: str, init, valid_times):
    """(reference init index, reference lead index) per forecast map, each (N, T), -1 where
    the reference has no map valid then; for maps on a ``time`` dim ``(time index, None)``."""
    if "init_time" not in ref.dims:
        index = _time_index(ref, f"reference {label!r}")
        return index.get_indexer(valid_times.ravel()).reshape(valid_times.shape), None
    ref_init = ref["init_time"].values
    ref_valid = _valid_times(ref, f"reference {label!r}")
    table = pd.DataFrame(
        {
            "valid": ref_valid.ravel(),
            "init": np.repeat(ref_init, ref_valid.shape[1]),
            "i": np.repeat(np.arange(ref_valid.shape[0]), ref_valid.shape[1]),
            "k": np.tile(np.arange(ref_valid.shape[1]), ref_valid.shape[0]),
        }
    )
    by_valid = table.groupby("valid")
    counts = by_valid.size()
    pos_i = np.full(valid_times.shape, -1)
    pos_k = np.full(valid_times.shape, -1)
    for n in range(valid_times.shape[0]):
        for t in range(valid_times.shape[1]):
            v = valid_times[n, t]
            if v not in counts.index:
                continue
            rows = by_valid.get_group(v)
            if len(rows) > 1:
                rows = rows[rows["init"] == init[n]]
                if len(rows) != 1:
                    raise ValueError(
                        f"reference {label!r}: {int(counts[v])} maps valid at "
                        f"{pd.Timestamp(v)}, none (or several) issued at the forecast's init time "
                        f"{pd.Timestamp(init[n])}; give one map per valid time"
                    )
            pos_i[n, t], pos_k[n, t] = int(rows["i"].iloc[0]), int(rows["k"].iloc[0])
    return pos_i, pos_k


# -- reading ------------------------------------------------------------------------------------
def _read_times(variables, positions: np.ndarray) -> np.ndarray:
    """(B, T, C, H, W) float64 maps of the (time, H, W) ``variables`` at ``positions`` (B, T)
    time indices; NaN where a position is -1."""
    flat = positions.ravel()
    have = flat >= 0
    maps = []
    for var in variables:
        out = np.full((flat.size, *var.shape[1:]), np.nan)
        if have.any():
            out[have] = np.asarray(var[flat[have]].values, dtype=np.float64)
        maps.append(out.reshape(*positions.shape, *var.shape[1:]))
    return np.stack(maps, axis=2)


def _last_maps(variables, at_init: np.ndarray, needed: bool):
    """(last (B, C, H, W) float64 with 0 where invalid, last_ok (B, C, H, W) bool): the truth
    at each init time (all invalid when no baseline needs it)."""
    if not needed:
        at_init = np.full(at_init.shape, -1)
    last = _read_times(variables, at_init[:, None])[:, 0]
    ok = np.isfinite(last)
    return torch.from_numpy(np.where(ok, last, 0.0)), torch.from_numpy(ok)


def _read_reference(ref: xr.Dataset, names, grid, pos, rows: slice) -> np.ndarray:
    """(B, T, C, H, W) float64 reference maps matched to the forecast maps of ``rows``."""
    if pos[1] is None:  # maps on a time dim
        variables = [ref[v].transpose("time", *grid).variable for v in names]
        return _read_times(variables, pos[0][rows])
    pi, pk = pos[0][rows], pos[1][rows]
    have = pi >= 0
    out = np.full((*pi.shape, len(names), ref.sizes[grid[0]], ref.sizes[grid[1]]), np.nan)
    if have.any():
        for c, v in enumerate(names):
            data = ref[v].transpose("init_time", "lead_time", *grid).variable
            pairs = sorted(set(zip(pi[have].tolist(), pk[have].tolist(), strict=True)))
            need = sorted({i for i, _ in pairs})
            block = np.asarray(data[need].values, dtype=np.float64)
            where = {i: j for j, i in enumerate(need)}
            for n, t in zip(*np.nonzero(have), strict=True):
                out[n, t, c] = block[where[int(pi[n, t])], int(pk[n, t])]
    return out
