"""A second, independent implementation of the baseline evaluation, kept as a test oracle.

It scores persistence, sun-fixed persistence and a time-of-day climatology over a split with
a plain loop over batches, independently of ``geostl.engine.evaluate``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from geostl.baselines import Climatology, persistence, sun_fixed_persistence
from geostl.metrics import ForecastMetrics, meridian_weights


def lead_labels(step_minutes: float, t_out: int) -> list[str]:
    """Readable lead-time labels: '+15 min', '+1 h', '+1.25 h' ..."""
    labels = []
    for k in range(1, t_out + 1):
        minutes = step_minutes * k
        labels.append(f"+{minutes:g} min" if minutes < 60 else f"+{minutes / 60:g} h")
    return labels


def evaluate_baselines(datasets: dict, sources: dict, batch_size: int = 16) -> dict[str, Any]:
    """Forecast the test split with each baseline and score them through the same metrics.

    Every forecast is scored on the same pixels: those valid in the target and in all three
    forecasts. Returns ``{forecast name: MetricTable}`` in physical units.
    """
    test, train = datasets["test"], datasets["train"]
    names = test.target_names
    step_min = float(test.time_step / np.timedelta64(1, "m"))
    leads = lead_labels(step_min, test.t_out)
    lead_hours = np.arange(1, test.t_out + 1) * step_min / 60.0
    area = torch.ones(len(test.lat), 1, dtype=torch.float64) * meridian_weights(test.lon)
    area = area * test.area_mask.to(torch.float64)

    maps = sources[test.schema.target_source]
    in_train = np.flatnonzero(train.split.contains(maps["time"].values))
    clims = [Climatology("time_of_day").fit(maps[v].isel(time=in_train)) for v in names]

    metrics = {
        f: ForecastMetrics(names, leads, lat=test.lat, area_mask=area, units=test.units)
        for f in REFERENCE_FORECASTS
    }
    for batch in DataLoader(test, batch_size=batch_size, shuffle=False):
        # the values as stored in the source (physical units), read here by time
        x = _read(maps, names, batch["times_in"], test.grid_adjust)
        y = _read(maps, names, batch["times_out"], test.grid_adjust)
        last_ok = batch["input_mask"][:, -1]
        pers, pers_ok = persistence(x, test.t_out, batch["input_mask"])
        sun, sun_ok = sun_fixed_persistence(x[:, -1], test.lon, lead_hours, last_ok)
        sun, sun_ok = sun.movedim(-3, 1), sun_ok.movedim(-3, 1)  # (B, C, T, H, W) -> (B, T, C, ..)
        times = batch["times_out"].numpy().astype("datetime64[ns]")
        clim = torch.stack(
            [torch.from_numpy(np.stack([c.predict(t) for t in times])) for c in clims], dim=2
        )
        valid = batch["target_mask"] & pers_ok & sun_ok & torch.isfinite(clim)
        metrics["persistence"].update(pers, y, valid)
        metrics["sun-fixed persistence"].update(sun, y, valid)
        metrics["climatology"].update(torch.nan_to_num(clim), y, valid)
    return {f: m.compute() for f, m in metrics.items()}


REFERENCE_FORECASTS = ("persistence", "sun-fixed persistence", "climatology")


def _read(maps, names, times_ns: torch.Tensor, adjust) -> torch.Tensor:
    """(B, T, C, H', W') float64 source values at ``times_ns`` (B, T) on the padded grid, 0
    where missing (the masks of the batch say which)."""
    times = times_ns.numpy().astype("datetime64[ns]")
    out = np.stack(
        [
            np.stack([maps[v].sel(time=t).transpose("time", "lat", "lon").values for v in names], 1)
            for t in times
        ]
    ).astype(np.float64)
    return torch.nan_to_num(torch.from_numpy(adjust.apply(out, fill=0.0)))
