"""Gap-filling baselines (hand-worked) and the real t2m run (short)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geostl.cli import main
from geostl.datasets import sample
from geostl.tasks.gapfill import baselines, cloud_mask
from geostl.tasks.gapfill.experiment import GapfillRunConfig, run_t2m_gapfill


def test_baselines_hand_worked() -> None:
    # 2 periods x 3 steps at one pixel: [1, 2, 3] with step 1 missing, [4, 5, 6] with 0 missing
    values = np.array([[1.0, 99.0, 3.0], [np.nan, 5.0, 6.0]]).reshape(2, 3, 1, 1)
    observed = np.array([[True, False, True], [False, True, True]]).reshape(2, 3, 1, 1)
    np.testing.assert_allclose(baselines.observed_mean(values, observed).ravel(), [2.0, 5.5])
    # step climatology: step 0 -> 1, step 1 -> 5, step 2 -> (3 + 6) / 2
    clim = baselines.step_climatology(values, observed).ravel()
    np.testing.assert_allclose(clim, [1.0, 5.0, 4.5])
    np.testing.assert_allclose(baselines.climatology_mean(values, observed).ravel(), [3.5, 3.5])
    # fill: [1, 5, 3] -> 3; [1, 5, 6] -> 4
    hybrid = baselines.observed_or_climatology(values, observed).ravel()
    np.testing.assert_allclose(hybrid, [3.0, 4.0])
    none = np.zeros_like(observed)
    assert np.isnan(baselines.observed_mean(values, none)).all()
    with pytest.raises(ValueError, match="NaN"):
        baselines.observed_mean(values, np.ones_like(observed))


def test_short_run_writes_table_and_figure_and_scores_match_numpy(tmp_path) -> None:
    cfg = GapfillRunConfig(minutes=5.0, max_steps=2, batch=2)
    table_path = run_t2m_gapfill(tmp_path, cfg, log=lambda _: None)
    table = json.loads((tmp_path / "gapfill_table.json").read_text())
    assert table["index"] == [
        "model",
        "observed mean (clim. where none)",
        "climatology",
        "observed + hourly clim. fill",
    ]
    assert table_path.read_text().startswith("**t2m daily means")
    assert (tmp_path / "gapfill_maps.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "train.json").read_text())["steps"] == 2
    # independent float64 recomputation of the hybrid baseline's RMSE on gapped pixel-days
    t2m = sample("t2m")["t2m"].values[:, :32, :48].astype(np.float64).reshape(31, 24, 32, 48)
    mask = cloud_mask((744, 32, 48), cfg.fraction, cfg.scale, cfg.seed).reshape(31, 24, 32, 48)
    truth = t2m.mean(axis=1)[24:]
    filled = t2m.copy()
    for h in range(24):
        obs = ~mask[:, h]
        clim_h = (t2m[:, h] * obs).sum(axis=0) / obs.sum(axis=0)
        filled[:, h] = np.where(obs, t2m[:, h], clim_h)
    gapped = mask[24:].any(axis=1)
    err = (filled.mean(axis=1)[24:] - truth)[gapped]
    rmse = table["values"][3][table["columns"].index("rmse gapped")]
    assert rmse == pytest.approx(np.sqrt(np.mean(err**2)), rel=1e-9)
    model_rmse = table["values"][0][0]
    assert np.isfinite(model_rmse) and model_rmse > 0


def test_cli_gapfill_rejects_bad_fraction(tmp_path) -> None:
    with pytest.raises(ValueError, match="fraction"):
        main(["gapfill", "--out", str(tmp_path), "--fraction", "1.5", "--minutes", "0"])
