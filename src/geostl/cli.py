"""The ``geostl`` command.

geostl train --config FILE.yaml [--config MORE.yaml] [key=value ...] [--resume CKPT]
geostl test --ckpt RUN/best.pt [--out DIR] [--data NAME=PATH[,PATH]] [eval.KEY=VALUE ...]
geostl predict --ckpt RUN/best.pt --out FILE.nc [--split test] [--data NAME=PATH] [eval.K=V]
geostl forecast --ckpt RUN/best.pt --input MAPS... [--drivers FILES...] [--issue TIME] --out FILE
geostl score --forecast FILE.nc --truth FILES... [--format F] [--baselines B...] [--out DIR]
geostl bench --model NAME [--shape T_IN,C,H,W] [--t-out N] [--batch B] [key=value ...]
geostl grid --config FILE.yaml [--config MORE.yaml] [key=value ...] [--list]
geostl demo [--out DIR]
geostl gapfill [--out DIR] [--fraction F] [--seed S] [key=value ...]   (the ready gapfill config)
geostl enso [--out DIR] [--epochs N] [--seed S]
geostl fetch PRODUCT... --start DAY --end DAY [--data-dir DIR] [--jobs N] [--dry-run] [--list]
geostl ingest FILES... --out STORE.zarr [--append] [--jobs N] [--format F]
geostl models | samples
"""

from __future__ import annotations

import argparse
import sys


def _command(module: str):
    """The ``run(args)`` of ``geostl.commands.<module>``, imported when the command runs (so
    ``geostl --help`` does not import torch)."""

    def run(args: argparse.Namespace) -> int:
        import importlib

        return importlib.import_module(f"geostl.commands.{module}").run(args)

    return run


