"""``geostl predict``: a checkpoint's forecasts of a split on the input's grid (NetCDF/Zarr)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``; returns the exit code."""
    from geostl.commands.run import predict_to_netcdf

    data = getattr(args, "data", None) or []
    path = predict_to_netcdf(args.ckpt, args.out, args.split, args.batch_size, data)
    print(f"wrote {path}")
    return 0
