"""``geostl test``: score a checkpoint on its test split (needs only the checkpoint)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``; returns the exit code."""
    from geostl.commands.run import test_checkpoint
    from geostl.engine import load_checkpoint
    from geostl.tasks import TASKS

    name = load_checkpoint(args.ckpt)["config"].get("task")
    data = getattr(args, "data", None) or []
    if name is not None:
        if data:
            raise ValueError(f"--data: not supported for a {name!r} task checkpoint yet")
        TASKS.get(name).test(args.ckpt, args.out, progress=args.progress, overrides=args.overrides)
        return 0
    test_checkpoint(args.ckpt, args.out, args.progress, args.overrides, data)
    return 0
