"""Training and inference speed of the backbones at the iono shape, with the share of the
machine's matmul peak and, optionally, the ratio against another checkout, in one run.

    .venv/bin/python benchmarks/bench_backbones.py [--reference OTHER_CHECKOUT] [--threads 1]
        [--models convlstm,simvp_gsta,...] [--rounds 2] [--allocator as-is|tuned|default]
        [--precision fp32|bf16|fp16] [--json OUT.json]

Shape: batch 4, 12 frames in -> 12 out, 1 channel, 72 x 72 (the Channel Mixer seed's iono
maps), the seed's model sizes (ConvLSTM and PredRNN 4 x 128, filter 5, patch 4; SimVP and TAU
hid_S 64, hid_T 512, N_S 4, N_T 8). Each measurement is ``geostl.benchmark.benchmark_backbone``
in a fresh subprocess with the thread count fixed (``OMP_NUM_THREADS``, ``torch.set_num_threads``)
and the same matmul peak measured there. With ``--reference``, the subprocess imports geostl
from that checkout's ``src`` instead, and the two versions alternate model by model and round
by round (current, reference, reference, current, ...), so a change of the machine's load hits
both; the table gives the median of the rounds and the ratio current / reference.

``--allocator``: ``as-is`` (default) leaves the glibc allocator to each version (geostl's
Trainer and benchmark tune it since the SimVP speed-up; older checkouts did so only in the
CLI), ``tuned`` tunes it before either version runs (the ratio then shows the code's change
alone), ``default`` sets ``GEOSTL_MALLOC_TUNING=0`` for both.

``--precision`` (``train.precision``'s formats) applies to this checkout; a ``--reference``
always runs in float32, so the ratio then compares this checkout's format with float32 before.
The share of peak stays relative to the float32 matmul.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHAPE = (12, 1, 72, 72)
T_OUT = 12
BATCH = 4
#: name -> (registered backbone, constructor arguments)
MODELS: dict[str, tuple[str, dict]] = {
    "convlstm": ("convlstm", {"num_hidden": [128] * 4, "filter_size": 5, "patch_size": 4}),
    "predrnn": ("predrnn", {"num_hidden": [128] * 4, "filter_size": 5, "patch_size": 4}),
    "mau": ("mau", {}),  # OpenSTL's defaults: 4 x 64, filter 5, patch 1, sr_size 4
    "phydnet": ("phydnet", {}),
    "simvp_incepu": (
        "simvp",
        {"model_type": "IncepU", "hid_S": 64, "hid_T": 512, "N_S": 4, "N_T": 8},
    ),
    "simvp_gsta": ("simvp", {"model_type": "gSTA", "hid_S": 64, "hid_T": 512, "N_S": 4, "N_T": 8}),
    "tau": ("tau", {"hid_S": 64, "hid_T": 512, "N_S": 4, "N_T": 8}),
}


def run_case(
    name: str, threads: int, iters: int, allocator: str = "as-is", precision: str = "fp32"
) -> dict:
    """One model's measurement in this process (geostl from ``sys.path``)."""
    import torch

    torch.set_num_threads(threads)
    import geostl

    if allocator == "tuned":
        from geostl.allocator import tune_allocator

        if not tune_allocator():
            raise RuntimeError("--allocator tuned: mallopt could not be applied here")
    from geostl.benchmark import benchmark_backbone

    backbone, kwargs = MODELS[name]
    options = {"precision": precision} if precision != "fp32" else {}  # older checkouts: fp32
    result = benchmark_backbone(
        backbone, SHAPE, T_OUT, BATCH, backbone_kwargs=kwargs, device="cpu", warmup=1,
        iters=iters, **options,
    )  # fmt: skip
    keep = (
        "train_seq_per_s",
        "infer_seq_per_s",
        "train_fraction_of_matmul",
        "infer_fraction_of_matmul",
        "matmul_flops_per_s",
        "params",
    )
    return {"geostl": str(Path(geostl.__file__).parent), **{k: result.get(k) for k in keep}}


