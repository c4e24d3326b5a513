"""``geostl.archives.ingest``: many source files -> one Zarr (or NetCDF) store the engine streams.

Parsing IONEX text costs about a second a day file; a run config that names years of them pays
it before every ``train``, ``test`` and ``predict``. :func:`ingest` pays it once: the files are
read (IONEX in parallel processes, one file each, then joined by exactly
:func:`geostl.io.ionex.join_ionex_files`, i.e. :func:`~geostl.io.open_ionex`'s rules: the epoch
shared by consecutive days kept once, from the later file), and written as one store:

- **Zarr** (default, a folder ``*.zarr``): chunks of ``chunk_time`` maps by the full grid, so
  an input window reads one or two chunks; zlib level 4 compression; written to a temporary
  folder and renamed, so a failed ingest leaves no half store.
- **NetCDF** (``*.nc``): the same chunks, zlib level 4, written atomically.

Provenance goes into the store's attributes: ``source_files`` and ``source_sha256`` (one line
per file, ``sha256  name`` as ``sha256sum`` prints), ``geostl_version``, ``history``; the
variables keep their units. A run config names the store like any source
(``{paths: tec.zarr, format: zarr}``) and training reads it lazily, window by window.

``append=True`` adds files to an existing store: files whose SHA-256 the store already lists
are skipped (appending the same files twice changes nothing); new times after the store's last
one are appended; times the store already has must hold the same values, except the IONEX
day-boundary epoch, which the later file provides as in ``open_ionex``; differing values, or
times inside the store's span that the store lacks, are errors naming the time and the file.

Drivers (OMNI2, CelesTrak, ...) are ingested into a sibling store at their own cadence
(``geostl ingest omni2_*.dat --out omni2.zarr``); the data pipeline aligns them to the maps
when it loads, as it does for the original files.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["IngestReport", "ingest", "store_format"]

_PROVENANCE = ("source_files", "source_sha256")
#: the smallest chunk in bytes (per variable) a default time chunk is grown to
_MIN_CHUNK_BYTES = 256 * 1024


@dataclass
class IngestReport:
    """What :func:`ingest` did.

    Attributes:
        store: the store written.
        files: source files read in this call.
        skipped: files skipped because the store already lists their SHA-256.
        added: times added (all of them for a new store).
        replaced: day-boundary epochs rewritten by a later file (append only).
        times: the store's number of times afterwards; first, last: its first and last time.
        seconds: wall time of the call; read_seconds: of the parsing alone.
    """

    store: Path
    files: list[Path]
    skipped: list[Path]
    added: int
    replaced: int
    times: int
    first: np.datetime64 | None
    last: np.datetime64 | None
    seconds: float
    read_seconds: float

    def summary(self) -> str:
        """The lines ``geostl ingest`` prints."""
        if self.first is not None and self.last is not None:
            first = np.datetime_as_string(self.first, unit="m")
            span = f"{first} .. {np.datetime_as_string(self.last, unit='m')}"
        else:
            span = "empty"
        if self.files:
            rate = len(self.files) / self.read_seconds if self.read_seconds > 0 else float("inf")
            read = f"read {len(self.files)} files in {self.read_seconds:.1f} s ({rate:.1f} files/s)"
        else:
            read = "nothing new to read"
        if self.skipped:
            read += f"; {len(self.skipped)} files skipped: the store already holds them"
        boundary = ""
        if self.replaced:
            boundary = f", {self.replaced} day-boundary map{'s' if self.replaced > 1 else ''} "
            boundary += "replaced by the later file's"
        return (
            f"{read}\n{self.store}: {self.times} times {span} ({self.added} added{boundary}) "
            f"in {self.seconds:.1f} s"
        )


def store_format(path: str | os.PathLike) -> str:
    """``"zarr"`` for ``*.zarr`` (or an existing zarr folder), ``"netcdf"`` for ``*.nc``."""
    p = Path(path)
    if p.suffix == ".zarr" or (
        p.is_dir() and any((p / m).exists() for m in (".zgroup", "zarr.json"))
    ):
        return "zarr"
    if p.suffix in (".nc", ".nc4", ".netcdf"):
        return "netcdf"
    raise ValueError(f"{path}: the store's name must end in .zarr (Zarr) or .nc (NetCDF)")


def ingest(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    format: str | None = None,
    append: bool = False,
    jobs: int = 1,
    chunk_time: int | None = None,
    progress: bool | None = None,
) -> IngestReport:
    """Read ``paths`` with their reader and write (or append to) the store ``out``.

    Args:
        paths: files or glob patterns (any ``geostl.io`` reader that takes files).
        out: the store, ``*.zarr`` or ``*.nc`` (:func:`store_format`).
        format: the reader (``geostl.io.READERS``); default: guessed from the names.
        append: add to an existing store (see the module docstring); without it an existing
            store is an error (nothing is overwritten).
        jobs: processes parsing IONEX files at once (other formats are read by their reader
            in one call).
        chunk_time: times per chunk; default one day of maps, grown to at least 24 and to
            256 KiB per variable chunk.
        progress: a progress bar of the parsed files (default: when stderr is a terminal).

    Raises:
        FileExistsError: ``out`` exists and ``append`` is false.
        FileNotFoundError: ``append`` to a store that does not exist.
        ValueError: files the reader refuses, a grid or variables that differ from the store,
            or an overlap with different values (naming the time and the file).
    """
    from geostl.io._files import expand_paths

    t0 = time.perf_counter()
    out = Path(out)
    kind = store_format(out)
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if out.exists() and not append:
        raise FileExistsError(f"{out} exists; pass --append to add files to it")
    if append and not out.exists():
        raise FileNotFoundError(
            f"--append: the store {out} does not exist (ingest without --append first)"
        )
    files = sorted(dict.fromkeys(expand_paths(paths, "source file")))
    fmt = _reader_name(files, format)
    digests = _sha256(files, jobs)
    skipped: list[Path] = []
    existing: xr.Dataset | None = None
    if append:
        existing = _open_store(out, kind)
        known = set(_provenance(existing)[1].values())
        skipped = [f for f in files if digests[f] in known]
        files = [f for f in files if digests[f] not in known]
    if not files:
        assert existing is not None
        n = existing.sizes["time"]
        t = existing["time"].values
        existing.close()
        return IngestReport(out, [], skipped, 0, 0, n, t[0] if n else None, t[-1] if n else None,
                            time.perf_counter() - t0, 0.0)  # fmt: skip
    t_read = time.perf_counter()
    new, spans = _read(files, fmt, jobs, progress)
    read_seconds = time.perf_counter() - t_read
    new = _with_provenance(new, files, digests, fmt)
    if existing is None:
        chunk = chunk_time or _default_chunk(new)
        _write_new(new, out, kind, chunk)
        added, replaced, total = new.sizes["time"], 0, new.sizes["time"]
        t = new["time"].values
    else:
        added, replaced = _append(existing, new, out, kind, fmt, files, spans)
        with _open_store(out, kind) as ds:
            t = ds["time"].values
        total = len(t)
    first, last = (t[0], t[-1]) if total else (None, None)
    seconds = time.perf_counter() - t0
    return IngestReport(
        out, files, skipped, added, replaced, total, first, last, seconds, read_seconds
    )


def _reader_name(files: list[Path], format: str | None) -> str:
    from geostl.io import READERS

    if format is not None:
        if format not in READERS.names():
            raise ValueError(
                f"unknown format {format!r}; expected one of {', '.join(READERS.names())}"
            )
        fmt = format
    else:
        guesses = {f: READERS.guess(f) for f in files}
        names = {g[0] for g in guesses.values() if len(g) == 1}
        unclear = [f.name for f, g in guesses.items() if len(g) != 1]
        if unclear or len(names) != 1:
            raise ValueError(
                f"cannot tell the format of {', '.join(unclear) or 'files of several formats'} "
                f"(guessed {sorted(names)}); pass --format"
            )
        fmt = names.pop()
    if READERS[fmt].takes != "files":
        raise ValueError(
            f"format {fmt!r} reads a {READERS[fmt].takes}, not a list of files; open it with its "
            "reader and write the Dataset with to_zarr instead"
        )
    return fmt


def _sha256(files: list[Path], jobs: int) -> dict[Path, str]:
    import pooch

    if jobs > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(jobs) as pool:  # hashing releases the GIL
            hashes = list(pool.map(lambda f: pooch.file_hash(str(f), alg="sha256"), files))
        return dict(zip(files, hashes, strict=True))
    return {f: pooch.file_hash(str(f), alg="sha256") for f in files}


_Spans = list[tuple[Any, Any, Path]]  # (first, last) as numpy datetime64[ns], the file


def _read(
    files: list[Path], fmt: str, jobs: int, progress: bool | None
) -> tuple[xr.Dataset, _Spans]:
    """The files as one Dataset, and each file's first and last time where known (IONEX)."""
    from tqdm import tqdm

    from geostl.io import READERS

    show = sys.stderr.isatty() if progress is None else progress
    if fmt != "ionex":
        return READERS[fmt].read(files).load(), []
    from geostl.io.ionex import join_ionex_files, read_ionex_file

    bar = tqdm(total=len(files), unit="file", desc="parse", disable=not show, file=sys.stderr)
    parsed = []
    if jobs == 1:
        for f in files:
            parsed.append(read_ionex_file(f))
            bar.update(1)
    else:
        chunksize = max(1, min(8, math.ceil(len(files) / (4 * jobs))))
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for item in pool.map(read_ionex_file, files, chunksize=chunksize):
                parsed.append(item)
                bar.update(1)
    bar.close()
    spans = [
        (
            np.asarray(f.tec_times[0], "datetime64[ns]"),
            np.asarray(f.tec_times[-1], "datetime64[ns]"),
            f.path,
        )
        for f in parsed
    ]
    return join_ionex_files(parsed), spans


