"""Probabilistic scores against independent references (properscoring, scipy, numpy loops,
hand-worked cases) in float64, and their additivity over batches and over 2 gloo processes."""

from __future__ import annotations

import math
import os
import socket

import numpy as np
import properscoring as ps
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from scipy import stats

from geostl.metrics import EnsembleMetrics, ForecastMetrics
from geostl.metrics.crps import crps_ensemble, crps_gaussian, gaussian_nll

LAT = np.linspace(-80.0, 80.0, 5)


def _case(seed: int = 0, m: int = 6, shape=(4, 3, 2, 5, 7), ties: bool = False):
    g = np.random.default_rng(seed)
    y = g.normal(10.0, 3.0, shape)
    x = y + g.normal(0.5, 2.0, (m, *shape))
    if ties:  # values on a coarse lattice: many ties among members and with the truth
        x, y = np.round(x), np.round(y)
    valid = g.random(shape) > 0.2
    return x, y, valid


def _weights(valid: np.ndarray, area: np.ndarray | None = None, lat: bool = False) -> np.ndarray:
    w = valid.astype(np.float64)
    if area is not None:
        w = w * area
    if lat:
        w = w * np.cos(np.deg2rad(LAT))[:, None]
    return w


def _mean_per_lead(score: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted mean over (sample, pixel) per (lead, channel), then lead 'all' appended."""
    num = (np.where(w > 0, score, 0.0) * w).sum(axis=(0, 3, 4))
    den = w.sum(axis=(0, 3, 4))
    return np.concatenate([num / den, num.sum(0, keepdims=True) / den.sum(0, keepdims=True)])


def _table_values(table, metric: str, weighting: str, channels=("a", "b"), t=3) -> np.ndarray:
    leads = ["+1 h", "+2 h", "+3 h", "all"][: t + 1]
    out = np.full((len(leads), len(channels)), np.nan)
    for r in table.rows:
        if r["metric"] == metric and r["weighting"] == weighting and r["channel"] in channels:
            out[leads.index(r["lead"]), list(channels).index(r["channel"])] = r["value"]
    return out


def _metrics(**kw) -> EnsembleMetrics:
    return EnsembleMetrics(["a", "b"], ["+1 h", "+2 h", "+3 h"], lat=LAT, **kw)


# ---------------------------------------------------------------------------------------------
# pointwise scores


@pytest.mark.parametrize("m", [1, 2, 5, 20])
@pytest.mark.parametrize("ties", [False, True])
def test_ensemble_crps_equals_properscoring(m: int, ties: bool) -> None:
    x, y, _ = _case(m=m, ties=ties)
    ours = crps_ensemble(torch.from_numpy(x), torch.from_numpy(y)).numpy()
    ref = ps.crps_ensemble(y, np.moveaxis(x, 0, -1))
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize("m", [2, 3, 8])
def test_fair_crps_equals_the_double_sum(m: int) -> None:
    x, y, _ = _case(m=m, shape=(50,))
    ours = crps_ensemble(torch.from_numpy(x), torch.from_numpy(y), fair=True).numpy()
    # Ferro (2014): mean |x_i - y| - sum_{i != j} |x_i - x_j| / (2 M (M - 1)), as plain loops
    ref = np.empty(50)
    for n in range(50):
        a = sum(abs(x[i, n] - y[n]) for i in range(m)) / m
        b = sum(abs(x[i, n] - x[j, n]) for i in range(m) for j in range(m) if i != j)
        ref[n] = a - b / (2 * m * (m - 1))
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)
    assert torch.isnan(crps_ensemble(torch.ones(1, 3), torch.ones(3), fair=True)).all()


def test_gaussian_crps_and_nll_equal_properscoring_and_scipy() -> None:
    g = np.random.default_rng(3)
    mu, sd, y = g.normal(0, 5, 400), g.uniform(0.05, 4.0, 400), g.normal(0, 5, 400)
    t = [torch.from_numpy(v) for v in (mu, sd, y)]
    np.testing.assert_allclose(crps_gaussian(*t).numpy(), ps.crps_gaussian(y, mu, sd), atol=1e-9)
    ref_nll = -stats.norm.logpdf(y, mu, sd)
    np.testing.assert_allclose(gaussian_nll(*t).numpy(), ref_nll, rtol=0, atol=1e-9)
    # hand-worked: N(0, 1) at its mean, 2 phi(0) - 1 / sqrt(pi) = (sqrt 2 - 1) / sqrt(pi)
    zero, one = torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    assert float(crps_gaussian(zero, one, zero)) == pytest.approx(
        (math.sqrt(2) - 1) / math.sqrt(math.pi), abs=1e-15
    )
    with pytest.raises(ValueError, match="standard deviation"):
        crps_gaussian(zero, zero, zero)


# ---------------------------------------------------------------------------------------------
# EnsembleMetrics


@pytest.mark.parametrize("weighting", ["plain", "lat"])
def test_crps_spread_and_skill_against_references(weighting: str) -> None:
    x, y, valid = _case()
    area = np.random.default_rng(1).uniform(0, 2, (5, 7))
    area[0, :3] = 0.0
    em = EnsembleMetrics(["a", "b"], ["+1 h", "+2 h", "+3 h"], lat=LAT, area_mask=area)
    em.update(
        torch.from_numpy(x), torch.from_numpy(np.where(valid, y, np.nan)), torch.from_numpy(valid)
    )
    table = em.compute()
    w = _weights(valid, area, weighting == "lat")
    m = x.shape[0]
    crps = ps.crps_ensemble(y, np.moveaxis(x, 0, -1))
    np.testing.assert_allclose(
        _table_values(table, "crps", weighting), _mean_per_lead(crps, w), atol=1e-9
    )
    mean = x.mean(0)
    var = x.var(0, ddof=1)
    spread = np.sqrt(_mean_per_lead(var, w))
    rmse = np.sqrt(_mean_per_lead((mean - y) ** 2, w))
    np.testing.assert_allclose(_table_values(table, "spread", weighting), spread, atol=1e-9)
    np.testing.assert_allclose(_table_values(table, "rmse_ens_mean", weighting), rmse, atol=1e-9)
    np.testing.assert_allclose(
        _table_values(table, "spread_skill", weighting),
        np.sqrt((m + 1) / m) * spread / rmse,
        atol=1e-9,
    )
    fair = crps_ensemble(torch.from_numpy(x), torch.from_numpy(y), fair=True).numpy()
    np.testing.assert_allclose(
        _table_values(table, "crps_fair", weighting), _mean_per_lead(fair, w), atol=1e-9
    )


def test_coverage_brier_and_rank_histogram_against_references() -> None:
    x, y, valid = _case(m=4, ties=True)
    em = _metrics(thresholds={"a": [10.0, 13.0]}, coverage=[0.5, 0.9])
    em.update(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(valid))
    table = em.compute()
    w = _weights(valid, lat=True)
    for p in (0.5, 0.9):
        lo, hi = np.quantile(x, (1 - p) / 2, axis=0), np.quantile(x, (1 + p) / 2, axis=0)
        inside = ((lo <= y) & (y <= hi)).astype(float)
        np.testing.assert_allclose(
            _table_values(table, f"coverage_{p:g}", "lat"), _mean_per_lead(inside, w), atol=1e-12
        )
    for thr in (10.0, 13.0):
        bs = ps.threshold_brier_score(y[:, :, :1], np.moveaxis(x[:, :, :, :1], 0, -1), thr)
        got = _table_values(table, f"brier_gt_{thr:g}", "lat", channels=("a",))
        np.testing.assert_allclose(got, _mean_per_lead(bs, w[:, :, :1]), atol=1e-9)
    assert "brier_gt_10" not in [r["metric"] for r in table.rows if r["channel"] == "b"]
    # rank histogram: loops over every value, ties split evenly between the possible ranks
    m = x.shape[0]
    ref = np.zeros((m + 1, *y.shape))
    for idx in np.ndindex(y.shape):
        below = int((x[(slice(None), *idx)] < y[idx]).sum())
        tied = int((x[(slice(None), *idx)] == y[idx]).sum())
        for r in range(below, below + tied + 1):
            ref[(r, *idx)] = 1.0 / (tied + 1)
    hist = np.stack([_table_values(table, f"rank_{r}", "lat") for r in range(m + 1)])
    np.testing.assert_allclose(hist, np.stack([_mean_per_lead(h, w) for h in ref]), atol=1e-12)
    np.testing.assert_allclose(hist.sum(0), 1.0, atol=1e-12)


def test_hand_made_rank_histogram_and_crps() -> None:
    # one channel, one lead, 4 pixels of a 1 x 4 grid; members 1, 2, 3 everywhere
    x = (
        torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
        .reshape(3, 1, 1, 1, 1, 1)
        .expand(3, 1, 1, 1, 1, 4)
    )
    y = torch.tensor([0.0, 2.5, 2.0, 9.0], dtype=torch.float64).reshape(1, 1, 1, 1, 4)
    em = EnsembleMetrics(["v"], [1])
    em.update(x, y)
    t = em.compute()
    val = {r["metric"]: r["value"] for r in t.rows if r["lead"] == 1}
    # ranks: 0; 2; tie with member 2 -> 1/2 to rank 1 and 1/2 to rank 2; 3
    assert [val[f"rank_{k}"] for k in range(4)] == [0.25, 0.125, 0.375, 0.25]
    # CRPS of {1, 2, 3}: mean|x - y| - (sum_ij |x_i - x_j| = 8) / 18
    expect = np.mean([2 - 4 / 9, 5 / 6 - 4 / 9, 2 / 3 - 4 / 9, 7 - 4 / 9])
    assert val["crps"] == pytest.approx(expect, abs=1e-15)
    assert val["spread"] == pytest.approx(1.0, abs=1e-15)  # variance ddof 1 of 1, 2, 3


def test_one_member_crps_is_the_mae_and_spread_undefined() -> None:
    x, y, valid = _case(m=1)
    em, fm = _metrics(), ForecastMetrics(["a", "b"], ["+1 h", "+2 h", "+3 h"], lat=LAT)
    em.update(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(valid))
    fm.update(torch.from_numpy(x[0]), torch.from_numpy(y), torch.from_numpy(valid))
    for g in ("plain", "lat"):
        np.testing.assert_allclose(
            _table_values(em.compute(), "crps", g),
            _table_values(fm.compute(), "mae", g),
            rtol=1e-13,
        )
        assert np.isnan(_table_values(em.compute(), "spread", g)).all()
        assert np.isnan(_table_values(em.compute(), "crps_fair", g)).all()


def test_a_reliable_ensemble_has_spread_skill_one_and_a_flat_rank_histogram() -> None:
    g = np.random.default_rng(7)
    m, shape = 5, (400, 3, 2, 5, 7)
    centre = g.normal(0, 1, shape)
    sigma = g.uniform(0.5, 2.0, shape)
    # truth and members drawn from the same distribution: reliable by construction
    y = centre + sigma * g.normal(0, 1, shape)
    x = centre + sigma * g.normal(0, 1, (m, *shape))
    em = _metrics()
    em.update(torch.from_numpy(x), torch.from_numpy(y))
    t = em.compute()
    ssr = _table_values(t, "spread_skill", "plain")[-1]
    assert np.all(np.abs(ssr - 1.0) < 0.02), ssr
    hist = np.stack([_table_values(t, f"rank_{r}", "plain")[-1] for r in range(m + 1)])
    assert np.all(np.abs(hist - 1 / (m + 1)) < 0.01), hist
    # an over-confident ensemble (members too close) has ssr < 1 and a U-shaped histogram
    em2 = _metrics()
    em2.update(torch.from_numpy(centre + 0.3 * (x - centre)), torch.from_numpy(y))
    t2 = em2.compute()
    assert np.all(_table_values(t2, "spread_skill", "plain")[-1] < 0.6)
    assert _table_values(t2, "rank_0", "plain")[-1, 0] > 2 / (m + 1)


def test_gaussian_scores_against_references() -> None:
    g = np.random.default_rng(5)
    shape = (6, 3, 2, 5, 7)
    mu, sd = g.normal(10, 3, shape), g.uniform(0.5, 3.0, shape)
    y = mu + sd * g.normal(0, 1, shape)
    valid = g.random(shape) > 0.3
    em = _metrics(thresholds={"b": [12.0]}, coverage=[0.8])
    t = [torch.from_numpy(v) for v in (mu, sd, y)]
    em.update_gaussian(*t, valid=torch.from_numpy(valid))
    table = em.compute()
    w = _weights(valid, lat=True)
    np.testing.assert_allclose(
        _table_values(table, "crps", "lat"),
        _mean_per_lead(ps.crps_gaussian(y, mu, sd), w),
        atol=1e-9,
    )
    np.testing.assert_allclose(
        _table_values(table, "nll", "lat"),
        _mean_per_lead(-stats.norm.logpdf(y, mu, sd), w),
        atol=1e-9,
    )
    lo, hi = stats.norm.ppf(0.1, mu, sd), stats.norm.ppf(0.9, mu, sd)
    inside = ((lo <= y) & (y <= hi)).astype(float)
    np.testing.assert_allclose(
        _table_values(table, "coverage_0.8", "lat"), _mean_per_lead(inside, w), atol=1e-9
    )
    p = stats.norm.sf(12.0, mu[:, :, 1:], sd[:, :, 1:])
    bs = (p - (y[:, :, 1:] > 12.0)) ** 2
    np.testing.assert_allclose(
        _table_values(table, "brier_gt_12", "lat", channels=("b",)),
        _mean_per_lead(bs, w[:, :, 1:]),
        atol=1e-9,
    )
    pit = stats.norm.cdf(y, mu, sd)
    for b in range(10):
        inbin = ((pit >= b / 10) & ((pit < (b + 1) / 10) | (b == 9))).astype(float)
        np.testing.assert_allclose(
            _table_values(table, f"pit_{b}", "lat"), _mean_per_lead(inbin, w), atol=1e-9
        )
    spread = np.sqrt(_mean_per_lead(sd**2, w))
    rmse = np.sqrt(_mean_per_lead((mu - y) ** 2, w))
    np.testing.assert_allclose(
        _table_values(table, "spread_skill", "lat"), spread / rmse, atol=1e-9
    )


def test_batches_add_up_to_the_whole() -> None:
    x, y, valid = _case()
    whole, parts = _metrics(thresholds={"a": [10.0]}), _metrics(thresholds={"a": [10.0]})
    args = [torch.from_numpy(v) for v in (x, y, valid)]
    whole.update(*args)
    parts.update(args[0][:, :1], args[1][:1], args[2][:1])
    other = _metrics(thresholds={"a": [10.0]})
    other.update(args[0][:, 1:], args[1][1:], args[2][1:])
    parts.merge(other)
    a, b = whole.compute().rows, parts.compute().rows
    assert [r["metric"] for r in a] == [r["metric"] for r in b]
    np.testing.assert_allclose([r["value"] for r in a], [r["value"] for r in b], rtol=1e-12)


def test_bad_input_is_refused_with_a_clear_error() -> None:
    x, y, _ = _case(m=3)
    em = _metrics()
    em.update(torch.from_numpy(x), torch.from_numpy(y))
    with pytest.raises(ValueError, match="3 members"):
        em.update(torch.from_numpy(x[:2]), torch.from_numpy(y))
    with pytest.raises(ValueError, match="gaussian"):
        em.update_gaussian(
            torch.from_numpy(y), torch.ones(y.shape, dtype=torch.float64), torch.from_numpy(y)
        )
    bad = x.copy()
    bad[1, 0, 0, 1, 2, 3] = np.nan
    with pytest.raises(ValueError, match=r"members.*\['b'\]"):
        _metrics().update(torch.from_numpy(bad), torch.from_numpy(y))
    with pytest.raises(ValueError, match="not a target channel"):
        _metrics(thresholds={"tec": [50.0]})
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        _metrics(coverage=[90])
    with pytest.raises(ValueError, match="M, B, T_out"):
        _metrics().update(torch.from_numpy(x[0]), torch.from_numpy(y))


# ---------------------------------------------------------------------------------------------
# two processes, gloo backend on CPU


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    try:
        x, y, valid = _case()
        shard = slice(0, 1) if rank == 0 else slice(1, 4)  # unequal shards
        em = _metrics(thresholds={"a": [10.0]})
        em.update(
            torch.from_numpy(x[:, shard]),
            torch.from_numpy(y[shard]),
            torch.from_numpy(valid[shard]),
        )
        em.all_reduce()
        if rank == 0:
            torch.save(em.state_dict(), os.path.join(out_dir, "reduced.pt"))
    finally:
        dist.destroy_process_group()


def test_two_process_all_reduce_equals_one_process(tmp_path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    reduced = _metrics(thresholds={"a": [10.0]})
    reduced.load_state_dict(torch.load(tmp_path / "reduced.pt", weights_only=True))
    x, y, valid = _case()
    single = _metrics(thresholds={"a": [10.0]})
    single.update(*[torch.from_numpy(v) for v in (x, y, valid)])
    got, want = reduced.compute().rows, single.compute().rows
    assert [(r["metric"], r["lead"]) for r in got] == [(r["metric"], r["lead"]) for r in want]
    np.testing.assert_allclose([r["value"] for r in got], [r["value"] for r in want], rtol=1e-12)
