"""Driver alignment rules against hand-worked examples."""

import numpy as np
import pandas as pd
import pytest

from geostl.data.align import align_indices, align_series, infer_interval


def _t(*s):
    return np.array([np.datetime64(x, "ns") for x in s])


HOURLY = pd.date_range("2020-01-01 00:00", periods=6, freq="1h").to_numpy()
VALS = np.array([10.0, 11.0, 12.0, 13.0, 14.0, 15.0])  # stamped 00:00 .. 05:00


def test_previous_complete_hourly_onto_15min():
    # OMNI hourly average stamped hh:00 covers [hh:00, hh+1:00): usable from hh+1:00.
    target = pd.date_range("2020-01-01 01:00", "2020-01-01 03:00", freq="15min").to_numpy()
    got = align_series(VALS, HOURLY, target, "previous_complete")
    expected = [10, 10, 10, 10, 11, 11, 11, 11, 12]  # 01:00..01:45 -> 00:00 sample, etc.
    np.testing.assert_array_equal(got, expected)


def test_previous_complete_before_first_complete_interval_is_an_error():
    target = _t("2020-01-01T00:30")  # the 00:00 hour has not ended yet
    with pytest.raises(ValueError, match=r"'kp'.*2020-01-01T00:30"):
        align_series(VALS, HOURLY, target, "previous_complete", name="kp")


def test_previous_and_nearest_and_linear_hand_worked():
    target = _t("2020-01-01T01:00", "2020-01-01T01:15", "2020-01-01T01:30", "2020-01-01T01:45")
    np.testing.assert_array_equal(align_series(VALS, HOURLY, target, "previous"), [11] * 4)
    # nearest: ties (01:30) go to the earlier sample
    np.testing.assert_array_equal(align_series(VALS, HOURLY, target, "nearest"), [11, 11, 11, 12])
    np.testing.assert_allclose(
        align_series(VALS, HOURLY, target, "linear"), [11.0, 11.25, 11.5, 11.75]
    )


def test_hourly_onto_two_hourly_maps():
    target = pd.date_range("2020-01-01 02:00", periods=2, freq="2h").to_numpy()  # 02:00, 04:00
    np.testing.assert_array_equal(align_series(VALS, HOURLY, target, "previous"), [12, 14])
    np.testing.assert_array_equal(align_series(VALS, HOURLY, target, "previous_complete"), [11, 13])


def test_daily_broadcast_to_every_time_of_the_day():
    days = pd.date_range("2020-01-01", periods=3, freq="1D").to_numpy()
    target = pd.date_range("2020-01-01 00:00", "2020-01-03 23:00", freq="6h").to_numpy()
    got = align_series(np.array([70.0, 71.0, 72.0]), days, target, "daily")
    np.testing.assert_array_equal(got, np.repeat([70.0, 71.0, 72.0], 4))


def test_daily_needs_midnight_stamps():
    with pytest.raises(ValueError, match="'f107'.*00:00"):
        align_series(
            np.array([1.0]),
            _t("2020-01-01T12:00"),
            _t("2020-01-01T13:00"),
            "daily",
            interval="1D",
            name="f107",
        )


def test_outside_span_names_variable_and_first_missing_time():
    target = _t("2020-01-01T04:00", "2020-01-01T07:00", "2020-01-01T08:00")
    with pytest.raises(ValueError, match=r"'dst'.*2020-01-01T07:00.*2 target time"):
        align_series(VALS, HOURLY, target, "previous", name="dst")


def test_nan_in_driver_is_an_error_unless_fill_is_stated():
    vals = VALS.copy()
    vals[2] = np.nan  # 02:00 sample missing
    target = _t("2020-01-01T02:30", "2020-01-01T03:00")
    with pytest.raises(ValueError, match=r"'kp'.*02:30.*NaN"):
        align_series(vals, HOURLY, target, "previous", name="kp")
    np.testing.assert_array_equal(
        align_series(vals, HOURLY, _t("2020-01-01T01:30", *target), "previous", fill="ffill"),
        [11, 11, 13],
    )
    np.testing.assert_array_equal(
        align_series(vals, HOURLY, target, "previous", fill=-1.0), [-1, 13]
    )


def test_hole_in_driver_is_missing_not_a_stale_value():
    # 02:00 and 03:00 records absent: 'previous' at 03:30 must not reuse the 01:00 value.
    times = HOURLY[[0, 1, 4, 5]]
    with pytest.raises(ValueError, match="03:30"):
        align_series(VALS[[0, 1, 4, 5]], times, _t("2020-01-01T03:30"), "previous", interval="1h")
    with pytest.raises(ValueError, match="03:00"):
        align_series(VALS[[0, 1, 4, 5]], times, _t("2020-01-01T03:00"), "linear", interval="1h")


def test_needed_restricts_the_check():
    target = _t("2020-01-01T04:00", "2020-01-01T09:00")
    got = align_series(VALS, HOURLY, target, "previous", needed=np.array([True, False]))
    assert got[0] == 14 and np.isnan(got[1])


def test_infer_interval_is_most_common_step_and_unsorted_driver_is_error():
    t = HOURLY[[0, 1, 2, 4, 5]]
    assert infer_interval(t, "x") == np.timedelta64(1, "h")
    with pytest.raises(ValueError, match="'x'.*not strictly increasing"):
        align_indices(t[::-1], t, "previous", np.timedelta64(1, "h"), "x")
