"""``geostl gapfill``: the gap-filling task's ready config (``configs/gapfill``)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """``geostl gapfill``: ``geostl train`` on the ready config
    ``configs/gapfill/t2m_gapfill_era5.yaml`` with the output folder, ``--fraction``, ``--seed``
    and any dotted overrides."""
    from pathlib import Path

    from geostl.runconfig import load_config
    from geostl.tasks import TASKS, ready_config

    out = Path(args.out)
    overrides = [f"run.dir={out.parent}", f"run.name={out.name}"]
    if args.fraction is not None:
        overrides.append(f"data.fraction={args.fraction}")
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    task = TASKS.get("gapfill")
    path = ready_config("gapfill/t2m_gapfill_era5.yaml")
    cfg = load_config(path, [*overrides, *args.overrides], spec=task.spec)
    print(f"run directory: {task.train(cfg, progress=args.progress)}")
    return 0