_DATA_HELP = (
    "read source NAME of the checkpoint's config from these files instead (repeatable; "
    "the format from the names, transforms kept)"
)


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
    p.add_argument("--quiet", action="store_true", help="no progress lines (train.log has them)")
    p.set_defaults(func=_command("train"))

    p = sub.add_parser("test", help="evaluate a checkpoint against the baselines")
    p.add_argument("--ckpt", required=True, help="checkpoint, e.g. runs/NAME/best.pt")
    p.add_argument("--out", default=None, help="output directory (default: beside the ckpt)")
    p.add_argument("overrides", nargs="*", help="eval settings, e.g. eval.codebook_usage=true")
    p.add_argument("--data", action="append", default=[], metavar="NAME=PATH[,PATH]",
                   help=_DATA_HELP)  # fmt: skip
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p.set_defaults(func=_command("test"))

    p = sub.add_parser("predict", help="write a checkpoint's forecasts as NetCDF")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--out", default=None,
                   help="output .nc or .zarr (default: forecast.nc (forecast_SPLIT.nc for "
                   "another split) beside the checkpoint, in its run folder)")  # fmt: skip
    p.add_argument("--split", default="test",
                   help="split to forecast, or all (every window; default: test)")  # fmt: skip
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--data", action="append", default=[], metavar="NAME=PATH[,PATH]",
                   help=_DATA_HELP)  # fmt: skip
    p.add_argument("overrides", nargs="*",
                   help="eval settings, e.g. eval.ensemble_members=8: an ensemble file with a "
                   "member dimension")  # fmt: skip
    p.set_defaults(func=_command("predict"))

    p = sub.add_parser("forecast", help="forecast the next maps from new files (no truth needed)")
    p.add_argument("--ckpt", required=True, help="checkpoint, e.g. runs/NAME/best.pt")
    p.add_argument("--input", nargs="+", required=True, metavar="FILE",
                   help="the latest maps (any format the model's maps source accepts)")  # fmt: skip
    p.add_argument("--input-format", default=None,
                   help="format of --input (default: from the file names)")  # fmt: skip
    p.add_argument("--drivers", nargs="*", default=[], metavar="FILE",
                   help="driver files, each given to the source whose format it is")  # fmt: skip
    p.add_argument("--source", action="append", default=[], metavar="NAME=PATH[,PATH]",
                   help="files for the named source (when --drivers is ambiguous)")  # fmt: skip
    p.add_argument("--issue", default=None,
                   help="issue time = time of the last input map (default: the last complete "
                   "window)")  # fmt: skip
    p.add_argument("--out", required=True, help="output file: .nc, .zarr or IONEX (.YYi)")
    p.add_argument("--format", default=None, choices=("netcdf", "zarr", "ionex"),
                   help="output format (default: from --out's extension)")  # fmt: skip
    p.set_defaults(func=_command("forecast"))

    p = sub.add_parser("score", help="score a forecast file against truth files")
    p.add_argument("--forecast", required=True,
                   help="forecast NetCDF or .zarr (geostl's forecast layout)")  # fmt: skip
    p.add_argument("--truth", nargs="+", required=True, metavar="FILE",
                   help="truth maps covering the forecast's init and valid times")  # fmt: skip
    p.add_argument("--format", default=None,
                   help="reader of --truth, --climatology (default: from the names)")  # fmt: skip
    p.add_argument("--baselines", nargs="*", default=["persistence"],
                   choices=("persistence", "sun_fixed", "climatology", "persistence_27d"),
                   help="baselines made from the truth (default: persistence)")  # fmt: skip
    p.add_argument("--climatology", nargs="+", default=None, metavar="FILE",
                   help="truth files of a training period (adds climatology)")  # fmt: skip
    p.add_argument("--climatology-by", default="time_of_day",
                   choices=("time_of_day", "month", "dayofyear", "none"))  # fmt: skip
    p.add_argument("--reference", action="append", default=[], metavar="LABEL=FILE",
                   help="another forecast file scored alongside (repeatable)")  # fmt: skip
    p.add_argument("--variables", nargs="+", default=None, help="variables to score")
    p.add_argument("--skip-missing", action="store_true",
                   help="score only the forecast maps whose times the truth holds")  # fmt: skip
    p.add_argument("--out", default=None, help="folder for metrics.json and metrics.md")
    p.set_defaults(func=_command("score"))

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
    p.set_defaults(func=_command("bench"))

    p = sub.add_parser(
        "grid", help="run a backbone x fusion x channels x policy grid into one Table 1"
    )
    p.add_argument("--config", action="append", required=True, help="YAML file (repeatable)")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. grid.channels=[1,4]")
    p.add_argument("--list", action="store_true", help="list the cells and their state, run none")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p.set_defaults(func=_command("grid.command"))

    p = sub.add_parser("demo", help="train and evaluate a small model on the real TEC sample")
    p.add_argument("--out", default="runs/demo", help="run directory (default: runs/demo)")
    p.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="a training time budget in minutes (default: none; the demo trains at most 12 "
        "epochs with early stopping, decided by the losses, so its numbers repeat)",
    )
    p.set_defaults(func=_command("demo"))

    p = sub.add_parser("gapfill", help="gap-fill the real t2m sample into daily means (ClimaNet)")
    p.add_argument("--out", default="runs/gapfill", help="output directory (default runs/gapfill)")
    p.add_argument("--fraction", type=float, default=None, help="hours hidden (config: 0.5)")
    p.add_argument("--seed", type=int, default=None, help="seed of the test gaps and the model")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.epochs=2")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p.set_defaults(func=_command("gapfill"))

    p = sub.add_parser(
        "enso", help="ENSO ConvLSTM (Keydana 2021) on the real ERSSTv5 sample: configs/enso"
    )
    p.add_argument("--out", default="runs/enso", help="output directory (default runs/enso)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 15)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 777)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p.set_defaults(func=_command("enso"))

    p = sub.add_parser("fetch", help="download archive files (CODE/IGS IONEX, OMNI2, SST ...)")
    p.add_argument("products", nargs="*", help="product names (--list shows them)")
    p.add_argument("--start", default=None, help="first day YYYY-MM-DD (inclusive)")
    p.add_argument("--end", default=None, help="last day YYYY-MM-DD (inclusive)")
    p.add_argument("--data-dir", default=None,
                   help="data folder (default $GEOSTL_DATA, else the user cache)")  # fmt: skip
    p.add_argument("--jobs", type=int, default=4, help="downloads at once (default 4)")
    p.add_argument("--variables", nargs="+", default=None,
                   help="variables of per-variable products (weatherbench: z t ...)")  # fmt: skip
    p.add_argument("--base-url", default=None,
                   help="a mirror with the archive's layout (replaces the base URL)")  # fmt: skip
    p.add_argument("--netrc", default=None, help="netrc file with logins (default ~/.netrc)")
    p.add_argument("--retries", type=int, default=3, help="retries per file, each resuming")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a server")
    p.add_argument("--refresh", action="store_true", help="download files already on disk again")
    p.add_argument("--allow-missing", action="store_true",
                   help="exit 0 although the archive lacks files (still listed)")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="list the URLs and paths, fetch nothing")
    p.add_argument("--list", action="store_true", help="list the products")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p.set_defaults(func=_command("fetch"))

    p = sub.add_parser("ingest", help="many source files -> one Zarr/NetCDF store (appendable)")
    p.add_argument("files", nargs="+", help="source files or glob patterns")
    p.add_argument("--out", required=True, help="the store: DIR.zarr (default) or FILE.nc")
    p.add_argument("--format", default=None, help="reader of the files (default: from the names)")
    p.add_argument("--append", action="store_true",
                   help="add the files' new times to an existing store")  # fmt: skip
    p.add_argument("--jobs", type=int, default=1, help="files parsed at once (processes)")
    p.add_argument("--chunk-time", type=int, default=None,
                   help="maps per time chunk (default: one day of maps, at least 24)")  # fmt: skip
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p.set_defaults(func=_command("ingest"))

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
    p.set_defaults(func=_command("config"))

    sub.add_parser("models", help="list the registered backbones").set_defaults(
        func=_command("models")
    )
    sub.add_parser("samples", help="list the built-in data samples").set_defaults(
        func=_command("samples")
    )
    return parser


