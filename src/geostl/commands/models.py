"""``geostl models``: the registered backbones."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``; returns the exit code."""
    from geostl.models import available

    print("\n".join(available()))
    return 0
