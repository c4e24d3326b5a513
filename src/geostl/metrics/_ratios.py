"""Turn the sums of :class:`~geostl.metrics.forecast.ForecastMetrics` into a MetricTable.

Kept apart from the accumulation code: this is the only place where sums are divided.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from geostl.metrics.table import MetricTable

if TYPE_CHECKING:
    from geostl.metrics.forecast import ForecastMetrics

ALL_LEADS = "all"

_METRIC_UNITS = {
    "mse": "{u}^2",
    "mae": "{u}",
    "rmse": "{u}",
    "bias": "{u}",
    "acc": "1",
    "acc_centred": "1",
    "ssim": "1",
    "psnr": "dB",
}

_WEIGHT_TEXT = {
    "plain": "validity x area-mask weighted",
    "lat": "validity x area-mask x cos(lat) weighted",
}


def _notes(weightings: list[str], refs: list[str], has_acc: bool, image: bool) -> dict[str, str]:
    w = "; ".join(f"{g} = {_WEIGHT_TEXT[g]}" for g in weightings)
    pooled = f"pooled over all samples and pixels at that lead (lead 'all': every lead) [{w}]"
    notes = {
        "mse": f"weighted mean of (pred - target)^2, {pooled}",
        "mae": f"weighted mean of |pred - target|, {pooled}",
        "rmse": (
            f"sqrt of the weighted mean squared error, {pooled}; not a mean of per-sample RMSEs"
        ),
        "bias": f"weighted mean of pred - target, {pooled}",
        "n_valid": "number of values that count (valid and area mask > 0) at that lead",
    }
    if has_acc:
        notes["acc"] = (
            "uncentred anomaly correlation sum(w a b) / sqrt(sum(w a^2) sum(w b^2)) with "
            f"a = pred - climatology, b = target - climatology; weighted sums {pooled}"
        )
        notes["acc_centred"] = (
            "centred anomaly correlation: weighted covariance of the anomalies over the square "
            "root of the product of their weighted variances, the anomaly means removed; moments "
            f"weighted, {pooled}"
        )
    for r in refs:
        notes[f"skill_{r}"] = (
            f"1 - MSE(model) / MSE({r}), both weighted MSEs {pooled}; > 0: better than {r}; "
            f"nan (undefined) where {r} is exact (its MSE is 0)"
        )
    if image:
        notes["ssim"] = (
            "average of per-frame SSIM values (one frame = one sample, lead, channel) with the "
            "channel's data range; a masked frame averages the SSIM map over fully valid windows"
        )
        notes["psnr"] = (
            "average of per-frame PSNR values in dB, 10 log10(R^2 / frame MSE over valid pixels), "
            "R the channel's data range; +inf if any frame is matched exactly"
        )
        notes["n_frames"] = "number of frames seen (sample x lead) for SSIM/PSNR"
        notes["n_frames_undefined"] = "frames without a fully valid SSIM window (left out of ssim)"
    return notes


def _with_all(x: torch.Tensor) -> torch.Tensor:
    """(T, C) per-lead sums -> (T + 1, C) with the pooled sum over leads appended."""
    return torch.cat([x, x.sum(dim=0, keepdim=True)], dim=0)


def forecast_rows(fm: ForecastMetrics) -> MetricTable:
    """Ratios of the accumulated sums for every lead (plus ``"all"``) and channel."""
    s = fm.sums
    T = s["plain/w"].shape[0]
    leads = list(fm.lead_times) if fm.lead_times is not None else list(range(1, T + 1))
    leads = [lead.item() if hasattr(lead, "item") else lead for lead in leads] + [ALL_LEADS]
    refs = list(fm._references or ())
    has_acc = bool(fm._has_acc)
    rows: list[dict[str, Any]] = []

    def emit(metric: str, weighting: str, values: torch.Tensor) -> None:
        v = values.detach().cpu().tolist()
        for i, lead in enumerate(leads):
            for j, ch in enumerate(fm.channel_names):
                rows.append(
                    {
                        "metric": metric,
                        "channel": ch,
                        "lead": lead,
                        "weighting": weighting,
                        "value": float(v[i][j]),
                    }
                )

    with torch.no_grad():
        for g in fm.weightings:
            S = {k[len(g) + 1 :]: _with_all(s[k]) for k in s.names() if k.startswith(g + "/")}
            W = S["w"]
            mse = S["se"] / W
            emit("mse", g, mse)
            emit("mae", g, S["ae"] / W)
            emit("rmse", g, torch.sqrt(mse))
            emit("bias", g, S["err"] / W)
            if has_acc:
                emit("acc", g, S["acc/ab"] / torch.sqrt(S["acc/aa"] * S["acc/bb"]))
                ma, mb = S["acc/a"] / W, S["acc/b"] / W
                cov = S["acc/ab"] / W - ma * mb
                va = S["acc/aa"] / W - ma * ma
                vb = S["acc/bb"] / W - mb * mb
                emit("acc_centred", g, cov / torch.sqrt(va * vb))
            for r in refs:
                ref_se = S[f"ref:{r}/se"]
                skill = 1.0 - S["se"] / ref_se
                emit(f"skill_{r}", g, torch.where(ref_se > 0, skill, torch.nan))
        emit("n_valid", "count", _with_all(s["n_valid"]))
        if fm.image_metrics and "img/frames" in s:
            for key in ("ssim", "psnr"):
                emit(key, "frame", _with_all(s[f"img/{key}_sum"]) / _with_all(s[f"img/{key}_n"]))
            frames = _with_all(s["img/frames"])
            emit("n_frames", "count", frames)
            emit("n_frames_undefined", "count", frames - _with_all(s["img/ssim_n"]))
    notes = _notes(fm.weightings, refs, has_acc, fm.image_metrics)
    units = {c: u for c, u in fm.units.items() if c in fm.channel_names}
    metric_units = dict(_METRIC_UNITS)
    metric_units.update({f"skill_{r}": "1" for r in refs})
    return MetricTable(rows, notes, units, metric_units)
