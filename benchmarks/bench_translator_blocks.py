"""The measurements behind the SimVP translator's layout choices, on one thread.

    .venv/bin/python benchmarks/bench_translator_blocks.py [--blocks gsta,tau,...] [--reps 2]
        [--only conv,pointwise,blocks]

1. The dilated depth-wise convolution of gSTA/TAU/VAN (7 x 7, dilation 3, 512 channels, batch 4,
   18 x 18: the seeds' latent): PyTorch's dilated kernel against
   :class:`geostl.models.blocks.dilated_depthwise.DilatedDepthwiseConv2d` (phase grids), forward
   and forward + backward, channels-first and channels-last input; the undilated 5 x 5 of the
   same block for scale.
2. The 1x1 convolutions of SimVP-gSTA's translator (one training step: forward, gradient of
   the input and of the weights) as ``F.conv2d`` and as ``F.linear`` on the channels-last view,
   with their rate: the floor of the translator's step.
3. Every registered translator block type in a MetaTranslator at the seeds' size (768 -> 512
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


def pointwise_table(reps: int) -> list[str]:
    """The 1x1 convolutions of SimVP-gSTA's translator at the seeds' size: forward + backward
    of each as ``F.conv2d`` (channels-first) and as ``F.linear`` on the channels-last view,
    summed over one training step, with their rate."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    from geostl.models import build_backbone

    net = build_backbone("simvp", in_shape=(12, 1, 72, 72), out_channels=1, t_out=12,
                         model_type="gSTA", hid_S=64, hid_T=512, N_S=4, N_T=8)  # fmt: skip
    shapes: list[tuple[tuple[int, ...], torch.nn.Conv2d]] = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: shapes.append((tuple(i[0].shape), m)))
        for m in net.translator.modules()
        if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1) and m.groups == 1
    ]
    with torch.no_grad():
        net.translator(torch.randn(4, 768, 18, 18))
    for h in hooks:
        h.remove()
    totals = {"F.conv2d, channels-first": 0.0, "F.conv2d, channels-last": 0.0,
              "F.linear on the channels-last view": 0.0}  # fmt: skip
    flops = 0.0
    for shape, m in shapes:
        n, c, hh, ww = shape
        flops += 3 * 2 * n * hh * ww * c * m.out_channels  # forward, grad input, grad weight
        x = torch.randn(shape, requires_grad=True)
        xc = torch.randn(shape).contiguous(memory_format=torch.channels_last).requires_grad_(True)
        xl = torch.randn(n, hh, ww, c, requires_grad=True)
        w2 = m.weight.detach().view(m.out_channels, c).requires_grad_(True)
        w4 = m.weight.detach().clone().requires_grad_(True)

        def conv(x=x, w4=w4, m=m) -> None:
            F.conv2d(x, w4, m.bias.detach()).sum().backward()

        def conv_cl(xc=xc, w4=w4, m=m) -> None:
            F.conv2d(xc, w4, m.bias.detach()).sum().backward()

        def linear(xl=xl, w2=w2, m=m) -> None:
            F.linear(xl, w2, m.bias.detach()).sum().backward()

        for key, fn in zip(totals, (conv, conv_cl, linear), strict=True):
            totals[key] += _time(fn, reps)
    rows = [f"{len(shapes)} 1x1 convolutions, {flops / 1e9:.0f} GFLOP per training step:",
            "", "| as | seconds per step | GFLOP/s |", "|---|---|---|"]  # fmt: skip
    for name, t in totals.items():
        rows.append(f"| {name} | {t:.2f} | {flops / t / 1e9:.1f} |")
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
    parser.add_argument("--only", default="conv,pointwise,blocks", help="parts to run")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    from geostl.allocator import tune_allocator

    tune_allocator()
    if args.case:
        print(json.dumps(block_case(args.case, args.reps)))
        return 0
    parts = set(args.only.split(","))
    if "conv" in parts:
        print("\n".join(dilated_conv_table(args.reps)), flush=True)
    if "pointwise" in parts:
        print("\n" + "\n".join(pointwise_table(args.reps)), flush=True)
    if "blocks" not in parts:
        return 0
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
