"""The Table 1 layout: gain by hand, Markdown / CSV / JSON written and read back."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from geostl.commands.grid import Regime, gains, table_rows, write_tables
from geostl.commands.grid.table import table_notes
from geostl.data.schema import ForcingSpec

LSA = Regime(
    "lsa",
    ForcingSpec("f107", "observed", source="omni", variable="f107", align="previous_complete"),
    "grid.regimes.lsa",
    below=100.0,
)
STORM = Regime(
    "storm",
    ForcingSpec("dst", "observed", source="omni", variable="dst", align="previous_complete"),
    "grid.regimes.storm",
    below=-50.0,
    reduce="min",
)


def result(backbone, fusion, c, policy, rmse, lsa=(0.9, 10), storm=(None, 0), observed=None):
    """A cell.json-shaped result with made-up scores."""
    return {
        "cell": f"{backbone}-{fusion}-C{c}" + ("" if policy is None else f"-{policy}"),
        "backbone": backbone,
        "backbone_name": backbone,
        "fusion": fusion,
        "channels": c,
        "policy": policy,
        "uses_future_observed": policy == "oracle" if observed is None else observed,
        "scores": {
            "units": "TECU",
            "n_windows": 10,
            "mse": rmse**2 * 0.9,
            "rmse": rmse,
            "mae": lsa[0],
            "regimes": {
                "lsa": {"n_windows": lsa[1], "mae": lsa[0], "rmse": rmse},
                "storm": {"n_windows": storm[1], "mae": storm[0], "rmse": None},
            },
        },
        "regime_units": {"lsa": "sfu", "storm": "nT"},
        "complexity": {
            "params": 15_080_000 + 10_000 * c,
            "macs": 2_000_000_000 + c,
            "infer_seq_per_s": 12.5,
            "device": "cpu",
            "device_name": "x86_64",
            "threads": 2,
            "batch_size": 8,
            "warmup": 1,
            "batches": 3,
        },
    }


RESULTS = [
    result("convlstm", "none", 1, None, 2.71),
    result("convlstm", "concat", 16, "known", 2.50),
    result("convlstm", "concat", 16, "oracle", 2.26),
    result("simvp", "none", 1, None, 2.38),
    result("simvp", "concat", 4, "oracle", 2.40, observed=False),
]


def test_gain_against_the_seed_example() -> None:
    g = gains(RESULTS)
    # the seed's ConvLSTM mixer-16 example: (2.71 - 2.26) / 2.71 = 16.6 %
    assert g["convlstm-concat-C16-oracle"] == pytest.approx(0.45 / 2.71)
    assert round(100 * g["convlstm-concat-C16-oracle"], 1) == 16.6
    assert g["convlstm-concat-C16-known"] == pytest.approx((2.71 - 2.50) / 2.71)
    assert g["convlstm-none-C1"] == 0.0
    # each backbone against its own 1-channel run: worse than it = negative gain
    assert g["simvp-concat-C4-oracle"] == pytest.approx((2.38 - 2.40) / 2.38)
    # no 1-channel run of that backbone: no gain, not a made-up one
    assert gains(RESULTS[1:3])["convlstm-concat-C16-known"] is None
    notes = table_notes(RESULTS[1:], [], [], ["tec"], "[a, b)", "runs/g")
    assert any(n.startswith("gain n/a for convlstm: no finished C = 1 run") for n in notes)
    assert not any("gain n/a" in n for n in table_notes(RESULTS, [], [], ["tec"], "", ""))


def test_tables_written_and_read_back(tmp_path: Path) -> None:
    notes = table_notes(
        RESULTS, [LSA, STORM], ["lon", "lat", "year"] + ["x"] * 12, ["tec"], "[a, b)", str(tmp_path)
    )
    failures = {"simvp-concat-C16-known": "RuntimeError: out of memory"}
    paths = write_tables(tmp_path, RESULTS, [LSA, STORM], notes, failures, "grid test")
    assert set(paths) == {"md", "csv", "json"}

    with open(paths["csv"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["cell"] for r in rows] == [r["cell"] for r in RESULTS]
    oracle = rows[2]
    assert oracle["policy"] == "oracle" and oracle["oracle"] == "True"
    assert float(oracle["rmse"]) == 2.26 and float(oracle["params_M"]) == pytest.approx(15.24)
    assert float(oracle["gain"]) == pytest.approx(0.45 / 2.71)
    assert float(oracle["macs_G"]) == pytest.approx(2.000000016)
    # the empty regime is kept: no score, zero windows
    assert oracle["mae_storm"] == "" and oracle["n_storm"] == "0"
    assert float(oracle["mae_lsa"]) == 0.9 and oracle["n_lsa"] == "10"
    assert rows[0]["policy"] == "" and rows[0]["fusion"] == "none"

    doc = json.loads(paths["json"].read_text())
    assert doc["rows"] == table_rows(RESULTS, ["lsa", "storm"])
    assert doc["failures"] == failures and doc["units"] == "TECU"

    md = paths["md"].read_text()
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == [
        "backbone", "fusion", "C", "policy", "Param (M)", "MACs (G)", "throughput (seq/s)",
        "MSE (TECU²)", "MAE lsa (TECU)", "MAE storm (TECU)", "RMSE (TECU)", "gain",
    ]  # fmt: skip
    body = [[c.strip() for c in line.strip("|").split("|")] for line in lines[1:]]
    assert len(body) == len(RESULTS)
    assert body[0][3] == "—" and body[0][-1] == "—"
    assert body[2][3] == "oracle*" and body[2][-1] == "+16.6 %"
    assert body[1][3] == "known" and body[4][-1] == "-0.8 %"
    assert body[2][8] == "0.900 (n=10)" and body[2][9] == "n/a (n=0)"
    assert body[2][10] == "2.260"
    assert "## Failed cells" in md and "simvp-concat-C16-known: RuntimeError" in md
    assert "oracle*: the true future values of EVERY forcing" in md
    # an oracle run that fed no observed driver is named as the same run as known
    assert "simvp-concat-C4-oracle" in md.split("Oracle rows whose forcings")[1]
    assert (
        "regime storm: omni:dst (align previous_complete) minimum over the forecast < -50 nT" in md
    )
    assert "C=16: tec, lon, lat, year" in md


def test_mse_note_speaks_of_tec_only_for_tec_grids() -> None:
    tec = " ".join(table_notes(RESULTS, [], [], ["tec"], "", ""))
    assert "TEC / 200 TECU" in tec and "(TECU²)" in tec
    kelvin = [dict(r, scores=dict(r["scores"], units="K")) for r in RESULTS]
    t2m = " ".join(table_notes(kelvin, [], [], ["t2m"], "", ""))
    assert "TEC" not in t2m and "MSE (K²)" in t2m and "RMSE (K)" in t2m
