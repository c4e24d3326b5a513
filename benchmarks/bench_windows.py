"""Benchmark: samples per second out of WindowDataset, and peak memory vs store length.

Cases (each in a fresh subprocess, so its RSS high-water mark is its own):

(a) the built-in real TEC sample (UQRG 15-minute maps, 193 x 71 x 73, read from its IONEX files
    into memory by ``geostl.datasets.sample("tec")``), or a TEC NetCDF given with ``--tec``
    (read lazily from disk); T_in = T_out = 12, padded to 72 x 80;
(b) generated Zarr stores of N and ~4.5 N time steps (72 x 72 float32, chunked along time),
    T_in = T_out = 12, with an hourly observed driver and a computed known feature.

Each case: DataLoader(batch_size=8, shuffle=True, num_workers in {0, 2}); the normaliser is fitted
(streaming) on the train split, which is the whole axis. Reported: build seconds, samples/s, peak
RSS of the process (and of its workers) via ``resource.getrusage``, and the RSS right after the
imports, so the dataset's own footprint is the difference.

    .venv/bin/python benchmarks/bench_windows.py [--tec PATH] [--steps 20000] [--factor 4.5]
                                                 [--batches 40] [--json runs/bench_windows.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BUILTIN = "builtin"


def _rss_now_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make_store(path: Path, steps: int, chunk: int = 64) -> None:
    """Write a Zarr store: ``x`` (steps, 72, 72) float32 chunked along time, hourly ``kp``."""
    import pandas as pd
    import xarray as xr

    times = pd.date_range("2000-01-01", periods=steps, freq="15min")
    lat = np.linspace(88.75, -88.75, 72)
    lon = np.linspace(-180, 175, 72)
    base = np.cos(np.deg2rad(lat))[:, None] * 20 + np.sin(np.deg2rad(lon))[None, :] * 5
    hours = pd.date_range(
        times[0].floor("1h") - pd.Timedelta("2h"), times[-1].ceil("1h"), freq="1h"
    )
    import dask.array as da

    tmpl = xr.Dataset(
        {
            "x": (
                ("time", "lat", "lon"),
                da.zeros((steps, 72, 72), chunks=(chunk, 72, 72), dtype=np.float32),
                {"units": "TECU", "long_name": "synthetic field"},
            )
        },
        coords={"time": times, "lat": lat, "lon": lon},
    )
    tmpl.to_zarr(path, compute=False, consolidated=False, mode="w")
    block = chunk * 32
    for a in range(0, steps, block):
        b = min(a + block, steps)
        k = np.arange(a, b, dtype=np.float32)[:, None, None]
        x = (base[None] + np.sin(k / 96.0) * 3).astype(np.float32)
        x = np.round(x * 8) / 8  # low entropy: compresses well, keeps the store small
        xr.Dataset({"x": (("time", "lat", "lon"), x)}).to_zarr(
            path, region={"time": slice(a, b)}, consolidated=False
        )
    drv = xr.Dataset(
        {"kp": ("time", (np.arange(hours.size) % 90) / 10.0, {"units": "1"})},
        coords={"time": hours},
    )
    drv.to_netcdf(path.with_suffix(".omni.nc"))


def run_case(kind: str, path: str, workers: int, batches: int) -> dict:
    """Run one case in this process and return its figures."""
    import torch
    import xarray as xr

    from geostl.data import build_datasets

    rss_imports = _rss_now_mb()
    if kind == "tec":
        if path == BUILTIN:
            from geostl.datasets import sample

            src = {"maps": sample("tec")}
        else:
            src = {"maps": xr.open_dataset(path)}
        var, t0, t1 = "tec", src["maps"].time.values[0], src["maps"].time.values[-1]
        forcings = [{"computed": "lst_sin"}, {"computed": "doy_cos"}]
        padding = {"multiple": 8}
    else:
        src = {
            "maps": xr.open_zarr(path, consolidated=False),
            "omni": xr.open_dataset(Path(path).with_suffix(".omni.nc")),
        }
        var, t0, t1 = "x", src["maps"].time.values[0], src["maps"].time.values[-1]
        forcings = [{"name": "kp", "source": "omni"}, {"computed": "lst_sin"}]
        padding = None
    cfg = {
        "schema": {
            "targets": {"source": "maps", "variables": [var]},
            "forcings": forcings,
            "static": [{"kind": "lat"}],
        },
        "splits": {"train": {"start": str(t0), "end": str(t1 + np.timedelta64(1, "s"))}},
        "window": {"t_in": 12, "t_out": 12},
        "normalisation": {"chunk": 256},
        "padding": padding,
    }
    t = time.perf_counter()
    ds = build_datasets(cfg, src)["train"]
    build_s = time.perf_counter() - t
    gen = torch.Generator().manual_seed(0)
    loader = torch.utils.data.DataLoader(
        ds, batch_size=8, shuffle=True, num_workers=workers, generator=gen, persistent_workers=False
    )
    n = 0
    it = iter(loader)
    first = next(it)  # worker start-up is not counted
    t = time.perf_counter()
    for _ in range(batches):
        try:
            b = next(it)
        except StopIteration:
            break
        n += b["inputs"].shape[0]
    dt = time.perf_counter() - t
    del it
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "case": kind,
        "path": str(path),
        "steps": int(ds.times.size),
        "windows": len(ds),
        "workers": workers,
        "samples": n,
        "seconds": dt,
        "samples_per_s": n / dt,
        "build_s": build_s,
        "rss_after_imports_mb": rss_imports,
        "peak_rss_mb": me,
        "peak_rss_workers_mb": kids if workers else None,
        "sample_shape": list(first["inputs"].shape[1:]),
    }


def _subprocess(kind: str, path: str, workers: int, batches: int) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--case",
        kind,
        "--path",
        str(path),
        "--workers",
        str(workers),
        "--batches",
        str(batches),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--tec",
        default=BUILTIN,
        help="TEC NetCDF to read lazily from disk; 'disk' writes the built-in sample to a "
        "zlib-compressed NetCDF first (default: the built-in sample in memory)",
    )
    p.add_argument("--steps", type=int, default=20000, help="time steps of the short store")
    p.add_argument("--factor", type=float, default=4.5, help="long store = factor x steps")
    p.add_argument("--batches", type=int, default=40, help="timed batches of 8 per case")
    p.add_argument("--workdir", default=None, help="where to write the Zarr stores (temp)")
    p.add_argument("--json", default="runs/bench_windows.json", help="output JSON file")
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--path", help=argparse.SUPPRESS)
    p.add_argument("--workers", type=int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.case:
        print(json.dumps(run_case(a.case, a.path, a.workers, a.batches)))
        return
    rows = []
    with tempfile.TemporaryDirectory(dir=a.workdir) as tmp:
        tec = a.tec
        if tec == "disk":
            from geostl.datasets import sample

            tec = str(Path(tmp) / "tec_sample.nc")
            sample("tec").to_netcdf(tec, engine="h5netcdf", encoding={"tec": {"zlib": True}})
        elif tec != BUILTIN and not Path(tec).exists():
            raise SystemExit(f"--tec {tec}: no such file")
        for w in (0, 2):
            rows.append(_subprocess("tec", tec, w, a.batches))
    with tempfile.TemporaryDirectory(dir=a.workdir) as tmp:
        for steps in (a.steps, int(round(a.steps * a.factor))):
            store = Path(tmp) / f"synthetic_{steps}.zarr"
            t = time.perf_counter()
            make_store(store, steps)
            print(
                f"wrote {store.name} ({steps} steps) in {time.perf_counter() - t:.1f} s", flush=True
            )
            for w in (0, 2):
                rows.append(_subprocess("zarr", str(store), w, a.batches))
    hdr = (
        f"{'case':6} {'steps':>7} {'workers':>7} {'samples/s':>10} {'build s':>8} "
        f"{'RSS imports MB':>14} {'peak RSS MB':>11} {'workers peak MB':>15}"
    )
    print(hdr)
    for r in rows:
        wk = f"{r['peak_rss_workers_mb']:.0f}" if r["peak_rss_workers_mb"] else "-"
        print(
            f"{r['case']:6} {r['steps']:>7} {r['workers']:>7} {r['samples_per_s']:>10.1f} "
            f"{r['build_s']:>8.2f} {r['rss_after_imports_mb']:>14.0f} "
            f"{r['peak_rss_mb']:>11.0f} {wk:>15}"
        )
    z = [r for r in rows if r["case"] == "zarr"]
    ratios = {}
    for w in (0, 2):
        short, long_ = [r for r in z if r["workers"] == w]
        ratios[f"workers{w}"] = {
            "length_ratio": long_["steps"] / short["steps"],
            "peak_rss_ratio": long_["peak_rss_mb"] / short["peak_rss_mb"],
            "footprint_ratio": (long_["peak_rss_mb"] - long_["rss_after_imports_mb"])
            / (short["peak_rss_mb"] - short["rss_after_imports_mb"]),
            "throughput_ratio": long_["samples_per_s"] / short["samples_per_s"],
        }
        print(
            f"long/short store, workers={w}: "
            + ", ".join(f"{k} {v:.2f}" for k, v in ratios[f"workers{w}"].items())
        )
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps({"rows": rows, "ratios": ratios}, indent=2))
    print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
