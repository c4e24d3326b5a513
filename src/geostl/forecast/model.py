"""``geostl.load``: a trained checkpoint as a forecaster with xarray in and out.

::

    model = geostl.load("runs/tec_convlstm/best.pt")
    maps = geostl.io.open_ionex(["uqrg1160.19i.gz"])            # today's maps, 71 x 73
    omni = geostl.io.open_omni2("omni2_2019.dat")               # drivers up to now
    ds = model.forecast(maps, drivers={"omni": omni})            # the next t_out maps
    ds.tec.sel(lead_time="1h")                                   # (lat, lon) TECU

``forecast`` takes the target source as its reader returns it (e.g. IONEX's 71 x 73 grid) and
applies the training source's transforms (``regrid``, ``every``); the result is on the input's
grid and coordinates (regridded back with
:func:`geostl.tasks.iono.regrid.regrid_to_ionex` when the model ran on 72 x 72). Sources not
given (drivers, static masks) are opened from the checkpoint's config. The layout of the result
is that of :mod:`geostl.outputs.netcdf` with one ``init_time`` (the issue time). A task
checkpoint (``task: enso``) is forecast by its task's ``forecast``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from geostl.engine import build_model_from_checkpoint, load_checkpoint, normaliser_from_checkpoint
from geostl.outputs import clip_to_bounds, forecast_dataset
from geostl.runconfig import ConfigError, open_sources
from geostl.runconfig.sources import apply_transforms
from geostl.tasks.iono.regrid import check_ionex_grid, regrid_to_ionex

from .window import issue_window

__all__ = ["ForecastModel", "load"]


def load(path: str | os.PathLike) -> ForecastModel:
    """Load a geostl checkpoint (``best.pt`` / ``last.pt``) as a :class:`ForecastModel`."""
    return ForecastModel(load_checkpoint(path), Path(path))


class ForecastModel:
    """A trained model with its data pipeline, ready to forecast from new data.

    Attributes:
        checkpoint: the loaded checkpoint dict; config: its run config; path: its file.
        task: the task name of a task checkpoint (``"enso"``), else None.
        target_source: the name of the maps' source in ``config["data"]["sources"]``.
        driver_sources: the other sources the model reads (drivers, static masks).
        t_in, t_out: input maps per window and forecast leads; time_step: timedelta64[ns].
    """

    def __init__(self, checkpoint: Mapping[str, Any], path: Path | None = None) -> None:
        self.checkpoint = dict(checkpoint)
        self.path = path
        self.config = self.checkpoint["config"]
        self.task = self.config.get("task")
        self.model = build_model_from_checkpoint(self.checkpoint).eval()
        self.sources_config: dict[str, Any] = dict(self.config["data"]["sources"])
        desc = self.checkpoint.get("data") or {}
        if self.task is None:
            self.normaliser = normaliser_from_checkpoint(self.checkpoint)
            self.target_source = str(desc["schema"]["targets"]["source"])
            self.t_in, self.t_out = int(desc["t_in"]), int(desc["t_out"])
            self.time_step = np.timedelta64(int(desc["time_step_ns"]), "ns")
        else:
            targets = (self.config["data"].get("schema") or {}).get("targets") or {}
            self.target_source = str(targets.get("source", next(iter(self.sources_config))))
        self.driver_sources = [n for n in self.sources_config if n != self.target_source]

    def __repr__(self) -> str:
        where = f" from {self.path}" if self.path else ""
        return f"<geostl ForecastModel {self.name!r}{where}>"

    @property
    def name(self) -> str:
        """The model's name: the backbone of a Forecaster, the task otherwise."""
        if self.task is not None:
            return str(self.task)
        return str(self.config["model"]["backbone"]["name"])

    # -- sources -------------------------------------------------------------------------------
    def sources(
        self,
        maps: xr.Dataset,
        drivers: Mapping[str, xr.Dataset] | xr.Dataset | None = None,
    ) -> dict[str, xr.Dataset]:
        """Every source the model reads: ``maps`` as the target source, ``drivers`` by name
        (a single Dataset when the model has exactly one other source), and the rest opened
        from the checkpoint's config; each with its source entry's transforms applied."""
        given = _drivers_by_name(drivers, self.driver_sources)
        unknown = sorted(set(given) - set(self.driver_sources))
        if unknown:
            raise KeyError(
                f"drivers: unknown source(s) {unknown}; this model reads "
                f"{self.driver_sources or 'no other source'} (besides its maps, "
                f"{self.target_source!r})"
            )
        rest = {n: e for n, e in self.sources_config.items() if n not in given}
        rest.pop(self.target_source, None)
        opened = open_sources(rest) if rest else {}
        out = {self.target_source: self._prepare(self.target_source, maps)}
        for name in self.driver_sources:
            out[name] = self._prepare(name, given[name]) if name in given else opened[name]
        return out

    def _prepare(self, name: str, ds: xr.Dataset) -> xr.Dataset:
        """The source entry's transforms, the regrid only for data on IONEX's grid."""
        if not isinstance(ds, xr.Dataset):
            raise TypeError(f"source {name!r}: expected an xarray.Dataset, got {type(ds).__name__}")
        entry = dict(self.sources_config.get(name) or {})
        if entry.get("regrid") is not None and not _on_ionex_grid(ds):
            entry.pop("regrid")  # already on the model's grid; checked by issue_window
        try:
            return apply_transforms(ds, entry, f"data.sources.{name}")
        except ConfigError as err:
            raise ValueError(str(err)) from err

    # -- forecasting ---------------------------------------------------------------------------
    @torch.no_grad()
    def forecast(
        self,
        maps: xr.Dataset,
        drivers: Mapping[str, xr.Dataset] | xr.Dataset | None = None,
        issue: Any = None,
        where: str | None = None,
    ) -> xr.Dataset:
        """Forecast the ``t_out`` steps after ``issue`` from ``maps`` and ``drivers``.

        Args:
            maps: the target source as its reader returns it: a ``time`` dim and the grid
                (IONEX 71 x 73 for a model trained on ``regrid: iono72`` maps is fine).
            drivers: ``{source name: Dataset}`` for the model's other sources (or one
                Dataset when it has one); sources not given are opened from the checkpoint's
                config. Observed driver values after ``issue`` are never read.
            issue: the issue time, which must be the time of a map; None = the end of the last
                complete window of ``t_in`` maps.
            where: what ``maps`` came from, for error messages (default: the files its reader
                names in ``attrs["source_files"]``).

        Returns:
            The forecast Dataset (one ``init_time``, ``lead_time``, ``valid_time``, the
            input's grid) in the targets' physical units.
        """
        if self.task is not None:
            from geostl.tasks import TASKS

            task_forecast = getattr(TASKS.get(str(self.task)), "forecast", None)
            if task_forecast is None:
                raise ValueError(f"task {self.task!r} cannot make operational forecasts")
            sources = self.sources(maps, drivers)
            return task_forecast(self.checkpoint, sources, issue)
        where = where or str(maps.attrs.get("source_files") or "the input maps")
        sources = self.sources(maps, drivers)
        prepared = sources[self.target_source]
        win = issue_window(self.checkpoint["data"], sources, self.normaliser, issue, where)
        ds = win.dataset
        batch = {k: v[None] for k, v in ds[0].items()}
        device = next(self.model.parameters()).device
        pred = self.model({k: v.to(device) for k, v in batch.items()})["pred"]
        pred = torch.as_tensor(
            ds.normaliser.inverse(pred.to("cpu", torch.float64), ds.target_names, axis=2)
        )
        row, col = ds.grid_dims
        out = forecast_dataset(
            pred.numpy(),
            np.array([win.init_time]),
            win.lead_times,
            prepared[row],
            prepared[col],
            ds.target_names,
            ds.units,
            long_names=ds.long_names,
            grid_adjust=ds.grid_adjust,
            area_mask=ds.area_mask.numpy(),
            model=self.name,
            config=self.config,
            future_forcings=ds.future_forcings,
            grid=ds.grid_kind,
            standard_names=ds.standard_names,
        )
        out, _ = clip_to_bounds(out)
        out.attrs["issue_time"] = str(np.datetime_as_string(win.init_time, unit="s")) + "Z"
        out.attrs["input"] = where
        if self.path is not None:
            out.attrs["checkpoint"] = self.path.name
        regrid = (self.sources_config.get(self.target_source) or {}).get("regrid")
        if regrid is not None and _on_ionex_grid(maps):
            out = regrid_to_ionex(out, str(regrid), "forecast")
        return out


def _on_ionex_grid(ds: xr.Dataset) -> bool:
    try:
        check_ionex_grid(ds, "maps")
    except ValueError:
        return False
    return True


def _drivers_by_name(
    drivers: Mapping[str, xr.Dataset] | xr.Dataset | None, names: list[str]
) -> dict[str, xr.Dataset]:
    if drivers is None:
        return {}
    if isinstance(drivers, xr.Dataset):
        if len(names) != 1:
            raise ValueError(
                f"drivers: one Dataset given but the model reads {len(names)} other sources "
                f"({names}); pass {{name: Dataset}}"
            )
        return {names[0]: drivers}
    return dict(drivers)
