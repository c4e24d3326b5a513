"""Per-variable pooled tables and the SVQ code usage written by a test evaluation, on small
files generated in the WeatherBench 5.625° layout (mv_4_4_s6: r, t, u, v × 150/500/850 hPa)."""

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

from geostl.commands.run import evaluate_and_report, prepare
from geostl.engine import EvalConfig, predict_windows
from geostl.engine.evaluate import evaluate_sums
from geostl.metrics.channel_groups import MEAN_OVER_VARIABLES, variable_groups
from geostl.models import build_forecaster, meta_from_dataset
from geostl.models.quantisers import code_usage
from geostl.runconfig.spec import RUN_SPEC, fill_defaults
from geostl.tasks.weatherbench.sets import weatherbench_data_section
from weatherbench_files import write_weatherbench

LEVELS = (150, 500, 850)
VARIABLES = ("r", "t", "u", "v")
CHANNELS = [f"{v}_{lv}" for v in VARIABLES for lv in LEVELS]
SVQ_OPTIONS = {"name": "svq", "codebook_size": 40, "hidden": 16}


def _config(root: Path, out: Path, quantiser: dict | None = None) -> dict:
    data = weatherbench_data_section(
        "mv_4_4_s6",
        str(root),
        years={"train": (2015, 2015), "val": (2016, 2016), "test": (2017, 2017)},
    )
    backbone = {"name": "simvp", "model_type": "gSTA", "hid_S": 4, "hid_T": 8, "N_S": 2,
                "N_T": 2}  # fmt: skip
    if quantiser:
        backbone["quantiser"] = quantiser
    cfg = {
        "run": {"name": "mv", "dir": str(out)},
        "data": data,
        "model": {"backbone": backbone},
        "train": {"epochs": 1, "max_steps_per_epoch": 1, "batch_size": 2, "device": "cpu"},
        # 2 batches: sums add up
        "eval": {"baselines": ["persistence"], "batch_size": 1, "codebook_usage": True},
    }
    return fill_defaults(cfg, RUN_SPEC)


@pytest.fixture(scope="module")
def mv_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wb")
    # 9 six-hourly steps a year: 2 windows of 4 -> 4 per split
    write_weatherbench(root, list(VARIABLES), [2015, 2016, 2017], hours=54, levels=LEVELS)
    return root


def _report(cfg: dict, out: Path):
    sources, datasets = prepare(cfg)
    torch.manual_seed(0)
    model = build_forecaster(cfg["model"], meta_from_dataset(datasets["train"]))
    evaluate_and_report(model, datasets, sources, cfg, out, "tiny", figures=False)
    return model, datasets["test"], json.loads((out / "metrics.json").read_text())


def _rows(table: dict) -> dict:
    return {(r["metric"], r["channel"], r["lead"], r["weighting"]): r["value"]
            for r in table["rows"]}  # fmt: skip


def test_pooled_tables_match_a_numpy_computation_from_the_predictions(
    mv_root: Path, tmp_path: Path, capsys
) -> None:
    cfg = _config(mv_root, tmp_path)
    model, test, metrics = _report(cfg, tmp_path / "report")
    assert metrics["variable_groups"] == {v: [f"{v}_{lv}" for lv in LEVELS] for v in VARIABLES}
    assert set(metrics["variables"]) == set(metrics["tables"]) == {"model", "persistence"}
    assert "codebook_usage" not in metrics  # no SVQ in this model
    pooled = _rows(metrics["variables"]["model"])
    assert metrics["variables"]["model"]["units"] == {"r": "%", "t": "K", "u": "m s**-1",
                                                      "v": "m s**-1"}  # fmt: skip
    assert "not OpenSTL's mean of the per-channel values" in metrics["variables"]["model"][
        "notes"]["rmse"]  # fmt: skip

    # independent float64 computation from the forecasts and the truth
    preds, truths = [], []
    # the truth as stored (evaluation does not score the float32 normalised samples)
    for batch, pred in predict_windows(model, test.with_physical_values(), batch_size=1):
        preds.append(pred.numpy())
        truths.append(batch["targets_physical"].double().numpy())
        assert bool(batch["target_mask"].all()) and bool(batch["input_mask"].all())
    err2 = (np.concatenate(preds) - np.concatenate(truths)) ** 2  # (N, T, C, H, W)
    coslat = np.cos(np.deg2rad(np.asarray(test.lat, dtype=np.float64)))
    leads = ["+6 h", "+12 h", "+18 h", "+24 h"]
    per_variable_rmse = {}
    for i, v in enumerate(VARIABLES):
        e = err2[:, :, 3 * i : 3 * i + 3]
        for weighting, w in (("plain", np.ones_like(coslat)), ("lat", coslat)):
            wf = np.broadcast_to(w[None, None, None, :, None], e.shape)
            for k, lead in enumerate(leads):
                mse = (wf[:, k] * e[:, k]).sum() / wf[:, k].sum()
                assert pooled[("mse", v, lead, weighting)] == pytest.approx(mse, rel=1e-9)
                assert pooled[("rmse", v, lead, weighting)] == pytest.approx(np.sqrt(mse), rel=1e-9)
            rmse_all = np.sqrt((wf * e).sum() / wf.sum())
            assert pooled[("rmse", v, "all", weighting)] == pytest.approx(rmse_all, rel=1e-9)
            per_variable_rmse[(v, weighting)] = rmse_all
            # pooled RMSE is not the mean of the levels' RMSEs (OpenSTL's per-channel mean)
            levels_rmse = [np.sqrt((wf[:, :, j] * e[:, :, j]).sum() / wf[:, :, j].sum())
                           for j in range(3)]  # fmt: skip
            assert abs(rmse_all - np.mean(levels_rmse)) > 1e-9 * rmse_all
    mean = _rows(metrics["mean_over_variables"]["model"])
    for weighting in ("plain", "lat"):
        expected = np.mean([per_variable_rmse[(v, weighting)] for v in VARIABLES])
        assert mean[("rmse", MEAN_OVER_VARIABLES, "all", weighting)] == pytest.approx(
            expected, rel=1e-9
        )
    # persistence misses by 0.01 per hour of lead in every channel (the generated fields)
    persistence = _rows(metrics["variables"]["persistence"])
    for k, lead in enumerate(leads):
        for v in VARIABLES:
            assert persistence[("rmse", v, lead, "lat")] == pytest.approx(0.06 * (k + 1), rel=2e-3)

    md = (tmp_path / "report" / "metrics.md").read_text()
    assert "## Per variable (pooled over levels)" in md and "## Per channel" in md
    assert "not OpenSTL's mean of the per-channel values" in md
    assert "rmse (lat) for r [%]" in md and "rmse (lat) for r_150 [%]" in md
    assert f"rmse (plain) for {MEAN_OVER_VARIABLES}" in md
    printed = capsys.readouterr().out
    assert "rmse (lat) for t [K]" in printed and "of r_150 on the test split" not in printed
    assert "12 per-channel tables are in" in printed


