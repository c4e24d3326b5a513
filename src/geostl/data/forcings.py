"""Forcing channels aligned onto the target time axis, read frame by frame.

Scalar drivers (a ``time`` dim only) are aligned once, at construction, to a (T,) float64 series
(small: one number per target time). Gridded forcings (``time, lat, lon`` on the target grid)
are aligned as index maps and read lazily per window. Computed calendar/position features are
evaluated on demand. Values returned here are in physical units; normalisation happens later.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from .align import align_indices, align_series, infer_interval, parse_interval
from .features import (
    FEATURE_UNITS,
    GRID_FEATURES,
    TIME_FEATURES,
    grid_feature,
    time_feature,
    time_lon_feature,
)
from .pixelgrid import GEOGRAPHIC_ONLY_FEATURES, GRID_DIMS, LATLON, PIXEL
from .schema import ChannelSchema, ForcingSpec


def _driver_times(ds: xr.Dataset, spec: ForcingSpec) -> np.ndarray:
    if "time" not in ds.coords:
        raise ValueError(
            f"source {spec.source!r} (variable {spec.variable!r}) has no 'time' coordinate"
        )
    t = ds["time"].values
    if not np.issubdtype(t.dtype, np.datetime64):
        raise TypeError(f"source {spec.source!r}: 'time' must be datetime64, got {t.dtype}")
    return t.astype("datetime64[ns]")


class ForcingStack:
    """All forcing channels of ``schema`` on the target axis ``times`` (T,) and grid (H, W).

    Args:
        schema: the channel schema.
        sources: source name -> Dataset (lazy).
        times: (T,) datetime64[ns] target times.
        lat: (H,) degrees north; lon: (W,) degrees east (the target grid); on a pixel grid
            (``kind="pixel"``) the rows y and columns x.
        needed: (T,) bool, the target times some window reads (default all). A driver with
            no value at a needed time is an error; elsewhere it is never read.
        kind: the grid kind (``latlon`` or ``pixel``, see :mod:`geostl.data.pixelgrid`):
            gridded forcings have dims (time, y, x) on a pixel grid, and the computed
            geographic features are errors there.
        needed_observed: (T,) bool, the target times the ``observed`` forcings must cover
            (default ``needed``). An operational forecast reads observed drivers at its input
            times only (:mod:`geostl.forecast.window`), known ones at every time.
    """

    def __init__(
        self,
        schema: ChannelSchema,
        sources: dict[str, xr.Dataset],
        times: np.ndarray,
        lat: np.ndarray,
        lon: np.ndarray,
        needed: np.ndarray | None = None,
        kind: str = LATLON,
        needed_observed: np.ndarray | None = None,
    ) -> None:
        self.kind = kind
        self.dims = GRID_DIMS[kind]
        self.needed = (
            np.ones(len(times), dtype=bool) if needed is None else np.asarray(needed, dtype=bool)
        )
        self.needed_observed = (
            self.needed if needed_observed is None else np.asarray(needed_observed, dtype=bool)
        )
        self.times = np.asarray(times, dtype="datetime64[ns]")
        self.lat = np.asarray(lat, dtype=np.float64)
        self.lon = np.asarray(lon, dtype=np.float64)
        self.specs = schema.forcings
        self.names = [f.name for f in self.specs]
        self.units: dict[str, str] = {}
        self._series: dict[str, np.ndarray] = {}
        self._planes: dict[str, np.ndarray] = {}
        self._gridded: dict[str, tuple[xr.Variable, np.ndarray, np.ndarray, np.ndarray]] = {}
        for spec in self.specs:
            self._add(spec, sources)

    @property
    def shape(self) -> tuple[int, int]:
        return self.lat.size, self.lon.size

    def _add(self, spec: ForcingSpec, sources: dict[str, xr.Dataset]) -> None:
        if spec.computed is not None:
            if self.kind == PIXEL and spec.computed in GEOGRAPHIC_ONLY_FEATURES:
                raise ValueError(
                    f"data.schema.forcings: {spec.name!r} (computed: {spec.computed!r}) needs "
                    "latitudes/longitudes, but the target grid is a pixel grid (dims y, x); "
                    "remove it"
                )
            if spec.computed in TIME_FEATURES:
                self._series[spec.name] = time_feature(spec.computed, self.times)
            elif spec.computed in GRID_FEATURES:
                self._planes[spec.name] = grid_feature(spec.computed, self.lat, self.lon)
            self.units[spec.name] = FEATURE_UNITS[spec.computed]
            return
        if spec.source not in sources:
            raise KeyError(
                f"forcing {spec.name!r}: source {spec.source!r} not given "
                f"(sources: {sorted(sources)})"
            )
        ds = sources[spec.source]
        if spec.variable not in ds.data_vars:
            raise KeyError(
                f"forcing {spec.name!r}: variable {spec.variable!r} not in source "
                f"{spec.source!r} (variables: {sorted(map(str, ds.data_vars))})"
            )
        da = ds[spec.variable]
        needed = self.needed_observed if spec.role == "observed" else self.needed
        self.units[spec.name] = str(da.attrs.get("units", ""))
        dtimes = _driver_times(ds, spec)
        where = f"{spec.source}:{spec.variable}"
        interval = (
            infer_interval(dtimes, where)
            if spec.interval is None
            else parse_interval(spec.interval, where)
        )
        if da.dims == ("time",):
            self._series[spec.name] = align_series(
                da.values, dtimes, self.times, spec.align, interval, spec.fill, where, needed
            )
            return
        if set(da.dims) != {"time", *self.dims}:
            raise ValueError(
                f"forcing {where}: expected dims ('time',) or ('time', {self.dims[0]!r}, "
                f"{self.dims[1]!r}), got {da.dims}"
            )
        for c, ref in zip(self.dims, (self.lat, self.lon), strict=True):
            v = np.asarray(ds[c].values, dtype=np.float64)
            if v.shape != ref.shape or not np.allclose(v, ref):
                raise ValueError(
                    f"forcing {where}: its {c} grid differs from the target's "
                    f"({v.size} vs {ref.size} points); regrid it first"
                )
        if isinstance(spec.fill, str):
            raise ValueError(
                f"forcing {where}: fill={spec.fill!r} is only supported for scalar "
                "drivers; gridded forcings accept a numeric fill"
            )
        i0, i1, w, ok = align_indices(dtimes, self.times, spec.align, interval, where)
        missing = ~ok & needed
        if missing.any() and spec.fill is None:
            k = int(np.argmax(missing))
            raise ValueError(
                f"driver {where!r}: no value at target time {self.times[k]}: no "
                "sample covers it under the align rule (outside the driver's span "
                f"or a hole in it); {int(missing.sum())} target time(s) missing"
            )
        var = da.transpose("time", *self.dims).variable
        self._gridded[spec.name] = (var, np.where(ok, i0, -1), i1, w)

    def series(self, name: str) -> np.ndarray | None:
        """(T,) physical values of a time-only channel, or None for other channels."""
        return self._series.get(name)

    def read(self, name: str, idx: np.ndarray) -> np.ndarray:
        """Physical values of channel ``name`` at target steps ``idx`` (n,) -> (n, H, W) float32.

        A NaN in a gridded forcing after alignment is an error naming the variable and time.
        """
        idx = np.asarray(idx, dtype=np.int64)
        n, (h, w) = idx.size, self.shape
        if name in self._series:
            v = self._series[name][idx].astype(np.float32)
            return np.broadcast_to(v[:, None, None], (n, h, w))
        if name in self._planes:
            return np.broadcast_to(self._planes[name].astype(np.float32)[None], (n, h, w))
        if name in self._gridded:
            return self._read_gridded(name, idx)
        spec = self.specs[self.names.index(name)]
        v = time_lon_feature(spec.computed, self.times[idx], self.lon).astype(np.float32)
        return np.broadcast_to(v[:, None, :], (n, h, w))

    def _read_gridded(self, name: str, idx: np.ndarray) -> np.ndarray:
        var, i0, i1, w = self._gridded[name]
        spec = self.specs[self.names.index(name)]
        lo, hi = int(max(i0[idx].min(), 0)), int(i1[idx].max()) + 1
        block = np.asarray(var[lo:hi].compute(scheduler="synchronous").values, dtype=np.float64)
        a, b, ww = i0[idx], i1[idx], w[idx][:, None, None]
        out = (1.0 - ww) * block[np.maximum(a, lo) - lo] + ww * block[b - lo]
        out[a < 0] = np.nan
        if spec.fill is not None:
            out = np.where(np.isnan(out), float(spec.fill), out)
        bad = np.isnan(out).reshape(idx.size, -1).any(axis=1)
        if bad.any():
            k = int(np.argmax(bad))
            raise ValueError(
                f"forcing '{spec.source}:{spec.variable}' is NaN after alignment "
                f"at target time {self.times[idx[k]]}; set a numeric 'fill' to "
                "accept filled values"
            )
        return out.astype(np.float32)

    def reader(self, name: str) -> Callable[[int, int], np.ndarray]:
        """``read(a, b)`` -> physical values at steps a..b-1, for fitting the normaliser."""
        if name in self._series:
            s = self._series[name]
            return lambda a, b: s[a:b]
        if name in self._planes:
            p = self._planes[name]
            return lambda a, b: p
        return lambda a, b: self.read(name, np.arange(a, b))
