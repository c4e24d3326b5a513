"""Tests for WeightedSums, including a 2-process gloo all_reduce on CPU."""

import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from geostl.metrics import ForecastMetrics, WeightedSums


def test_add_accumulates_in_float64():
    s = WeightedSums()
    s.add("se", torch.tensor([1.0, 2.0], dtype=torch.float32))
    s.add("se", torch.tensor([0.25, 0.5], dtype=torch.float32))
    s.add("w", 3.0)
    assert s["se"].dtype == torch.float64
    assert s["se"].tolist() == [1.25, 2.5]
    assert s["w"].item() == 3.0
    assert s.names() == ["se", "w"]


def test_memory_does_not_grow_with_updates():
    s = WeightedSums()
    for i in range(200):
        s.add("a", torch.full((3, 2), float(i)))
    assert len(s) == 1 and s["a"].shape == (3, 2)
    np.testing.assert_allclose(s["a"].numpy(), np.full((3, 2), sum(range(200))))


def test_shape_mismatch_is_an_error():
    s = WeightedSums()
    s.add("a", torch.zeros(3))
    with pytest.raises(ValueError, match="'a'"):
        s.add("a", torch.zeros(4))
    with pytest.raises(KeyError, match="'b'"):
        s["b"]


def test_merge_and_state_dict_roundtrip():
    a, b = WeightedSums(), WeightedSums()
    a.add("x", torch.tensor([1.0, 2.0]))
    b.add("x", torch.tensor([10.0, 20.0]))
    b.add("y", torch.tensor(5.0))
    a.merge(b)
    assert a["x"].tolist() == [11.0, 22.0] and a["y"].item() == 5.0
    state = a.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    c = WeightedSums()
    c.load_state_dict(state)
    assert c.names() == a.names() and torch.equal(c["x"], a["x"])
    state["x"] += 1  # the state is a copy
    assert a["x"].tolist() == [11.0, 22.0]


def test_all_reduce_is_noop_without_distributed():
    s = WeightedSums()
    s.add("x", torch.tensor([1.0]))
    assert not dist.is_initialized()
    s.all_reduce()
    assert s["x"].tolist() == [1.0]


# ---------------------------------------------------------------------------------------------
# two processes, gloo backend on CPU


def _data(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    shape = (6, 3, 2, 8, 10)
    target = torch.randn(shape, generator=g) * 3 + 10
    pred = target + torch.randn(shape, generator=g)
    valid = torch.rand(shape, generator=g) > 0.2
    target = torch.where(valid, target, torch.nan)
    clim = torch.full((2, 8, 10), 10.0)
    return pred, target, valid, clim


def _metrics() -> ForecastMetrics:
    lat = np.linspace(-70, 70, 8)
    return ForecastMetrics(["a", "b"], ["+1 h", "+2 h", "+3 h"], lat=lat)


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    try:
        pred, target, valid, clim = _data()
        shard = slice(0, 2) if rank == 0 else slice(2, 6)  # unequal shards
        s = WeightedSums()
        s.add("sq", (pred[shard].double() ** 2).sum(dim=(0, 3, 4)))
        s.add("n", torch.tensor(float(pred[shard].shape[0])))
        s.all_reduce()
        fm = _metrics()
        fm.update(
            pred[shard],
            target[shard],
            valid[shard],
            climatology=clim,
            references={"zero": torch.zeros_like(pred[shard])},
        )
        fm.all_reduce()
        # a process holding different sums is a clear error on every rank, not a hang
        bad = WeightedSums()
        bad.add("x", torch.zeros(2))
        if rank == 1:
            bad.add("extra", torch.zeros(1))
        try:
            bad.all_reduce()
            mismatch = ""
        except RuntimeError as err:
            mismatch = str(err)
        if rank == 0:
            torch.save(
                {"sums": s.state_dict(), "fm": fm.state_dict(), "mismatch": mismatch},
                os.path.join(out_dir, "rank0.pt"),
            )
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow  # over 5 s on 2 cores (make test-fast leaves it out)
def test_all_reduce_two_gloo_processes_equals_single_process(tmp_path):
    """Sums of two unequal shards all-reduced over gloo equal one process over all data."""
    if not dist.is_available():
        pytest.skip("torch.distributed is not available")
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    got = torch.load(tmp_path / "rank0.pt")

    pred, target, valid, clim = _data()
    np.testing.assert_allclose(
        got["sums"]["sq"].numpy(), (pred.double() ** 2).sum(dim=(0, 3, 4)).numpy(), rtol=1e-12
    )
    assert got["sums"]["n"].item() == 6.0
    assert "different sums" in got["mismatch"] and "extra" in got["mismatch"]

    single = _metrics()
    single.update(
        pred, target, valid, climatology=clim, references={"zero": torch.zeros_like(pred)}
    )
    reduced = _metrics()
    reduced.load_state_dict(got["fm"])
    t1, t2 = single.compute(), reduced.compute()
    assert len(t1.rows) == len(t2.rows)
    for r1, r2 in zip(t1.rows, t2.rows, strict=True):
        assert r1["metric"] == r2["metric"] and r1["lead"] == r2["lead"]
        np.testing.assert_allclose(r2["value"], r1["value"], rtol=1e-10, err_msg=str(r1))
