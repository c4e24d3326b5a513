"""``open_sources``: the ``data.sources`` section of a run config -> named xarray Datasets."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from geostl.datasets import available, sample
from geostl.io import open_celestrak, open_dataset, open_index, open_ionex, open_omni2

from .spec import RUN_SPEC, ConfigError, check_field

__all__ = ["open_sources"]


def _single(opener: Callable[[Path], xr.Dataset], fmt: str) -> Callable[[list[Path]], xr.Dataset]:
    def read(paths: list[Path]) -> xr.Dataset:
        if len(paths) != 1:
            raise ConfigError(f"format {fmt!r} reads one file, got {len(paths)}: {paths}")
        return opener(paths[0])

    return read


_READERS: dict[str, Callable[[list[Path]], xr.Dataset]] = {
    "ionex": open_ionex,
    "omni2": open_omni2,
    "celestrak": _single(open_celestrak, "celestrak"),
    "index": _single(open_index, "index"),
    "netcdf": lambda p: open_dataset(p, format="netcdf"),
    "zarr": lambda p: open_dataset(p, format="zarr"),
    "grib": lambda p: open_dataset(p, format="grib"),
}


def open_sources(
    sources: Mapping[str, Mapping[str, Any]], base_dir: str | os.PathLike | None = None
) -> dict[str, xr.Dataset]:
    """Open every source of a run config's ``data.sources``.

    Args:
        sources: ``{NAME: {"sample": "tec"}}`` (a built-in sample, ``geostl.datasets``) or
            ``{NAME: {"paths": [...], "format": "ionex"|"omni2"|"celestrak"|"index"|"netcdf"|
            "zarr"|"grib"}}``. Glob patterns are passed to the readers that take them
            (ionex, omni2, netcdf, zarr, grib).
        base_dir: directory that relative paths are taken from (default: the current one).

    Returns:
        ``{NAME: xr.Dataset}`` as the ``geostl.io`` readers return them (lazy where they are).

    Raises:
        ConfigError: a malformed entry or an unknown sample (naming ``data.sources.NAME``);
            reader errors (missing files, bad content) pass through with the reader's message.
    """
    check_field(sources, RUN_SPEC.keys["data"].keys["sources"], "data.sources", complete=True)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    out: dict[str, xr.Dataset] = {}
    for name, entry in sources.items():
        if "sample" in entry:
            if entry["sample"] not in available():
                raise ConfigError(
                    f"data.sources.{name}.sample: unknown built-in sample {entry['sample']!r} "
                    f"(available: {', '.join(available())})"
                )
            out[name] = sample(entry["sample"])
            continue
        raw = entry["paths"]
        paths = [base / Path(p).expanduser() for p in ([raw] if isinstance(raw, str) else raw)]
        try:
            out[name] = _READERS[entry["format"]](paths)
        except ConfigError as err:
            raise ConfigError(f"data.sources.{name}: {err}") from err
    return out
