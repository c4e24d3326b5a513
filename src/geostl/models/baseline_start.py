"""A Forecaster that starts from a baseline: the backbone forecasts the correction to it.

``model.baseline`` names the reference forecast, computed inside the model from the batch
(normalised units, so it is exactly the baseline the evaluation scores, up to float32):

- ``persistence``: the last input map at every lead;
- ``sun_fixed``: the last input map turned westward with the Sun, 15 degrees per hour of lead
  (:class:`geostl.models.sun_frame.SunFixedFrame`; global grids with an hourly step);
- ``climatology``: the training split's mean map at the same UT time of day (a time step that
  divides a day); times of day the train split lacks, and pixels with no valid training value
  at a time of day, take the last input map (counted and reported by :meth:`BaselineStart.fit`);
- ``blend``: per lead and channel, the least-squares combination of the available three
  (weights fitted on the validation split: valid target pixels, unweighted, as the training
  loss), so a lead where the climatology is better leans on it.

The backbone's readout starts at zero, so an untrained model *is* the baseline; the Trainer
validates it before the first step and keeps it as ``best.pt`` unless training improves the
validation loss. The fitted tables (climatology maps, blend weights) are buffers of the module
and travel in the checkpoint's state dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from geostl.models.sun_frame import SunFixedFrame

BASELINE_STARTS = ("none", "persistence", "sun_fixed", "climatology", "blend")
COMPONENTS = ("persistence", "sun_fixed", "climatology")
_NS_PER_MINUTE = 60_000_000_000
_MINUTES_PER_DAY = 1440


def _sun_fixed_possible(meta: Mapping[str, Any]) -> str | None:
    """None when sun-fixed persistence can run on this grid, else why not."""
    if meta.get("lon") is None or meta.get("time_step_hours") is None:
        return "it needs a longitude grid and an hourly-convertible time step"
    try:
        SunFixedFrame(meta["lon"], meta["time_step_hours"])
    except ValueError as err:
        return str(err)
    return None


def _phase_count(meta: Mapping[str, Any]) -> int | None:
    """Number of time-of-day phases (time steps per day), None when the step does not divide a
    day."""
    hours = meta.get("time_step_hours")
    if hours is None or hours <= 0:
        return None
    n = 24.0 / float(hours)
    return int(round(n)) if abs(n - round(n)) < 1e-9 and round(n) >= 1 else None


class BaselineStart(nn.Module):
    """The baseline forecast of a batch, (B, T_out, C, H, W) in normalised units.

    Args:
        name: one of :data:`BASELINE_STARTS` except ``"none"``.
        meta: the Forecaster's data meta (``t_out``, ``target_channels``, ``height``,
            ``width``, optional ``lon`` and ``time_step_hours``).
    """

    def __init__(self, name: str, meta: Mapping[str, Any]) -> None:
        super().__init__()
        if name not in BASELINE_STARTS or name == "none":
            raise ValueError(f"model.baseline: expected one of {BASELINE_STARTS}, got {name!r}")
        self.name = name
        self.t_out = int(meta["t_out"])
        c, h, w = int(meta["target_channels"]), int(meta["height"]), int(meta["width"])
        sun_problem = _sun_fixed_possible(meta)
        phases = _phase_count(meta)
        if name == "sun_fixed" and sun_problem:
            raise ValueError(f"model.baseline: sun_fixed is not possible here: {sun_problem}")
        if name == "climatology" and phases is None:
            raise ValueError(
                "model.baseline: climatology (by time of day) needs a time step that divides a "
                f"day, got time_step_hours={meta.get('time_step_hours')!r}"
            )
        if name == "blend":
            self.components = [
                k
                for k, ok in zip(
                    COMPONENTS, (True, sun_problem is None, phases is not None), strict=True
                )
                if ok
            ]
            if len(self.components) < 2:
                raise ValueError(
                    "model.baseline: blend needs at least two of persistence, sun_fixed and "
                    f"climatology; only {self.components} are possible on this grid"
                )
        else:
            self.components = [name]
        self.sun = (
            SunFixedFrame(meta["lon"], meta["time_step_hours"])
            if "sun_fixed" in self.components
            else None
        )
        k = len(self.components)
        weights = torch.zeros(self.t_out, c, k)
        if k == 1:
            weights[..., 0] = 1.0
        self.register_buffer("weights", weights)
        if "climatology" in self.components:
            assert phases is not None
            self.register_buffer("clim_minutes", torch.full((phases,), -1, dtype=torch.int64))
            self.register_buffer("clim", torch.full((phases, c, h, w), float("nan")))
        self.register_buffer("fitted", torch.tensor(k == 1 and name != "climatology"))

    @property
    def needs_fit(self) -> bool:
        """True until :meth:`fit` has run for a baseline with fitted tables."""
        return not bool(self.fitted)

    def describe(self) -> str:
        """One line: the baseline and, for a blend, its weights per lead (first channel)."""
        if self.name != "blend":
            return f"baseline {self.name}"
        w = self.weights[:, 0].tolist()
        leads = "; ".join(
            f"+{i + 1}: " + " ".join(f"{v:.2f}" for v in row) for i, row in enumerate(w)
        )
        return f"baseline blend of {', '.join(self.components)} per lead ({leads})"

    # -- the forecast -------------------------------------------------------------------------

    def _climatology(self, times_out: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        minutes = torch.div(times_out, _NS_PER_MINUTE, rounding_mode="floor") % _MINUTES_PER_DAY
        idx = torch.searchsorted(self.clim_minutes, minutes.to(self.clim_minutes.device))
        idx = idx.clamp(max=self.clim_minutes.numel() - 1)
        if not torch.equal(self.clim_minutes[idx], minutes.to(self.clim_minutes.device)):
            seen = sorted(set(minutes.flatten().tolist()) - set(self.clim_minutes.tolist()))
            raise ValueError(
                "model.baseline: time(s) of day "
                + ", ".join(f"{m // 60:02d}:{m % 60:02d}" for m in seen[:5])
                + " UT are off the time step its climatology was fitted for"
            )
        clim = self.clim[idx].to(last.dtype)  # (B, T, C, H, W)
        return torch.where(torch.isnan(clim), last, clim)

    def components_of(self, batch: Mapping[str, torch.Tensor], t_out: int) -> torch.Tensor:
        """(B, T_out, C, H, W, K) the component forecasts, in :attr:`components` order."""
        c = self.weights.shape[1]
        last = batch["inputs"][:, -1:, :c]
        b, _, _, h, w = last.shape
        last = last.expand(b, t_out, c, h, w)
        out = []
        for name in self.components:
            if name == "persistence":
                out.append(last)
            elif name == "sun_fixed":
                assert self.sun is not None
                _, ahead = self.sun.offsets_hours(1, t_out)
                out.append(self.sun.from_frame(last, ahead))
            else:
                if "times_out" not in batch:
                    raise KeyError("model.baseline: climatology needs the batch's 'times_out'")
                out.append(self._climatology(batch["times_out"][:, :t_out], last))
        return torch.stack(out, dim=-1)

    def forward(self, batch: Mapping[str, torch.Tensor], t_out: int | None = None) -> torch.Tensor:
        """(B, T_out, C, H, W) the baseline forecast in normalised units."""
        t_out = self.t_out if t_out is None else int(t_out)
        if self.needs_fit:
            raise RuntimeError(
                f"model.baseline {self.name}: its tables are not fitted; the run fits them on "
                "the train (climatology) and validation (blend) splits before training"
            )
        if t_out > self.t_out and self.name == "blend":
            raise ValueError(
                f"model.baseline: the blend was fitted for {self.t_out} leads, asked for {t_out}"
            )
        parts = self.components_of(batch, t_out)
        weights = self.weights[:t_out].to(parts.dtype)[None, :, :, None, None]  # (1, T, C, 1, 1, K)
        # element-wise in a fixed order (an einsum becomes a GEMM whose rounding depends on the
        # batch size: the same window would score differently in another batch)
        out = parts[..., 0] * weights[..., 0]
        for i in range(1, parts.shape[-1]):
            out = out + parts[..., i] * weights[..., i]
        return out

    # -- fitting ------------------------------------------------------------------------------

    @torch.no_grad()
    def fit(self, train: Any, val: Any, batch_size: int = 8) -> list[str]:
        """Fit the climatology on ``train`` and the blend weights on ``val`` (WindowDatasets).

        Returns lines that describe the fit (for the run's log).
        """
        lines: list[str] = []
        if "climatology" in self.components:
            lines.append(self._fit_climatology(train))
        if self.name == "blend":
            lines.append(self._fit_blend(val, batch_size))
        self.fitted.fill_(True)
        lines.append(self.describe())
        return lines

    def _fit_climatology(self, train: Any) -> str:
        _, c, h, w = self.clim.shape
        phases = self.clim_minutes.numel()
        total = np.zeros((_MINUTES_PER_DAY, c, h, w))
        count = np.zeros((_MINUTES_PER_DAY, c, h, w))
        seen: set[int] = set()
        split = getattr(train, "split", None)  # frames inside the train split, inputs included
        for i in range(len(train)):
            stamps = train.window_times(i).astype("datetime64[ns]")
            inside = np.ones(stamps.shape, bool) if split is None else split.contains(stamps)
            times = stamps.astype(np.int64)
            if all(int(t) in seen or not ok for t, ok in zip(times, inside, strict=True)):
                continue
            sample = train[i]
            y = torch.cat([sample["inputs"], sample["targets"]]).double().numpy()[:, :c]
            m = torch.cat([sample["input_mask"], sample["target_mask"]]).numpy()[:, :c]
            for t in range(len(times)):
                if int(times[t]) in seen or not inside[t]:
                    continue
                seen.add(int(times[t]))
                minute = int(times[t] // _NS_PER_MINUTE) % _MINUTES_PER_DAY
                total[minute] += np.where(m[t], y[t], 0.0)
                count[minute] += m[t]
        present = np.flatnonzero(count.reshape(_MINUTES_PER_DAY, -1).sum(axis=1) > 0)
        if present.size == 0:
            raise ValueError("model.baseline: the train split has no valid map for a climatology")
        step = _MINUTES_PER_DAY // phases  # the phases of the grid's time step
        grid = np.sort((present[0] % step + step * np.arange(phases)) % _MINUTES_PER_DAY)
        off_grid = np.setdiff1d(present, grid)
        if off_grid.size:
            raise ValueError(
                f"model.baseline: training maps at {off_grid.size} times of day off the "
                f"{step}-minute step (e.g. {off_grid[0] // 60:02d}:{off_grid[0] % 60:02d} UT)"
            )
        mean = total[grid] / np.where(count[grid] > 0, count[grid], np.nan)
        area = getattr(train, "area_mask", None)  # padding and masked-out pixels not counted
        inside = np.ones((h, w), bool) if area is None else np.asarray(area, bool)
        unseen = phases - present.size
        empty = int(np.isnan(mean[np.isin(grid, present)])[..., inside].sum())
        self.clim_minutes.copy_(torch.from_numpy(grid.astype(np.int64)))
        self.clim.copy_(torch.from_numpy(mean).float())
        text = f"baseline climatology: {len(seen)} training maps at {present.size} times of day"
        if unseen:
            text += (
                f"; the {unseen} of {phases} times of day the train split lacks take the last "
                "input map (persistence)"
            )
        if empty:
            text += f"; {empty} pixel-phases of the grid with no valid value take the last map"
        return text

    def _fit_blend(self, val: Any, batch_size: int) -> str:
        from torch.utils.data import DataLoader

        t, c, k = self.weights.shape
        gram = torch.zeros(t, c, k, k, dtype=torch.float64)
        rhs = torch.zeros(t, c, k, dtype=torch.float64)
        n = 0
        for batch in DataLoader(val, batch_size=batch_size, shuffle=False):
            parts = self.components_of(batch, t).double()  # (B, T, C, H, W, K)
            y = batch["targets"][:, :t, :c].double()
            m = batch["target_mask"][:, :t, :c].double()
            pm = parts * m[..., None]
            gram += torch.einsum("btchwk,btchwj->tckj", pm, parts)
            rhs += torch.einsum("btchwk,btchw->tck", pm, y)
            n += int(batch["targets"].shape[0])
        if n == 0:
            raise ValueError("model.baseline: blend needs validation windows to fit its weights")
        ridge = 1e-9 * torch.diagonal(gram, dim1=-2, dim2=-1).mean(-1).clamp(min=1e-30)
        eye = torch.eye(k, dtype=torch.float64)
        solved = torch.linalg.solve(gram + ridge[..., None, None] * eye, rhs[..., None])[..., 0]
        self.weights.copy_(solved.float())
        return f"baseline blend: weights fitted on {n} validation windows"