def _with_provenance(
    ds: xr.Dataset, files: list[Path], digests: dict[Path, str], fmt: str
) -> xr.Dataset:
    from geostl import __version__

    ds = ds.copy()
    ds.attrs["source_files"] = "\n".join(f.name for f in files)
    ds.attrs["source_sha256"] = "\n".join(f"{digests[f]}  {f.name}" for f in files)
    ds.attrs["source_format"] = fmt
    ds.attrs["geostl_version"] = __version__
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    ds.attrs["history"] = f"{now} geostl ingest of {len(files)} {fmt} files"
    return ds


def _provenance(ds: xr.Dataset) -> tuple[list[str], dict[str, str]]:
    """The store's source names and ``{name: sha256}``."""
    names = [n for n in str(ds.attrs.get("source_files", "")).splitlines() if n]
    sums: dict[str, str] = {}
    for line in str(ds.attrs.get("source_sha256", "")).splitlines():
        if line.strip():
            digest, name = line.split(None, 1)
            sums[name.strip()] = digest
    return names, sums


def _default_chunk(ds: xr.Dataset) -> int:
    n = ds.sizes["time"]
    t = ds["time"].values
    per_day = 24
    if n > 1:
        step = np.median(np.diff(t)) / np.timedelta64(1, "s")
        per_day = max(1, round(86400 / step)) if step > 0 else 24
    per_time = max(
        (int(np.prod([ds.sizes[d] for d in v.dims if d != "time"])) * v.dtype.itemsize)
        for v in ds.data_vars.values()
        if "time" in v.dims
    )
    chunk = max(per_day, 24, math.ceil(_MIN_CHUNK_BYTES / max(per_time, 1)))
    return max(1, min(chunk, n))