def parse_command_line(
    parser: argparse.ArgumentParser, argv: list[str] | None
) -> argparse.Namespace:
    """``parser.parse_args`` that also takes ``key=value`` overrides after an option
    (``geostl train --config C --quiet train.lr=3e-4``): argparse alone gives the positional
    overrides their values at the first gap between options and rejects later ones."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        overrides = getattr(args, "overrides", None)
        if overrides is None or any(e.startswith("-") or "=" not in e for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*overrides, *extra]
    return args


def main(argv: list[str] | None = None) -> int:
    from geostl.allocator import tune_allocator

    tune_allocator()
    parser = build_parser()
    args = parse_command_line(parser, argv)
    if args.command is None:
        parser.print_help()
        return 2
    code: int | None = None
    try:
        code = args.func(args)
        return code
    except KeyboardInterrupt:
        print(f"geostl {args.command}: interrupted", file=sys.stderr)
        return 130
    except (KeyError, ValueError, OSError) as err:
        from geostl.runconfig import ConfigError

        commands = (
            "train", "test", "predict", "forecast", "score", "gapfill", "config", "fetch", "ingest",
            "demo",
        )  # fmt: skip
        if isinstance(err, ConfigError) or args.command in commands:
            text = str(err)
            if isinstance(err, OSError) and err.strerror and err.filename is None:
                text = err.strerror  # OSError(errno, message): the message without "[Errno N]"
            print(f"geostl {args.command}: error: {text}", file=sys.stderr)
            return 2
        raise
    finally:
        from geostl.engine import shutdown_distributed

        # A gloo process group left to the interpreter's teardown can abort the process
        # (SIGABRT, "terminate called without an active exception") after a run succeeded;
        # after success every rank waits for the others first (rank 0 writes the outputs).
        shutdown_distributed(wait=code == 0)


if __name__ == "__main__":
    sys.exit(main())
