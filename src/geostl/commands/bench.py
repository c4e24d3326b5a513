"""``geostl bench``: parameters, MACs, speed and memory of backbones."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _parse_value(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def _bench_kwargs(items: list[str], models: list[str]) -> dict[str, dict[str, Any]]:
    """Backbone arguments per model: ``key=value`` applies to every model,
    ``NAME.key=value`` only to model NAME (which must be one of ``models``)."""
    kwargs: dict[str, dict[str, Any]] = {name: {} for name in models}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"backbone argument {item!r}: expected key=value or NAME.key=value")
        scope, dot, key = key.rpartition(".")
        if dot and scope not in kwargs:
            raise SystemExit(
                f"backbone argument {item!r}: {scope!r} is not one of the --model names "
                f"({', '.join(models)})"
            )
        for name in [scope] if dot else models:
            kwargs[name][key] = _parse_value(value)
    return kwargs


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``; returns the exit code."""
    from pathlib import Path

    from geostl.benchmark import bench_to_json, benchmark_backbone
    from geostl.benchmark.report import markdown_header, markdown_notes, markdown_row, table_columns

    try:
        shape = tuple(int(v) for v in args.shape.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 4:
        raise SystemExit(f"--shape: expected T_IN,C,H,W (four integers), got {args.shape!r}")
    kwargs = _bench_kwargs(args.kwargs, args.model)
    results, failed = [], []
    cols: list = []
    for i, name in enumerate(args.model):
        print(f"geostl bench: {name} ({i + 1}/{len(args.model)}) ...", file=sys.stderr, flush=True)
        try:
            result = benchmark_backbone(
                name,
                shape,
                args.t_out or shape[0],
                args.batch,
                out_channels=args.out_channels,
                aux_channels=shape[1] - args.out_channels,
                backbone_kwargs=kwargs[name],
                device=args.device,
                warmup=args.warmup,
                iters=args.iters,
                train=not args.no_train,
            )
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            # one model that cannot run at this shape must not cost the others' results
            failed.append(f"{name}: {type(err).__name__}: {err}")
            print(f"geostl bench: {failed[-1]}", file=sys.stderr)
            continue
        # each row as its model finishes: the table grows while the benchmark runs
        if not results:
            cols = table_columns([result])
            print(markdown_header(cols), flush=True)
        results.append(result)
        print(markdown_row(result, cols), flush=True)
    if results:
        print("\n" + markdown_notes(results[0]))
    if args.json and results:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        bench_to_json(results, args.json)
        print(f"wrote {args.json}")
    if failed:
        print("geostl bench: failed models:\n  " + "\n  ".join(failed), file=sys.stderr)
        return 1
    return 0