def _encoding(ds: xr.Dataset, kind: str, chunk: int) -> dict[str, dict]:
    enc: dict[str, dict] = {
        "time": {
            "units": "seconds since 1970-01-01 00:00:00",
            "dtype": "int64",
            "calendar": "proleptic_gregorian",
        }
    }
    for name, v in ds.data_vars.items():
        if "time" not in v.dims:
            continue
        chunks = tuple(chunk if d == "time" else ds.sizes[d] for d in v.dims)
        if kind == "zarr":
            enc[str(name)] = {"chunks": chunks, **_zarr_compressor()}
        else:
            enc[str(name)] = {"chunksizes": chunks, "zlib": True, "complevel": 4}
    return enc


def _zarr_compressor() -> dict:
    """zlib level 4, as the NetCDF stores: on TEC maps smaller than zarr's default Blosc-LZ4
    (1.28 against 2.42 MB for the built-in sample's maps) and as fast to read."""
    import numcodecs
    import zarr

    if int(zarr.__version__.split(".")[0]) >= 3:
        return {"compressors": (numcodecs.Zlib(level=4),)}
    return {"compressor": numcodecs.Zlib(level=4)}


def _zarr_kwargs() -> dict:
    import zarr

    # Zarr format 2: read by zarr-python 2 and 3 alike
    return {"zarr_format": 2} if int(zarr.__version__.split(".")[0]) >= 3 else {}


