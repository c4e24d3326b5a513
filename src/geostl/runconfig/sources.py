"""``open_sources``: the ``data.sources`` section of a run config -> named xarray Datasets."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from geostl.data.regrid import regrid_ionex
from geostl.data.subsample import subsample_time
from geostl.data.video_sets import open_video_source
from geostl.data.weatherbench import open_weatherbench_source
from geostl.datasets import available, sample
from geostl.io import (
    open_celestrak,
    open_dataset,
    open_index,
    open_ionex,
    open_iono_tfrecord,
    open_omni2,
    open_taxibj,
)

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
    "iono_tfrecord": open_iono_tfrecord,
    "taxibj": open_taxibj,
}
VIDEO_FORMATS = ("kth", "human36m", "kitticaltech")


def open_sources(
    sources: Mapping[str, Mapping[str, Any]], base_dir: str | os.PathLike | None = None
) -> dict[str, xr.Dataset]:
    """Open every source of a run config's ``data.sources``.

    Args:
        sources: ``{NAME: {"sample": "tec"}}`` (a built-in sample, ``geostl.datasets``) or
            ``{NAME: {"paths": [...], "format": "ionex"|"omni2"|"celestrak"|"index"|"netcdf"|
            "zarr"|"grib"|"iono_tfrecord"|"taxibj"}}`` (``taxibj``: the release's
            ``BJ13..BJ16_M32x32_T30_InOut.h5``, :func:`geostl.io.open_taxibj`), or
            ``{"paths": ROOT, "format": "weatherbench", "weatherbench": {"set": "t2m"}}`` (a
            WeatherBench 5.625° folder, see
            :func:`geostl.data.weatherbench.open_weatherbench_source`), or ``{"paths": ROOT,
            "format": "kth"|"human36m"|"kitticaltech"}`` (a video set's folder, read lazily
            with the reader's defaults, :mod:`geostl.data.video_sets`). Glob patterns are
            passed to the readers that take them (all but celestrak and index). Optional
            transforms, applied in this order after reading: ``"regrid": "iono72"|"native"``
            (IONEX 71 x 73 -> 72 x 72 or 71 x 72, :func:`geostl.data.regrid.regrid_ionex`) and
            ``"every": "2h"`` (keep the epochs on multiples of the step from midnight, never
            averaging, :func:`geostl.data.subsample.subsample_time`).
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
            ds = sample(entry["sample"])
        else:
            raw = entry["paths"]
            paths = [base / Path(p).expanduser() for p in ([raw] if isinstance(raw, str) else raw)]
            try:
                if entry["format"] == "weatherbench":
                    ds = _weatherbench(paths, entry, f"data.sources.{name}")
                elif entry["format"] in VIDEO_FORMATS:
                    ds = _video(paths, entry, f"data.sources.{name}")
                else:
                    ds = _READERS[entry["format"]](paths)
            except ConfigError as err:
                raise ConfigError(f"data.sources.{name}: {err}") from err
        out[name] = _transform(ds, entry, f"data.sources.{name}")
    return out


def _weatherbench(paths: list[Path], entry: Mapping[str, Any], where: str) -> xr.Dataset:
    """Format ``weatherbench``: ``paths`` is the root folder, ``weatherbench`` the selection."""
    if len(paths) != 1:
        raise ConfigError(f"format 'weatherbench' reads one root folder, got {len(paths)}: {paths}")
    if "weatherbench" not in entry:
        raise ConfigError(
            f"{where}.weatherbench is missing: expected {{set: NAME}} or {{variables: [...], "
            "levels: [...], years: [first, last]}"
        )
    try:
        return open_weatherbench_source(str(paths[0]), dict(entry["weatherbench"]), where)
    except ValueError as err:
        raise ConfigError(str(err)) from err


def _video(paths: list[Path], entry: Mapping[str, Any], where: str) -> xr.Dataset:
    """Formats ``kth``, ``human36m``, ``kitticaltech``: ``paths`` is the set's folder,
    ``reader`` (optional) the reader's keyword arguments."""
    fmt = entry["format"]
    if len(paths) != 1:
        raise ConfigError(f"format {fmt!r} reads one folder, got {len(paths)}: {paths}")
    try:
        return open_video_source(fmt, str(paths[0]), entry.get("reader"), f"{where}.reader")
    except TypeError as err:
        raise ConfigError(f"{where}.reader: {err}") from err
    except ValueError as err:
        if str(err).startswith(f"{where}.reader."):
            raise ConfigError(str(err)) from err
        raise


def _transform(ds: xr.Dataset, entry: Mapping[str, Any], where: str) -> xr.Dataset:
    """Apply an entry's ``regrid`` then ``every``; their errors become ConfigErrors."""
    try:
        if entry.get("regrid") is not None:
            ds = regrid_ionex(ds, entry["regrid"], where)
        if entry.get("every") is not None:
            ds = subsample_time(ds, entry["every"], where)
    except (ValueError, TypeError) as err:
        raise ConfigError(str(err)) from err
    return ds
