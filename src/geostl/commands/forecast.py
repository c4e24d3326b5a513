"""``geostl forecast``: a checkpoint, today's files in, the next ``t_out`` maps out.

::

    geostl forecast --ckpt runs/tec_convlstm/best.pt --input uqrg1160.19i.gz \\
        --drivers omni2_2019.dat --out tomorrow.19i     # or .nc, .zarr (or --format)

The input files replace the training files of the checkpoint's target source (any format the
READERS claim for their names, or ``--input-format``); driver files go to the source whose
format they claim (``--source NAME=PATH`` when that is ambiguous); sources not given are read as
the checkpoint's config names them. See :mod:`geostl.forecast`.
"""

from __future__ import annotations

import argparse
import os
from typing import Any


def _without_transforms(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry as its reader opens it: the model applies the transforms itself."""
    return {k: v for k, v in entry.items() if k not in ("regrid", "every")}


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``; returns the exit code."""
    from geostl.forecast import load
    from geostl.forecast.inputs import assign_drivers, parse_source_args, replace_entry
    from geostl.outputs import write_forecast
    from geostl.runconfig import open_sources

    model = load(args.ckpt)
    entries = model.sources_config
    chosen = parse_source_args(args.source or [], list(entries), "--source")
    if model.target_source in chosen:
        raise ValueError(
            f"--source {model.target_source}=...: that is the maps' source; give the maps with "
            "--input"
        )
    others = [n for n in model.driver_sources if n not in chosen]
    for name, files in assign_drivers(args.drivers or [], entries, others).items():
        chosen.setdefault(name, []).extend(files)
    target = replace_entry(
        entries[model.target_source], args.input, "--input", fmt=args.input_format
    )
    maps = open_sources({model.target_source: _without_transforms(target)})[model.target_source]
    drivers = {}
    for name, files in chosen.items():
        entry = _without_transforms(replace_entry(entries[name], files, f"--source {name}"))
        drivers[name] = open_sources({name: entry})[name]
    names = ", ".join(os.path.basename(p) for p in target["paths"])
    print(f"{model.target_source}: {names} ({target['format']})")
    for name in model.driver_sources:
        if name in drivers:
            files = ", ".join(os.path.basename(p) for p in chosen[name])
            print(f"{name}: {files}")
        else:
            print(f"{name}: as the checkpoint's config names it ({_describe(entries[name])})")
    ds = model.forecast(maps, drivers, issue=args.issue, where=names)
    path = write_forecast(ds, args.out, format=args.format)
    leads = ds.sizes.get("lead_time", 0)
    print(f"issued at {ds.attrs.get('issue_time', '?')}: {leads} leads -> wrote {path}")
    return 0


def _describe(entry: dict[str, Any]) -> str:
    if "sample" in entry:
        return f"built-in sample {entry['sample']}"
    paths = entry.get("paths")
    paths = [paths] if isinstance(paths, str) else list(paths or [])
    head = ", ".join(os.path.basename(str(p)) for p in paths[:3])
    return head + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
