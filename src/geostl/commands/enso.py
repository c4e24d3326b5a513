"""``geostl enso``: the ENSO task's ready config (``configs/enso``)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """``geostl enso``: ``geostl train`` on the ready config
    ``configs/enso/enso_convlstm_ersst.yaml`` with the output folder, ``--epochs``, ``--seed``."""
    from pathlib import Path

    from geostl.runconfig import load_config
    from geostl.tasks import TASKS, ready_config

    out = Path(args.out)
    overrides = [f"run.name={out.name}", f"run.dir={out.parent}"]
    if args.epochs is not None:
        overrides.append(f"train.epochs={args.epochs}")
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    task = TASKS.get("enso")
    cfg = load_config(ready_config("enso/enso_convlstm_ersst.yaml"), overrides, spec=task.spec)
    print(f"run directory: {task.train(cfg, progress=args.progress)}")
    return 0
