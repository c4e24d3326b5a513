"""``geostl predict``: a checkpoint's forecasts of a split as NetCDF on the input's grid."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``; returns the exit code."""
    from geostl.commands.run import predict_to_netcdf

    path = predict_to_netcdf(args.ckpt, args.out, args.split, args.batch_size)
    print(f"wrote {path}")
    return 0
