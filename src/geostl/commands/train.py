"""``geostl train``: train a run config (a Forecaster run, or the task its ``task`` key names)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``; returns the exit code."""
    from geostl.commands.run import train
    from geostl.engine import dist_info
    from geostl.runconfig import load_config
    from geostl.tasks import task_of

    task = task_of(args.config, args.overrides)
    if task is not None:  # a task run (top-level ``task`` key): the task's schema and train
        cfg = load_config(args.config, args.overrides, spec=task.spec)
        out = task.train(cfg, resume=args.resume, progress=args.progress)
    else:
        cfg = load_config(args.config, args.overrides)
        out = train(cfg, resume=args.resume, progress=args.progress, quiet=args.quiet)
    if dist_info().is_main:
        print(f"run directory: {out}")
    return 0
