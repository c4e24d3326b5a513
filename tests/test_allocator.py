"""The allocator tuning the geostl command, the Trainer and the benchmarks apply."""

import ctypes.util
import sys

import pytest

from geostl.allocator import tune_allocator


def test_opt_out_leaves_the_allocator_alone(monkeypatch):
    monkeypatch.setenv("GEOSTL_MALLOC_TUNING", "0")
    assert tune_allocator() is False


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or ctypes.util.find_library("c") is None,
    reason="glibc only",
)
def test_applies_on_glibc(monkeypatch):
    monkeypatch.delenv("GEOSTL_MALLOC_TUNING", raising=False)
    assert tune_allocator() is True


_FAULTS = """
import resource, sys, torch
from torch import nn
if sys.argv[1] == "library":
    from geostl.benchmark import benchmark_model
    benchmark_model(nn.Linear(4, 4), lambda b: torch.zeros(b, 4), 2, device="cpu", warmup=0,
                    iters=1, matmul_n=0)
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):  # a training loop's steady state: the same buffer allocated and freed
    x = torch.ones(16_000_000)  # 64 MB
    del x
before = faults()
y = torch.ones(16_000_000)  # once more: reused memory, or fresh pages
print(faults() - before)
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or ctypes.util.find_library("c") is None,
    reason="glibc only",
)
@pytest.mark.parametrize("opt_out", ["1", "0"])
def test_library_use_gets_the_tuning_too(opt_out, tmp_path):
    """geostl.benchmark (like the Trainer) tunes the allocator without the CLI: a 64 MB buffer
    allocated and freed in a loop is then reused without page faults (16k fresh 4 KiB pages
    every time otherwise; the first cycles may still map fresh pages)."""
    import os
    import subprocess

    env = {**os.environ, "GEOSTL_MALLOC_TUNING": opt_out}
    out = {}
    for mode in ("plain", "library"):
        done = subprocess.run([sys.executable, "-c", _FAULTS, mode], env=env,
                              capture_output=True, text=True, check=True)  # fmt: skip
        out[mode] = int(done.stdout.split()[-1])
    assert out["plain"] > 10_000  # glibc's default: a fresh mmap for a 64 MB block
    if opt_out == "1":
        assert out["library"] < 1_000
    else:  # GEOSTL_MALLOC_TUNING=0 is respected in library use
        assert out["library"] > 10_000


def test_the_trainer_tunes_the_allocator(monkeypatch, tmp_path):
    from engine_toy import tec_datasets, tiny_model
    from geostl.engine import Trainer, trainer

    calls = []
    monkeypatch.setattr(trainer, "tune_allocator", lambda: calls.append(1) or True)
    ds, _, _ = tec_datasets(t_out=4)
    Trainer(tiny_model(ds["train"]), ds, {"epochs": 1}, {}, tmp_path / "run")
    assert calls == [1]
