"""Regime selection: per-window driver values by hand, and on the built-in sample against an
independent pandas look-up of the OMNI2 hourly values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geostl.commands.grid import (
    GridSpec,
    load_grid_config,
    regime_masks,
    regime_selection,
    window_values,
)
from geostl.commands.run import prepare

REPO = Path(__file__).resolve().parents[1]


def test_window_values_by_hand() -> None:
    series = np.array([5.0, 1.0, 7.0, -2.0, 4.0, 9.0, 0.0, 3.0])
    starts = np.array([0, 2, 3])
    # t_in = 2: issue time = start + 1; forecast = start + 2 .. start + 4 (t_out = 3)
    np.testing.assert_array_equal(window_values(series, starts, 2, 3, "issue"), [1.0, -2.0, 4.0])
    np.testing.assert_array_equal(window_values(series, starts, 2, 3, "min"), [-2.0, 0.0, 0.0])
    np.testing.assert_array_equal(window_values(series, starts, 2, 3, "max"), [7.0, 9.0, 9.0])
    np.testing.assert_allclose(window_values(series, starts, 2, 3, "mean"), [3.0, 13.0 / 3.0, 4.0])
    with pytest.raises(ValueError, match="reduce"):
        window_values(series, starts, 2, 3, "median")


def test_regime_selection_bounds() -> None:
    v = np.array([99.0, 100.0, 100.5, 150.0, 49.9])
    np.testing.assert_array_equal(regime_selection(v, below=100), [1, 0, 0, 0, 1])
    np.testing.assert_array_equal(regime_selection(v, at_least=100), [0, 1, 1, 1, 0])
    np.testing.assert_array_equal(regime_selection(v, below=150, at_least=100), [0, 1, 1, 0, 0])
    with pytest.raises(ValueError, match="NaN"):
        regime_selection(np.array([1.0, np.nan]), below=2)


def test_regime_masks_on_the_tec_sample_match_an_independent_lookup(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(
        f"_base_: {REPO / 'configs' / 'tec_convlstm.yaml'}\n"
        "grid:\n"
        "  backbones: [convlstm]\n"
        "  channels: [1]\n"
        "  regimes:\n"
        "    low_f107: {source: omni, variable: f107, below: 70.0}\n"
        "    weak: {driver: dst, at_least: -7.5, reduce: min}\n"
        "    windy: {source: omni, variable: sw_speed, at_least: 358.5, reduce: mean}\n"
        "    dst_now: {driver: dst, below: -4.5}\n"
        "    storm: {driver: dst, below: -50, reduce: min}\n"
    )
    cfg = load_grid_config([path])
    grid = GridSpec.from_config(cfg)
    sources, datasets = prepare(cfg)
    test = datasets["test"]
    masks, units = regime_masks(list(grid.regimes), test, sources)
    assert units == {
        "low_f107": "sfu",
        "weak": "nT",
        "windy": "km s-1",
        "dst_now": "nT",
        "storm": "nT",
    }

    omni = sources["omni"].to_dataframe()
    hour = pd.Timedelta("1h")

    def hourly(variable: str, t: np.datetime64) -> float:
        # previous_complete: the latest hourly average whose hour has ended by t
        return float(omni.loc[: pd.Timestamp(t) - hour, variable].iloc[-1])

    low, weak, windy, now = [], [], [], []
    for i in range(len(test)):
        times = test.window_times(i)
        issue, forecast = times[test.t_in - 1], times[test.t_in :]
        low.append(hourly("f107", issue) < 70.0)
        weak.append(min(hourly("dst", t) for t in forecast) >= -7.5)
        windy.append(np.mean([hourly("sw_speed", t) for t in forecast]) >= 358.5)
        now.append(hourly("dst", issue) < -4.5)
    np.testing.assert_array_equal(masks["low_f107"], low)
    np.testing.assert_array_equal(masks["weak"], weak)
    np.testing.assert_array_equal(masks["windy"], windy)
    np.testing.assert_array_equal(masks["dst_now"], now)
    # the thresholds split the 10 test windows (values read off the OMNI2 file): the lowest
    # forecast Dst is -7 nT only for the first window, the mean speed >= 358.5 km/s for the
    # first four, Dst at the issue time < -4.5 nT for the first and the last
    assert masks["low_f107"].all()  # F10.7 = 68 sfu throughout
    assert masks["weak"].nonzero()[0].tolist() == [0]
    assert masks["windy"].nonzero()[0].tolist() == [0, 1, 2, 3]
    assert masks["dst_now"].nonzero()[0].tolist() == [0, 9]
    # April 2019: no storm in the sample, an empty regime is an all-False mask, not dropped
    assert masks["storm"].shape == (len(test),) and not masks["storm"].any()