def _write_new(ds: xr.Dataset, out: Path, kind: str, chunk: int) -> None:
    """Write ``ds`` under a temporary name beside ``out``, then rename it into place."""
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    _remove(tmp)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        if kind == "zarr":
            ds.to_zarr(tmp, mode="w", encoding=_encoding(ds, kind, chunk), consolidated=True,
                       **_zarr_kwargs())  # fmt: skip
        else:
            ds.to_netcdf(tmp, engine="h5netcdf", encoding=_encoding(ds, kind, chunk))
        os.replace(tmp, out)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _open_store(out: Path, kind: str) -> xr.Dataset:
    if kind == "zarr":
        return xr.open_zarr(out, consolidated=None)
    return xr.open_dataset(out, engine="h5netcdf")


def _append(
    existing: xr.Dataset,
    new: xr.Dataset,
    out: Path,
    kind: str,
    fmt: str,
    files: list[Path],
    spans: _Spans,
) -> tuple[int, int]:
    """Add ``new``'s times to the store; returns (times added, boundary maps replaced)."""
    _check_same_layout(existing, new, out)
    old_t = existing["time"].values
    new_t = new["time"].values
    last = old_t[-1]
    overlap = new_t <= last
    replace_boundary = bool(
        fmt == "ionex" and overlap.sum() == 1 and new_t[0] == last and len(new_t) > 1
    )
    if overlap.any() and not replace_boundary:
        _check_overlap_equal(existing, new.isel(time=np.flatnonzero(overlap)), out, files, spans)
    tail = new.isel(time=np.flatnonzero(~overlap))
    n_old = len(old_t)
    names, sums = _provenance(existing)
    _, new_sums = _provenance(new)
    attrs = dict(existing.attrs)
    attrs["source_files"] = "\n".join(names + [f.name for f in files])
    attrs["source_sha256"] = "\n".join(
        [f"{d}  {n}" for n, d in sums.items()] + [f"{new_sums[f.name]}  {f.name}" for f in files]
    )
    attrs["history"] = (
        str(existing.attrs.get("history", "")) + "\n" + str(new.attrs["history"]) + " (append)"
    )
    chunk = _store_chunk(existing)
    existing.close()
    if kind == "netcdf":
        with xr.open_dataset(out, engine="h5netcdf") as ds:
            full = ds.load()
        if replace_boundary:
            full = full.isel(time=slice(0, n_old - 1))
            tail = new
        merged = xr.concat([full, tail], dim="time", data_vars="all")
        merged.attrs = attrs
        _write_new_replacing(merged, out, chunk)
        return tail.sizes["time"] - (1 if replace_boundary else 0), int(replace_boundary)
    if replace_boundary:
        region = new.isel(time=[0]).drop_vars([c for c in new.coords if "time" not in new[c].dims])
        region = region.drop_vars([v for v in region.data_vars if "time" not in region[v].dims])
        region.attrs = {}
        region.to_zarr(out, region={"time": slice(n_old - 1, n_old)}, mode="r+", **_zarr_kwargs())
    if tail.sizes["time"]:
        tail = tail.drop_vars([v for v in tail.data_vars if "time" not in tail[v].dims])
        tail.attrs = {}
        tail.to_zarr(out, append_dim="time", mode="a", **_zarr_kwargs())
    import zarr

    group = zarr.open_group(str(out), mode="r+")
    group.attrs.update(attrs)
    zarr.consolidate_metadata(str(out))
    return tail.sizes["time"], int(replace_boundary)


