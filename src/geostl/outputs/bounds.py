"""Physical lower bounds of output quantities, applied only when a forecast is written.

A model trained with a mean-squared error can forecast slightly negative TEC (or humidity,
precipitation ...) where the truth is near zero. Outputs never carry such values: at output
time, and only there, values below the quantity's lower bound are set to the bound, and the
number set is stated on the variable (``clipped_below_lower_bound``, ``lower_bound`` and a
``comment``). Training, losses and the stored sums are not changed.

The bound of a variable, from its name, units and long name (:func:`lower_bound`):

=================================================  ======
quantity                                           bound
=================================================  ======
TEC (units TECU, or a name ``tec`` / ``vtec``)     0
absolute temperature in K (not an anomaly)         0
relative humidity (%), specific humidity           0
precipitation, cloud cover, wind speed             0
anything else (anomalies, winds, heights, indices) none
=================================================  ======
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import xarray as xr

__all__ = ["clip_lower", "clip_to_bounds", "lower_bound"]

_ZERO_NAMES = ("tec", "vtec", "tp", "precip", "precipitation", "tcc", "cloud", "si10", "ws")
_ZERO_UNITS = ("tecu", "%", "kg kg-1", "kg kg**-1", "kg/kg", "kg m-2", "kg m**-2", "mm")


def lower_bound(name: str, attrs: Mapping[str, Any] | None = None) -> float | None:
    """The physical lower bound of variable ``name`` (see the module table), or None."""
    attrs = attrs or {}
    units = str(attrs.get("units", "")).strip().lower()
    text = f"{name} {attrs.get('long_name', '')} {attrs.get('standard_name', '')}".lower()
    if "anomal" in text or "difference" in text or "error" in text:
        return None
    key = name.lower()
    if units in _ZERO_UNITS or key in _ZERO_NAMES or "humidity" in text or "wind_speed" in text:
        return 0.0
    kelvin = units in ("k", "kelvin")
    if kelvin and ("temperature" in text or key in ("t2m", "sst", "t", "skt", "t850", "t500")):
        return 0.0
    return None


def clip_lower(values: Any, bound: float | None) -> tuple[Any, int]:
    """``(values with those below bound set to it, how many)``; numpy or torch, NaN kept."""
    if bound is None:
        return values, 0
    if isinstance(values, torch.Tensor):
        low = values < bound  # NaN compares False
        return torch.where(low, torch.full_like(values, bound), values), int(low.sum())
    arr = np.asarray(values)
    with np.errstate(invalid="ignore"):
        below = arr < bound
    return np.where(below, np.asarray(bound, dtype=arr.dtype), arr), int(below.sum())


def clip_to_bounds(ds: xr.Dataset) -> tuple[xr.Dataset, dict[str, int]]:
    """Every data variable with a lower bound clipped to it, the count stated on it.

    A variable that already states its count (clipped before) is left as it is.

    Returns:
        ``(dataset, {variable: number of values set to its bound})`` (bounded variables only).
    """
    out = ds.copy()
    counts: dict[str, int] = {}
    for name, da in ds.data_vars.items():
        bound = lower_bound(str(name), da.attrs)
        if bound is None or not np.issubdtype(da.dtype, np.floating):
            continue
        if "clipped_below_lower_bound" in da.attrs:
            counts[str(name)] = int(da.attrs["clipped_below_lower_bound"])
            continue
        values, n = clip_lower(da.values, bound)
        attrs = dict(da.attrs)
        attrs["lower_bound"] = bound
        attrs["clipped_below_lower_bound"] = n
        note = f"{n} value(s) below the physical lower bound {bound:g} set to it at output"
        attrs["comment"] = f"{attrs['comment']}; {note}" if attrs.get("comment") else note
        out[name] = (da.dims, values, attrs)
        counts[str(name)] = n
    return out, counts
