"""The measurements behind the SimVP translator's layout choices, on one thread.

    .venv/bin/python benchmarks/bench_translator_blocks.py [--blocks gsta,tau,...] [--reps 2]

1. The dilated depth-wise convolution of gSTA/TAU/VAN (7 x 7, dilation 3, 512 channels, batch 4,
   18 x 18: the seeds' latent): PyTorch's dilated kernel against
   :class:`geostl.models.blocks.dilated_depthwise.DilatedDepthwiseConv2d` (phase grids), forward
   and forward + backward, channels-first and channels-last input; the undilated 5 x 5 of the
   same block for scale.
2. Every registered translator block type in a MetaTranslator at the seeds' size (768 -> 512
   channels, N_T 8, 18 x 18, batch 4): forward + backward with channels-first memory against
   channels-last memory. Each block type runs in its own subprocess, so one that crashes is
   reported and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

SEED_SHAPE = (4, 768, 18, 18)


def _time(fn, reps: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def dilated_conv_table(reps: int) -> list[str]:
    import torch
    import torch.nn.functional as F  # noqa: N812

    from geostl.models.blocks.dilated_depthwise import DilatedDepthwiseConv2d

    torch.manual_seed(0)
    phase = DilatedDepthwiseConv2d(512, 512, 7, padding=9, groups=512, dilation=3)
    small = torch.nn.Conv2d(512, 512, 5, padding=2, groups=512)
    rows = ["| convolution | memory | forward ms | forward + backward ms |", "|---|---|---|---|"]
    for fmt_name, fmt in (("channels-first", torch.contiguous_format),
                          ("channels-last", torch.channels_last)):  # fmt: skip
        x = torch.randn(4, 512, 18, 18).contiguous(memory_format=fmt)
        g = torch.randn(4, 512, 18, 18).contiguous(memory_format=fmt)
        cases = {
            "7x7 dilation 3, PyTorch's kernel": lambda t: F.conv2d(
                t, phase.weight, phase.bias, 1, 9, 3, 512
            ),
            "7x7 dilation 3, phase grids": phase,
            "5x5 undilated (for scale)": small,
        }
        for name, fn in cases.items():
            with torch.no_grad():
                fwd = _time(lambda fn=fn, x=x: fn(x), 5 * reps)
            xr = x.detach().requires_grad_(True)
            both = _time(lambda fn=fn, xr=xr, g=g: fn(xr).backward(g), 5 * reps)
            rows.append(f"| {name} | {fmt_name} | {1e3 * fwd:.2f} | {1e3 * both:.2f} |")
    return rows


def block_case(name: str, reps: int) -> dict:
    """One block type: seconds per forward + backward, channels-first and channels-last."""
    import torch

    from geostl.models.backbones.simvp_translators import MetaTranslator

    torch.manual_seed(0)
    tr = MetaTranslator(name, SEED_SHAPE[1], 512, 8, SEED_SHAPE[2:])
    x = torch.randn(*SEED_SHAPE)
    out: dict = {"flag": tr.channels_last}  # the layout the MetaTranslator picks for the block
    for label, xx in (("cf", x), ("cl", x.contiguous(memory_format=torch.channels_last))):

        def step(xx=xx) -> None:
            tr.zero_grad(set_to_none=True)
            tr.layers(xx).pow(2).mean().backward()  # the layers: the layout is chosen here

        out[label] = _time(step, reps)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", help="comma-separated block types (default: all)")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    from geostl.allocator import tune_allocator

    tune_allocator()
    if args.case:
        print(json.dumps(block_case(args.case, args.reps)))
        return 0
    print("\n".join(dilated_conv_table(args.reps)), flush=True)
    from geostl.models.backbones import simvp_metaformer, simvp_tau_block  # noqa: F401
    from geostl.models.blocks.base import TRANSLATOR_BLOCKS

    names = args.blocks.split(",") if args.blocks else TRANSLATOR_BLOCKS.available()
    print("\n| block | channels_last flag | channels-first s | channels-last s | ratio |")
    print("|---|---|---|---|---|", flush=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for name in names:
        cmd = [sys.executable, __file__, "--case", name, "--reps", str(args.reps)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
            why = f"crashed (signal {-done.returncode})" if done.returncode < 0 else last
            print(f"| {name} | | {why[:80]} | | |", flush=True)
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"| {name} | {'yes' if r['flag'] else 'no'} | {r['cf']:.3f} | {r['cl']:.3f} | "
              f"{r['cf'] / r['cl']:.2f} |", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
