"""MetricTable / WideTable / compare_tables: round trips, pivots, comparisons."""

import csv
import json
import math

import pytest
import torch

from geostl.metrics import ForecastMetrics, MetricTable, WideTable, compare_tables


def _table(offset: float, leads=("+15 min", "+30 min")) -> MetricTable:
    """Constant error `offset` (+1 at the second lead) on a 2 x 3 grid, lat = [0, 60]."""
    pred = torch.zeros(2, 2, 1, 2, 3)
    pred[:, 0] = offset
    pred[:, 1] = offset + 1.0
    fm = ForecastMetrics(["tec"], list(leads), lat=[0.0, 60.0], units={"tec": "TECU"})
    fm.update(pred, torch.zeros_like(pred))
    return fm.compute()


def test_json_roundtrip_keeps_rows_notes_units_and_nan(tmp_path):
    t = MetricTable(
        [
            {"metric": "rmse", "channel": "t2m", "lead": 6, "weighting": "lat", "value": 1.5},
            {
                "metric": "acc",
                "channel": "t2m",
                "lead": "all",
                "weighting": "lat",
                "value": math.nan,
            },
        ],
        notes={"rmse": "sqrt of pooled MSE"},
        units={"t2m": "K"},
        metric_units={"rmse": "{u}", "acc": "1"},
    )
    path = tmp_path / "m.json"
    t.to_json(path)
    json.loads(path.read_text())  # strict JSON (NaN written as null)
    back = MetricTable.from_json(path)
    assert back.rows[0] == t.rows[0]
    assert math.isnan(back.rows[1]["value"]) and back.rows[1]["lead"] == "all"
    assert back.notes == t.notes and back.units == t.units
    assert back.unit("rmse", "t2m") == "K" and back.unit("acc", "t2m") == "1"


def test_csv_and_markdown(tmp_path):
    t = _table(2.0)
    path = tmp_path / "m.csv"
    t.to_csv(path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(t.rows)
    rmse = [r for r in rows if r["metric"] == "rmse" and r["lead"] == "+30 min"]
    assert {r["weighting"] for r in rmse} == {"plain", "lat"}
    assert all(float(r["value"]) == 3.0 and r["unit"] == "TECU" for r in rmse)
    md = t.to_markdown()
    assert md.splitlines()[0].startswith("| metric | channel | lead | weighting | value | unit |")
    assert "rmse: sqrt of the weighted mean squared error" in md


def test_pivot_leads_as_rows_metrics_as_columns():
    t = _table(2.0)
    p = t.pivot("tec", metrics=["rmse", "mse", "bias"])
    assert p.index == ["+15 min", "+30 min", "all"]
    assert p.columns == ["rmse", "mse", "bias"]
    # constant errors 2 and 3 everywhere: pooled MSE over both leads = (4 + 9) / 2
    assert p.values[0] == [2.0, 4.0, 2.0]
    assert p.values[1] == [3.0, 9.0, 3.0]
    assert p.values[2][1] == pytest.approx(6.5) and p.values[2][0] == pytest.approx(math.sqrt(6.5))
    assert "weighting: rmse=lat" in p.to_markdown()
    assert "rmse=TECU" in p.to_markdown()
    with pytest.raises(KeyError, match="channel"):
        t.pivot("sst")
    with pytest.raises(KeyError, match="acc"):
        t.pivot("tec", metrics=["acc"])


def test_compare_tables_side_by_side(tmp_path):
    tables = {"model": _table(1.0), "persistence": _table(2.0), "climatology": _table(4.0)}
    cmp = compare_tables(tables, metric="rmse", channel="tec")
    assert cmp.columns == ["model", "persistence", "climatology"]
    assert cmp.index == ["+15 min", "+30 min", "all"]
    assert cmp.values[0] == [1.0, 2.0, 4.0]
    assert cmp.values[1] == [2.0, 3.0, 5.0]
    assert cmp.column("persistence")[2] == pytest.approx(math.sqrt(6.5))
    assert "TECU" in cmp.title
    md = cmp.to_markdown()
    assert "| lead | model | persistence | climatology |" in md
    csv_text = cmp.to_csv(tmp_path / "c.csv")
    assert csv_text.splitlines()[1].startswith("+15 min,1.0,2.0,4.0")
    cmp.to_json(tmp_path / "c.json")
    back = WideTable.from_json(tmp_path / "c.json")
    assert back == cmp


def test_compare_tables_errors():
    with pytest.raises(ValueError, match="tables"):
        compare_tables({}, metric="rmse", channel="tec")
    with pytest.raises(KeyError, match="ssim"):
        compare_tables({"model": _table(1.0)}, metric="ssim", channel="tec")
    with pytest.raises(KeyError, match="sst"):
        compare_tables({"model": _table(1.0)}, metric="rmse", channel="sst")


def test_value_and_select():
    t = _table(2.0, leads=(1, 2))
    assert t.value("mae", "tec", 2) == 3.0
    assert t.value("mae", "tec", 2, "plain") == 3.0
    assert len(t.select(metric="mse", weighting="lat").rows) == 3
    with pytest.raises(KeyError, match="nope"):
        t.value("nope", "tec", 1)
    with pytest.raises(ValueError, match="duplicate"):
        MetricTable([t.rows[0], t.rows[0]])
    with pytest.raises(ValueError, match="missing keys"):
        MetricTable([{"metric": "mse"}])
