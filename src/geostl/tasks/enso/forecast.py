"""Operational ENSO forecasts: the SST months up to the issue month in, the Niño 3.4 index and
the ENSO phase at leads 1..L out, with no future month read and no truth needed.

:func:`forecast_enso` is the ``enso`` task's ``Task.forecast``; ``geostl.load("best.pt")
.forecast(sst)`` calls it with the user's SST maps as the ``sst`` source. The input window is
the task's own (:func:`enso_issue_window`): the ``n_input`` months ending at the issue month,
on the model's grid (:func:`geostl.tasks.enso.dataset.model_grid`: the configured latitude
crop and stride), z-scored with the training months' constants the checkpoint stores and set
to 0 outside the model's ocean mask (:func:`geostl.tasks.enso.windows.normalise_frames`).
The index table (the ``indices`` source) is not read: the model's input is SST only.

The returned Dataset is the forecast layout of :mod:`geostl.outputs.netcdf` without grid dims
(the forecast is one index per lead)::

    dims       init_time (1), lead_time (L), phase (3)
    coords     init_time   (init_time,) datetime64[ns]  time stamp of the issue month's SST map
                           (the last input month); standard_name forecast_reference_time
               lead_time   (lead_time,) timedelta64[ns]  valid_time - init_time: the exact
                           length of ``lead_month`` calendar months after this init_time (28..31
                           days a month), so it depends on the issue month; standard_name
                           forecast_period
               lead_month  (lead_time,) int64  1..L, the lead in calendar months: the same for
                           every issue month (align forecasts of several issue months on it)
               valid_time  (init_time, lead_time) datetime64[ns]  init_time + lead_month
                           calendar months (same day of the month); standard_name time
               phase       (phase,) str  "El Nino", "La Nina", "neutral" (codes 0, 1, 2)
               phase_code  (phase,) int8  0, 1, 2
    data vars  nino34_anom        (init_time, lead_time) float32 [degC]  Niño 3.4 anomaly of
                                  the lead month (the training index table's anomaly)
               phase_probability  (init_time, lead_time, phase) float32 [1]  softmax of the
                                  phase head; sums to 1 over ``phase``
               most_likely_phase  (init_time, lead_time) int8  phase code of the largest
                                  probability (``flag_values`` / ``flag_meanings``)
    attrs      title, model, geostl_version, config (the run config as YAML), future_forcings
               ("none": the model has no forcings), issue_month, input, index_variable,
               phase_rule
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr
import yaml

from geostl import __version__
from geostl._keys import plain
from geostl.data.splits import MONTH, add_steps
from geostl.engine.checkpoint import build_model_from_checkpoint
from geostl.tasks.enso.dataset import model_grid
from geostl.tasks.enso.windows import EnsoStats, normalise_frames

__all__ = ["PHASE_LABELS", "EnsoIssueWindow", "enso_issue_window", "forecast_enso"]

#: phase labels in the order of the phase codes 0, 1, 2 (E, L, N of the model's classes)
PHASE_LABELS = ("El Nino", "La Nina", "neutral")
_FLAG_MEANINGS = "el_nino la_nina neutral"


@dataclass(frozen=True)
class EnsoIssueWindow:
    """The one input window of a forecast.

    Attributes:
        x: (1, n_input, 1, lon, lat) float32 normalised SST, 0 outside the ocean mask: the
            model's input, as :class:`geostl.tasks.enso.dataset.EnsoDataset` builds it.
        issue_month: datetime64[M], the last input month.
        init_time: datetime64[ns], the time stamp of that month's map in the source.
        input_months: (n_input,) datetime64[M], oldest first.
        where: the source and its files, as the messages name them.
    """

    x: torch.Tensor
    issue_month: np.datetime64
    init_time: np.datetime64
    input_months: np.ndarray
    where: str


def _where(ds: xr.Dataset) -> str:
    files = ds.attrs.get("source_files")
    return f"data.sources.sst ({files})" if files else "data.sources.sst"


def _issue_month(issue: Any) -> np.datetime64:
    """The month (datetime64[M]) that contains ``issue`` (anything pandas.Timestamp parses)."""
    try:
        stamp = pd.Timestamp(issue)
    except (ValueError, TypeError) as err:
        raise ValueError(f"issue month {issue!r}: not a date ({err})") from None
    if stamp is pd.NaT:
        raise ValueError(f"issue month {issue!r}: not a date")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return np.datetime64(stamp.strftime("%Y-%m"), "M")


def enso_issue_window(
    ckpt: Mapping[str, Any],
    sources: Mapping[str, xr.Dataset],
    issue: Any = None,
    ocean: np.ndarray | None = None,
) -> EnsoIssueWindow:
    """The ``n_input`` SST months ending at the issue month, as the model's input.

    Only the months of the window are read (their values; the default issue month looks at
    the latest months until it finds a complete window).

    Args:
        ckpt: a loaded ``task: enso`` checkpoint (``config``, ``data`` with ``stats``, ``lat``,
            ``lon``, ``n_input``; ``model.state_dict.ocean``).
        sources: ``{"sst": Dataset}`` (other sources are ignored): the configured
            ``data.variable`` (time, lat, lon) in the training data's units (degC), NaN on
            land, on the training grid before the latitude crop and stride.
        issue: the last input month (any time within it: ``"2019-06"``,
            ``np.datetime64("2019-06-01")``); None = the last month that ends
            ``n_input`` consecutive months with SST values.
        ocean: (lat, lon) bool mask of the model's grid; default the checkpoint's.

    Raises:
        ValueError: no ``sst`` source or variable, a grid other than the model's, a repeated
            month, no map for the issue month, an input month missing or all NaN (naming the
            month and the source's files), or NaN in a cell of the ocean mask.
    """
    data_cfg = ckpt["config"]["data"]
    desc = ckpt["data"]
    n_input = int(desc["n_input"])
    stats = EnsoStats(**{k: float(v) for k, v in desc["stats"].items()})
    if "sst" not in sources:
        raise ValueError(
            f"the ENSO forecast needs the 'sst' source (SST maps); got {sorted(sources)}"
        )
    ds = sources["sst"]
    where = _where(ds)
    var = str(data_cfg["variable"])
    if var not in ds:
        raise ValueError(f"{where}: no variable {var!r} (has {sorted(ds.data_vars)})")
    for dim in ("time", "lat", "lon"):
        if dim not in ds[var].dims:
            raise ValueError(f"{where}: {var!r} has no {dim!r} dim (dims {ds[var].dims})")
    field = model_grid(ds[var], data_cfg)
    _check_grid(field, desc, where)
    if ocean is None:
        ocean = ckpt["model"]["state_dict"]["ocean"].numpy().T
    ocean = np.asarray(ocean, dtype=bool)
    if ocean.shape != (field.sizes["lat"], field.sizes["lon"]):
        raise ValueError(f"ocean mask {ocean.shape} is not the model grid's (lat, lon)")

    stamps = np.asarray(field["time"].values).astype("datetime64[ns]")
    months = stamps.astype("datetime64[M]")
    if months.size == 0:
        raise ValueError(f"{where}: no SST maps (the time axis is empty)")
    uniq, counts = np.unique(months, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{where}: month {uniq[counts > 1][0]} has {counts.max()} SST maps")
    position = {int(m.astype(np.int64)): i for i, m in enumerate(months)}
    span = f"{where} holds SST months {months.min()} .. {months.max()}"
    present: dict[int, bool] = {}

    def has_map(month: np.datetime64) -> bool:
        key = int(month.astype(np.int64))
        if key not in position:
            return False
        if key not in present:
            values = field.isel(time=position[key]).values
            present[key] = bool(np.isfinite(values).any())
        return present[key]

    def window(end: np.datetime64) -> np.ndarray:
        return end - np.arange(n_input - 1, -1, -1).astype("timedelta64[M]")

    if issue is not None:
        end = _issue_month(issue)
        if int(end.astype(np.int64)) not in position:
            raise ValueError(f"no SST map for the issue month {end}: {span}")
        needed = window(end)
        missing = [m for m in needed if not has_map(m)]
        if missing:
            raise ValueError(
                f"SST month {missing[0]} is missing or all NaN: the forecast issued at {end} "
                f"needs the {n_input} input months {needed[0]} .. {end} (missing: "
                f"{', '.join(str(m) for m in missing)}); {span}"
            )
    else:
        for end in np.sort(months)[::-1]:
            needed = window(end)
            if all(has_map(m) for m in needed):
                break
        else:
            raise ValueError(
                f"{where}: no {n_input} consecutive SST months with values (the model's input "
                f"window); {span}"
            )
    rows = [position[int(m.astype(np.int64))] for m in needed]
    values = field.isel(time=rows).values.astype(np.float64)  # (n_input, lat, lon)
    gaps = ~np.isfinite(values) & ocean[None]
    if gaps.any():
        t, i, j = (int(k[0]) for k in np.nonzero(gaps))
        lat, lon = float(field["lat"][i]), float(field["lon"][j])
        raise ValueError(
            f"{where}: SST month {needed[t]} has no value (NaN) in {int(gaps[t].sum())} cells of "
            f"the model's ocean mask (first at lat {lat:g}, lon {lon:g}); the model was trained "
            f"with a value in every one of them and none is filled in"
        )
    x = normalise_frames(values, stats, ocean)  # (n_input, lon, lat)
    return EnsoIssueWindow(
        x=torch.from_numpy(x.astype(np.float32))[None, :, None],
        issue_month=needed[-1],
        init_time=stamps[rows[-1]],
        input_months=needed,
        where=where,
    )


def _check_grid(field: xr.DataArray, desc: Mapping[str, Any], where: str) -> None:
    """The cropped and thinned grid must be the one the model was trained on."""
    for name in ("lat", "lon"):
        got = np.asarray(field[name].values, dtype=np.float64)
        trained = np.asarray(desc[name], dtype=np.float64)
        if got.shape != trained.shape or not np.allclose(got, trained, atol=1e-6):
            first = f"{got[0]:g}..{got[-1]:g}" if got.size else "none"
            raise ValueError(
                f"{where}: {name} on the model's grid (after the data.lat_range crop and "
                f"data.stride) is {first} ({got.size} points), but the model was trained on "
                f"{trained[0]:g}..{trained[-1]:g} ({trained.size} points); give SST maps on "
                "the training data's grid"
            )


@torch.no_grad()
def forecast_enso(
    ckpt: Mapping[str, Any], sources: Mapping[str, xr.Dataset], issue: Any = None
) -> xr.Dataset:
    """The Niño 3.4 index and phase forecast at leads 1..L from the issue month.

    Args:
        ckpt: a loaded ``task: enso`` checkpoint (:func:`geostl.engine.load_checkpoint`).
        sources: ``{source name: Dataset}``; the ``sst`` source is read (see
            :func:`enso_issue_window`), the others are not.
        issue: the last input month (any time within it), or None for the last month that
            ends a complete input window.

    Returns:
        The forecast Dataset of the module docstring (one ``init_time``).

    Raises:
        ValueError: see :func:`enso_issue_window`.
    """
    model = build_model_from_checkpoint(ckpt).cpu().eval()
    ocean = model.ocean.numpy().T  # (lat, lon)
    win = enso_issue_window(ckpt, sources, issue, ocean)
    out = model(win.x)
    stats = EnsoStats(**{k: float(v) for k, v in ckpt["data"]["stats"].items()})
    index = out["index"].double() * stats.index_std + stats.index_mean  # (1, L) degC
    logits = out["phase_logits"]  # (1, L, 3)
    probability = torch.softmax(logits.double(), dim=-1)
    likely = logits.argmax(-1)
    n_leads = int(index.shape[1])
    lead_month = np.arange(1, n_leads + 1, dtype=np.int64)
    init = np.datetime64(win.init_time, "ns")
    valid = np.array([add_steps(init, int(k), MONTH) for k in lead_month], dtype="datetime64[ns]")
    data_cfg = ckpt["config"]["data"]
    coords = {
        "init_time": (
            "init_time",
            np.array([init]),
            {
                "standard_name": "forecast_reference_time",
                "long_name": "time of the issue month's SST map (the last input month)",
            },
        ),
        "lead_time": (
            "lead_time",
            valid - init,
            {
                "standard_name": "forecast_period",
                "long_name": "valid_time - init_time (lead_month calendar months after init_time)",
            },
        ),
        "lead_month": (
            "lead_time",
            lead_month,
            {"long_name": "forecast lead in calendar months after init_time", "units": "1"},
        ),
        "valid_time": (
            ("init_time", "lead_time"),
            valid[None],
            {
                "standard_name": "time",
                "long_name": "month the forecast is valid for "
                "(init_time + lead_month calendar months)",
            },
        ),
        "phase": ("phase", np.array(PHASE_LABELS), {"long_name": "ENSO phase"}),
        "phase_code": ("phase", np.arange(3, dtype=np.int8), {"long_name": "ENSO phase code"}),
    }
    data_vars = {
        "nino34_anom": (
            ("init_time", "lead_time"),
            index.numpy().astype(np.float32),
            {"units": "degC", "long_name": "Nino 3.4 SST anomaly forecast"},
        ),
        "phase_probability": (
            ("init_time", "lead_time", "phase"),
            probability.numpy().astype(np.float32),
            {"units": "1", "long_name": "probability of the ENSO phase in the lead month"},
        ),
        "most_likely_phase": (
            ("init_time", "lead_time"),
            likely.numpy().astype(np.int8),
            {
                "long_name": "most likely ENSO phase in the lead month",
                "flag_values": np.arange(3, dtype=np.int8),
                "flag_meanings": _FLAG_MEANINGS,
            },
        ),
    }
    attrs = {
        "title": "geostl ENSO forecast: Nino 3.4 index and phase",
        "model": "EnsoConvLSTM (task enso, the ENSO blog post's multi-task ConvLSTM)",
        "geostl_version": __version__,
        "config": yaml.safe_dump(
            plain(ckpt["config"]), sort_keys=False, default_flow_style=None, width=100
        ),
        "future_forcings": "none",
        "issue_month": str(win.issue_month),
        "input": f"{win.where}: SST months {win.input_months[0]} .. {win.input_months[-1]}",
        "index_variable": f"{data_cfg['index']} of the training index table (degC anomaly)",
        "phase_rule": (
            "phase of the lead month from the centred 3-month mean of the index anomaly "
            "(months m-1..m+1, the ONI): El Nino >= +0.5 degC, La Nina <= -0.5 degC, "
            "neutral otherwise"
        ),
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
