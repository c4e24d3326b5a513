"""``geostl grid`` end to end on the built-in TEC sample: two tiny cells trained for one step,
scored, tabulated, and a rerun that trains nothing. The grid's scores are checked against the
run's own evaluation (geostl.engine.evaluate -> metrics.json), a separate code path."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from geostl.cli import main
from geostl.engine import build_model_from_checkpoint
from geostl.models import FUSIONS, count_parameters

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
FUSION = "mixer" if "mixer" in FUSIONS else "concat"

GRID = f"""
_base_: {REPO / "configs" / "tec_convlstm.yaml"}
data: {{schema: {{static: []}}}}
train: {{epochs: 1, max_steps_per_epoch: 1, batch_size: 2, max_minutes: null}}
eval: {{baselines: [persistence]}}
grid:
  backbones:
    convlstm: {{num_hidden: [4]}}
  fusions: [{FUSION}]
  channels: [1, 4]
  future_forcings: [oracle]
  regimes:
    lsa: {{source: omni, variable: f107, below: 100}}
    storm: {{driver: dst, below: -50, reduce: min}}
  throughput: {{batch_size: 2, warmup: 0, batches: 1}}
"""


def _metric(run: Path, metric: str, weighting: str) -> float:
    rows = json.loads((run / "metrics.json").read_text())["tables"]["model"]["rows"]
    (value,) = [
        r["value"]
        for r in rows
        if r["metric"] == metric and r["lead"] == "all" and r["weighting"] == weighting
    ]
    return value


def test_grid_runs_tabulates_and_resumes(tmp_path: Path, capsys) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text(GRID + f"run: {{name: g, dir: {tmp_path / 'runs'}}}\n")
    assert main(["grid", "--config", str(path)]) == 0
    root = tmp_path / "runs" / "g"
    ids = ["convlstm-none-C1", f"convlstm-{FUSION}-C4-oracle"]
    with open(root / "table.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["cell"] for r in rows] == ids
    for row, cell in zip(rows, ids, strict=True):
        run = root / cell
        # the grid's scores equal the run's own test evaluation (metrics.json)
        assert float(row["rmse"]) == pytest.approx(_metric(run, "rmse", "lat"), rel=1e-9)
        assert float(row["mse"]) == pytest.approx(_metric(run, "mse", "plain"), rel=1e-9)
        model = build_model_from_checkpoint(run / "best.pt")
        assert float(row["params_M"]) * 1e6 == pytest.approx(count_parameters(model))
        assert float(row["macs_G"]) > 0 and float(row["throughput_seq_per_s"]) > 0
        # every test window is low solar activity, none is a storm: kept as n = 0
        assert row["n_lsa"] == "10" and float(row["mae_lsa"]) > 0
        assert row["n_storm"] == "0" and row["mae_storm"] == ""
    one, four = rows
    assert one["fusion"] == "none" and one["policy"] == "" and one["oracle"] == "False"
    assert four["policy"] == "oracle" and four["future_observed_fed"] == "True"
    assert float(four["params_M"]) > float(one["params_M"])  # a wider first layer
    rmse1, rmse4 = float(one["rmse"]), float(four["rmse"])
    assert float(four["gain"]) == pytest.approx((rmse1 - rmse4) / rmse1)
    md = (root / "table.md").read_text()
    assert "| oracle* |" in md and "n/a (n=0)" in md
    cell = json.loads((root / ids[1] / "cell.json").read_text())
    assert cell["forcings"] == ["kp", "dst", "f107"]

    stamps = {i: [(root / i / n).stat().st_mtime_ns for n in ("best.pt", "cell.json")] for i in ids}
    capsys.readouterr()
    assert main(["grid", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert all(f"{i}: done" in out for i in ids) and "trained" not in out
    assert stamps == {
        i: [(root / i / n).stat().st_mtime_ns for n in ("best.pt", "cell.json")] for i in ids
    }
