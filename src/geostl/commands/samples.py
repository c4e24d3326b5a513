"""``geostl samples``: the built-in data samples."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``; returns the exit code."""
    from geostl.datasets import available

    for name, description in available().items():
        print(f"{name:14s} {description}")
    return 0
