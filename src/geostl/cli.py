"""The ``geostl`` command.

geostl train --config FILE.yaml [--config MORE.yaml] [key=value ...] [--resume CKPT]
geostl test --ckpt RUN/best.pt [--out DIR]
geostl predict --ckpt RUN/best.pt --out FILE.nc [--split test]
geostl bench --model NAME [--shape T_IN,C,H,W] [--t-out N] [--batch B] [key=value ...]
geostl grid --config FILE.yaml [--config MORE.yaml] [key=value ...] [--list]
geostl demo [--out DIR]
geostl gapfill [--out DIR] [--fraction F] [--seed S] [key=value ...]   (the ready gapfill config)
geostl enso [--out DIR] [--epochs N] [--seed S]
geostl models | samples
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _train(args: argparse.Namespace) -> int:
    from geostl.engine import dist_info
    from geostl.run import train
    from geostl.runconfig import load_config
    from geostl.tasks import task_of

    task = task_of(args.config, args.overrides)
    if task is not None:  # a task run (top-level ``task`` key): the task's schema and train
        cfg = load_config(args.config, args.overrides, spec=task.spec)
        out = task.train(cfg, resume=args.resume, progress=args.progress)
    else:
        cfg = load_config(args.config, args.overrides)
        out = train(cfg, resume=args.resume, progress=args.progress)
    if dist_info().is_main:
        print(f"run directory: {out}")
    return 0


def _test(args: argparse.Namespace) -> int:
    from geostl.engine import load_checkpoint
    from geostl.run import test_checkpoint
    from geostl.tasks import TASKS

    name = load_checkpoint(args.ckpt)["config"].get("task")
    if name is not None:
        TASKS.get(name).test(args.ckpt, args.out, progress=args.progress, overrides=args.overrides)
        return 0
    test_checkpoint(args.ckpt, args.out, progress=args.progress, overrides=args.overrides)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from geostl.run import predict_to_netcdf

    path = predict_to_netcdf(args.ckpt, args.out, args.split, args.batch_size)
    print(f"wrote {path}")
    return 0


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


def _bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from geostl.benchmark import bench_to_json, bench_to_markdown, benchmark_backbone

    try:
        shape = tuple(int(v) for v in args.shape.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 4:
        raise SystemExit(f"--shape: expected T_IN,C,H,W (four integers), got {args.shape!r}")
    kwargs = _bench_kwargs(args.kwargs, args.model)
    results, failed = [], []
    for name in args.model:
        try:
            results.append(
                benchmark_backbone(
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
            )
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            # one model that cannot run at this shape must not cost the others' results
            failed.append(f"{name}: {type(err).__name__}: {err}")
            print(f"geostl bench: {failed[-1]}", file=sys.stderr)
    if results:
        print(bench_to_markdown(results))
    if args.json and results:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        bench_to_json(results, args.json)
        print(f"wrote {args.json}")
    if failed:
        print("geostl bench: failed models:\n  " + "\n  ".join(failed), file=sys.stderr)
        return 1
    return 0


def _grid(args: argparse.Namespace) -> int:
    from geostl.grid import GridSpec, list_cells, load_grid_config, run_grid

    cfg = load_grid_config(args.config, args.overrides)
    grid = GridSpec.from_config(cfg)
    if args.list:
        for cell, state, why in list_cells(grid):
            print(f"{cell.id:40s} {state:8s} {why}")
        return 0
    report = run_grid(grid, cfg, progress=args.progress)
    return 0 if report.ok else 1


def _demo(args: argparse.Namespace) -> int:
    from geostl.demo import run_demo

    run_demo(args.out, minutes=args.minutes)
    return 0


def _enso(args: argparse.Namespace) -> int:
    """``geostl enso``: ``geostl train`` on the ready config
    ``configs/enso/enso_convlstm_ersst.yaml`` with the output folder, ``--epochs``, ``--seed``."""
    from pathlib import Path

    from geostl.runconfig import load_config
    from geostl.tasks import TASKS, ready_config

    out = Path(args.out)
    overrides = [f"run.name={out.name}", f"run.dir={out.parent}"]
    if args.epochs is not None:
        overrides.append(f"train.epochs={args.epochs}")
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    task = TASKS.get("enso")
    cfg = load_config(ready_config("enso/enso_convlstm_ersst.yaml"), overrides, spec=task.spec)
    print(f"run directory: {task.train(cfg, progress=args.progress)}")
    return 0


def _gapfill(args: argparse.Namespace) -> int:
    """``geostl gapfill``: ``geostl train`` on the ready config
    ``configs/gapfill/t2m_gapfill_era5.yaml`` with the output folder, ``--fraction``, ``--seed``
    and any dotted overrides."""
    from pathlib import Path

    from geostl.runconfig import load_config
    from geostl.tasks import TASKS, ready_config

    out = Path(args.out)
    overrides = [f"run.dir={out.parent}", f"run.name={out.name}"]
    if args.fraction is not None:
        overrides.append(f"data.fraction={args.fraction}")
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    task = TASKS.get("gapfill")
    path = ready_config("gapfill/t2m_gapfill_era5.yaml")
    cfg = load_config(path, [*overrides, *args.overrides], spec=task.spec)
    print(f"run directory: {task.train(cfg, progress=args.progress)}")
    return 0


def _models(args: argparse.Namespace) -> int:
    from geostl.models import available

    print("\n".join(available()))
    return 0


def _samples(args: argparse.Namespace) -> int:
    from geostl.datasets import available

    for name, description in available().items():
        print(f"{name:14s} {description}")
    return 0


def _config(args: argparse.Namespace) -> int:
    import yaml

    from geostl._keys import plain
    from geostl.runconfig import format_keys, load_config

    if args.keys is not None:
        print(format_keys(section=args.keys or None), end="")
    if args.show or args.config:
        if not args.config:
            raise ValueError("--show needs --config FILE.yaml")
        cfg = load_config(args.config, args.overrides)
        print(yaml.safe_dump(plain(cfg), sort_keys=False, default_flow_style=None, width=100))
    elif args.keys is None:
        raise ValueError("give --show --config FILE.yaml [key=value ...] or --keys [SECTION]")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from geostl import __version__

    parser = argparse.ArgumentParser(
        prog="geostl", description="Spatiotemporal forecasting of Earth-science gridded fields."
    )
    parser.add_argument("--version", action="version", version=f"geostl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("train", help="train a model from a YAML config, then test it")
    p.add_argument("--config", action="append", required=True, help="YAML file (repeatable)")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.lr=3e-4")
    p.add_argument("--resume", default=None, help="checkpoint to continue from")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p.set_defaults(func=_train)

    p = sub.add_parser("test", help="evaluate a checkpoint against the baselines")
    p.add_argument("--ckpt", required=True, help="checkpoint, e.g. runs/NAME/best.pt")
    p.add_argument("--out", default=None, help="output directory (default: beside the ckpt)")
    p.add_argument("overrides", nargs="*", help="eval settings, e.g. eval.codebook_usage=true")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p.set_defaults(func=_test)

    p = sub.add_parser("predict", help="write a checkpoint's forecasts as NetCDF")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--out", required=True, help="output NetCDF file")
    p.add_argument("--split", default="test", help="split to forecast (default: test)")
    p.add_argument("--batch-size", type=int, default=8)
    p.set_defaults(func=_predict)

    p = sub.add_parser("bench", help="parameters, FLOPs/MACs, throughput, peak memory")
    p.add_argument("--model", action="append", required=True, help="backbone name (repeatable)")
    p.add_argument("--shape", default="12,1,72,72", help="T_IN,C,H,W (default 12,1,72,72)")
    p.add_argument("--t-out", type=int, default=None, help="forecast frames (default T_IN)")
    p.add_argument("--out-channels", type=int, default=1)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--device", default="auto")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--no-train", action="store_true", help="skip the training-step timing")
    p.add_argument("--json", default=None, help="also write the results as JSON")
    p.add_argument(
        "kwargs",
        nargs="*",
        help="backbone arguments for all models (num_hidden=[64,64]) or one (e3dlstm.patch_size=8)",
    )
    p.set_defaults(func=_bench)

    p = sub.add_parser(
        "grid", help="run a backbone x fusion x channels x policy grid into one Table 1"
    )
    p.add_argument("--config", action="append", required=True, help="YAML file (repeatable)")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. grid.channels=[1,4]")
    p.add_argument("--list", action="store_true", help="list the cells and their state, run none")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p.set_defaults(func=_grid)

    p = sub.add_parser("demo", help="train and evaluate a small model on the real TEC sample")
    p.add_argument("--out", default="runs/demo", help="run directory (default: runs/demo)")
    p.add_argument("--minutes", type=float, default=None, help="training time budget (default 2.4)")
    p.set_defaults(func=_demo)

    p = sub.add_parser("gapfill", help="gap-fill the real t2m sample into daily means (seed 001)")
    p.add_argument("--out", default="runs/gapfill", help="output directory (default runs/gapfill)")
    p.add_argument("--fraction", type=float, default=None, help="hours hidden (config: 0.5)")
    p.add_argument("--seed", type=int, default=None, help="seed of the test gaps and the model")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.epochs=2")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p.set_defaults(func=_gapfill)

    p = sub.add_parser(
        "enso", help="ENSO ConvLSTM (Keydana 2021) on the real ERSSTv5 sample: configs/enso"
    )
    p.add_argument("--out", default="runs/enso", help="output directory (default runs/enso)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 15)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 777)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p.set_defaults(func=_enso)

    p = sub.add_parser("config", help="print a resolved run config, or list the known keys")
    p.add_argument("--show", action="store_true", help="print the resolved config as YAML")
    p.add_argument("--config", action="append", default=[], help="YAML file (repeatable)")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.lr=3e-4")
    p.add_argument(
        "--keys",
        nargs="?",
        const="",
        default=None,
        metavar="SECTION",
        help="list every key (or those of SECTION, e.g. train) with type, default and help",
    )
    p.set_defaults(func=_config)

    sub.add_parser("models", help="list the registered backbones").set_defaults(func=_models)
    sub.add_parser("samples", help="list the built-in data samples").set_defaults(func=_samples)
    return parser


def main(argv: list[str] | None = None) -> int:
    from geostl.allocator import tune_allocator

    tune_allocator()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (KeyError, ValueError, FileNotFoundError) as err:
        from geostl.runconfig import ConfigError

        commands = ("train", "test", "predict", "gapfill", "config")
        if isinstance(err, ConfigError) or args.command in commands:
            print(f"geostl {args.command}: error: {err}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
