"""The built-in demo: a small ConvLSTM trained on real TEC maps and scored against the baselines.

It reads the built-in 2-day 15-minute UPC (UQRG) global TEC sample and its OMNI2 drivers,
builds train / validation / test windows (2 h in, 3 h out) with chronological splits, trains a
2-layer ConvLSTM for at most 12 epochs of 10 steps on the CPU (stopping after 3 epochs without
a better validation loss; a fixed schedule, so the numbers repeat on any machine), and scores
its best checkpoint on the held-out final hours beside persistence, sun-fixed persistence and
a time-of-day climatology (RMSE per lead time in TECU, cos-latitude
weighted, the repeated 180 E meridian counted once). The model forecasts the correction to the
per-lead blend of those three baselines (``model.baseline: blend``, fitted on the validation
split), starting at zero: the untrained model is the blend, and training replaces it only when
the validation loss improves (see ``docs/training.md``).

The run directory gets everything a ``geostl train`` run writes (config.yaml, train.log,
best.pt, last.pt, epochs.jsonl/.csv, metrics.json, metrics.md, rmse_by_lead.png,
forecast_maps.png, forecast.gif) plus ``forecast.nc``, the test forecasts as NetCDF.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

# Fixed scalings of Liu et al. 2024 (TEC / 200 TECU, Kp / 10, F10.7 / 400, (Dst + 500) / 600)
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

#: the whole run config of the demo (``configs/tec_convlstm.yaml`` holds the same settings)
DEMO_RUN_CONFIG: dict[str, Any] = {
    "run": {"name": "demo", "dir": "runs"},
    "data": {
        "sources": {"maps": {"sample": "tec"}, "omni": {"sample": "tec_drivers"}},
        **TEC_DEMO_CONFIG,
        "padding": {"multiple": 4},
    },
    "model": {
        "backbone": {"name": "convlstm", "num_hidden": [32, 32], "filter_size": 5, "patch_size": 4},
        "fusion": "concat",
        "residual": "none",
        "frame": "geographic",
        "baseline": "blend",
    },
    "train": {
        "epochs": 12,
        "batch_size": 8,
        "val_batch_size": 4,
        "optimizer": "adam",
        "lr": 3.0e-4,
        "schedule": "onecycle",
        "early_stopping": 3,
        "seed": 0,
        "max_minutes": None,
        "scheduled_sampling": {"start": 1.0, "decay_per_step": 5.0e-3, "min": 0.0},
    },
    "eval": {"batch_size": 8, "baselines": ["persistence", "sun_fixed", "climatology"]},
}


def run_demo(out_dir: str | Path, minutes: float | None = None) -> Path:
    """Train, evaluate and predict into ``out_dir``; prints the RMSE table. Returns the run dir."""
    from geostl.commands.run import predict_to_netcdf, train
    from geostl.runconfig import check, fill_defaults

    out = Path(out_dir)
    cfg = fill_defaults(check(DEMO_RUN_CONFIG, origin="geostl.commands.demo", complete=True))
    cfg["run"] = {"name": out.name, "dir": str(out.parent)}
    if minutes is not None:
        cfg["train"]["max_minutes"] = float(minutes)
    length = f"at most {cfg['train']['epochs']} epochs"
    if cfg["train"]["early_stopping"] is not None:
        length += f" (early stopping after {cfg['train']['early_stopping']} without improvement)"
    if cfg["train"]["max_minutes"] is not None:
        length += f" or at most {cfg['train']['max_minutes']:g} min (a budget: steps vary)"
    print(
        f"geostl demo: training a 2-layer ConvLSTM on the built-in UQRG TEC sample for {length} "
        "on the CPU, then scoring it on the held-out final hours"
    )
    run = train(cfg, progress=False)
    nc = predict_to_netcdf(run / "best.pt", run / "forecast.nc")
    print(f"\nWrote to {run}: " + ", ".join(sorted(p.name for p in run.iterdir() if p.is_file())))
    print(f"(test forecasts as NetCDF: {nc.name})")
    return run


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``; returns the exit code."""
    run_demo(args.out, minutes=args.minutes)
    return 0
