"""Learning-rate trajectories against closed-form formulas, stepped per iteration."""

from __future__ import annotations

import math

import pytest
import torch

from geostl.engine import TrainConfig, build_optimizer, build_scheduler


def _trajectory(cfg: TrainConfig, steps_per_epoch: int) -> list[float]:
    model = torch.nn.Linear(3, 2)
    opt = build_optimizer(model.parameters(), cfg)
    sched = build_scheduler(opt, cfg, steps_per_epoch)
    lrs = []
    for _ in range(cfg.epochs * steps_per_epoch):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def _cos_anneal(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (1.0 + math.cos(math.pi * pct))


def test_onecycle_trajectory():
    cfg = TrainConfig.from_dict({"epochs": 4, "lr": 0.01, "schedule": "onecycle"})
    n = 4 * 5
    lr0, lrmax = 0.01 / 25.0, 0.01
    lrmin = lr0 / 1e4
    peak = 0.3 * n - 1  # OneCycleLR: the rising phase ends at step pct_start * N - 1
    expected = [
        _cos_anneal(lr0, lrmax, s / peak) if s <= peak
        else _cos_anneal(lrmax, lrmin, (s - peak) / (n - 1 - peak))
        for s in range(n)
    ]  # fmt: skip
    lrs = _trajectory(cfg, 5)
    assert lrs == pytest.approx(expected, rel=1e-9)
    assert max(lrs) == pytest.approx(0.01) and lrs[-1] == pytest.approx(lrmin)


def test_onecycle_warmup_steps_set_the_rising_phase():
    cfg = TrainConfig.from_dict({"epochs": 2, "lr": 0.1, "warmup_steps": 4})
    lrs = _trajectory(cfg, 10)
    assert int(torch.tensor(lrs).argmax()) == 3  # peak at step warmup - 1


def test_cosine_with_linear_warmup():
    cfg = TrainConfig.from_dict(
        {"epochs": 3, "lr": 0.2, "schedule": "cosine", "warmup_steps": 4, "optimizer": "adamw"}
    )
    n, w = 3 * 7, 4
    expected = [
        0.2 * (s + 1) / w if s < w else 0.2 * 0.5 * (1 + math.cos(math.pi * (s - w) / (n - w)))
        for s in range(n)
    ]
    assert _trajectory(cfg, 7) == pytest.approx(expected, rel=1e-12)
    assert expected[:4] == pytest.approx([0.05, 0.1, 0.15, 0.2])


def test_constant_with_and_without_warmup():
    cfg = TrainConfig.from_dict({"epochs": 2, "lr": 0.3, "schedule": "constant"})
    assert _trajectory(cfg, 3) == pytest.approx([0.3] * 6)
    cfg = TrainConfig.from_dict({"epochs": 2, "lr": 0.3, "schedule": "constant", "warmup_steps": 2})
    assert _trajectory(cfg, 3) == pytest.approx([0.15, 0.3, 0.3, 0.3, 0.3, 0.3])


def test_warmup_longer_than_training_is_an_error():
    cfg = TrainConfig.from_dict({"epochs": 1, "schedule": "cosine", "warmup_steps": 5})
    with pytest.raises(ValueError, match="train.warmup_steps"):
        _trajectory(cfg, 5)


def test_warmup_epochs_last_that_many_epochs_of_steps():
    # OpenSTL's warmup_epoch: 2 warm-up epochs of 5 steps = 10 warm-up steps, then cosine
    cfg = TrainConfig.from_dict({"epochs": 6, "lr": 0.4, "schedule": "cosine", "warmup_epochs": 2})
    n, w = 6 * 5, 10
    expected = [
        0.4 * (s + 1) / w if s < w else 0.4 * 0.5 * (1 + math.cos(math.pi * (s - w) / (n - w)))
        for s in range(n)
    ]
    assert _trajectory(cfg, 5) == pytest.approx(expected, rel=1e-12)
    assert max(_trajectory(cfg, 5)) == pytest.approx(0.4)


def test_warmup_steps_and_epochs_together_are_an_error():
    with pytest.raises(ValueError, match="train.warmup_steps and train.warmup_epochs"):
        TrainConfig.from_dict({"warmup_steps": 3, "warmup_epochs": 1})
