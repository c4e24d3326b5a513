"""``geostl ingest``: many source files -> one Zarr / NetCDF store (``geostl.archives.ingest``)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``; returns the exit code."""
    from geostl.archives.ingest import ingest, store_format

    report = ingest(
        args.files,
        args.out,
        format=args.format,
        append=args.append,
        jobs=args.jobs,
        chunk_time=args.chunk_time,
        progress=args.progress,
    )
    print(report.summary())
    kind = store_format(args.out)
    print(f"a run config reads it as a source: {{paths: {args.out}, format: {kind}}}")
    return 0
