"""``geostl config``: the resolved run config, or the keys with type, default and help."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``; returns the exit code."""
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
