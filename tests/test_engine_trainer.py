"""Trainer: exact resume, logs, checkpoints, early stopping, time budget, falling loss."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch

from engine_toy import tec_datasets, tiny_model
from geostl.engine import Trainer, load_checkpoint, validation_loss
from geostl.engine.schedule import build_scheduler

TRAIN = {
    "epochs": 3,
    "batch_size": 4,
    "val_batch_size": 8,
    "max_steps_per_epoch": 3,
    "lr": 0.003,
    "grad_clip": 1.0,
    "seed": 7,
    "scheduled_sampling": {"start": 1.0, "decay_per_step": 0.15, "min": 0.1},
}


def _run(tmp, name, train=TRAIN, stop_after=None, resume=None, seed=0):
    ds, _, data_cfg = tec_datasets(t_out=4)
    model = tiny_model(ds["train"], seed=seed, dropout=0.3, aux=0.1)
    trainer = Trainer(
        model, ds, train, {}, tmp / name, {"data": data_cfg}, progress=False, resume=resume
    )
    summary = trainer.fit(stop_after_epochs=stop_after)
    return model, summary


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """The uninterrupted reference run (shared by the resume tests)."""
    return _run(tmp_path_factory.mktemp("full"), "full")


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def test_resume_after_an_epoch_is_bit_identical(tmp_path, full_run):
    full, s_full = full_run
    part, s_part = _run(tmp_path, "part", stop_after=1)
    assert s_part["stop_reason"] == "stop_after_epochs" and s_part["epochs_completed"] == 1
    assert not _same_weights(full, part)
    # a fresh model with other initial weights, resumed from the interrupted run's last.pt
    resumed, s_res = _run(tmp_path, "part", resume=tmp_path / "part" / "last.pt", seed=123)
    assert _same_weights(full, resumed)
    assert [r["val_loss"] for r in s_res["history"]] == [r["val_loss"] for r in s_full["history"]]
    a = load_checkpoint(tmp_path / "part" / "last.pt")["optimizer"]["state"]
    assert a and all(float(v["exp_avg_sq"].abs().sum()) > 0 for v in a.values())


def test_time_budget_stops_after_a_step_and_resume_continues_exactly(tmp_path, full_run):
    full, _ = full_run
    cut, s_cut = _run(tmp_path, "cut", train={**TRAIN, "max_minutes": 1e-9})
    assert s_cut["stop_reason"] == "max_minutes" and s_cut["global_step"] == 1
    assert s_cut["history"][-1]["complete"] is False
    resumed, s_res = _run(tmp_path, "cut", resume=tmp_path / "cut" / "last.pt", seed=5)
    assert s_res["global_step"] == 9 and _same_weights(full, resumed)


def test_logs_checkpoints_and_lr_per_iteration(tmp_path):
    _, summary = _run(tmp_path, "logs")
    run = tmp_path / "logs"
    rows = [json.loads(line) for line in (run / "epochs.jsonl").read_text().splitlines()]
    with open(run / "epochs.csv") as f:
        csv_rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == [1, 2, 3] and [r["step"] for r in rows] == [3, 6, 9]
    assert [float(r["val_loss"]) for r in csv_rows] == [r["val_loss"] for r in rows]
    # the logged lr is the OneCycle value after 3, 6, 9 iterations (per-iteration stepping)
    opt = torch.optim.Adam(torch.nn.Linear(1, 1).parameters())
    from geostl.engine import TrainConfig

    sched = build_scheduler(opt, TrainConfig.from_dict(TRAIN), 3)
    lrs = []
    for _ in range(9):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert [r["lr"] for r in rows] == pytest.approx([lrs[2], lrs[5], lrs[8]])
    # teacher forcing decays per step: 1 - 0.15 * (last step index of the epoch), floor 0.1
    assert [r["teacher_forcing"] for r in rows] == pytest.approx([0.7, 0.25, 0.1])
    best = load_checkpoint(run / "best.pt")
    assert best["progress"]["best_epoch"] == summary["best_epoch"]
    assert best["progress"]["best_metric"] == min(r["val_loss"] for r in rows)
    last = torch.load(run / "last.pt", weights_only=True)
    assert last["config"]["train"]["lr"] == 0.003 and last["data"]["units"] == {"tec": "TECU"}
    assert last["data"]["normaliser"]["channels"]["tec"]["scale"] == 200.0
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


def test_early_stopping_on_validation_loss(tmp_path):
    # lr so small nothing improves measurably after the first epoch; patience 1
    cfg = {**TRAIN, "epochs": 6, "lr": 1e-12, "early_stopping": 1, "schedule": "constant"}
    ds, _, _ = tec_datasets(t_out=4)
    model = tiny_model(ds["train"])
    summary = Trainer(model, ds, cfg, None, tmp_path / "es", progress=False).fit()
    vals = [r["val_loss"] for r in summary["history"]]
    assert summary["stop_reason"] == "early_stopping"
    # stops at the first epoch that did not improve on the best so far
    k = next(i for i in range(1, len(vals)) if vals[i] >= min(vals[:i]))
    assert len(vals) == k + 1 < 6


@pytest.mark.slow
def test_validation_loss_falls_on_the_tec_sample(tmp_path):
    """A tiny conv model trained for 20 steps on real TEC maps improves on the val split."""
    ds, _, _ = tec_datasets(t_out=4)
    model = tiny_model(ds["train"], seed=1, hidden=4)
    before = validation_loss(model, ds["val"], 8)
    cfg = {"epochs": 2, "batch_size": 4, "max_steps_per_epoch": 10, "lr": 0.003,
           "schedule": "constant", "scheduled_sampling": None}  # fmt: skip
    summary = Trainer(model, ds, cfg, None, tmp_path / "fall", progress=False).fit()
    after = validation_loss(model, ds["val"], 8)
    vals = [r["val_loss"] for r in summary["history"]]
    assert after == pytest.approx(vals[-1], rel=1e-12)
    assert after < 0.5 * before and vals[-1] < vals[0], (before, vals)
    assert math.isfinite(summary["best_val_loss"])
