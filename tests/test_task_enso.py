"""The ENSO task through the one pipeline: windows, additive scores, train / test / resume / DDP.

The window-layout test and the real-sample checks (persistence recomputed from the CPC file,
the Earthformer route on the observed field) moved here from test_enso_experiment.py when
the experiment's own loop was replaced by the ``enso`` task.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from geostl import cli
from geostl.datasets import sample
from geostl.engine import Trainer, load_checkpoint
from geostl.runconfig import ConfigError, load_config
from geostl.tasks import TASKS, ready_config
from geostl.tasks.enso.dataset import build_enso_datasets
from geostl.tasks.enso.metrics import (
    c_nino34_m,
    c_nino34_wm,
    confusion_matrix,
    index_correlation,
    index_rmse,
)
from geostl.tasks.enso.scores import IndexSums, threshold_phase
from geostl.tasks.enso.windows import EnsoStats, make_windows

TINY = [
    "data.stride=4",
    "model.hidden=[2, 2, 4]",
    "model.trunk_channels=4",
    "model.embed=8",
    "model.head_hidden=8",
    "eval.figures=false",
]


def _cfg(tmp: Path, *more: str) -> dict:
    task = TASKS.get("enso")
    path = ready_config("enso/enso_convlstm_ersst.yaml")
    return load_config(path, [f"run.dir={tmp}", *TINY, *more], spec=task.spec)


def test_windows_layout_normalisation_and_land_zero() -> None:
    sst = np.arange(5 * 2 * 3, dtype=np.float64).reshape(5, 2, 3)  # (T, lat, lon)
    sst[:, 1, 2] = np.nan
    ocean = np.isfinite(sst).all(axis=0)
    stats = EnsoStats(sst_mean=10.0, sst_std=2.0, index_mean=1.0, index_std=0.5)
    index = np.array([1.0, 1.5, 2.0, 0.0, 1.0])
    phase = np.array([2, 0, 0, 1, 2])
    w = make_windows(sst, index, phase, np.array([0, 1]), 2, 2, stats, ocean)
    assert w.x.shape == (2, 2, 1, 3, 2)  # (N, T, C, lon, lat)
    assert w.x[1, 0, 0, 2, 0].item() == pytest.approx((sst[1, 0, 2] - 10) / 2)
    assert w.x[0, 1, 0, 2, 1].item() == 0.0  # land
    assert w.sst[0, 0, 1, 1].item() == pytest.approx((sst[2, 1, 1] - 10) / 2)
    np.testing.assert_allclose(w.index.numpy(), [[2.0, -2.0], [-2.0, 0.0]])
    np.testing.assert_array_equal(w.phase.numpy(), [[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="do not fit"):
        make_windows(sst, index, phase, np.array([2]), 2, 2, stats, ocean)


def test_index_sums_equal_the_whole_array_metrics_in_float64() -> None:
    rng = np.random.default_rng(3)
    pred, obs = rng.normal(size=(37, 5)), rng.normal(size=(37, 5)) + 0.3
    p_phase, t_phase = rng.integers(0, 3, size=(37, 5)), rng.integers(0, 3, size=(37, 5))
    sums = IndexSums(5)
    for a, b in ((0, 10), (10, 11), (11, 37)):  # uneven batches add up
        sums.update(*(torch.from_numpy(v[a:b]) for v in (pred, obs, p_phase, t_phase)))
    s = sums.scores()
    np.testing.assert_allclose(s["rmse_per_lead"], index_rmse(pred, obs), rtol=1e-12)
    corr = index_correlation(pred, obs)
    np.testing.assert_allclose(s["corr_per_lead"], corr, rtol=1e-12)
    assert s["c_nino34_m"] == pytest.approx(c_nino34_m(corr), rel=1e-12)
    assert s["c_nino34_wm"] == pytest.approx(c_nino34_wm(corr), rel=1e-12)
    np.testing.assert_array_equal(s["confusion"], confusion_matrix(p_phase, t_phase))
    np.testing.assert_allclose(s["phase_accuracy_per_lead"], (p_phase == t_phase).mean(0))


def test_threshold_phase_bounds_are_inclusive() -> None:
    got = threshold_phase(torch.tensor([0.5, 0.49, -0.5, -0.49, 2.0]))
    assert got.tolist() == [0, 2, 1, 2, 0]  # E, N, L, N, E


def test_splits_by_target_months_on_the_real_sample() -> None:
    cfg = _cfg(Path("unused"))
    sources = {"sst": sample("sst"), "indices": sample("sst_indices")}
    ds = build_enso_datasets(cfg["data"], sources)
    # 2010-01..2020-08 monthly; 6 inputs, 6 leads; every target month inside its split
    assert {k: len(v) for k, v in ds.items()} == {"train": 73, "val": 7, "test": 27}
    times = ds["test"].context.times
    first = ds["test"].tensors["first"].numpy()
    assert str(times[first[0]]) == "2018-01" and str(times[first[-1] + 5]) == "2020-08"
    assert str(times[ds["train"].tensors["first"].numpy()[-1] + 5]) == "2016-12"
    bad = dict(cfg["data"], splits={**cfg["data"]["splits"], "val": ["2016-06", "2017-12"]})
    with pytest.raises(ConfigError, match="overlap"):
        build_enso_datasets(bad, sources)
    with pytest.raises(ConfigError, match="needs a source 'indices'"):
        build_enso_datasets(cfg["data"], {"sst": sources["sst"]})


def test_enso_shortcut_trains_the_ready_config(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    seen = []
    task = dataclasses.replace(TASKS.get("enso"), train=lambda cfg, **kw: seen.append(cfg) or ".")
    monkeypatch.setitem(TASKS._tasks, "enso", task)
    args = cli.build_parser().parse_args(["enso", "--out", "runs/x", "--epochs", "2"])
    assert args.func(args) == 0
    cfg = seen[0]
    assert cfg["task"] == "enso" and cfg["run"] == {"name": "x", "dir": "runs"}
    assert cfg["train"]["epochs"] == 2 and cfg["train"]["seed"] == 777  # the ready config's


def _metrics(path: Path) -> dict:
    m = json.loads(path.read_text())
    m.pop("checkpoint")
    return m


def _close(a, b, where="metrics") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), where
    else:
        assert a == b, where


@pytest.mark.slow
def test_train_test_and_resume_through_the_pipeline(tmp_path: Path, monkeypatch) -> None:
    task = TASKS.get("enso")
    full = task.train(_cfg(tmp_path, "run.name=full", "train.epochs=2"))
    for name in ("best.pt", "last.pt", "metrics.json", "metrics.md", "config.yaml"):
        assert (full / name).stat().st_size > 0
    metrics = json.loads((full / "metrics.json").read_text())
    assert (metrics["n_train"], metrics["n_val"], metrics["n_test"]) == (73, 7, 27)
    # persistence lead 1, recomputed from the CPC file: month m-1's anomaly forecasts month m
    anom = sample("sst_indices")["nino34_anom"].sel(time=slice("2017-12", "2020-03")).values
    expected = np.sqrt(np.mean((anom[:-1] - anom[1:]) ** 2))
    assert metrics["methods"]["persistence"]["rmse_per_lead"][0] == pytest.approx(expected)
    assert np.array(metrics["methods"]["model"]["confusion"]).sum() == 27 * 6
    assert metrics["observed_field_nino34_lead1"]["corr"] > 0.9
    probs = metrics["methods"]["model"]["phase_probability"]  # the phase head's softmax
    for key in ("brier", "rps", "rps_reference", "rpss", "log_score", "p_true"):
        values = np.array([probs[key], *probs[f"{key}_per_lead"]], dtype=float)
        assert values.shape == (7,) and np.isfinite(values).all(), key
    assert 0 <= probs["brier"] <= 2 and 0 <= probs["rps"] <= 2
    for table in probs["reliability"]["phases"].values():
        assert sum(table["n"]) == 27 * 6

    # geostl test --ckpt reproduces the run's metrics from the checkpoint alone
    out = tmp_path / "retest"
    assert cli.main(["test", "--ckpt", str(full / "best.pt"), "--out", str(out)]) == 0
    _close(_metrics(full / "metrics.json"), _metrics(out / "metrics.json"))

    # a run killed after its first epoch and resumed ends bit-identical
    fit = Trainer.fit
    monkeypatch.setattr(Trainer, "fit", lambda self, stop_after_epochs=None: fit(self, 1))
    part = task.train(_cfg(tmp_path, "run.name=part", "train.epochs=2"))
    monkeypatch.setattr(Trainer, "fit", fit)
    assert load_checkpoint(part / "last.pt")["progress"]["epoch"] == 1
    config = tmp_path / "part.yaml"
    config.write_text((part / "config.yaml").read_text())
    cli.main(["train", "--config", str(config), "--resume", str(part / "last.pt")])
    a = load_checkpoint(full / "last.pt")["model"]["state_dict"]
    b = load_checkpoint(part / "last.pt")["model"]["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_gloo_run_scores_equal_a_single_process_test(tmp_path: Path) -> None:
    """torchrun, 2 gloo processes: training runs with gradients averaged over the ranks, and
    the test scores (sums over two disjoint shards, all-reduced) equal a single-process
    ``geostl test`` of the same checkpoint."""
    config = tmp_path / "enso.yaml"
    config.write_text(ready_config("enso/enso_convlstm_ersst.yaml").read_text())
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1",
           "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), "-m", "geostl.cli", "train", "--config",
           str(config), f"run.dir={tmp_path}", "run.name=enso", "train.epochs=1",
           *TINY]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "terminate called" not in done.stderr, done.stderr[-3000:]
    run = tmp_path / "enso"
    out = tmp_path / "single"
    assert cli.main(["test", "--ckpt", str(run / "best.pt"), "--out", str(out)]) == 0
    _close(_metrics(run / "metrics.json"), _metrics(out / "metrics.json"))


def test_predict_refuses_a_task_checkpoint_by_name(tmp_path: Path, capsys) -> None:
    from geostl.engine.checkpoint import save_checkpoint

    path = save_checkpoint(tmp_path / "best.pt", {"config": {"task": "enso"}})
    assert cli.main(["predict", "--ckpt", str(path), "--out", str(tmp_path / "x.nc")]) == 2
    assert "'enso' task checkpoint" in capsys.readouterr().err