def _write_new_replacing(ds: xr.Dataset, out: Path, chunk: int) -> None:
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        ds.to_netcdf(tmp, engine="h5netcdf", encoding=_encoding(ds, "netcdf", chunk))
        os.replace(tmp, out)
    finally:
        _remove(tmp)


def _store_chunk(ds: xr.Dataset) -> int:
    for v in ds.data_vars.values():
        if "time" in v.dims:
            chunks = v.encoding.get("chunks") or v.encoding.get("chunksizes")
            if chunks:
                return int(chunks[v.dims.index("time")])
    return 24


def _check_same_layout(existing: xr.Dataset, new: xr.Dataset, out: Path) -> None:
    old_vars = {str(v) for v in existing.data_vars if "time" in existing[v].dims}
    new_vars = {str(v) for v in new.data_vars if "time" in new[v].dims}
    if old_vars != new_vars:
        raise ValueError(
            f"{out} holds variables {sorted(old_vars)} but the new files give {sorted(new_vars)}"
        )
    for dim in existing.dims:
        if dim == "time" or dim not in existing.coords:
            continue
        a = existing[dim].values
        b = new[dim].values if dim in new.coords else None
        if b is None or a.shape != b.shape or not np.array_equal(a, b):
            raise ValueError(f"{out}: the new files' {dim} axis differs from the store's")


def _check_overlap_equal(
    existing: xr.Dataset, overlap: xr.Dataset, out: Path, files: list[Path], spans: _Spans
) -> None:
    store_t = existing["time"].values
    pos = np.searchsorted(store_t, overlap["time"].values)
    for k, t in enumerate(overlap["time"].values):
        if pos[k] >= len(store_t) or store_t[pos[k]] != t:
            raise ValueError(
                f"{_file_of(t, files, spans)} has a map at {t}, inside the span of {out} "
                f"({store_t[0]} .. {store_t[-1]}) where the store has none; appending adds "
                "times after the store's last one only: ingest all the files into a new store"
            )
    for name, v in overlap.data_vars.items():
        if "time" not in v.dims:
            continue
        old = existing[name].isel(time=pos).values
        new = v.values
        same = (
            (old == new) | (np.isnan(old) & np.isnan(new))
            if np.issubdtype(new.dtype, np.floating)
            else old == new
        )
        if not same.all():
            axes = tuple(range(1, same.ndim))
            bad = int(np.flatnonzero(~same.all(axis=axes) if axes else ~same)[0])
            t = overlap["time"].values[bad]
            raise ValueError(
                f"{_file_of(t, files, spans)} has different {name} values at {t} than {out} "
                "already holds; refusing to overwrite them (remove the file or the store)"
            )


def _file_of(t: np.datetime64, files: list[Path], spans: _Spans) -> str:
    """The new file holding time ``t`` (the latest whose span has it), for messages."""
    for first, last, path in reversed(spans):
        if first <= t <= last:
            return str(path)
    if len(files) == 1:
        return str(files[0])
    more = " ..." if len(files) > 3 else ""
    return f"one of the new files ({', '.join(f.name for f in files[:3])}{more})"
