"""``geostl grid``: run or list a backbone x fusion x channels x policy matrix."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``; returns the exit code."""
    from geostl.commands.grid import GridSpec, list_cells, load_grid_config, run_grid

    cfg = load_grid_config(args.config, args.overrides)
    grid = GridSpec.from_config(cfg)
    if args.list:
        for cell, state, why in list_cells(grid):
            print(f"{cell.id:40s} {state:8s} {why}")
        return 0
    report = run_grid(grid, cfg, progress=args.progress)
    return 0 if report.ok else 1
