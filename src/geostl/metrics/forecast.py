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

from geostl.metrics._gridded import GriddedSums
from geostl.metrics._ratios import forecast_rows
from geostl.metrics.image import psnr, ssim
from geostl.metrics.table import MetricTable

__all__ = ["ForecastMetrics"]


class ForecastMetrics(GriddedSums):
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
        super().__init__(channel_names, lead_times, lat, area_mask, units)
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
        self._has_acc: bool | None = None
        self._references: tuple[str, ...] | None = None

    def reset(self) -> None:
        """Forget everything accumulated (the configuration is kept)."""
        self.sums.reset()
        self._has_acc = None
        self._references = None

    def _check_shapes(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        self._check_grid(pred, "pred")
        if target.shape != pred.shape:
            raise ValueError(
                f"target: expected the shape of pred {tuple(pred.shape)}, got {tuple(target.shape)}"
            )

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
        counts, area = self._counts(valid, shape, dev)
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
        self._check_mergeable(other)
        if other._has_acc is not None:
            self._check_consistency(other._has_acc, other._references or ())
        self.sums.merge(other.sums)
        if other._has_acc is not None:
            self._has_acc, self._references = other._has_acc, other._references
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
