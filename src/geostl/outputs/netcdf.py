"""Forecasts as NetCDF-4 (h5netcdf): one variable per channel on (init_time, lead_time, lat, lon).

Layout of the file written by :func:`write_forecast_netcdf` (on a pixel grid, ``grid="pixel"``,
the grid dims are ``y`` (rows, top to bottom) and ``x`` (columns), integer pixel indices)::

    dims        init_time (N), lead_time (T), lat (H), lon (W)
    coords      init_time   datetime64  the time of the last input frame of each window
                lead_time   timedelta64 time after init_time of each forecast frame
                valid_time  datetime64  (init_time, lead_time) = init_time + lead_time
                lat, lon    the input's coordinates and attrs (padding removed)
    variables   NAME (init_time, lead_time, lat, lon) float32 (``dtype``), with units,
                long_name and the source's standard_name when it has one
    attrs       Conventions, title, source, history, geostl_version, model, config (YAML
                summary), future_forcings and, when the run fed observed future drivers
                (``oracle``), a ``warning`` attribute

The attributes follow CF-1.10: ``init_time`` is the ``forecast_reference_time``, ``lead_time``
the ``forecast_period`` and ``valid_time`` the ``time`` (an auxiliary coordinate, named in each
variable's ``coordinates``); times are encoded as ``... since`` offsets, the period in hours or
minutes, by xarray's CF encoder.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from geostl import __version__
from geostl.data import GridAdjust

__all__ = [
    "CF_UNITS",
    "ORACLE_WARNING",
    "cf_dataset",
    "forecast_dataset",
    "same_units",
    "write_dataset_netcdf",
    "write_forecast_netcdf",
]

ORACLE_WARNING = (
    "forecasts made with OBSERVED future drivers (future_forcings: oracle): an upper bound, "
    "not an operational forecast"
)
_DEFAULT_ATTRS = {
    "lat": {"units": "degrees_north", "standard_name": "latitude", "long_name": "latitude"},
    "lon": {"units": "degrees_east", "standard_name": "longitude", "long_name": "longitude"},
    "y": {"units": "1", "long_name": "pixel row (0 at the top)"},
    "x": {"units": "1", "long_name": "pixel column (0 at the left)"},
}
_GRID_DIMS = {"latlon": ("lat", "lon"), "pixel": ("y", "x")}
#: units of the field that UDUNITS (and so CF) does not know -> their UDUNITS spelling, used
#: when a file is written; the common name is kept in ``units_common_name``
CF_UNITS = {"TECU": "1e16 m-2"}


def same_units(a: str, b: str) -> bool:
    """Whether two unit strings name the same unit (``TECU`` and ``1e16 m-2`` do)."""
    a, b = a.strip(), b.strip()
    return a == b or CF_UNITS.get(a, a) == CF_UNITS.get(b, b)


def cf_dataset(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with CF units for the field's own units (:data:`CF_UNITS`) and the
    ``Conventions`` attribute, as files get it."""
    out = ds.copy()
    out.attrs.setdefault("Conventions", "CF-1.10")
    for name, da in ds.variables.items():
        units = str(da.attrs.get("units", ""))
        if units in CF_UNITS:
            out[name].attrs = {**da.attrs, "units": CF_UNITS[units], "units_common_name": units}
    return out


