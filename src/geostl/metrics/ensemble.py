"""Probabilistic forecast scores (ensembles and Gaussians) as additive weighted sums.

For each lead t and channel c, with weight ``w = valid x area_mask`` ("plain") or also
x cos(lat) ("lat"), :class:`EnsembleMetrics` keeps float64 sums over samples, pixels, batches
and (after :meth:`all_reduce`) processes; every score is a ratio of them formed at the end:

- ``crps``: ``sum w CRPS / W``. An ensemble's CRPS is that of its empirical distribution
  (:func:`geostl.metrics.crps.crps_ensemble`, equal to the absolute error for one member),
  kept as the two sums ``sum w mean_i|x_i - y|`` and ``sum w sum_ij|x_i - x_j| / M^2``;
  ``crps_fair`` is the unbiased estimator from the same two sums (NaN for one member). A
  Gaussian's CRPS is the closed form; ``nll`` its negative log-likelihood (nats).
- ``spread``: ``sqrt(sum w var / W)``, var the members' unbiased variance (Gaussian: std^2);
  ``rmse_ens_mean`` / ``mae_ens_mean``: errors of the ensemble mean; ``spread_skill``: their
  ratio ``sqrt((M + 1) / M) spread / rmse_ens_mean`` (Fortin et al. 2014: 1 for a
  reliable M-member ensemble; a Gaussian has no finite-M factor).
- ``coverage_P``: weighted share of truths inside the central P interval (ensemble: between
  the members' (1 - P)/2 and (1 + P)/2 quantiles, linear interpolation as numpy's default;
  Gaussian: mean +- z std).
- ``brier_gt_X`` for a channel's threshold X in its physical unit: ``sum w (p - o)^2 / W``,
  p the forecast probability of exceeding X (share of members > X; Gaussian 1 - Phi),
  o = 1 where the truth exceeds X; ``freq_gt_X`` the observed frequency ``sum w o / W``.
- ``rank_K`` (ensemble): weighted frequency of the truth's rank K among the members (0: below
  every member, M: above every member); a truth tied with k members is shared evenly among
  the k + 1 ranks it could take, so no random tie-break is needed. ``pit_K`` (Gaussian): the
  same over ``pit_bins`` equal bins of Phi((y - mu) / std).

Lead ``"all"`` pools the sums over every lead before forming the ratios.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from geostl.metrics._gridded import GriddedSums
from geostl.metrics.crps import crps_gaussian, gaussian_cdf, gaussian_nll
from geostl.metrics.table import MetricTable

__all__ = ["EnsembleMetrics", "member_quantiles", "threshold_label"]

DEFAULT_COVERAGE = (0.5, 0.9)


def threshold_label(value: float) -> str:
    """``50.0 -> "50"``, ``0.5 -> "0.5"``, ``-1.5 -> "-1.5"`` (metric names ``brier_gt_50``)."""
    return f"{value:g}"


def member_quantiles(sorted_members: torch.Tensor, q: float) -> torch.Tensor:
    """The ``q`` quantile of sorted members (M, ...) along dim 0, linear interpolation
    between order statistics at position ``(M - 1) q`` (numpy's default method)."""
    m = sorted_members.shape[0]
    pos = (m - 1) * float(q)
    lo = int(math.floor(pos))
    hi = min(lo + 1, m - 1)
    frac = pos - lo
    low = sorted_members[lo]
    return low + frac * (sorted_members[hi] - low) if frac > 0 else low


class EnsembleMetrics(GriddedSums):
    """Streaming CRPS, spread-skill, coverage, Brier and rank histograms of an ensemble (or a
    Gaussian forecast) per lead and channel.

    Args:
        channel_names, lead_times, lat, area_mask, units: as for
            :class:`~geostl.metrics.ForecastMetrics`.
        thresholds: ``{channel: [X, ...]}`` event thresholds in the channel's physical unit
            for the Brier score (e.g. ``{"tec": [50.0]}``).
        coverage: nominal probabilities P of the central intervals, each in (0, 1).
        pit_bins: bins of the PIT histogram of a Gaussian forecast.
    """

    def __init__(
        self,
        channel_names: Sequence[str],
        lead_times: Sequence[str | int | float] | None = None,
        lat: torch.Tensor | np.ndarray | Sequence[float] | None = None,
        area_mask: torch.Tensor | np.ndarray | None = None,
        units: Mapping[str, str] | None = None,
        thresholds: Mapping[str, Sequence[float]] | None = None,
        coverage: Sequence[float] = DEFAULT_COVERAGE,
        pit_bins: int = 10,
    ) -> None:
        super().__init__(channel_names, lead_times, lat, area_mask, units)
        self.thresholds: dict[str, list[float]] = {}
        for ch, values in dict(thresholds or {}).items():
            if ch not in self.channel_names:
                raise ValueError(
                    f"thresholds: {ch!r} is not a target channel (channels: {self.channel_names})"
                )
            items: Sequence[Any] = values if isinstance(values, list | tuple) else [values]
            vals = [float(v) for v in items]
            if not all(math.isfinite(v) for v in vals) or len(set(vals)) != len(vals):
                raise ValueError(f"thresholds[{ch!r}]: expected distinct finite values, got {vals}")
            self.thresholds[ch] = vals
        self.coverage = [float(p) for p in coverage]
        for p in self.coverage:
            if not 0.0 < p < 1.0:
                raise ValueError(f"coverage: nominal probabilities must lie in (0, 1), got {p}")
        if int(pit_bins) < 2:
            raise ValueError(f"pit_bins: expected at least 2 bins, got {pit_bins}")
        self.pit_bins = int(pit_bins)
        self.kind: str | None = None  # "ensemble" or "gaussian", fixed by the first update
        self.members: int | None = None

    # ------------------------------------------------------------------------------------------
    def _start(self, kind: str, members: int | None) -> None:
        if self.kind is not None and (kind, members) != (self.kind, self.members):
            had = f"{self.kind}" + (f" of {self.members} members" if self.members else "")
            now = f"{kind}" + (f" of {members} members" if members else "")
            raise ValueError(
                f"EnsembleMetrics: earlier updates were a {had}, this one a {now}; keep one "
                "kind and size per accumulator"
            )

    def _prepare(
        self, x: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None, name: str
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Check shapes; return (counts, w, y): bool and float64 weights (B, T, C, H, W) and
        the float64 truth with 0 where it does not count."""
        self._check_grid(target, "target")
        if x.shape[-5:] != target.shape:
            raise ValueError(
                f"{name}: expected (..., B, T_out, C, H, W) with the target's shape "
                f"{tuple(target.shape)}, got {tuple(x.shape)}"
            )
        counts, area = self._counts(valid, target.shape, target.device)
        self._check_finite(target, counts, "target")
        w = counts.to(torch.float64)
        if area is not None:
            w = w * area
        y = torch.where(counts, target.to(torch.float64), 0.0)
        return counts, w, y

    def _channel_slices(self):
        for ch, values in self.thresholds.items():
            yield self.channel_names.index(ch), ch, values

    @torch.no_grad()
    def update(
        self, members: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None
    ) -> None:
        """Add one batch of ensemble forecasts.

        Args:
            members: (M, B, T_out, C, H, W) ensemble in physical units, members first.
            target: (B, T_out, C, H, W) truth in physical units.
            valid: bool broadcastable to the target; True = the value counts.

        Work is in float64 on the device of ``members``; peak extra memory is about three
        float64 copies of the ensemble (the sorted members among them).
        """
        if members.ndim != 6:
            raise ValueError(
                f"members: expected shape (M, B, T_out, C, H, W), got {tuple(members.shape)}"
            )
        m = int(members.shape[0])
        self._start("ensemble", m)
        target = target.to(members.device)
        counts, w, y = self._prepare(members, target, valid, "members")
        self._check_finite(members, counts, "members")
        x = torch.where(counts, members.to(torch.float64), 0.0)
        del members
        xs = torch.sort(x, dim=0).values
        del x
        mean = xs.mean(dim=0)
        k = torch.arange(1, m + 1, dtype=torch.float64, device=xs.device).reshape(m, 1, 1, 1, 1, 1)
        pair = 2.0 * ((2.0 * k - m - 1.0) * xs).sum(dim=0) / (m * m)
        absdev = (xs - y).abs().mean(dim=0)
        var = xs.var(dim=0, correction=1) if m > 1 else torch.zeros_like(mean)
        self._add("w", w)
        self._add("crps_abs", w * absdev)
        self._add("crps_pair", w * pair)
        self._add("var", w * var)
        d = mean - y
        self._add("se_mean", w * d * d)
        self._add("ae_mean", w * d.abs())
        del absdev, var, pair, d
        for p in self.coverage:
            lo = member_quantiles(xs, (1.0 - p) / 2.0)
            hi = member_quantiles(xs, (1.0 + p) / 2.0)
            self._add(f"cover/{p:g}", w * ((lo <= y) & (y <= hi)))
        for c, ch, values in self._channel_slices():
            for v in values:
                prob = (xs[:, :, :, c : c + 1] > v).to(torch.float64).mean(dim=0)
                self._brier(ch, v, prob, y[:, :, c : c + 1], w[:, :, c : c + 1])
        below = (xs < y).sum(dim=0)
        ties = (xs == y).sum(dim=0)
        share = w / (ties + 1).to(torch.float64)
        ranks = []
        for r in range(m + 1):
            inside = (below <= r) & (r <= below + ties)
            ranks.append(self._reduce(share * inside))
        self._add_histogram("rank", ranks)
        self.sums.add("n_valid", counts.sum(dim=(0, 3, 4)).to(torch.float64))
        self.kind, self.members = "ensemble", m

    @torch.no_grad()
    def update_gaussian(
        self,
        mean: torch.Tensor,
        std: torch.Tensor,
        target: torch.Tensor,
        valid: torch.Tensor | None = None,
    ) -> None:
        """Add one batch of Gaussian forecasts N(mean, std^2).

        Args:
            mean, std: (B, T_out, C, H, W) in physical units, ``std`` > 0 where it counts.
            target: (B, T_out, C, H, W) truth in physical units.
            valid: bool broadcastable to the target; True = the value counts.
        """
        self._start("gaussian", None)
        target = target.to(mean.device)
        counts, w, y = self._prepare(mean, target, valid, "mean")
        if std.shape != mean.shape:
            raise ValueError(
                f"std: expected the shape of mean {tuple(mean.shape)}, got {std.shape}"
            )
        self._check_finite(mean, counts, "mean")
        self._check_finite(std, counts, "std")
        mu = torch.where(counts, mean.to(torch.float64), 0.0)
        sd = torch.where(counts, std.to(torch.float64), 1.0)
        if bool((sd <= 0).any()):
            raise ValueError("std: the Gaussian's standard deviation must be > 0 where it counts")
        self._add("w", w)
        self._add("crps", w * crps_gaussian(mu, sd, y))
        self._add("nll", w * gaussian_nll(mu, sd, y))
        self._add("var", w * sd * sd)
        d = mu - y
        self._add("se_mean", w * d * d)
        self._add("ae_mean", w * d.abs())
        for p in self.coverage:
            z = float(torch.special.ndtri(torch.tensor((1.0 + p) / 2.0, dtype=torch.float64)))
            self._add(f"cover/{p:g}", w * (d.abs() <= z * sd))
        for c, ch, values in self._channel_slices():
            for v in values:
                prob = 1.0 - gaussian_cdf((v - mu[:, :, c : c + 1]) / sd[:, :, c : c + 1])
                self._brier(ch, v, prob, y[:, :, c : c + 1], w[:, :, c : c + 1])
        pit = gaussian_cdf((y - mu) / sd)
        k = self.pit_bins
        index = torch.clamp((pit * k).floor(), max=k - 1)
        self._add_histogram("pit", [self._reduce(w * (index == b)) for b in range(k)])
        self.sums.add("n_valid", counts.sum(dim=(0, 3, 4)).to(torch.float64))
        self.kind, self.members = "gaussian", None

    def _brier(
        self, ch: str, v: float, prob: torch.Tensor, y: torch.Tensor, w: torch.Tensor
    ) -> None:
        """Brier sums of one channel's threshold: prob and y (B, T, 1, H, W)."""
        event = (y > v).to(torch.float64)
        key = f"{ch}>{threshold_label(v)}"
        self._add(f"brier/{key}", w * (prob - event) ** 2)
        self._add(f"event/{key}", w * event)
        self._add(f"prob/{key}", w * prob)

    def _add_histogram(self, name: str, bins: list[dict[str, torch.Tensor]]) -> None:
        for g in bins[0]:
            self.sums.add(f"{g}/{name}", torch.stack([b[g] for b in bins]))

    # ------------------------------------------------------------------------------------------
    def merge(self, other: EnsembleMetrics) -> EnsembleMetrics:
        """Add the sums of another EnsembleMetrics of the same configuration (in place)."""
        self._check_mergeable(other)
        if other.kind is not None:
            self._start(other.kind, other.members)
            self.kind, self.members = other.kind, other.members
        self.sums.merge(other.sums)
        return self

    def state_dict(self) -> dict[str, Any]:
        """Plain state: the float64 sums, the kind and the ensemble size."""
        return {"sums": self.sums.state_dict(), "kind": self.kind, "members": self.members}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict`."""
        self.sums.load_state_dict(state["sums"])
        self.kind, self.members = state["kind"], state["members"]

    # ------------------------------------------------------------------------------------------
    def compute(self) -> MetricTable:
        """Every score as a ratio of the accumulated sums (a MetricTable: rows per metric,
        channel, lead (plus ``"all"``) and weighting)."""
        if "plain/w" not in self.sums:
            raise RuntimeError("EnsembleMetrics.compute: no data; call update() first")
        return _ensemble_rows(self)


def _with_all(x: torch.Tensor) -> torch.Tensor:
    """(..., T, C) per-lead sums -> (..., T + 1, C) with the pooled sum over leads."""
    return torch.cat([x, x.sum(dim=-2, keepdim=True)], dim=-2)


def _ensemble_rows(em: EnsembleMetrics) -> MetricTable:
    s = em.sums
    leads = em._leads()
    rows: list[dict[str, Any]] = []

    def emit(metric: str, weighting: str, values: torch.Tensor, channels=None) -> None:
        v = values.detach().cpu().tolist()
        names = em.channel_names if channels is None else channels
        for i, lead in enumerate(leads):
            for j, ch in enumerate(names):
                row = {"metric": metric, "channel": ch, "lead": lead, "weighting": weighting}
                rows.append({**row, "value": float(v[i][j])})

    gaussian = em.kind == "gaussian"
    m = em.members or 0
    for g in em.weightings:
        S = {k[len(g) + 1 :]: _with_all(s[k]) for k in s.names() if k.startswith(g + "/")}
        W = S["w"]
        if gaussian:
            emit("crps", g, S["crps"] / W)
            emit("nll", g, S["nll"] / W)
        else:
            emit("crps", g, (S["crps_abs"] - 0.5 * S["crps_pair"]) / W)
            fair = S["crps_abs"] - 0.5 * S["crps_pair"] * (m / (m - 1.0) if m > 1 else math.nan)
            emit("crps_fair", g, fair / W)
        spread = torch.sqrt(S["var"] / W)
        if not gaussian and m < 2:
            spread = torch.full_like(spread, math.nan)
        rmse = torch.sqrt(S["se_mean"] / W)
        emit("spread", g, spread)
        emit("rmse_ens_mean", g, rmse)
        emit("mae_ens_mean", g, S["ae_mean"] / W)
        factor = 1.0 if gaussian else math.sqrt((m + 1.0) / m)
        emit("spread_skill", g, torch.where(rmse > 0, factor * spread / rmse, math.nan))
        for p in em.coverage:
            emit(f"coverage_{p:g}", g, S[f"cover/{p:g}"] / W)
        for c, ch, values in em._channel_slices():
            for v in values:
                key = f"{ch}>{threshold_label(v)}"
                wc = W[:, c : c + 1]
                label = threshold_label(v)
                emit(f"brier_gt_{label}", g, S[f"brier/{key}"] / wc, [ch])
                emit(f"freq_gt_{label}", g, S[f"event/{key}"] / wc, [ch])
                emit(f"prob_gt_{label}", g, S[f"prob/{key}"] / wc, [ch])
        hist = "pit" if gaussian else "rank"
        for b, counts in enumerate(S[hist]):
            emit(f"{hist}_{b}", g, counts / W)
    emit("n_valid", "count", _with_all(s["n_valid"]))
    return MetricTable(rows, _notes(em), {c: u for c, u in em.units.items()}, _units(em))


def _units(em: EnsembleMetrics) -> dict[str, str]:
    out = {"crps": "{u}", "crps_fair": "{u}", "nll": "nat", "spread": "{u}"}
    out.update({"rmse_ens_mean": "{u}", "mae_ens_mean": "{u}", "spread_skill": "1"})
    out.update({f"coverage_{p:g}": "1" for p in em.coverage})
    for _, _, values in em._channel_slices():
        for v in values:
            for kind in ("brier", "freq", "prob"):
                out[f"{kind}_gt_{threshold_label(v)}"] = "1"
    bins = em.pit_bins if em.kind == "gaussian" else (em.members or 0) + 1
    hist = "pit" if em.kind == "gaussian" else "rank"
    out.update({f"{hist}_{b}": "1" for b in range(bins)})
    return out


def _notes(em: EnsembleMetrics) -> dict[str, str]:
    pooled = "weighted (validity x area mask, x cos(lat) for 'lat'), pooled over samples and pixels"
    what = (
        "a Gaussian forecast N(mean, std^2)"
        if em.kind == "gaussian"
        else f"an ensemble of {em.members} members"
    )
    variance = "variance" if em.kind == "gaussian" else "member variance (ddof 1)"
    notes = {
        "crps": f"mean CRPS of {what}, {pooled}; for one member it is the MAE",
        "spread": f"sqrt of the mean {variance}, {pooled}",
        "rmse_ens_mean": f"RMSE of the ensemble mean, {pooled}",
        "mae_ens_mean": f"MAE of the ensemble mean, {pooled}",
        "spread_skill": (
            "spread / rmse_ens_mean"
            + ("" if em.kind == "gaussian" else " x sqrt((M + 1) / M)")
            + "; 1 = spread matches the error, < 1 over-confident, > 1 under-confident"
        ),
        "n_valid": "number of values that count at that lead",
    }
    if em.kind == "gaussian":
        notes["nll"] = f"mean negative log-likelihood in nats, {pooled}"
        notes["pit_0"] = (
            f"pit_K: weighted share of Phi((y - mean) / std) in bin K of {em.pit_bins}; "
            f"{1 / em.pit_bins:g} each when calibrated"
        )
    else:
        notes["crps_fair"] = f"fair (unbiased) ensemble CRPS, {pooled}; nan for one member"
        if em.members:
            notes["rank_0"] = (
                "rank_K: weighted share of truths with rank K among the members (ties shared "
                f"evenly); {1 / (em.members + 1):.4g} each when the ensemble is reliable"
            )
    for p in em.coverage:
        notes[f"coverage_{p:g}"] = (
            f"share of truths inside the central {p:g} interval (nominal {p:g})"
        )
    for _, ch, values in em._channel_slices():
        for v in values:
            label = threshold_label(v)
            unit = em.units.get(ch, "")
            notes[f"brier_gt_{label}"] = (
                f"Brier score of the event {ch} > {label} {unit}".rstrip()
                + f"; freq_gt_{label} its observed frequency, prob_gt_{label} the mean forecast "
                "probability"
            )
    return notes
