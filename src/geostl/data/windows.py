"""Sliding-window dataset: samples of (T_in, T_out) frames read on demand from lazy arrays.

A sample (see the shared conventions) is a dict of tensors::

    inputs        (T_in, C, H, W)  float32  normalised targets, 0 where invalid
    input_mask    (T_in, C, H, W)  bool     True = finite and inside the area mask
    targets       (T_out, C, H, W) float32
    target_mask   (T_out, C, H, W) bool
    forcings_in   (T_in, F, H, W)  float32  normalised forcings (scalars broadcast)
    forcings_out  (T_out, F, H, W) float32  per the future-forcing policy
    static        (S, H, W)        float32  masks as 0/1, lat/90, lon/180 (geographic grids)
    times_in      (T_in,)  int64 ns since 1970-01-01 of the source's time axis (UTC on
                          geographic grids; as stored on pixel grids: TaxiBJ local time,
                          a synthetic axis for video clips);  times_out (T_out,)
    index         ()       int64 window index

Scalar drivers (a value per time, the same at every pixel: solar and geomagnetic indices,
calendar features) are not broadcast to planes in the loader. When a schema has any, the
sample holds, instead of ``forcings_in`` / ``forcings_out``::

    forcing_series_in     (T_in, Fs)         float32  the scalar channels
    forcing_series_out    (T_out, Fs)        float32
    forcing_planes_in     (T_in, F - Fs, H, W)  float32  the channels that vary over the grid
    forcing_planes_out    (T_out, F - Fs, H, W) float32
    forcing_series_index  (Fs,)   int64  positions of the scalar channels among the F
    forcing_support       (H, W)  bool   True inside the source grid, False in grid padding

and :func:`forcing_frames` (which the fusions call, on the model's device) puts them together
into the (T, F, H, W) frames, scalars broadcast inside the support and 0 in the padding: the
frames the loader would have built, bit for bit. ``WindowDataset.series_forcings`` names the
scalar channels.

A dataset from :meth:`WindowDataset.with_physical_values` (what evaluation reads) also gives
the values as read, in physical units, NaN where invalid (no round trip through the float32
normalisation, so scores are taken on the stored values)::

    targets_physical     (T_out, C, H, W) float32
    last_input_physical  (C, H, W)        float32  the last input frame

Future-forcing policy (``future_forcings``):

- ``known`` (default): forcings with role ``known`` get their true future values; ``observed``
  forcings are held at their last input-frame value (their future is never read).
- ``oracle``: true future values of every forcing (``uses_future_observed`` is then True so
  that every output can say so).
- ``none``: ``forcings_out`` is zeros (F channels kept).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import xarray as xr
from torch.utils.data import Dataset

from geostl._keys import check_choice

from .forcings import ForcingStack
from .masks import GridAdjust
from .normalise import Normaliser
from .pixelgrid import LATLON
from .schema import ChannelSchema
from .splits import Split
from .timeaxis import TargetAxis, target_axis, window_starts

FUTURE_POLICIES = ("known", "oracle", "none")
_STATIC_SCALE = {"lat": 90.0, "lon": 180.0}


class WindowDataset(Dataset):
    """Windows of ``t_in`` input and ``t_out`` output frames within one split.

    Args:
        schema: channel schema.
        sources: source name -> xr.Dataset (lazy: NetCDF or Zarr); must hold
            ``schema.target_source`` and every forcing/static source.
        normaliser: fitted on the train split; covers targets and forcings.
        t_in, t_out, stride: window geometry in time steps.
        split: the split whose target times bound the windows (None = whole axis).
        future_forcings: ``known``, ``oracle`` or ``none``.
        grid_adjust: padding/cropping of the grid (None = unchanged).
        axis, forcings, static: prebuilt parts shared between splits (built when None).
        time_step: the regular step (e.g. ``"15min"``); inferred when None.
        static: ``(planes, area)``: name -> (H, W) physical planes and the (H, W) bool area
            mask, as returned by :func:`geostl.data.static.build_static`.

    Attributes:
        target_names, forcing_names, static_names, forcing_roles, units (target -> units),
        long_names and standard_names (target -> the source's attrs, where it has them),
        grid_kind (``"latlon"`` or ``"pixel"``, see :mod:`geostl.data.pixelgrid`), grid_dims
        (``("lat", "lon")`` or ``("y", "x")``), rows (H,) and cols (W,) of the sample grid
        (padded rows/cols extrapolated), lat (H,) and lon (W,) the same on a geographic grid
        and None on a pixel grid, area_mask (H, W) bool tensor, time_step, n_skipped_gaps,
        future_forcings, uses_future_observed, grid_adjust, normaliser, starts (N,) window
        start indices into ``times``.
    """

    def __init__(
        self,
        schema: ChannelSchema,
        sources: dict[str, xr.Dataset],
        normaliser: Normaliser,
        t_in: int,
        t_out: int,
        stride: int = 1,
        split: Split | None = None,
        future_forcings: str = "known",
        grid_adjust: GridAdjust | None = None,
        axis: TargetAxis | None = None,
        forcings: ForcingStack | None = None,
        static: tuple[dict[str, np.ndarray], np.ndarray] | None = None,
        time_step: str | None = None,
    ) -> None:
        from .static import build_static

        self.future_forcings = check_choice(future_forcings, FUTURE_POLICIES, "future_forcings")
        if t_in < 1 or t_out < 1:
            raise ValueError(f"t_in and t_out must be >= 1, got {t_in}, {t_out}")
        if schema.target_source not in sources:
            raise KeyError(
                f"target source {schema.target_source!r} not given (sources: {sorted(sources)})"
            )
        ds = sources[schema.target_source]
        self.schema = schema
        self.axis = axis or target_axis(ds, schema.targets, schema.target_source, time_step)
        self.t_in, self.t_out, self.stride = int(t_in), int(t_out), int(stride)
        self.split = split
        self.starts, self.n_skipped_gaps = window_starts(self.axis, t_in + t_out, stride, split)
        needed = None if split is None else split.contains(self.axis.times)
        ax = self.axis
        self.forcings = forcings or ForcingStack(
            schema, sources, ax.times, ax.rows, ax.cols, needed, kind=ax.kind
        )
        planes, area = static or build_static(schema, sources, ax.rows, ax.cols, ax.kind)
        h, w = ax.rows.size, ax.cols.size
        self.grid_adjust = grid_adjust or GridAdjust(h, w, 0, 0)
        if (self.grid_adjust.height, self.grid_adjust.width) != (h, w):
            raise ValueError(
                f"grid_adjust is for a {self.grid_adjust.height}x"
                f"{self.grid_adjust.width} grid, targets are {h}x{w}"
            )
        self.normaliser = normaliser
        self.target_names = list(schema.targets)
        self.forcing_names = list(schema.forcing_names)
        self.static_names = list(schema.static_names)
        self.forcing_roles = {f.name: f.role for f in schema.forcings}
        #: the scalar forcing channels: carried as series, made planes on the device
        self.series_forcings = [
            n for n in self.forcing_names if self.forcings.series(n) is not None
        ]
        self._plane_forcings = [n for n in self.forcing_names if n not in self.series_forcings]
        self._series_index = torch.tensor(
            [self.forcing_names.index(n) for n in self.series_forcings], dtype=torch.int64
        )
        self._forcing_support = torch.from_numpy(
            self.grid_adjust.apply(np.ones((h, w), dtype=bool), fill=False).copy()
        )
        self.units = {v: str(ds[v].attrs.get("units", "")) for v in self.target_names}
        self.long_names = {v: str(ds[v].attrs.get("long_name", v)) for v in self.target_names}
        self.standard_names = {
            v: str(ds[v].attrs["standard_name"])
            for v in self.target_names
            if ds[v].attrs.get("standard_name")
        }
        self.time_step = self.axis.step
        self.uses_future_observed = self.future_forcings == "oracle" and any(
            r == "observed" for r in self.forcing_roles.values()
        )
        self.grid_kind = ax.kind
        self.grid_dims = ax.dims
        self.rows = self.grid_adjust.coords(ax.rows, "rows")
        self.cols = self.grid_adjust.coords(ax.cols, "cols")
        geographic = ax.kind == LATLON
        self.lat = self.rows if geographic else None
        self.lon = self.cols if geographic else None
        self._area = area
        self.area_mask = torch.from_numpy(self.grid_adjust.apply(area, fill=False).copy())
        st = (
            np.stack(
                [
                    planes[n] / _STATIC_SCALE.get(s.kind, 1.0)
                    for n, s in zip(self.static_names, schema.static, strict=True)
                ]
            )
            if self.static_names
            else np.zeros((0, h, w))
        )
        self._static = torch.from_numpy(self.grid_adjust.apply(st.astype(np.float32)).copy())
        self._vars = [ds[v].transpose("time", *ax.dims).variable for v in self.target_names]
        self._t_ns = self.axis.times.astype(np.int64)
        self.physical = False

    def with_physical_values(self) -> WindowDataset:
        """A shallow copy whose samples also hold ``targets_physical`` and
        ``last_input_physical`` (see the module docstring); this dataset is unchanged."""
        import copy

        out = copy.copy(self)
        out.physical = True
        return out

    def __len__(self) -> int:
        return int(self.starts.size)

    @property
    def times(self) -> np.ndarray:
        """(T,) datetime64[ns] target times of the whole axis (``starts`` index into it)."""
        return self.axis.times

    def _read_targets(self, a: int, b: int) -> np.ndarray:
        frames = [
            np.asarray(v[a:b].compute(scheduler="synchronous").values, dtype=np.float32)
            for v in self._vars
        ]
        return np.stack(frames, axis=1)

    def _read_forcings(self, idx: np.ndarray, names: list[str], series: bool = False) -> np.ndarray:
        """Normalised forcings (n, k, H, W), or (n, k, 1, 1) for scalar channels (``series``)."""
        h, w = (1, 1) if series else (self.axis.rows.size, self.axis.cols.size)
        if not names:
            return np.zeros((idx.size, 0, h, w), dtype=np.float32)
        if series:  # the values the planes would hold (float32), one per time
            phys = np.stack([self._series(n)[idx].astype(np.float32) for n in names], axis=1)
            phys = phys[..., None, None]
        else:
            phys = np.stack([self.forcings.read(n, idx) for n in names], axis=1)
        return np.asarray(self.normaliser.transform(phys, names), dtype=np.float32)

    def _series(self, name: str) -> np.ndarray:
        values = self.forcings.series(name)
        if values is None:  # series_forcings holds only time-only channels
            raise KeyError(f"forcing {name!r} is not a scalar series")
        return values

    def _forcing_frames(
        self, s: int, names: list[str] | None = None, series: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """(T_in, k, ., .) and (T_out, k, ., .) frames of ``names`` (default all) under the
        future-forcing policy; (., .) is (H, W), or (1, 1) for scalar channels."""
        t_in, t_out = self.t_in, self.t_out
        names = self.forcing_names if names is None else names
        h, w = (1, 1) if series else (self.axis.rows.size, self.axis.cols.size)
        idx_in = np.arange(s, s + t_in)
        idx_out = np.arange(s + t_in, s + t_in + t_out)
        f_in = self._read_forcings(idx_in, names, series)
        if self.future_forcings == "none":
            return f_in, np.zeros((t_out, len(names), h, w), dtype=np.float32)
        if self.future_forcings == "oracle":
            return f_in, self._read_forcings(idx_out, names, series)
        f_out = np.empty((t_out, len(names), h, w), dtype=np.float32)
        known = [i for i, n in enumerate(names) if self.forcing_roles[n] == "known"]
        observed = [i for i, n in enumerate(names) if self.forcing_roles[n] != "known"]
        if known:
            f_out[:, known] = self._read_forcings(idx_out, [names[i] for i in known], series)
        if observed:
            f_out[:, observed] = f_in[-1:, observed]
        return f_in, f_out

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"window index {i} out of range for {len(self)} windows")
        i = int(i) % len(self)
        s = int(self.starts[i])
        t_in, n = self.t_in, self.t_in + self.t_out
        phys = self._read_targets(s, s + n)
        valid = np.isfinite(phys) & self._area
        norm = np.asarray(self.normaliser.transform(phys, self.target_names), dtype=np.float32)
        norm = np.where(valid, norm, np.float32(0.0))
        adj = self.grid_adjust
        x = torch.from_numpy(np.ascontiguousarray(adj.apply(norm)))
        m = torch.from_numpy(np.ascontiguousarray(adj.apply(valid, fill=False)))
        extra = {}
        if self.physical:
            shown = np.where(valid, phys, np.float32(np.nan))
            extra = {
                "targets_physical": torch.from_numpy(
                    np.ascontiguousarray(adj.apply(shown[t_in:], fill=np.nan))
                ),
                "last_input_physical": torch.from_numpy(
                    np.ascontiguousarray(adj.apply(shown[t_in - 1], fill=np.nan))
                ),
            }
        return {
            **extra,
            "inputs": x[:t_in],
            "input_mask": m[:t_in],
            "targets": x[t_in:],
            "target_mask": m[t_in:],
            **self._forcing_tensors(s),
            "static": self._static,
            "times_in": torch.from_numpy(self._t_ns[s : s + t_in].copy()),
            "times_out": torch.from_numpy(self._t_ns[s + t_in : s + n].copy()),
            "index": torch.tensor(i, dtype=torch.int64),
        }

    def _forcing_tensors(self, s: int) -> dict[str, torch.Tensor]:
        adj = self.grid_adjust

        def planes(f: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(adj.apply(f)))

        if not self.series_forcings:
            f_in, f_out = self._forcing_frames(s)
            return {"forcings_in": planes(f_in), "forcings_out": planes(f_out)}
        s_in, s_out = self._forcing_frames(s, self.series_forcings, series=True)
        p_in, p_out = self._forcing_frames(s, self._plane_forcings)
        return {
            "forcing_series_in": torch.from_numpy(np.ascontiguousarray(s_in[:, :, 0, 0])),
            "forcing_series_out": torch.from_numpy(np.ascontiguousarray(s_out[:, :, 0, 0])),
            "forcing_planes_in": planes(p_in),
            "forcing_planes_out": planes(p_out),
            "forcing_series_index": self._series_index,
            "forcing_support": self._forcing_support,
        }

    def window_times(self, i: int) -> np.ndarray:
        """(T_in + T_out,) datetime64[ns] times of window ``i``."""
        s = int(self.starts[i])
        return self.axis.times[s : s + self.t_in + self.t_out]


def forcing_frames(batch: Mapping[str, torch.Tensor], which: str) -> torch.Tensor | None:
    """The forcing frames ``which`` (``"in"`` or ``"out"``) of a batch, (B, T, F, H, W), or of
    one sample, (T, F, H, W): ``forcings_<which>`` when the batch has it, else put together
    from the scalar series and the planes (module docstring) on their device. None when the
    batch has no forcings.
    """
    if f"forcings_{which}" in batch:
        return batch[f"forcings_{which}"]
    key = f"forcing_series_{which}"
    if key not in batch:
        return None
    series, planes = batch[key], batch[f"forcing_planes_{which}"]
    index, support = batch["forcing_series_index"], batch["forcing_support"]
    if index.dim() == 2:  # a batch: every sample of one dataset has the same layout
        if not bool((index == index[:1]).all()):
            raise ValueError("forcing_series_index differs between the samples of a batch")
        index = index[0]
    n_series, n_planes = series.shape[-1], planes.shape[-3]
    f = n_series + n_planes
    is_series = torch.zeros(f, dtype=torch.bool, device=series.device)
    is_series[index.to(series.device)] = True
    lead = planes.shape[:-3]  # (B, T) or (T,)
    h, w = support.shape[-2:]
    out = torch.zeros((*lead, f, h, w), dtype=planes.dtype, device=planes.device)
    out[..., ~is_series, :, :] = planes
    inside = support[:, None, None] if support.dim() == 3 else support  # (B, 1, 1, H, W)
    values = series[..., None, None].to(planes.dtype)
    out[..., is_series, :, :] = torch.where(
        inside, values, torch.zeros((), dtype=planes.dtype, device=planes.device)
    )
    return out