def _subprocess(
    name: str, src: Path, threads: int, iters: int, allocator: str, precision: str = "fp32"
) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))  # fmt: skip
    if allocator == "default":
        env["GEOSTL_MALLOC_TUNING"] = "0"
    cmd = [sys.executable, __file__, "--case", name, "--threads", str(threads),
           "--iters", str(iters), "--allocator", allocator,
           "--precision", precision]  # fmt: skip
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{name} with {src}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, help="another checkout to compare against")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--iters", type=int, default=2, help="timed steps per measurement")
    parser.add_argument("--allocator", choices=("as-is", "tuned", "default"), default="as-is")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        result = run_case(args.case, args.threads, args.iters, args.allocator, args.precision)
        print(json.dumps(result))
        return 0
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"--models: unknown {unknown}; expected some of {', '.join(MODELS)}")
    versions = {"current": REPO / "src"}
    if args.reference is not None:
        ref = args.reference.resolve() / "src"
        if not (ref / "geostl").is_dir():
            parser.error(f"--reference: {ref / 'geostl'} does not exist")
        versions["reference"] = ref
    results: dict[str, dict[str, list[dict]]] = {n: {v: [] for v in versions} for n in names}
    order = list(versions)
    for r in range(args.rounds):
        for name in names:
            for version in order if r % 2 == 0 else order[::-1]:
                try:
                    precision = args.precision if version == "current" else "fp32"
                    res = _subprocess(
                        name, versions[version], args.threads, args.iters, args.allocator,
                        precision,
                    )  # fmt: skip
                except RuntimeError as err:  # one model that cannot run must not cost the rest
                    print(f"round {r + 1} {name} {version}: failed: {err}", file=sys.stderr)
                    continue
                results[name][version].append(res)
                print(f"round {r + 1} {name} {version}: train {res['train_seq_per_s']:.3f} "
                      f"seq/s, infer {res['infer_seq_per_s']:.3f} seq/s", file=sys.stderr,
                      flush=True)  # fmt: skip
    print(f"| model | train seq/s | infer seq/s | train / peak | infer / peak"
          f"{' | train ratio | infer ratio' if len(versions) > 1 else ''} |")  # fmt: skip
    print("|---|---|---|---|---|" + ("---|---|" if len(versions) > 1 else ""))
    for name in names:
        cur = results[name]["current"]
        if not cur or any(not results[name][v] for v in versions):
            print(f"| {name} | failed (see stderr) |")
            continue
        med = {k: statistics.median(x[k] for x in cur) for k in
               ("train_seq_per_s", "infer_seq_per_s", "train_fraction_of_matmul",
                "infer_fraction_of_matmul")}  # fmt: skip
        row = (f"| {name} | {med['train_seq_per_s']:.3f} | {med['infer_seq_per_s']:.3f} | "
               f"{100 * med['train_fraction_of_matmul']:.0f} % | "
               f"{100 * med['infer_fraction_of_matmul']:.0f} %")  # fmt: skip
        if "reference" in versions:
            ref_runs = results[name]["reference"]
            for key in ("train_seq_per_s", "infer_seq_per_s"):
                row += f" | {med[key] / statistics.median(x[key] for x in ref_runs):.2f}"
        print(row + " |")
    ref_note = " (reference fp32)" if args.reference and args.precision != "fp32" else ""
    peaks = [x["matmul_flops_per_s"] for n in names for x in results[n]["current"]] or [0.0]
    print(f"\nmatmul peak {statistics.median(peaks) / 1e9:.1f} GFLOP/s (median of the runs), "
          f"{args.threads} thread(s), batch {BATCH}, {SHAPE} -> {T_OUT}, "
          f"allocator {args.allocator}, precision {args.precision}{ref_note}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