def _array(x: Any, what: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _coord(values: Any, name: str, size: int, adjust: GridAdjust | None) -> xr.DataArray:
    """1-D lat/lon with its attrs, cut to ``size`` (the unpadded grid) when it is padded."""
    attrs = dict(values.attrs) if isinstance(values, xr.DataArray) else {}
    v = np.asarray(values.values if isinstance(values, xr.DataArray) else _array(values, name))
    if v.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D coordinate, got shape {v.shape}")
    if v.size != size and adjust is not None and v.size > size:
        v = v[:size]  # padded coordinates continue the grid at the end (see GridAdjust.coords)
    if v.size != size:
        raise ValueError(f"{name}: {v.size} values, but the forecast grid has {size} along {name}")
    return xr.DataArray(v, dims=(name,), attrs={**_DEFAULT_ATTRS[name], **attrs})


def _times(x: Any, what: str, kind: str) -> np.ndarray:
    a = _array(x, what)
    if a.ndim != 1:
        raise ValueError(f"{what}: expected a 1-D array, got shape {a.shape}")
    if kind == "M":
        if a.dtype.kind == "M":
            return a.astype("datetime64[ns]")
        if a.dtype.kind in "iu":
            return a.astype("int64").astype("datetime64[ns]")  # int64 ns since 1970
    else:
        if a.dtype.kind == "m":
            return a.astype("timedelta64[ns]")
        if a.dtype.kind in "iu":
            return a.astype("int64").astype("timedelta64[ns]")
    expected = "datetime64 or int64 ns" if kind == "M" else "timedelta64 or int64 ns"
    raise TypeError(f"{what}: expected {expected}, got dtype {a.dtype}")


def write_forecast_netcdf(path: str | os.PathLike, *args: Any, **kwargs: Any) -> Path:
    """Write forecasts to a NetCDF-4 file (atomically): :func:`forecast_dataset` of the
    arguments after ``path``, written by :func:`write_dataset_netcdf`. Returns the path."""
    return write_dataset_netcdf(forecast_dataset(*args, **kwargs), path)


def forecast_dataset(
    pred: np.ndarray | torch.Tensor,
    times_in_last: Any,
    lead_times: Any,
    lat: np.ndarray | xr.DataArray,
    lon: np.ndarray | xr.DataArray,
    names: Sequence[str],
    units: Mapping[str, str] | Sequence[str],
    attrs: Mapping[str, Any] | None = None,
    *,
    long_names: Mapping[str, str] | None = None,
    grid_adjust: GridAdjust | None = None,
    area_mask: np.ndarray | torch.Tensor | None = None,
    model: str | None = None,
    config: Mapping[str, Any] | str | None = None,
    future_forcings: str | None = None,
    grid: str = "latlon",
    standard_names: Mapping[str, str] | None = None,
    dtype: Any = np.float32,
) -> xr.Dataset:
    """The forecast Dataset (the layout of the module docstring) of an array of forecasts.

    Args:
        pred: (N, T_out, C, H, W) forecasts in **physical units** (de-normalised), on the
            original grid (H, W) or on the padded grid of ``grid_adjust`` (then cut back).
        times_in_last: (N,) time of the last input frame of each window (datetime64, or int64
            ns since 1970 as in a sample's ``times_in[-1]``): the forecast's ``init_time``.
        lead_times: (T_out,) lead of each forecast frame after ``init_time`` (timedelta64, or
            int64 ns), e.g. ``time_step * arange(1, T_out + 1)``.
        lat, lon: 1-D coordinates (arrays or ``xr.DataArray`` whose attrs are copied); the
            unpadded (H,)/(W,) ones, or the padded ones of a WindowDataset with ``grid_adjust``.
        names: C channel names (variable names in the file).
        units: ``{name: unit}`` or a list in channel order.
        attrs: extra global attributes (str, numbers).
        long_names: ``{name: long_name}`` (default: ``"<name> forecast"``).
        grid_adjust: the data's padding/cropping; padded rows/columns are removed.
        area_mask: (H, W) bool, False pixels (land, outside the domain) written as NaN.
        model: model description for the ``model`` attribute (e.g. ``"convlstm"``).
        config: the run config (dict, written as YAML) or a summary string.
        future_forcings: the run's future-forcing policy (``known``/``oracle``/``none``).
        grid: ``"latlon"`` or ``"pixel"``; on a pixel grid ``lat``/``lon`` are the rows y and
            columns x, written as the ``y``/``x`` dims.
        standard_names: ``{name: CF standard_name}`` of the channels that have one.
        dtype: of the values (float32; ``geostl predict`` writes float64 so that scores
            recomputed from its file equal ``geostl test``'s).

    Returns:
        The ``xr.Dataset``.
    """
    if grid not in _GRID_DIMS:
        raise ValueError(f"grid: expected one of {sorted(_GRID_DIMS)}, got {grid!r}")
    row, col = _GRID_DIMS[grid]
    p = _array(pred, "pred").astype(dtype, copy=False)
    if p.ndim != 5:
        raise ValueError(f"pred: expected (N, T_out, C, H, W), got shape {p.shape}")
    if grid_adjust is not None and p.shape[-2:] == grid_adjust.shape:
        p = grid_adjust.undo(p)
    n, t, c, h, w = p.shape
    names = list(names)
    if len(names) != c:
        raise ValueError(f"names: {len(names)} given for {c} channels in pred")
    unit_of = dict(units) if isinstance(units, Mapping) else dict(zip(names, units, strict=True))
    missing = [v for v in names if v not in unit_of]
    if missing:
        raise KeyError(f"units: no unit for channel(s) {missing}")
    init = _times(times_in_last, "times_in_last", "M")
    leads = _times(lead_times, "lead_times", "m")
    if init.size != n or leads.size != t:
        raise ValueError(
            f"times_in_last has {init.size} values and lead_times {leads.size}, but pred has "
            f"N={n} windows and T_out={t} leads"
        )
    if area_mask is not None:
        m = _array(area_mask, "area_mask").astype(bool)
        if grid_adjust is not None and m.shape == grid_adjust.shape:
            m = grid_adjust.undo(m)
        if m.shape != (h, w):
            raise ValueError(f"area_mask: shape {m.shape}, expected the grid {(h, w)}")
        p = np.where(m, p, np.asarray(np.nan, dtype=p.dtype))
    coords = {
        "init_time": (
            "init_time",
            init,
            {
                "standard_name": "forecast_reference_time",
                "long_name": "time of the last input frame (issue time)",
            },
        ),
        "lead_time": (
            "lead_time",
            leads,
            {"standard_name": "forecast_period", "long_name": "lead time after init_time"},
        ),
        "valid_time": (
            ("init_time", "lead_time"),
            init[:, None] + leads[None, :],
            {
                "standard_name": "time",
                "long_name": "time the forecast is valid for (init_time + lead_time)",
            },
        ),
        row: _coord(lat, row, h, grid_adjust),
        col: _coord(lon, col, w, grid_adjust),
    }
    if grid == "pixel":
        coords[row] = coords[row].astype(np.int64)
        coords[col] = coords[col].astype(np.int64)
    data_vars = {
        name: (
            ("init_time", "lead_time", row, col),
            p[:, :, i],
            {
                "units": unit_of[name],
                "long_name": (long_names or {}).get(name, f"{name} forecast"),
                **(
                    {"standard_name": standard_names[name]}
                    if standard_names and standard_names.get(name)
                    else {}
                ),
            },
        )
        for i, name in enumerate(names)
    }
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    gattrs: dict[str, Any] = {
        "Conventions": "CF-1.10",
        "title": "geostl forecast",
        "source": f"geostl {__version__}, model {model or 'unknown'}",
        "history": f"{now} written by geostl {__version__}",
        "geostl_version": __version__,
        "model": model or "unknown",
    }
    if config is not None:
        gattrs["config"] = config if isinstance(config, str) else _yaml(config)
    if future_forcings is not None:
        gattrs["future_forcings"] = future_forcings
        if future_forcings == "oracle":
            gattrs["warning"] = ORACLE_WARNING
    gattrs.update(attrs or {})
    return xr.Dataset(data_vars, coords=coords, attrs=gattrs)


def write_dataset_netcdf(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` as NetCDF-4 (h5netcdf, compressed data variables), atomically: a temporary
    name in the same folder, then a rename. Returns the path."""
    enc: dict[str, dict[str, Any]] = {str(v): {"zlib": True, "complevel": 4} for v in ds.data_vars}
    for name in ds.coords:  # CF: coordinate variables carry no _FillValue
        if np.issubdtype(ds[name].dtype, np.floating):
            enc[str(name)] = {"_FillValue": None}
    ds = cf_dataset(ds)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    try:
        ds.to_netcdf(tmp, engine="h5netcdf", encoding=enc)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


def _yaml(cfg: Mapping[str, Any]) -> str:
    import yaml

    from geostl._keys import plain

    return yaml.safe_dump(plain(cfg), sort_keys=False, default_flow_style=None, width=100)
