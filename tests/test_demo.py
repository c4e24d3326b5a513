"""The built-in demo end to end (a very short training), checked against independent NumPy."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from geostl.cli import main
from geostl.commands.demo import DEMO_RUN_CONFIG, TEC_DEMO_CONFIG
from geostl.engine import lead_labels

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "demo"
    # a budget this small stops after the first training step; the outputs are all written
    assert main(["demo", "--out", str(out), "--minutes", "0.01"]) == 0
    return out


def test_demo_writes_every_output(demo_dir):
    expected = (
        "config.yaml train.log best.pt last.pt epochs.jsonl epochs.csv metrics.json metrics.md "
        "rmse_by_lead.png forecast_maps.png forecast.gif forecast.nc"
    ).split()
    for name in expected:
        assert (demo_dir / name).stat().st_size > 0, name
    report = json.loads((demo_dir / "metrics.json").read_text())
    assert set(report["tables"]) == {"model", "persistence", "sun-fixed persistence", "climatology"}
    assert report["future_forcings"] == "known"
    assert "+3 h" in (demo_dir / "metrics.md").read_text()


def test_demo_forecast_netcdf_has_the_input_grid(demo_dir):
    maps = xr.open_dataset(demo_dir / "forecast.nc")
    from geostl.datasets import sample

    tec = sample("tec")
    np.testing.assert_array_equal(maps["lat"].values, tec["lat"].values)  # padding removed
    np.testing.assert_array_equal(maps["lon"].values, tec["lon"].values)
    t_out = TEC_DEMO_CONFIG["window"]["t_out"]
    assert maps["tec"].dims == ("init_time", "lead_time", "lat", "lon")
    assert maps.sizes["lead_time"] == t_out and maps["tec"].attrs["units"] == "1e16 m-2"
    assert maps["tec"].attrs["units_common_name"] == "TECU"  # CF files spell TECU for UDUNITS
    leads = maps["lead_time"].values.astype("timedelta64[m]").astype(int)
    np.testing.assert_array_equal(leads, 15 * np.arange(1, t_out + 1))
    first_init = np.datetime64(TEC_DEMO_CONFIG["splits"]["test"]["start"]) + np.timedelta64(
        15 * (TEC_DEMO_CONFIG["window"]["t_in"] - 1), "m"
    )
    assert maps["init_time"].values[0] == first_init
    assert np.isfinite(maps["tec"].values).all()


def _rmse(report, forecast, lead):
    rows = report["tables"][forecast]["rows"]
    (value,) = [
        r["value"]
        for r in rows
        if r["metric"] == "rmse" and r["lead"] == lead and r["weighting"] == "lat"
    ]
    return value


@pytest.mark.shared_files(
    "tec/uqrg_2019-04-25_to_2019-04-26_15min.nc",
    what="UQRG 15-min TEC maps as NetCDF",
)
def test_demo_persistence_matches_independent_numpy(demo_dir, shared_data):
    """Persistence RMSE recomputed from the independent NetCDF conversion of the same maps."""
    ds = xr.open_dataset(shared_data / "tec" / "uqrg_2019-04-25_to_2019-04-26_15min.nc")
    tec = ds["tec"].values.astype(np.float64)
    times = ds["time"].values
    split = TEC_DEMO_CONFIG["splits"]["test"]
    t_in, t_out = TEC_DEMO_CONFIG["window"]["t_in"], TEC_DEMO_CONFIG["window"]["t_out"]
    inside = (times >= np.datetime64(split["start"])) & (times < np.datetime64(split["end"]))
    starts = [s for s in range(len(times) - t_in - t_out + 1) if inside[s : s + t_in + t_out].all()]
    w = np.cos(np.deg2rad(ds["lat"].values))[:, None] * np.ones(ds.sizes["lon"])
    w[:, -1] = 0.0  # 180 E repeats -180 E
    report = json.loads((demo_dir / "metrics.json").read_text())
    for k in (1, 6, 12):
        err = [(tec[s + t_in - 1] - tec[s + t_in - 1 + k]) ** 2 for s in starts]
        expected = np.sqrt(np.sum([(e * w).sum() for e in err]) / (w.sum() * len(err)))
        label = lead_labels(15.0, t_out)[k - 1]
        assert _rmse(report, "persistence", label) == pytest.approx(expected, rel=1e-6)
    # the Sun-fixed frame must beat plain persistence clearly at 3 hours
    ratio = _rmse(report, "persistence", "+3 h") / _rmse(report, "sun-fixed persistence", "+3 h")
    assert ratio > 1.5


def test_demo_config_is_the_shipped_yaml(tmp_path):
    """configs/tec_convlstm.yaml and the demo train the same model on the same data."""
    from pathlib import Path

    from geostl.runconfig import load_config

    path = Path(__file__).resolve().parents[1] / "configs" / "tec_convlstm.yaml"
    cfg = load_config([path])
    assert cfg["data"] == {**cfg["data"], **DEMO_RUN_CONFIG["data"]}
    assert cfg["model"]["backbone"] == DEMO_RUN_CONFIG["model"]["backbone"]
    for key, value in DEMO_RUN_CONFIG["train"].items():
        if isinstance(value, dict):  # the loader fills the keys the demo leaves at default
            assert {k: cfg["train"][key][k] for k in value} == value, key
        else:
            assert cfg["train"][key] == value, key
    for key in ("residual", "frame", "fusion", "baseline"):
        assert cfg["model"][key] == DEMO_RUN_CONFIG["model"][key], key


def test_geostl_test_reproduces_the_runs_metrics(demo_dir, tmp_path):
    """`geostl test --ckpt` needs only the checkpoint and gives the numbers of the run."""
    out = tmp_path / "again"
    assert main(["test", "--ckpt", str(demo_dir / "best.pt"), "--out", str(out)]) == 0
    first = json.loads((demo_dir / "metrics.json").read_text())["tables"]
    again = json.loads((out / "metrics.json").read_text())["tables"]
    assert first == again
    assert (out / "forecast_maps.png").stat().st_size > 0


def test_geostl_test_takes_eval_overrides_only(demo_dir, tmp_path, capsys):
    """`geostl test --ckpt X eval.KEY=VALUE`: another evaluation of the same model; model and
    data settings cannot change at test time."""
    out = tmp_path / "persistence_only"
    ckpt = str(demo_dir / "best.pt")
    args = ["test", "--ckpt", ckpt, "--out", str(out), "eval.baselines=[persistence]"]
    assert main(args + ["eval.batch_size=3"]) == 0
    first = json.loads((demo_dir / "metrics.json").read_text())["tables"]
    again = json.loads((out / "metrics.json").read_text())["tables"]
    assert set(again) == {"model", "persistence"}

    # the model's errors do not depend on the batch size (sums in float64)
    def errors(table):
        return {
            (r["metric"], r["channel"], r["lead"], r["weighting"]): r["value"]
            for r in table["rows"]
            if not r["metric"].startswith("skill")
        }

    expected, got = errors(first["model"]), errors(again["model"])
    assert set(got) == set(expected) and len(got) > 10
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    assert not [r for r in again["model"]["rows"] if r["metric"] == "skill_climatology"]
    capsys.readouterr()
    for bad, message in (("train.lr=1", "only eval.* settings"), ("eval.batch_size=0", "batch")):
        assert main(["test", "--ckpt", ckpt, "--out", str(out), bad]) == 2
        assert message in capsys.readouterr().err


def test_geostl_predict_writes_the_split_asked_for(demo_dir, tmp_path):
    out = tmp_path / "val.nc"
    assert (
        main(["predict", "--ckpt", str(demo_dir / "best.pt"), "--out", str(out), "--split", "val"])
        == 0
    )
    val = xr.open_dataset(out)
    split = TEC_DEMO_CONFIG["splits"]["val"]
    assert val["init_time"].values[0] >= np.datetime64(split["start"])
    assert val["valid_time"].values.max() < np.datetime64(split["end"])


def test_geostl_train_config_errors_exit_with_the_key(tmp_path, capsys):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "configs" / "tec_convlstm.yaml"
    assert main(["train", "--config", str(path), "train.lrr=1e-3"]) == 2
    err = capsys.readouterr().err
    assert "train.lrr" in err and "lr" in err
    assert main(["train", "--config", str(path), "train.epochs=many"]) == 2
    assert "train.epochs" in capsys.readouterr().err
