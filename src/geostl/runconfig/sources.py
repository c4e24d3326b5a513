"""``open_sources``: the ``data.sources`` section of a run config -> named xarray Datasets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from geostl.data.subsample import subsample_time
from geostl.datasets import available, sample
from geostl.io import READERS, ReaderOptionError
from geostl.tasks.iono.regrid import regrid_ionex
from geostl.tasks.weatherbench.sets import open_weatherbench_source

from .spec import RUN_SPEC, ConfigError, check_field

__all__ = ["apply_transforms", "open_sources"]


def open_sources(
    sources: Mapping[str, Mapping[str, Any]],
    base_dir: str | os.PathLike | None = None,
    section: str = "data.sources",
) -> dict[str, xr.Dataset]:
    """Open every source of a run config's ``data.sources``.

    Args:
        sources: ``{NAME: {"sample": "tec"}}`` (a built-in sample, ``geostl.datasets``) or
            ``{NAME: {"paths": [...], "format": FORMAT, "reader": {OPTION: VALUE}}}`` with
            ``FORMAT`` any name in ``geostl.io.READERS`` (the table in ``docs/data.md``) and
            ``reader`` (optional) keyword arguments among that reader's ``options`` (lists
            become tuples). Readers that take ``files`` get the list of paths (globs
            included); ``file`` and ``folder`` readers exactly one. Except
            ``{"paths": ROOT, "format": "weatherbench", "weatherbench": {"set": "t2m"}}``: a
            WeatherBench 5.625° folder whose selection is the ``weatherbench`` mapping (see
            :func:`geostl.tasks.weatherbench.sets.open_weatherbench_source`). Optional
            transforms, applied in this order after reading: ``"regrid": "iono72"|"native"``
            (IONEX 71 x 73 -> 72 x 72 or 71 x 72, :func:`geostl.tasks.iono.regrid.regrid_ionex`) and
            ``"every": "2h"`` (keep the epochs on multiples of the step from midnight, never
            averaging, :func:`geostl.data.subsample.subsample_time`); then ``"load": true``
            reads the source into memory once (windows then cost no disk reads: for a store
            that fits in memory; the default reads each window from disk, lazily).
        base_dir: directory that relative paths are taken from (default: the current one).
        section: the config key the entries come from, as the errors name them (also
            ``eval.references``, whose entries are source entries too).

    Returns:
        ``{NAME: xr.Dataset}`` as the ``geostl.io`` readers return them (lazy where they are).

    Raises:
        ConfigError: a malformed entry, an unknown sample or format, the wrong number of paths
            or a reader option the reader does not take (naming ``SECTION.NAME``); reader
            errors (missing files, bad content) pass through with the reader's message.
    """
    check_field(sources, RUN_SPEC.keys["data"].keys["sources"], section, complete=True)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    out: dict[str, xr.Dataset] = {}
    for name, entry in sources.items():
        if "sample" in entry:
            if entry["sample"] not in available():
                raise ConfigError(
                    f"{section}.{name}.sample: unknown built-in sample {entry['sample']!r} "
                    f"(available: {', '.join(available())})"
                )
            ds = sample(entry["sample"])
        else:
            raw = entry["paths"]
            paths = [base / Path(p).expanduser() for p in ([raw] if isinstance(raw, str) else raw)]
            try:
                if entry["format"] == "weatherbench":
                    ds = _weatherbench(paths, entry, f"{section}.{name}")
                else:
                    ds = _read(paths, entry, f"{section}.{name}")
            except ConfigError as err:
                raise ConfigError(f"{section}.{name}: {err}") from err
        out[name] = apply_transforms(ds, entry, f"{section}.{name}")
    return out


def _weatherbench(paths: list[Path], entry: Mapping[str, Any], where: str) -> xr.Dataset:
    """Format ``weatherbench``: ``paths`` is the root folder, ``weatherbench`` the selection."""
    if len(paths) != 1:
        raise ConfigError(f"format 'weatherbench' reads one root folder, got {len(paths)}: {paths}")
    if "reader" in entry:
        raise ConfigError(
            f"{where}.reader: format 'weatherbench' takes its selection from {where}.weatherbench"
            ", not reader"
        )
    if "weatherbench" not in entry:
        raise ConfigError(
            f"{where}.weatherbench is missing: expected {{set: NAME}} or {{variables: [...], "
            "levels: [...], years: [first, last]}"
        )
    try:
        return open_weatherbench_source(str(paths[0]), dict(entry["weatherbench"]), where)
    except ValueError as err:
        raise ConfigError(str(err)) from err


def _read(paths: list[Path], entry: Mapping[str, Any], where: str) -> xr.Dataset:
    """Any registered format but weatherbench: ``READERS[format]`` on the paths, with the
    entry's ``reader`` mapping as keyword arguments."""
    fmt = entry["format"]
    if fmt not in READERS:
        raise ConfigError(f"unknown format {fmt!r}; known: {', '.join(READERS.names())}")
    options = entry.get("reader")
    try:
        return READERS[fmt].read(paths, options, f"{where}.reader")
    except ReaderOptionError as err:  # an unknown option or the wrong number of paths
        raise ConfigError(str(err)) from err
    except TypeError as err:
        if options:  # an option of the wrong type, named by the reader
            raise ConfigError(f"{where}.reader: {err}") from err
        raise


def apply_transforms(ds: xr.Dataset, entry: Mapping[str, Any], where: str) -> xr.Dataset:
    """Apply an entry's ``regrid`` then ``every``; their errors become ConfigErrors."""
    try:
        if entry.get("regrid") is not None:
            ds = regrid_ionex(ds, entry["regrid"], where)
        if entry.get("every") is not None:
            ds = subsample_time(ds, entry["every"], where)
        if entry.get("load"):
            ds = ds.load()
    except (ValueError, TypeError) as err:
        raise ConfigError(str(err)) from err
    return ds
