"""evaluate / predict_windows against the demo's baselines and an independent NumPy score."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baseline_reference import evaluate_baselines
from baseline_reference import lead_labels as demo_lead_labels
from engine_toy import tec_datasets, tiny_model
from geostl.engine import evaluate, lead_labels, predict_windows


def _value(table, metric, lead, weighting="lat"):
    return table.value(metric, "tec", lead, weighting)


def test_lead_labels_follow_the_demo():
    assert lead_labels(15, 12) == demo_lead_labels(15, 12)
    assert lead_labels(60 * 24 * 30, 2) == ["+720 h", "+1440 h"]


def test_baselines_equal_the_demo_and_skill_is_consistent():
    ds, sources, _ = tec_datasets(t_out=12)
    model = tiny_model(ds["train"], seed=2)
    tables = evaluate(model, ds["test"], {"batch_size": 4}, sources, train=ds["train"])
    demo = evaluate_baselines(ds, sources)
    for name in ("persistence", "sun-fixed persistence", "climatology"):
        for lead in ("+15 min", "+3 h", "all"):
            assert _value(tables[name], "rmse", lead) == pytest.approx(
                _value(demo[name], "rmse", lead), rel=1e-12
            )
    for lead in ("+1 h", "all"):
        mse, pers = (_value(tables[n], "mse", lead) for n in ("model", "persistence"))
        skill = _value(tables["model"], "skill_persistence", lead)
        assert skill == pytest.approx(1.0 - mse / pers, rel=1e-9)


def test_model_rmse_against_independent_numpy():
    ds, sources, _ = tec_datasets(t_out=4)
    test = ds["test"]
    model = tiny_model(ds["train"], seed=4)
    tables = evaluate(model, test, {"batch_size": 3, "baselines": ["persistence"]})
    assert set(tables) == {"model", "persistence"}
    preds, truths, valids = [], [], []
    for batch, pred in predict_windows(model, test, batch_size=5):
        assert pred.dtype == torch.float64 and pred.shape == batch["targets"].shape
        preds.append(pred.numpy())
        truths.append(batch["targets"].double().numpy() * 200.0)  # fixed scaling TEC/200
        valids.append((batch["target_mask"] & batch["input_mask"][:, -1:]).numpy())
    p, y, v = (np.concatenate(a)[:, :, 0] for a in (preds, truths, valids))  # (N, T, H, W)
    lat, lon = np.asarray(test.lat), np.asarray(test.lon)
    w = np.cos(np.deg2rad(lat))[:, None] * np.ones(lon.size)
    w[:, -1] = 0.0  # 180 E repeats -180 E: counted once
    ww = v * w
    rmse = np.sqrt((ww * (p - y) ** 2).sum(axis=(0, 2, 3)) / ww.sum(axis=(0, 2, 3)))
    for k, lead in enumerate(lead_labels(15, 4)):
        assert _value(tables["model"], "rmse", lead) == pytest.approx(rmse[k], rel=1e-9)


def test_climatology_needs_sources_and_non_global_grid_drops_sun_fixed():
    ds, sources, _ = tec_datasets(t_out=4)
    model = tiny_model(ds["train"])
    with pytest.raises(ValueError, match="climatology.*sources"):
        evaluate(model, ds["test"], {"baselines": ["climatology"]})
    test = ds["test"]
    lon = test.lon
    try:
        test.lon = np.linspace(-20.0, 40.0, lon.size)  # a regional grid
        with pytest.warns(UserWarning, match="sun_fixed persistence left out"):
            tables = evaluate(model, test, {"baselines": ["persistence", "sun_fixed"]})
    finally:
        test.lon = lon
    assert set(tables) == {"model", "persistence"}


class _Constant(torch.nn.Module):
    """Forecasts one normalised value everywhere (TEC / 200 under the demo's fixed scaling)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    def forward(self, batch):
        return {"pred": torch.full_like(batch["targets"], self.value) + 0 * self.anchor}


def test_negative_tec_is_scored_as_written_zero():
    """A forecast of -1 TECU is written as 0 TECU; the tables score it so, and say how many."""
    from geostl.engine.evaluate import evaluate_sums

    ds, _, _ = tec_datasets(t_out=4)
    test = ds["test"]
    cfg = {"batch_size": 4, "baselines": ["persistence"]}
    negative = evaluate_sums(_Constant(-1.0 / 200.0), test, cfg)
    zero = evaluate_sums(_Constant(0.0), test, cfg)
    for lead in ("+15 min", "all"):
        for metric in ("rmse", "mae"):
            got = _value(negative.tables()["model"], metric, lead)
            assert got == pytest.approx(_value(zero.tables()["model"], metric, lead), rel=1e-12)
    windows, pixels = len(test), test.area_mask.numel()  # padded pixels are forecast too
    assert negative.clipped == {"tec": windows * 4 * pixels}
    assert zero.clipped == {"tec": 0}
    for _, pred in predict_windows(_Constant(-1.0 / 200.0), test, batch_size=8):
        assert float(pred.min()) == 0.0
