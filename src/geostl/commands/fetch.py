"""``geostl fetch``: download archive products into the data folder (the only network command)."""

from __future__ import annotations

import argparse
import sys


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``; returns the exit code.

    0 when every file is on disk (missing days allowed with ``--allow-missing``), 1 when a
    file is missing or failed, 2 for bad arguments.
    """
    from geostl.archives import PRODUCTS, fetch, plan, resolve_data_dir

    if args.list:
        width = max(len(n) for n in PRODUCTS)
        for name, p in PRODUCTS.items():
            print(f"{name:{width}s}  {p.cadence:8s} {p.reader:12s} {p.description}")
        return 0
    if not args.products:
        msg = "geostl fetch: error: name at least one product (geostl fetch --list)"
        print(msg, file=sys.stderr)
        return 2
    root = resolve_data_dir(args.data_dir)
    if args.dry_run:
        items = plan(args.products, args.start, args.end, base_url=args.base_url,
                     variables=args.variables)  # fmt: skip
        for item in items:
            state = "have" if (root / item.path).exists() else "get "
            login = "  (Earthdata login)" if item.login else ""
            print(f"{state} {item.url} -> {root / item.path}{login}")
        print(f"{len(items)} files; nothing downloaded (--dry-run)")
        return 0
    report = fetch(
        args.products,
        args.start,
        args.end,
        data_dir=root,
        jobs=args.jobs,
        base_url=args.base_url,
        variables=args.variables,
        netrc=args.netrc,
        retries=args.retries,
        timeout=args.timeout,
        refresh=args.refresh,
        progress=args.progress,
    )
    print(report.summary())
    for name in dict.fromkeys(i.product for i in report.items):
        p = PRODUCTS[name]
        print(f"{name}: files under {root / (p.folder or p.name)} (format: {p.reader})")
    if report.missing and not args.allow_missing:
        days = ", ".join(i.key for i, _ in report.missing)
        print(
            f"geostl fetch: error: {len(report.missing)} files missing on the archive ({days}); "
            "pass --allow-missing to accept the gaps",
            file=sys.stderr,
        )
    if report.failed:
        print(f"geostl fetch: error: {len(report.failed)} files failed", file=sys.stderr)
    return 0 if report.ok(args.allow_missing) else 1
