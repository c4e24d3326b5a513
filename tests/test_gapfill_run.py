"""Gap-filling baselines (hand-worked) and the real t2m run (short) through the one pipeline.

The run tests were ``test_short_run_writes_table_and_figure_and_scores_match_numpy`` and
``test_cli_gapfill_rejects_bad_fraction`` on the removed ``gapfill/experiment.py`` loop; they
now drive ``geostl train --config configs/gapfill/t2m_gapfill_era5.yaml`` and ``geostl gapfill``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from geostl.cli import main
from geostl.datasets import sample
from geostl.engine import Trainer, load_checkpoint
from geostl.runconfig import load_config
from geostl.tasks import TASKS, ready_config
from geostl.tasks.gapfill import baselines, cloud_mask
from geostl.tasks.gapfill.data import build_gapfill_datasets
from geostl.tasks.gapfill.task import build_gapfill_model


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


CONFIG = Path(__file__).resolve().parents[1] / "configs" / "gapfill" / "t2m_gapfill_era5.yaml"
TINY = [
    "train.epochs=2",
    "train.max_steps_per_epoch=2",
    "train.batch_size=2",
    "data.train_windows=8",
]


def _train(tmp_path, name, extra=()):
    args = ["train", "--config", str(CONFIG), f"run.dir={tmp_path}", f"run.name={name}", *TINY]
    assert main([*args, *extra]) == 0
    return tmp_path / name


def _summary(run) -> dict:
    return json.loads((run / "metrics.json").read_text())["summary"]


@pytest.mark.slow
def test_config_run_writes_checkpoints_metrics_and_scores_match_numpy(tmp_path) -> None:
    run = _train(tmp_path, "r")
    for name in ("best.pt", "last.pt", "metrics.json", "metrics.md", "config.yaml"):
        assert (run / name).is_file(), name
    assert (run / "gapfill_maps.png").read_bytes()[:4] == b"\x89PNG"
    ckpt = load_checkpoint(run / "last.pt")
    assert ckpt["progress"]["global_step"] == 4  # fixed steps: epochs x max_steps_per_epoch
    table = _summary(run)
    assert table["index"] == [
        "model",
        "observed mean (clim. where none)",
        "climatology",
        "observed + hourly clim. fill",
    ]
    assert (run / "metrics.md").read_text().startswith("# Test metrics of")
    # independent float64 recomputation of the hybrid baseline's RMSE on gapped pixel-days
    cfg = load_config(CONFIG, spec=TASKS.get("gapfill").spec)
    d = cfg["data"]
    t2m = sample("t2m")["t2m"].values[:, :32, :48].astype(np.float64).reshape(31, 24, 32, 48)
    mask = cloud_mask((744, 32, 48), d["fraction"], tuple(d["scale"]), cfg["train"]["seed"])
    mask = mask.reshape(31, 24, 32, 48)
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
    # geostl test --ckpt reproduces every number (the test mask is fixed by train.seed)
    assert main(["test", "--ckpt", str(run / "best.pt"), "--out", str(tmp_path / "t")]) == 0
    again = _summary(tmp_path / "t")
    np.testing.assert_allclose(again["values"], table["values"], rtol=1e-9, atol=0)
    full = json.loads((run / "metrics.json").read_text())["tables"]
    redo = json.loads((tmp_path / "t" / "metrics.json").read_text())["tables"]
    assert redo == full


@pytest.mark.slow
def test_resume_continues_to_the_uninterrupted_weights(tmp_path) -> None:
    whole = _train(tmp_path, "whole", ["eval.figures=false"])
    # the same run interrupted after its first epoch, then resumed from the CLI
    task = TASKS.get("gapfill")
    overrides = [f"run.dir={tmp_path}", "run.name=cut", "eval.figures=false", *TINY]
    cfg = load_config(CONFIG, overrides, spec=task.spec)
    torch.manual_seed(cfg["train"]["seed"])
    _, datasets = build_gapfill_datasets(cfg["data"], cfg["train"]["seed"])
    model = build_gapfill_model(cfg["model"], cfg["data"])
    cut = tmp_path / "cut"
    Trainer(model, datasets, cfg["train"], None, cut, cfg).fit(stop_after_epochs=1)
    assert load_checkpoint(cut / "last.pt")["progress"]["global_step"] == 2
    _train(tmp_path, "cut", ["eval.figures=false", "--resume", str(cut / "last.pt")])
    a = load_checkpoint(whole / "last.pt")["model"]["state_dict"]
    b = load_checkpoint(cut / "last.pt")["model"]["state_dict"]
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    np.testing.assert_allclose(_summary(cut)["values"], _summary(whole)["values"], rtol=1e-9)


def test_ready_config_is_shipped_and_steps_are_fixed() -> None:
    path = ready_config("gapfill/t2m_gapfill_era5.yaml")
    assert path.read_text() == CONFIG.read_text()
    cfg = load_config(path, spec=TASKS.get("gapfill").spec)
    assert cfg["task"] == "gapfill" and cfg["train"]["max_minutes"] is None
    assert cfg["train"]["epochs"] * cfg["train"]["max_steps_per_epoch"] == 1200


def test_config_errors_name_the_key(tmp_path, capsys) -> None:
    assert main(["gapfill", "--out", str(tmp_path / "g"), "--fraction", "1.5"]) == 2
    assert "data.fraction" in capsys.readouterr().err
    bad = ["data.splits.val=[10, 24]"]  # overlaps the train days
    assert main(["gapfill", "--out", str(tmp_path / "g"), *bad]) == 2
    assert "data.splits.val" in capsys.readouterr().err
    assert main(["gapfill", "--out", str(tmp_path / "g"), "train.max_steps_per_epoch="]) == 2
    assert "train.max_steps_per_epoch" in capsys.readouterr().err
    assert main(["gapfill", "--out", str(tmp_path / "g"), "data.tiles=[8, 8]"]) == 2
    assert "data.tiles" in capsys.readouterr().err


@pytest.mark.slow
def test_val_and_test_windows_are_chronological_and_fixed() -> None:
    cfg = load_config(CONFIG, ["data.train_windows=5"], spec=TASKS.get("gapfill").spec)
    field, ds = build_gapfill_datasets(cfg["data"], 0)
    assert len(ds["val"]) == len(ds["test"]) == 6  # one 7-day block x six 16 x 16 tiles
    assert set(ds["val"].starts.tolist()) == {17} and set(ds["test"].starts.tolist()) == {24}
    assert int(ds["train"].starts.max()) + 7 <= 17  # training windows end by 17 March
    a, b = ds["test"][3], ds["test"][3]
    assert torch.equal(a["missing"], b["missing"]) and not bool(a["padded"].any())
    assert torch.equal(a["inputs"][a["missing"]], torch.zeros(int(a["missing"].sum())))
    x = ds["train"][0]
    assert x["inputs"].shape == (1, 7, 24, 16, 16) and x["targets"].shape == (7, 16, 16)
    # the targets are the normalised true daily means of all 24 hours
    t2m = sample("t2m")["t2m"].values[:, :32, :48].astype(np.float64)
    daily = t2m.reshape(31, 24, 32, 48).mean(axis=1)
    t, d = int(x["tile"]), int(x["day"])
    r, c = divmod(t, 3)
    ref = (daily[d : d + 7, 16 * r : 16 * r + 16, 16 * c : 16 * c + 16] - field.mean) / field.std
    np.testing.assert_allclose(x["targets"].numpy(), ref, rtol=1e-5, atol=1e-5)
