"""Files named on the command line -> the sources a checkpoint's model reads.

``geostl forecast --input MAPS... --drivers FILES... --source NAME=PATH,...`` and
``geostl test/predict --data NAME=PATH,...`` replace the files of a checkpoint's
``data.sources`` entries. A replaced entry keeps its transforms (``regrid``, ``every``) and, when
the format is unchanged, its reader options; the format is the one the files' names claim in
:data:`geostl.io.READERS` (``*.??i.gz`` -> ionex, ``omni2_*.dat`` -> omni2, ``*.nc`` ->
netcdf ...), else the entry's own (a built-in sample's original format,
:data:`geostl.datasets.SAMPLE_FORMATS`). Driver files are matched to the one source whose
format they claim; when two sources share a format, ``--source NAME=PATH`` says which.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from geostl.datasets import SAMPLE_FORMATS
from geostl.io import READERS

__all__ = ["assign_drivers", "entry_format", "parse_source_args", "replace_entry", "with_data"]


def entry_format(entry: Mapping[str, Any]) -> str | None:
    """The READERS format of a ``data.sources`` entry (a sample's original format)."""
    if "format" in entry:
        return str(entry["format"])
    if "sample" in entry:
        return SAMPLE_FORMATS.get(str(entry["sample"]))
    return None


def _claimed(paths: Sequence[str]) -> set[str]:
    """The formats every one of ``paths`` is claimed by (empty: no common claim)."""
    common: set[str] | None = None
    for p in paths:
        got = set(READERS.guess(p))
        common = got if common is None else common & got
    return common or set()


def _absolute(paths: Sequence[str]) -> list[str]:
    out = []
    for p in paths:
        q = Path(p).expanduser()
        out.append(q.as_posix() if q.is_absolute() else os.path.normpath(Path.cwd() / q))
    return out


def replace_entry(
    entry: Mapping[str, Any], paths: Sequence[str], where: str, fmt: str | None = None
) -> dict[str, Any]:
    """A copy of the source ``entry`` reading ``paths`` (absolute) instead.

    Args:
        entry: the checkpoint's ``data.sources.NAME`` entry.
        paths: the new files (globs allowed; relative to the current directory).
        where: ``data.sources.NAME`` or the option, for messages.
        fmt: the format to read them with (default: see the module docstring).

    Raises:
        ValueError: no file matches, or no format can be chosen.
    """
    if not paths:
        raise ValueError(f"{where}: no files given")
    for p in paths:
        if not glob.glob(os.path.expanduser(p)) and not Path(p).expanduser().exists():
            raise FileNotFoundError(f"{where}: no file matches {p!r}")
    old = entry_format(entry)
    if fmt is None:
        claimed = _claimed(paths)
        if old in claimed or (not claimed and old is not None):
            fmt = old
        elif len(claimed) == 1:
            fmt = next(iter(claimed))
        else:
            raise ValueError(
                f"{where}: cannot tell the format of {list(paths)} (their names are claimed by "
                f"{sorted(claimed) or 'no reader'}); give it with --input-format / a "
                f"format: key (one of {', '.join(READERS.names())})"
            )
    if fmt not in READERS:
        raise ValueError(f"{where}: unknown format {fmt!r}; known: {', '.join(READERS.names())}")
    out: dict[str, Any] = {"paths": _absolute(paths), "format": fmt}
    if fmt == old and "reader" in entry:
        out["reader"] = dict(entry["reader"])
    for key in ("regrid", "every", "weatherbench"):
        if key in entry:
            out[key] = entry[key]
    return out


def parse_source_args(items: Sequence[str], known: Sequence[str], option: str) -> dict[str, list]:
    """``["omni=a.dat,b.dat", ...]`` -> ``{"omni": ["a.dat", "b.dat"]}``; names checked."""
    out: dict[str, list[str]] = {}
    for item in items:
        name, sep, rest = item.partition("=")
        if not sep or not name or not rest:
            raise ValueError(f"{option} {item!r}: expected NAME=PATH[,PATH...]")
        if name not in known:
            raise ValueError(
                f"{option} {item!r}: the model has no source {name!r} (its sources: "
                f"{', '.join(known)})"
            )
        out.setdefault(name, []).extend(p for p in rest.split(",") if p)
    return out


def assign_drivers(
    files: Sequence[str], sources: Mapping[str, Mapping[str, Any]], candidates: Sequence[str]
) -> dict[str, list[str]]:
    """Give each driver file to the one source among ``candidates`` whose format it claims.

    Raises:
        ValueError: a file that no candidate's format claims, or that several could be.
    """
    out: dict[str, list[str]] = {}
    for f in files:
        claimed = set(READERS.guess(f))
        fits = [n for n in candidates if entry_format(sources[n]) in claimed]
        if len(fits) != 1:
            formats = {n: entry_format(sources[n]) for n in candidates}
            why = "several sources could read it" if fits else "no source of the model reads it"
            raise ValueError(
                f"--drivers {f}: {why} (its name is claimed by {sorted(claimed) or 'no reader'}"
                f"; the model's driver sources and formats: {formats}); use --source NAME={f}"
            )
        out.setdefault(fits[0], []).append(f)
    return out


def with_data(cfg: Mapping[str, Any], items: Sequence[str]) -> dict[str, Any]:
    """``cfg`` with the sources named by ``--data NAME=PATH[,PATH]`` items re-pointed.

    Each named entry of ``cfg["data"]["sources"]`` reads the given files instead (see
    :func:`replace_entry`); the rest of the config is unchanged.
    """
    if not items:
        return dict(cfg)
    sources = dict(cfg["data"]["sources"])
    for name, paths in parse_source_args(items, list(sources), "--data").items():
        sources[name] = replace_entry(sources[name], paths, f"--data {name}")
    return {**cfg, "data": {**cfg["data"], "sources": sources}}
