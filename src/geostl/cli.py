"""The ``geostl`` command.

Sub-commands so far:

- ``geostl demo [--out DIR]``: the built-in demo (see :mod:`geostl.demo`).
- ``geostl samples``: list the built-in real data samples.
"""

from __future__ import annotations

import argparse
import sys


def _demo(args: argparse.Namespace) -> int:
    from geostl.demo import run_demo

    run_demo(args.out)
    return 0


def _samples(args: argparse.Namespace) -> int:
    from geostl.datasets import available

    for name, description in available().items():
        print(f"{name:14s} {description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from geostl import __version__

    parser = argparse.ArgumentParser(
        prog="geostl", description="Spatiotemporal forecasting of Earth-science gridded fields."
    )
    parser.add_argument("--version", action="version", version=f"geostl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="run the built-in demo on the real TEC sample")
    demo.add_argument("--out", default="runs/demo", help="run directory (default: runs/demo)")
    demo.set_defaults(func=_demo)
    samples = sub.add_parser("samples", help="list the built-in real data samples")
    samples.set_defaults(func=_samples)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
