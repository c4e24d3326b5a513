"""The built-in demo end to end, checked against an independent NumPy computation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from geostl.cli import main
from geostl.demo import TEC_DEMO_CONFIG, lead_labels


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out)]) == 0
    return out


def test_demo_writes_its_outputs(demo_dir):
    for name in ("metrics.json", "rmse_by_lead.md", "rmse_by_lead.csv", "rmse_by_lead.png"):
        assert (demo_dir / name).stat().st_size > 0, name
    tables = json.loads((demo_dir / "metrics.json").read_text())
    assert set(tables) == {"persistence", "sun-fixed persistence", "climatology"}
    md = (demo_dir / "rmse_by_lead.md").read_text()
    assert "+3 h" in md and "TECU" in md


def _rmse(tables, forecast, lead):
    rows = tables[forecast]["rows"]
    (value,) = [
        r["value"]
        for r in rows
        if r["metric"] == "rmse" and r["lead"] == lead and r["weighting"] == "lat"
    ]
    return value


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
    tables = json.loads((demo_dir / "metrics.json").read_text())
    for k in (1, 6, 12):
        err = [(tec[s + t_in - 1] - tec[s + t_in - 1 + k]) ** 2 for s in starts]
        expected = np.sqrt(np.sum([(e * w).sum() for e in err]) / (w.sum() * len(err)))
        label = lead_labels(15.0, t_out)[k - 1]
        assert _rmse(tables, "persistence", label) == pytest.approx(expected, rel=1e-6)
    # the Sun-fixed frame must beat plain persistence clearly at 3 hours
    assert (
        _rmse(tables, "persistence", "+3 h") / _rmse(tables, "sun-fixed persistence", "+3 h") > 1.5
    )


def test_lead_labels():
    assert lead_labels(15.0, 5) == ["+15 min", "+30 min", "+45 min", "+1 h", "+1.25 h"]
    assert lead_labels(120.0, 2) == ["+2 h", "+4 h"]
