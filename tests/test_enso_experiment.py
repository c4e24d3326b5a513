"""ENSO windows and the experiment on the built-in ERSSTv5 sample (tiny model, 1 epoch)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from geostl.data.enso_samples import EnsoStats, make_windows
from geostl.datasets import sample
from geostl.enso_experiment import EnsoConfig, run_enso


def test_windows_layout_normalisation_and_land_zero() -> None:
    sst = np.arange(5 * 2 * 3, dtype=np.float64).reshape(5, 2, 3)  # (T, lat, lon)
    sst[:, 1, 2] = np.nan
    ocean = np.isfinite(sst).all(axis=0)
    stats = EnsoStats(sst_mean=10.0, sst_std=2.0, index_mean=1.0, index_std=0.5)
    index = np.array([1.0, 1.5, 2.0, 0.0, 1.0])
    phase = np.array([2, 0, 0, 1, 2])
    w = make_windows(sst, index, phase, np.array([0, 1]), 2, 2, stats, ocean)
    assert w.x.shape == (2, 2, 1, 3, 2)  # (N, T, C, lon, lat)
    assert w.x[1, 0, 0, 2, 0].item() == pytest.approx((sst[1, 0, 2] - 10) / 2)
    assert w.x[0, 1, 0, 2, 1].item() == 0.0  # land
    assert w.sst[0, 0, 1, 1].item() == pytest.approx((sst[2, 1, 1] - 10) / 2)
    np.testing.assert_allclose(w.index.numpy(), [[2.0, -2.0], [-2.0, 0.0]])
    np.testing.assert_array_equal(w.phase.numpy(), [[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="do not fit"):
        make_windows(sst, index, phase, np.array([2]), 2, 2, stats, ocean)


@pytest.mark.slow
def test_run_enso_tiny_on_real_sample(tmp_path: Path) -> None:
    cfg = EnsoConfig(epochs=1, stride=4, hidden=(2, 2, 4), trunk_channels=4, embed=8,
                     head_hidden=8)  # fmt: skip
    results = run_enso(tmp_path, cfg)
    for name in ("metrics.json", "metrics.md", "index_forecast.png", "confusion.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert json.loads((tmp_path / "metrics.json").read_text())["n_test"] == results["n_test"]
    # chronological split: 85 training windows end by 2017-12, 21 test windows start 2018-01
    assert (results["n_train"], results["n_test"]) == (85, 21)
    assert results["test_targets"] == ["2018-07", "2020-08"]
    # persistence lead 1, recomputed from the CPC file: anomaly of month m-1 forecasts month m
    anom = sample("sst_indices")["nino34_anom"].sel(time=slice("2018-06", "2020-08")).values
    months = anom[1 : 1 + 21]
    expected = np.sqrt(np.mean((anom[:21] - months) ** 2))
    persistence = results["methods"]["persistence"]
    assert persistence["rmse_per_lead"][0] == pytest.approx(expected)
    assert np.array(results["methods"]["model"]["confusion"]).sum() == 21 * 6
    # the Earthformer route applied to the observed field tracks the CPC index
    assert results["observed_field_nino34_lead1"]["corr"] > 0.9
