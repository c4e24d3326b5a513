"""Per-lead, per-channel forecast metrics accumulated as additive weighted sums.

For each lead time t and channel c, with weight ``w = valid x area_mask`` ("plain") or
``w = valid x area_mask x cos(lat)`` ("lat"), the accumulator keeps the float64 sums

    W = sum w,  SE = sum w (p - y)^2,  AE = sum w |p - y|,  E = sum w (p - y),
    SE_r = sum w (r - y)^2 for each reference forecast r,
    and for ACC with anomalies a = p - clim, b = y - clim:
    A = sum w a,  B = sum w b,  AA = sum w a^2,  BB = sum w b^2,  AB = sum w a b,

over every sample, pixel and batch (and over processes after :meth:`all_reduce`). At
:meth:`compute` time, MSE = SE / W, MAE = AE / W, bias = E / W (pred - target),
RMSE = sqrt(MSE) (square root of the pooled MSE, not a mean of per-sample RMSEs),
skill_r = 1 - SE / SE_r, ACC (uncentred) = AB / sqrt(AA BB) and ACC (centred) =
cov / sqrt(var_a var_b) with the weighted moments AB/W - (A/W)(B/W) etc. The lead "all" pools
the sums over every lead before forming the same ratios.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from geostl.metrics._ratios import ALL_LEADS, forecast_rows
from geostl.metrics.accumulator import WeightedSums
from geostl.metrics.image import psnr, ssim
from geostl.metrics.table import MetricTable
from geostl.metrics.weights import check_area_mask, latitude_weights

__all__ = ["ForecastMetrics"]


class ForecastMetrics:
    """Streaming MSE / MAE / RMSE / bias / ACC / skill (and optionally SSIM / PSNR).

    Args:
        channel_names: names of the C target channels, in tensor order.
        lead_times: labels of the T_out lead times (e.g. ``["+15 min", "+30 min"]`` or
            ``[1, 2]``), kept as given. Default: ``1 .. T_out`` from the first update.
        lat: (H,) latitudes in degrees north of the grid rows. When given, every error
            metric is also reported latitude-weighted (``weighting="lat"``).
        area_mask: (H, W) land/ocean mask, bool or non-negative float weight.
        image_metrics: also accumulate per-frame SSIM and PSNR.
        data_range: ``{channel: R}`` data range in physical units for SSIM/PSNR; required
            for every channel when ``image_metrics`` is True.
        ssim_kwargs: extra keyword arguments for :func:`geostl.metrics.image.ssim`
            (``window``, ``sigma``, ``size``, ``k1``, ``k2``, ``sample_covariance``).
        units: optional ``{channel: unit}`` (e.g. ``{"tec": "TECU"}``) recorded in the table.
    """

    def __init__(
        self,
        channel_names: Sequence[str],
        lead_times: Sequence[str | int | float] | None = None,
        lat: torch.Tensor | np.ndarray | Sequence[float] | None = None,
        area_mask: torch.Tensor | np.ndarray | None = None,
        image_metrics: bool = False,
        data_range: Mapping[str, float] | None = None,
        ssim_kwargs: Mapping[str, Any] | None = None,
        units: Mapping[str, str] | None = None,
    ) -> None:
        self.channel_names = [str(c) for c in channel_names]
        if not self.channel_names:
            raise ValueError("channel_names: expected at least one channel name")
        if len(set(self.channel_names)) != len(self.channel_names):
            raise ValueError(f"channel_names: duplicate names in {self.channel_names}")
        self.lead_times = list(lead_times) if lead_times is not None else None
        if self.lead_times is not None:
            if len(self.lead_times) == 0:
                raise ValueError("lead_times: expected at least one lead time label")
            if ALL_LEADS in self.lead_times:
                raise ValueError(f"lead_times: the label {ALL_LEADS!r} is reserved for the mean")
        self.lat = latitude_weights(lat) if lat is not None else None
        self.area_mask = check_area_mask(area_mask) if area_mask is not None else None
        if self.lat is not None and self.area_mask is not None:
            if self.area_mask.shape[0] != self.lat.shape[0]:
                raise ValueError(
                    f"area_mask: {self.area_mask.shape[0]} rows do not match the "
                    f"{self.lat.shape[0]} latitudes of lat"
                )
        self.image_metrics = bool(image_metrics)
        self.ssim_kwargs = dict(ssim_kwargs or {})
        self.data_range: torch.Tensor | None = None
        if self.image_metrics:
            if data_range is None:
                raise ValueError(
                    "data_range: required when image_metrics=True, as {channel: range in "
                    "physical units}"
                )
            missing = [c for c in self.channel_names if c not in data_range]
            extra = [c for c in data_range if c not in self.channel_names]
            if missing or extra:
                raise ValueError(
                    f"data_range: expected one entry per channel {self.channel_names}; "
                    f"missing {missing}, unknown {extra}"
                )
            self.data_range = torch.tensor(
                [float(data_range[c]) for c in self.channel_names], dtype=torch.float64
            )
            if not bool(torch.isfinite(self.data_range).all() & (self.data_range > 0).all()):
                raise ValueError(f"data_range: expected finite values > 0, got {dict(data_range)}")
        self.units = dict(units or {})
        self.sums = WeightedSums()
        self._has_acc: bool | None = None
        self._references: tuple[str, ...] | None = None

    # ------------------------------------------------------------------------------------------
    @property
    def weightings(self) -> list[str]:
        """Weightings reported: ``"plain"`` and, when ``lat`` was given, ``"lat"``."""
        return ["plain", "lat"] if self.lat is not None else ["plain"]

    def reset(self) -> None:
        """Forget everything accumulated (the configuration is kept)."""
        self.sums.reset()
        self._has_acc = None
        self._references = None

    def _check_shapes(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        if pred.ndim != 5:
            raise ValueError(f"pred: expected shape (B, T_out, C, H, W), got {tuple(pred.shape)}")
        if target.shape != pred.shape:
            raise ValueError(
                f"target: expected the shape of pred {tuple(pred.shape)}, got {tuple(target.shape)}"
            )
        _, T, C, H, W = pred.shape
        if C != len(self.channel_names):
            raise ValueError(
                f"pred: {C} channels (dim 2) but {len(self.channel_names)} channel_names "
                f"{self.channel_names}"
            )
        if self.lead_times is not None and T != len(self.lead_times):
            raise ValueError(
                f"pred: {T} lead times (dim 1) but lead_times has {len(self.lead_times)}"
            )
        if self.lat is not None and H != self.lat.shape[0]:
            raise ValueError(f"pred: {H} grid rows (dim 3) but lat has {self.lat.shape[0]} values")
        if self.area_mask is not None and (H, W) != tuple(self.area_mask.shape):
            raise ValueError(
                f"pred: grid ({H}, {W}) does not match area_mask {tuple(self.area_mask.shape)}"
            )
        if "plain/w" in self.sums and self.sums["plain/w"].shape[0] != T:
            raise ValueError(
                f"pred: {T} lead times (dim 1) but earlier updates had "
                f"{self.sums['plain/w'].shape[0]}"
            )

    def _check_finite(self, x: torch.Tensor, counts: torch.Tensor, name: str) -> None:
        bad = (~torch.isfinite(x)) & counts
        per_channel = bad.any(dim=4).any(dim=3).any(dim=1).any(dim=0)
        if bool(per_channel.any()):
            chans = [c for c, b in zip(self.channel_names, per_channel.tolist(), strict=True) if b]
            raise ValueError(
                f"{name}: NaN or inf where the data count (valid=True and area_mask > 0) in "
                f"channel(s) {chans}; pass valid=False there"
            )

    def _reduce(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, T, C, H, W) weighted values -> {"plain": (T, C), "lat": (T, C)} sums."""
        xh = x.sum(dim=(0, 4))  # (T, C, H)
        out = {"plain": xh.sum(dim=-1)}
        if self.lat is not None:
            out["lat"] = (xh * self.lat.to(xh.device)).sum(dim=-1)
        return out

    def _add(self, key: str, x: torch.Tensor) -> None:
        for g, s in self._reduce(x).items():
            self.sums.add(f"{g}/{key}", s)

    # ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def update(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        valid: torch.Tensor | None = None,
        climatology: torch.Tensor | None = None,
        references: Mapping[str, torch.Tensor] | None = None,
    ) -> None:
        """Add one batch.

        Args:
            pred: (B, T_out, C, H, W) forecast in physical units.
            target: (B, T_out, C, H, W) truth in physical units.
            valid: bool, (B, T_out, C, H, W) or broadcastable to it; True = the value counts.
                Default: everything valid (then any NaN is an error).
            climatology: climatological field broadcastable to target (e.g. (B, T_out, C, H, W)
                or (C, H, W)) in physical units; enables ACC. Give it in every update or none.
            references: ``{name: forecast}`` of the shape of pred (e.g. persistence,
                climatology); their MSE sums give ``skill_<name>``. Same names every update.

        Work is done in float64 on the device of ``pred``; peak extra memory is about five
        float64 copies of the batch (plus the SSIM filter maps when ``image_metrics``). Split
        very large batches into several calls: the result is the same.
        """
        self._check_shapes(pred, target)
        shape = pred.shape
        dev = pred.device
        if valid is None:
            counts = torch.ones(shape, dtype=torch.bool, device=dev)
        else:
            if valid.dtype != torch.bool:
                raise ValueError(
                    f"valid: expected a bool tensor (True = counts), got {valid.dtype}"
                )
            try:
                counts = torch.broadcast_to(valid.to(dev), shape)
            except RuntimeError as err:
                raise ValueError(
                    f"valid: shape {tuple(valid.shape)} does not broadcast to {tuple(shape)}"
                ) from err
        area = None
        if self.area_mask is not None:
            area = self.area_mask.to(dev)
            counts = counts & (area > 0)
        refs = dict(references or {})
        for name in refs:
            if not isinstance(name, str) or not name:
                raise ValueError(f"references: names must be non-empty strings, got {name!r}")
        self._check_consistency(climatology is not None, tuple(sorted(refs)))

        self._check_finite(pred, counts, "pred")
        self._check_finite(target, counts, "target")
        clim = None
        if climatology is not None:
            try:
                clim = torch.broadcast_to(climatology.to(dev), shape)
            except RuntimeError as err:
                raise ValueError(
                    f"climatology: shape {tuple(climatology.shape)} does not broadcast to the "
                    f"target shape {tuple(shape)}"
                ) from err
            self._check_finite(clim, counts, "climatology")
        for name, ref in refs.items():
            if ref.shape != shape:
                raise ValueError(
                    f"references[{name!r}]: expected the shape of pred {tuple(shape)}, got "
                    f"{tuple(ref.shape)}"
                )
            self._check_finite(ref, counts, f"references[{name!r}]")

        # image metrics first: they validate their own arguments before any sum is touched
        image = self._image_sums(pred, target, counts) if self.image_metrics else {}

        w = counts.to(torch.float64)
        if area is not None:
            w = w * area
        y = target.to(torch.float64)
        d = torch.where(counts, pred.to(torch.float64) - y, 0.0)
        wd = w * d
        self._add("w", w)
        self._add("err", wd)
        self._add("se", wd * d)
        self._add("ae", wd.abs())
        del wd, d
        for name, ref in refs.items():
            dr = torch.where(counts, ref.to(torch.float64) - y, 0.0)
            self._add(f"ref:{name}/se", w * dr * dr)
            del dr
        if clim is not None:
            c = clim.to(torch.float64)
            a = torch.where(counts, pred.to(torch.float64) - c, 0.0)
            b = torch.where(counts, y - c, 0.0)
            del c
            wa = w * a
            self._add("acc/a", wa)
            self._add("acc/aa", wa * a)
            self._add("acc/ab", wa * b)
            del wa, a
            wb = w * b
            self._add("acc/b", wb)
            self._add("acc/bb", wb * b)
            del wb, b
        self.sums.add("n_valid", counts.sum(dim=(0, 3, 4)).to(torch.float64))
        self.sums.update(image)
        # committed only once the batch was accepted: a rejected batch leaves no trace
        self._has_acc = clim is not None
        self._references = tuple(sorted(refs))

    def _check_consistency(self, has_acc: bool, ref_names: tuple[str, ...]) -> None:
        if self._has_acc is not None and has_acc != self._has_acc:
            raise ValueError(
                "climatology: give it in every update or in none (earlier updates "
                f"{'had' if self._has_acc else 'did not have'} it), so ACC pools the same data"
            )
        if self._references is not None and ref_names != self._references:
            raise ValueError(
                f"references: expected the same names in every update {list(self._references)}, "
                f"got {list(ref_names)}"
            )

    def _image_sums(
        self, pred: torch.Tensor, target: torch.Tensor, counts: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Per-frame SSIM/PSNR summed over the batch: {name: (T, C)} sums and counts."""
        assert self.data_range is not None
        R = self.data_range.to(pred.device)
        mask = None if bool(counts.all()) else counts
        out: dict[str, torch.Tensor] = {}
        for key, fn, kw in (("ssim", ssim, self.ssim_kwargs), ("psnr", psnr, {})):
            v = fn(pred, target, R, mask=mask, **kw)  # (B, T, C)
            defined = ~torch.isnan(v)
            out[f"img/{key}_sum"] = torch.where(defined, v, 0.0).sum(dim=0)
            out[f"img/{key}_n"] = defined.sum(dim=0).to(torch.float64)
        out["img/frames"] = torch.full(
            pred.shape[1:3], float(pred.shape[0]), dtype=torch.float64, device=pred.device
        )
        return out

    # ------------------------------------------------------------------------------------------
    def merge(self, other: ForecastMetrics) -> ForecastMetrics:
        """Add the sums of another ForecastMetrics with the same configuration (in place)."""
        if not isinstance(other, ForecastMetrics):
            raise TypeError(f"merge: expected a ForecastMetrics, got {type(other).__name__}")
        if other.channel_names != self.channel_names:
            raise ValueError(
                f"merge: channel_names differ: {self.channel_names} vs {other.channel_names}"
            )
        if other._has_acc is not None:
            self._check_consistency(other._has_acc, other._references or ())
        self.sums.merge(other.sums)
        if other._has_acc is not None:
            self._has_acc, self._references = other._has_acc, other._references
        return self

    def all_reduce(self, group: Any = None) -> ForecastMetrics:
        """Sum the accumulators across processes (no-op when not distributed)."""
        self.sums.all_reduce(group)
        return self

    def state_dict(self) -> dict[str, Any]:
        """Plain state: the float64 sums and which optional parts were accumulated."""
        return {
            "sums": self.sums.state_dict(),
            "has_acc": self._has_acc,
            "references": list(self._references) if self._references is not None else None,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict`."""
        self.sums.load_state_dict(state["sums"])
        self._has_acc = state["has_acc"]
        refs = state["references"]
        self._references = tuple(refs) if refs is not None else None

    # ------------------------------------------------------------------------------------------
    def compute(self) -> MetricTable:
        """Form every metric as a ratio of the accumulated sums.

        Returns:
            A :class:`~geostl.metrics.table.MetricTable` with one row per
            (metric, channel, lead, weighting), leads as labelled plus ``"all"``.
        """
        if "plain/w" not in self.sums:
            raise RuntimeError("ForecastMetrics.compute: no data; call update() first")
        return forecast_rows(self)
