"""Benchmark: ``geostl ingest`` of N IONEX day files, and the training loader from the store.

The day files are real maps: the built-in UQRG sample (2019-04-25/26) taken hourly, 25 maps a
day file (00 .. 24 UT, the boundary epoch shared with the next file, as CODE's 1-hourly files),
written once by ``write_ionex`` and then copied to N consecutive days from 2014-01-01 with their
epoch records rewritten (so the content is real maps and the parse work that of real files).

Measured in one run, one after the other:

1. ``ingest(files, jobs=1)`` and ``ingest(files, jobs=2)``: files/s of the parse (the part that
   parallelises) and of the whole call (hashing, parse, join, write);
2. the store of (1) against ``open_ionex`` of the same files: maps, times and grid equal;
3. the training loader (``build_datasets`` of a 12 -> 12 TEC window config, a shuffled
   ``DataLoader`` of batch 8, no workers): seconds to the first batch and samples/s over
   ``--batches`` batches, for the sources ``{format: ionex, paths: FILES}`` and
   ``{format: zarr, paths: STORE}`` (each window read from disk) and the same with
   ``load: true`` (the store read into memory once).

    .venv/bin/python benchmarks/bench_ingest.py [--days 365] [--batches 50] [--json FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

_EPOCH_LABELS = ("EPOCH OF CURRENT MAP", "EPOCH OF FIRST MAP", "EPOCH OF LAST MAP")


def _templates(folder: Path) -> list[list[str]]:
    """The two real day files (hourly maps of 2019-04-25 and -26) as IONEX text lines."""
    from geostl.datasets import sample
    from geostl.io import write_ionex

    tec = sample("tec")["tec"]
    hourly = tec.sel(time=tec["time"].dt.minute == 0)
    out = []
    for k in range(2):
        day = np.datetime64("2019-04-25", "D") + k
        path = folder / f"template{k}.19i"
        write_ionex(hourly.sel(time=slice(day, day + np.timedelta64(1, "D"))), path)
        out.append(path.read_text().splitlines())
    return out


def _moved(lines: list[str], days: int) -> str:
    """The IONEX text with every epoch record moved by ``days`` days."""
    out = []
    for line in lines:
        if line[60:80].strip() in _EPOCH_LABELS:
            y, mo, d, h, mi, s = (int(v) for v in line[:36].split())
            t = dt.datetime(y, mo, d, h, mi, s) + dt.timedelta(days=days)
            fields = f"{t.year:6d}{t.month:6d}{t.day:6d}{t.hour:6d}{t.minute:6d}{t.second:6d}"
            line = fields + line[36:]
        out.append(line)
    return "\n".join(out) + "\n"


def write_days(folder: Path, n: int, first: dt.date = dt.date(2014, 1, 1)) -> list[Path]:
    """``n`` gzipped IONEX day files ``codgDDD0.YYi.gz`` from ``first`` on."""
    templates = _templates(folder)
    paths = []
    for k in range(n):
        day = first + dt.timedelta(days=k)
        shift = (day - dt.date(2019, 4, 25 + k % 2)).days
        name = f"codg{day.timetuple().tm_yday:03d}0.{day.year % 100:02d}i.gz"
        path = folder / "ionex" / str(day.year) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(_moved(templates[k % 2], shift).encode(), mtime=0))
        paths.append(path)
    return paths


def _loader_rate(sources_cfg: dict, batches: int) -> dict:
    import torch

    from geostl.data import build_datasets
    from geostl.runconfig import open_sources

    t0 = time.perf_counter()
    sources = open_sources(sources_cfg)
    times = sources["maps"]["time"].values
    cfg = {
        "schema": {
            "targets": {"source": "maps", "variables": ["tec"]},
            "forcings": [{"computed": "lst_sin"}, {"computed": "lst_cos"}],
            "static": [{"kind": "lat"}],
        },
        "splits": {"train": {"start": str(times[0]), "end": str(times[-1])}},
        "window": {"t_in": 12, "t_out": 12},
        "normalisation": {"method": "fixed", "fixed": {"tec": {"offset": 0.0, "scale": 200.0}}},
        "padding": {"multiple": 4},
    }
    train = build_datasets(cfg, sources)["train"]
    gen = torch.Generator().manual_seed(0)
    loader = torch.utils.data.DataLoader(train, batch_size=8, shuffle=True, generator=gen)
    it = iter(loader)
    next(it)
    first = time.perf_counter() - t0
    t1 = time.perf_counter()
    n = 0
    for _ in range(batches):
        n += next(it)["inputs"].shape[0]
    rate = n / (time.perf_counter() - t1)
    return {"first_batch_s": first, "samples_per_s": rate, "windows": len(train)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import xarray as xr

    from geostl.archives.ingest import ingest
    from geostl.io import open_ionex

    result: dict = {"days": args.days, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        files = write_days(root, args.days)
        size = sum(p.stat().st_size for p in files) / 1e6
        took = time.perf_counter() - t0
        print(f"wrote {len(files)} IONEX day files ({size:.1f} MB) in {took:.0f} s", flush=True)
        for jobs in (1, 2):
            store = root / f"tec_{jobs}.zarr"
            rep = ingest(files, store, jobs=jobs, progress=False)
            result[f"ingest_jobs{jobs}"] = {
                "parse_files_per_s": len(files) / rep.read_seconds,
                "total_files_per_s": len(files) / rep.seconds,
                "seconds": rep.seconds,
                "times": rep.times,
            }
            print(f"ingest jobs={jobs}: {rep.summary()}")
        t0 = time.perf_counter()
        ref = open_ionex(files)
        result["open_ionex_s"] = time.perf_counter() - t0
        with xr.open_zarr(root / "tec_1.zarr") as a, xr.open_zarr(root / "tec_2.zarr") as b:
            for ds in (a, b):
                np.testing.assert_array_equal(ds["time"].values, ref["time"].values)
                np.testing.assert_array_equal(ds["tec"].values, ref["tec"].values)
                np.testing.assert_array_equal(ds["lat"].values, ref["lat"].values)
        print(f"stores equal open_ionex of the files ({ref.sizes['time']} maps); "
              f"open_ionex took {result['open_ionex_s']:.1f} s")  # fmt: skip
        store_mb = sum(p.stat().st_size for p in (root / "tec_1.zarr").rglob("*") if p.is_file())
        result["store_mb"] = store_mb / 1e6
        result["source_mb"] = size
        for name, src in (
            ("files", {"maps": {"paths": [str(p) for p in files], "format": "ionex"}}),
            ("store", {"maps": {"paths": str(root / "tec_1.zarr"), "format": "zarr"}}),
            (
                "store_load",
                {"maps": {"paths": str(root / "tec_1.zarr"), "format": "zarr", "load": True}},
            ),  # fmt: skip
        ):
            result[f"loader_{name}"] = _loader_rate(src, args.batches)
            r = result[f"loader_{name}"]
            print(f"loader from {name}: first batch after {r['first_batch_s']:.1f} s, "
                  f"{r['samples_per_s']:.0f} samples/s ({r['windows']} windows)")  # fmt: skip
    j1, j2 = result["ingest_jobs1"], result["ingest_jobs2"]
    speedup = j2["parse_files_per_s"] / j1["parse_files_per_s"]
    print(
        f"\nparse speed-up with 2 processes: {speedup:.2f}x; "
        f"store {result['store_mb']:.1f} MB for {result['source_mb']:.1f} MB of gzipped IONEX"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
