"""Sample regimes: which test windows count as e.g. low solar activity or a geomagnetic storm.

A regime is a condition on one scalar driver series, in the driver's physical units::

    lsa:   {driver: f107, below: 100}                       # a declared forcing of data.schema
    storm: {source: omni, variable: dst, below: -50, reduce: min}   # any variable of a source

The driver is aligned onto the target time axis exactly as a forcing is
(:class:`geostl.data.forcings.ForcingStack`, rules of :mod:`geostl.data.align`; a source
variable defaults to the causal ``previous_complete`` rule). Each test window (inputs at steps
``s .. s+T_in-1``, forecast at ``s+T_in .. s+T_in+T_out-1``) gets one driver value:

- ``issue`` (default): the value at the forecast issue time, the last input frame ``s+T_in-1``;
- ``mean`` / ``min`` / ``max``: over the T_out forecast (verification) times.

The window is in the regime when ``value < below`` and ``value >= at_least`` (either bound may
be left out; with both, ``at_least <= value < below``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import xarray as xr

from geostl.data.forcings import ForcingStack
from geostl.data.schema import ChannelSchema, ForcingSpec

__all__ = ["REDUCTIONS", "Regime", "regime_masks", "regime_selection", "window_values"]

REDUCTIONS = ("issue", "mean", "min", "max")


@dataclass(frozen=True)
class Regime:
    """One named regime.

    Attributes:
        name: the regime's name (a table column).
        driver: the driver as a forcing spec (a declared forcing, or a source variable).
        key: the dotted config key it came from (for messages).
        below, at_least: bounds in the driver's physical units (None = unbounded).
        reduce: one of :data:`REDUCTIONS`.
    """

    name: str
    driver: ForcingSpec
    key: str
    below: float | None = None
    at_least: float | None = None
    reduce: str = "issue"

    def condition(self, units: str = "") -> str:
        """``"min over the forecast of dst < -50 nT"``-style text."""
        what = {
            "issue": "at the issue time",
            "mean": "mean over the forecast",
            "min": "minimum over the forecast",
            "max": "maximum over the forecast",
        }[self.reduce]
        unit = f" {units}" if units else ""
        parts = []
        if self.at_least is not None:
            parts.append(f">= {self.at_least:g}{unit}")
        if self.below is not None:
            parts.append(f"< {self.below:g}{unit}")
        return f"{self.driver_label()} {what} {' and '.join(parts)}"

    def driver_label(self) -> str:
        """``f107`` or ``omni:dst`` with its alignment rule."""
        d = self.driver
        if d.computed is not None:
            return f"{d.computed} (computed)"
        return f"{d.source}:{d.variable} (align {d.align})"

    def to_dict(self) -> dict:
        """Plain description (stored with each cell's scores, hashed for resume)."""
        return {
            "driver": self.driver.to_dict(),
            "below": self.below,
            "at_least": self.at_least,
            "reduce": self.reduce,
        }


def window_values(
    series: np.ndarray, starts: np.ndarray, t_in: int, t_out: int, reduce: str
) -> np.ndarray:
    """One driver value per window.

    Args:
        series: (T,) driver values on the target time axis (physical units).
        starts: (N,) window start indices into ``series``.
        t_in, t_out: input and forecast frames of a window.
        reduce: ``issue`` (value at ``start + t_in - 1``) or ``mean``/``min``/``max`` over
            ``start + t_in .. start + t_in + t_out - 1``.

    Returns:
        (N,) float64.
    """
    series = np.asarray(series, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.int64)
    if reduce == "issue":
        return series[starts + t_in - 1]
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce: expected one of {', '.join(REDUCTIONS)}, got {reduce!r}")
    forecast = series[starts[:, None] + t_in + np.arange(t_out)[None, :]]
    return {"mean": np.mean, "min": np.min, "max": np.max}[reduce](forecast, axis=1)


def regime_selection(
    values: np.ndarray, below: float | None = None, at_least: float | None = None
) -> np.ndarray:
    """(N,) bool: ``at_least <= values < below`` (a missing bound is not checked)."""
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        raise ValueError("regime driver values hold NaN; the driver must have a value everywhere")
    keep = np.ones(values.shape, dtype=bool)
    if below is not None:
        keep &= values < below
    if at_least is not None:
        keep &= values >= at_least
    return keep


def regime_masks(
    regimes: list[Regime], dataset, sources: Mapping[str, xr.Dataset]
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Which windows of ``dataset`` (a WindowDataset) fall in each regime.

    Returns:
        ``({name: (N,) bool}, {name: driver units})``.

    Raises:
        KeyError / ValueError naming the regime's config key: a missing source or variable, a
        driver without a value at a needed time, or a driver that is not a time series.
    """
    if not regimes:
        return {}, {}
    specs = tuple(replace(r.driver, name=f"regime {r.name}") for r in regimes)
    schema = ChannelSchema(dataset.schema.target_source, dataset.schema.targets, specs)
    times = dataset.times
    needed = np.zeros(times.size, dtype=bool)
    span = dataset.t_in + dataset.t_out
    for s in np.asarray(dataset.starts, dtype=np.int64):
        needed[s : s + span] = True
    try:
        ax = dataset.axis
        stack = ForcingStack(schema, dict(sources), times, ax.rows, ax.cols, needed, kind=ax.kind)
    except (KeyError, ValueError, TypeError) as err:
        raise type(err)(f"grid.regimes: {err.args[0] if err.args else err}") from err
    masks, units = {}, {}
    for regime, spec in zip(regimes, specs, strict=True):
        series = stack.series(spec.name)
        if series is None:
            raise ValueError(
                f"config key {regime.key!r}: driver {regime.driver_label()} varies over the grid; "
                "a regime driver must be one value per time"
            )
        values = window_values(series, dataset.starts, dataset.t_in, dataset.t_out, regime.reduce)
        masks[regime.name] = regime_selection(values, regime.below, regime.at_least)
        units[regime.name] = stack.units.get(spec.name, "")
    return masks, units
