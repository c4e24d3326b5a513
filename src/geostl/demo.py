"""The built-in demo: real TEC maps through the data pipeline, baselines through the metrics.

It reads the built-in 2-day 15-minute UPC (UQRG) global TEC sample and its OMNI2 drivers,
builds train / validation / test windows (2 h in, 3 h out) with chronological splits,
forecasts the held-out final hours with persistence, sun-fixed persistence and a
time-of-day climatology fitted on the train split, and reports RMSE per lead time in TECU
(cos-latitude weighted, the repeated 180 E meridian counted once).

Outputs in the run directory: ``metrics.json`` (every metric of every forecast),
``metrics.csv``, ``rmse_by_lead.md`` and ``rmse_by_lead.png``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from geostl.baselines import Climatology, persistence, sun_fixed_persistence
from geostl.data import build_datasets
from geostl.datasets import sample
from geostl.metrics import ForecastMetrics, compare_tables, meridian_weights

# Fixed scalings of the ionosphere seed (TEC / 200 TECU, Kp / 10, F10.7 / 400, (Dst + 500) / 600)
TEC_DEMO_CONFIG: dict[str, Any] = {
    "schema": {
        "targets": {"source": "maps", "variables": ["tec"]},
        "forcings": [
            {"name": "kp", "source": "omni", "role": "observed", "align": "previous_complete"},
            {"name": "dst", "source": "omni", "role": "observed", "align": "previous_complete"},
            {"name": "f107", "source": "omni", "role": "observed", "align": "previous_complete"},
            {"computed": "lst_sin"},
            {"computed": "lst_cos"},
            {"computed": "doy_sin"},
            {"computed": "doy_cos"},
        ],
        "static": [{"kind": "lat"}, {"kind": "lon"}],
    },
    "splits": {
        "train": {"start": "2019-04-25T00:00", "end": "2019-04-26T00:00"},
        "val": {"start": "2019-04-26T05:00", "end": "2019-04-26T12:00"},
        "test": {"start": "2019-04-26T17:00", "end": "2019-04-27T00:15"},
    },
    "window": {"t_in": 8, "t_out": 12, "stride": 1},
    "normalisation": {
        "method": "fixed",
        "fixed": {
            "tec": {"offset": 0.0, "scale": 200.0},
            "kp": {"offset": 0.0, "scale": 10.0},
            "dst": {"offset": -500.0, "scale": 600.0},
            "f107": {"offset": 0.0, "scale": 400.0},
        },
    },
    "future_forcings": "known",
}


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
        for f in FORECASTS
    }
    for batch in DataLoader(test, batch_size=batch_size, shuffle=False):
        x = test.normaliser.inverse(batch["inputs"].double(), names, axis=2)
        y = test.normaliser.inverse(batch["targets"].double(), names, axis=2)
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


FORECASTS = ("persistence", "sun-fixed persistence", "climatology")


def plot_rmse_by_lead(tables: dict, channel: str, unit: str, path: Path) -> None:
    """RMSE (cos-latitude weighted) per lead time, one line per forecast."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    for name, table in tables.items():
        leads = [lead for lead in table.leads() if lead != "all"]
        values = [table.value("rmse", channel, lead, "lat") for lead in leads]
        ax.plot(range(1, len(leads) + 1), values, marker="o", label=name)
    ax.set_xticks(range(1, len(leads) + 1), leads, rotation=45, ha="right")
    ax.set_xlabel("lead time")
    ax.set_ylabel(f"RMSE ({unit})")
    ax.set_title(f"{channel}: RMSE by lead time (cos-latitude weighted)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run_demo(out_dir: str | Path) -> dict[str, Any]:
    """Run the demo into ``out_dir`` and return the tables; prints the RMSE table."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sources = {"maps": sample("tec"), "omni": sample("tec_drivers")}
    datasets = build_datasets(TEC_DEMO_CONFIG, sources)
    test = datasets["test"]
    print(
        f"TEC sample: {sources['maps'].sizes['time']} maps of "
        f"{sources['maps'].sizes['lat']}x{sources['maps'].sizes['lon']}, "
        f"step {test.time_step / np.timedelta64(1, 'm'):g} min; "
        f"windows train/val/test = {len(datasets['train'])}/{len(datasets['val'])}/{len(test)} "
        f"({test.t_in} in, {test.t_out} out)"
    )
    tables = evaluate_baselines(datasets, sources)
    channel, unit = "tec", test.units["tec"]
    rmse = compare_tables(tables, metric="rmse", channel=channel, weighting="lat")
    markdown = rmse.to_markdown()
    print(f"\nRMSE ({unit}) on the test split, by lead time:\n")
    print(markdown)
    (out / "rmse_by_lead.md").write_text(markdown + "\n")
    rmse.to_csv(out / "rmse_by_lead.csv")
    combined = {name: table.to_dict() for name, table in tables.items()}
    (out / "metrics.json").write_text(json.dumps(combined, indent=1, allow_nan=False) + "\n")
    plot_rmse_by_lead(tables, channel, unit, out / "rmse_by_lead.png")
    print(f"\nWrote metrics.json, rmse_by_lead.md/.csv/.png to {out}")
    return tables
