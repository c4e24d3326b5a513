"""What every gridded metric accumulator shares: channels, leads, latitude and area weights,
shape and finiteness checks, and the reduction of weighted values to (T, C) sums."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from geostl.metrics._ratios import ALL_LEADS
from geostl.metrics.accumulator import WeightedSums
from geostl.metrics.weights import check_area_mask, latitude_weights


class GriddedSums:
    """Base of :class:`~geostl.metrics.ForecastMetrics` and
    :class:`~geostl.metrics.EnsembleMetrics`: additive float64 sums per (lead, channel) of
    values weighted by validity x area mask ("plain") and also x cos(latitude) ("lat").

    Args:
        channel_names: names of the C target channels, in tensor order.
        lead_times: labels of the T_out lead times, kept as given (default ``1 .. T_out``).
        lat: (H,) latitudes in degrees north of the grid rows; enables ``weighting="lat"``.
        area_mask: (H, W) land/ocean mask, bool or non-negative float weight.
        units: optional ``{channel: unit}`` recorded in the table.
    """

    def __init__(
        self,
        channel_names: Sequence[str],
        lead_times: Sequence[str | int | float] | None = None,
        lat: torch.Tensor | np.ndarray | Sequence[float] | None = None,
        area_mask: torch.Tensor | np.ndarray | None = None,
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
        self.units = dict(units or {})
        self.sums = WeightedSums()

    @property
    def weightings(self) -> list[str]:
        """Weightings reported: ``"plain"`` and, when ``lat`` was given, ``"lat"``."""
        return ["plain", "lat"] if self.lat is not None else ["plain"]

    def _leads(self) -> list[str | int | float]:
        """The lead labels of the rows, ``"all"`` last."""
        T = self.sums["plain/w"].shape[0]
        leads = list(self.lead_times) if self.lead_times is not None else list(range(1, T + 1))
        return [lead.item() if hasattr(lead, "item") else lead for lead in leads] + [ALL_LEADS]

    def _check_grid(self, x: torch.Tensor, name: str) -> None:
        """``x`` is (B, T_out, C, H, W) and matches the channels, leads, grid and earlier
        updates."""
        if x.ndim != 5:
            raise ValueError(f"{name}: expected shape (B, T_out, C, H, W), got {tuple(x.shape)}")
        _, T, C, H, W = x.shape
        if C != len(self.channel_names):
            raise ValueError(
                f"{name}: {C} channels (dim 2) but {len(self.channel_names)} channel_names "
                f"{self.channel_names}"
            )
        if self.lead_times is not None and T != len(self.lead_times):
            raise ValueError(
                f"{name}: {T} lead times (dim 1) but lead_times has {len(self.lead_times)}"
            )
        if self.lat is not None and H != self.lat.shape[0]:
            raise ValueError(
                f"{name}: {H} grid rows (dim 3) but lat has {self.lat.shape[0]} values"
            )
        if self.area_mask is not None and (H, W) != tuple(self.area_mask.shape):
            raise ValueError(
                f"{name}: grid ({H}, {W}) does not match area_mask {tuple(self.area_mask.shape)}"
            )
        if "plain/w" in self.sums and self.sums["plain/w"].shape[0] != T:
            raise ValueError(
                f"{name}: {T} lead times (dim 1) but earlier updates had "
                f"{self.sums['plain/w'].shape[0]}"
            )

    def _counts(
        self, valid: torch.Tensor | None, shape: torch.Size, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(counts, area)``: bool (B, T, C, H, W) where a value counts (valid and area mask
        > 0) and the (H, W) float64 area weights on ``device`` (None without a mask)."""
        if valid is None:
            counts = torch.ones(shape, dtype=torch.bool, device=device)
        else:
            if valid.dtype != torch.bool:
                raise ValueError(
                    f"valid: expected a bool tensor (True = counts), got {valid.dtype}"
                )
            try:
                counts = torch.broadcast_to(valid.to(device), shape)
            except RuntimeError as err:
                raise ValueError(
                    f"valid: shape {tuple(valid.shape)} does not broadcast to {tuple(shape)}"
                ) from err
        area = None
        if self.area_mask is not None:
            area = self.area_mask.to(device)
            counts = counts & (area > 0)
        return counts, area

    def _check_finite(self, x: torch.Tensor, counts: torch.Tensor, name: str) -> None:
        """No NaN/inf in ``x`` (..., B, T, C, H, W) where ``counts`` (B, T, C, H, W)."""
        bad = (~torch.isfinite(x)) & counts
        while bad.ndim > 5:  # leading member dimensions
            bad = bad.any(dim=0)
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

    def _check_mergeable(self, other: GriddedSums) -> None:
        """``other`` is of this class and has the same channels (before a merge)."""
        if not isinstance(other, type(self)):
            raise TypeError(
                f"merge: expected another {type(self).__name__}, got {type(other).__name__}"
            )
        if other.channel_names != self.channel_names:
            raise ValueError(
                f"merge: channel_names differ: {self.channel_names} vs {other.channel_names}"
            )

    def all_reduce(self, group=None):
        """Sum the accumulators across processes (no-op when not distributed); returns self."""
        self.sums.all_reduce(group)
        return self

    def _add(self, key: str, x: torch.Tensor) -> None:
        for g, s in self._reduce(x).items():
            self.sums.add(f"{g}/{key}", s)
