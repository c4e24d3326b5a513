"""``geostl score``: score a forecast file against truth files (:func:`geostl.evaluate`).

::

    geostl score --forecast pred.nc --truth uqrg1160.19i.gz [--format ionex] \\
        [--baselines persistence sun_fixed] [--climatology TRAIN_FILES...] \\
        [--reference codg=codg_pred.nc] [--skip-missing] [--out DIR]

The forecast is a NetCDF file or Zarr store in geostl's forecast layout (what ``geostl
predict`` and ``geostl forecast`` write); the truth files are read by the reader their names
claim (or ``--format``), as are the climatology's training files. The RMSE of every variable
is printed beside the baselines and references; ``--out DIR`` writes ``metrics.json`` (every
table) and ``metrics.md``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import xarray as xr


def open_forecast(path: str) -> xr.Dataset:
    """A forecast file: a Zarr store (``*.zarr``) or a NetCDF file."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"--forecast: no file {path}")
    if p.suffix.lower() == ".zarr":
        return xr.open_zarr(p)
    return xr.open_dataset(p)


def open_truth(paths: Sequence[str], fmt: str | None, option: str) -> xr.Dataset:
    """Truth files through :data:`geostl.io.READERS` (the format their names claim)."""
    from geostl.io import READERS
    from geostl.runconfig import open_sources

    if fmt is None:
        claims = [set(READERS.guess(p)) for p in paths]
        common = set.intersection(*claims) if claims else set()
        if len(common) != 1:
            raise ValueError(
                f"{option}: cannot tell the format of {', '.join(paths)} from the names "
                f"({sorted(common) or 'no reader claims them all'}); give --format "
                f"({', '.join(READERS.names())})"
            )
        fmt = next(iter(common))
    entry = {"paths": list(paths), "format": fmt}
    if READERS.get(fmt).takes != "files":
        if len(paths) != 1:
            raise ValueError(f"{option}: the {fmt} reader takes one path, got {len(paths)}")
        entry["paths"] = paths[0]
    return open_sources({"truth": entry})["truth"]


def _references(items: Sequence[str]) -> dict[str, xr.Dataset]:
    out = {}
    for item in items:
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            raise ValueError(f"--reference {item!r}: expected LABEL=FILE")
        out[label] = open_forecast(path)
    return out


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``; returns the exit code."""
    from geostl.engine.score_datasets import evaluate_datasets
    from geostl.metrics import compare_tables
    from geostl.metrics.table import preferred_weighting

    forecast = open_forecast(args.forecast)
    truth = open_truth(args.truth, args.format, "--truth")
    climatology = (
        open_truth(args.climatology, args.format, "--climatology") if args.climatology else None
    )
    baselines = list(args.baselines)
    if climatology is not None and "climatology" not in baselines:
        baselines.append("climatology")
    tables = evaluate_datasets(
        forecast,
        truth,
        baselines,
        variables=args.variables,
        climatology=climatology,
        climatology_by=None if args.climatology_by == "none" else args.climatology_by,
        references=_references(args.reference),
        missing_truth="skip" if args.skip_missing else "error",
    )
    model = tables["model"]
    weighting = preferred_weighting(model.weightings("rmse"))
    parts = [f"# Scores of {args.forecast}\n"]
    coverage = f"{tables.n_scored} of {tables.n_maps} forecast maps scored"
    if tables.n_left_out:
        coverage += f" ({tables.n_left_out} left out: no truth or reference at their time)"
    parts.append(coverage + "\n")
    print(coverage)
    for channel in model.channels():
        text = compare_tables(tables, "rmse", channel, weighting=weighting).to_markdown()
        print(f"\nRMSE ({model.units.get(channel, '')}) of {channel}:\n")
        print(text)
        parts.append(text)
        weighted = [m for m in model.metrics() if weighting in model.weightings(m)]
        parts.append(model.pivot(channel, weighting=weighting, metrics=weighted).to_markdown())
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        combined = {
            "forecast": args.forecast,
            "truth": list(args.truth),
            "n_maps": tables.n_maps,
            "n_left_out": tables.n_left_out,
            "tables": {name: t.to_dict() for name, t in tables.items()},
        }
        (out / "metrics.json").write_text(json.dumps(combined, indent=1, allow_nan=False) + "\n")
        (out / "metrics.md").write_text("\n".join(parts))
        print(f"wrote {out / 'metrics.json'} and {out / 'metrics.md'}")
    return 0