def test_svq_code_usage_over_the_test_windows(mv_root: Path, tmp_path: Path) -> None:
    cfg = _config(mv_root, tmp_path, SVQ_OPTIONS)
    model, test, metrics = _report(cfg, tmp_path / "report")
    (entry,) = metrics["codebook_usage"]
    svq = model.backbone.quantiser
    assert entry["module"].endswith("quantiser") and entry["codebook_size"] == 40
    # every test window once: windows x T_in frames x the 16 x 32 latent (one stride-2 layer)
    assert entry["vectors"] == len(test) * 4 * 16 * 32
    assert entry["calls"] == -(-len(test) // cfg["eval"]["batch_size"])
    # independent: the code weights of the same batches, standardised per batch
    weights = []
    handle = svq.register_forward_hook(lambda m, a, o: weights.append(o[1]["code_weights"]))
    try:
        for _ in predict_windows(model, test, batch_size=cfg["eval"]["batch_size"]):
            pass
    finally:
        handle.remove()
    for t in entry["thresholds"]:
        counts = sum(code_usage(w, t["n_sigma"]) for w in weights)
        assert t["codes_used"] == int((counts > 0).sum()) and t["uses"] == int(counts.sum())
    assert [t["n_sigma"] for t in entry["thresholds"]] == [2.0, 3.0]
    md = (tmp_path / "report" / "metrics.md").read_text()
    assert "## Codebook usage (SVQ)" in md and "| 2σ |" in md

    off = evaluate_sums(model, test, {"codebook_usage": False, "baselines": []})
    assert off.codebook_usage is None


def test_ungrouped_sets_get_no_variable_tables() -> None:
    assert variable_groups(["u10", "v10"]) is None
    assert variable_groups(["t2m"]) is None
    assert variable_groups(["z_500", "t2m", "z_850"], {"z_500": "m", "z_850": "m"}) == {
        "z": ["z_500", "z_850"], "t2m": ["t2m"]}  # fmt: skip
    with pytest.warns(UserWarning, match="mixes units"):
        assert variable_groups(["x_1", "x_2"], {"x_1": "m", "x_2": "K"}) is None
    assert not EvalConfig().codebook_usage  # off unless asked for, as the seed's evaluate_usage


@pytest.mark.slow
def test_two_process_gloo_pools_and_counts_like_one_process(mv_root: Path, tmp_path: Path) -> None:
    """Sharded over 2 ranks (gloo), the per-variable tables and the code usage (batch size 1:
    one window a call, so the per-call standardisation does not depend on the sharding) equal
    the single-process ones: pooling happens after the all-reduce, counts are all-reduced."""
    worker = Path(__file__).resolve().parent / "run_variables_ddp_worker.py"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1",
           "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", str(port),
           str(worker), str(mv_root), str(tmp_path)]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "terminate called" not in proc.stderr, proc.stderr[-3000:]
    ddp = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    _, _, single = _report(_config(mv_root, tmp_path, SVQ_OPTIONS), tmp_path / "single")
    assert ddp["codebook_usage"] == single["codebook_usage"]
    assert ddp["codebook_usage"][0]["calls"] == 2  # the 2 test windows, one per rank
    for key in ("variables", "mean_over_variables", "tables"):
        for name, table in single[key].items():
            mine, theirs = _rows(table), _rows(ddp[key][name])
            assert mine.keys() == theirs.keys()
            for row, value in mine.items():
                assert theirs[row] == pytest.approx(value, rel=1e-6, abs=1e-12), (key, row)
