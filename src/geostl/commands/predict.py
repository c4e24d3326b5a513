"""``geostl predict``: a checkpoint's forecasts of a split on the input's grid (NetCDF/Zarr)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``; returns the exit code."""
    from pathlib import Path

    from geostl.commands.run import predict_to_netcdf

    data = getattr(args, "data", None) or []
    out = args.out
    if out is None:  # into the run folder of the checkpoint, never the current directory
        name = "forecast.nc" if args.split == "test" else f"forecast_{args.split}.nc"
        out = Path(args.ckpt).resolve().parent / name
    overrides = getattr(args, "overrides", None) or []
    path = predict_to_netcdf(args.ckpt, out, args.split, args.batch_size, data, overrides)
    print(f"wrote {path}")
    return 0
