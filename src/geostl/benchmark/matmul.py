"""The machine's achieved matrix-multiply rate, the yardstick for a model's achieved FLOP/s."""

from __future__ import annotations

import statistics
import time

import torch

__all__ = ["measure_matmul_flops", "sync"]


def sync(device: torch.device) -> None:
    """Wait for queued CUDA work (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_matmul_flops(
    n: int = 2048,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    iters: int = 10,
    warmup: int = 2,
) -> float:
    """Achieved FLOP/s of an (n x n) @ (n x n) product (2 n^3 FLOPs each), median of ``iters``.

    The median (not the best) repetition, so that on a shared, noisy machine it compares
    with a model's mean throughput rather than with a lucky peak.

    Args:
        n: matrix size.
        dtype: element type (e.g. ``torch.float32``, ``torch.bfloat16``).
        device: ``"cpu"``, ``"cuda"`` ...
        iters, warmup: timed and untimed repetitions.

    Returns:
        FLOP/s (float) of the median timed repetition.
    """
    dev = torch.device(device)
    if n < 1 or iters < 1:
        raise ValueError(f"n and iters must be >= 1, got n={n}, iters={iters}")
    gen = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(dev, dtype)
    b = torch.randn(n, n, generator=gen).to(dev, dtype)
    out = torch.empty(n, n, device=dev, dtype=dtype)
    for _ in range(warmup):
        torch.mm(a, b, out=out)
    sync(dev)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        torch.mm(a, b, out=out)
        sync(dev)
        times.append(time.perf_counter() - t0)
    return 2.0 * n**3 / statistics.median(times)
