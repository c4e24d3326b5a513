"""Calendar and grid-index features (doy, day_of_month, lat_index, lon_index), hand-worked."""

from __future__ import annotations

import numpy as np
import pytest

from geostl.data import ChannelSchema, ForcingStack
from geostl.data.features import (
    DEFAULT_FIXED_SCALING,
    FEATURE_UNITS,
    GRID_FEATURES,
    TIME_FEATURES,
    grid_feature,
    time_feature,
)


def _t(*stamps: str) -> np.ndarray:
    return np.array([np.datetime64(s, "ns") for s in stamps])


def test_doy_and_day_of_month_hand_worked_incl_leap_years_and_31_december() -> None:
    times = _t(
        "2019-01-01T00:00",  # first day
        "2019-03-01T23:45",  # non-leap: 31 + 28 + 1 = 60
        "2020-03-01T00:00",  # leap: 31 + 29 + 1 = 61
        "2020-02-29T12:00",  # leap day: 31 + 29 = 60
        "2019-12-31T22:00",  # 365
        "2020-12-31T23:59",  # 366 (leap year)
        "2000-12-31T00:00",  # 2000 is a leap year (divisible by 400): 366
        "2100-12-31T00:00",  # 2100 is not (divisible by 100 only): 365
    )
    np.testing.assert_array_equal(time_feature("doy", times), [1, 60, 61, 60, 365, 366, 366, 365])
    np.testing.assert_array_equal(
        time_feature("day_of_month", times), [1, 1, 1, 29, 31, 31, 31, 31]
    )
    # the calendar day, not a fraction of it
    assert time_feature("doy", times).dtype == np.float64


def test_month_year_and_ut_hour_still_hand_worked() -> None:
    times = _t("2019-12-31T22:30", "2020-01-01T00:00")
    np.testing.assert_array_equal(time_feature("month", times), [12, 1])
    np.testing.assert_array_equal(time_feature("year", times), [2019, 2020])
    np.testing.assert_array_equal(time_feature("ut_hour", times), [22.5, 0.0])


def test_grid_index_features_are_row_and_column_fractions() -> None:
    lat = np.linspace(87.5, -87.5, 72)
    lon = -180.0 + 5.0 * np.arange(72)
    rows = grid_feature("lat_index", lat, lon)
    cols = grid_feature("lon_index", lat, lon)
    assert rows.shape == cols.shape == (72, 72)
    # the seed's row/72 and col/72, exactly
    for i in (0, 1, 35, 71):
        np.testing.assert_array_equal(rows[i], np.full(72, i / 72))
        np.testing.assert_array_equal(cols[:, i], np.full(72, i / 72))
    assert rows.min() == 0.0 and rows.max() == 71 / 72 < 1.0
    # non-square grid: H and W used separately
    r, c = grid_feature("lat_index", lat[:3], lon[:4]), grid_feature("lon_index", lat[:3], lon[:4])
    np.testing.assert_array_equal(r[:, 0], [0, 1 / 3, 2 / 3])
    np.testing.assert_array_equal(c[0], [0, 0.25, 0.5, 0.75])


def test_new_features_have_units_and_default_scalings() -> None:
    for name in ("doy", "day_of_month"):
        assert name in TIME_FEATURES
    for name in ("lat_index", "lon_index"):
        assert name in GRID_FEATURES
        assert DEFAULT_FIXED_SCALING[name] == (0.0, 1.0) and FEATURE_UNITS[name] == "1"
    assert FEATURE_UNITS["doy"] == "day" and DEFAULT_FIXED_SCALING["doy"][1] > 0


def test_grid_index_features_are_computed_known_forcings() -> None:
    schema = ChannelSchema.from_dict(
        {
            "targets": {"source": "maps", "variables": ["tec"]},
            "forcings": [
                {"computed": "lon_index"},
                {"name": "row", "computed": "lat_index"},
                {"computed": "doy"},
            ],
        }
    )
    assert [f.role for f in schema.forcings] == ["known"] * 3
    times = _t("2020-12-31T00:00", "2021-01-01T00:00")
    lat, lon = np.array([10.0, 0.0, -10.0]), np.array([0.0, 90.0])
    stack = ForcingStack(schema, {}, times, lat, lon)
    # read() returns float32 physical values
    np.testing.assert_array_equal(
        stack.read("row", np.array([1]))[0], np.float32([[0, 0], [1 / 3] * 2, [2 / 3] * 2])
    )
    np.testing.assert_array_equal(stack.read("lon_index", np.array([0]))[0], [[0, 0.5]] * 3)
    np.testing.assert_array_equal(stack.read("doy", np.array([0, 1]))[:, 0, 0], [366, 1])
    assert stack.units == {"lon_index": "1", "row": "1", "doy": "day"}
    with pytest.raises(ValueError, match="must have role 'known'"):
        ChannelSchema.from_dict(
            {
                "targets": {"source": "m", "variables": ["tec"]},
                "forcings": [{"computed": "lat_index", "role": "observed"}],
            }
        )
