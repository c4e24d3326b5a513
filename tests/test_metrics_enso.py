"""ENSO metrics against hand-worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geostl.tasks.enso.metrics import (
    c_nino34_m,
    c_nino34_wm,
    confusion_matrix,
    index_correlation,
    index_rmse,
    nino_lead_weights,
    phase_accuracy,
)

# 3 forecasts x 2 leads
OBS = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 1.0]])
PRED = np.array([[1.0, 2.0], [3.0, 2.0], [2.0, 4.0]])


def test_correlation_and_rmse_hand_worked() -> None:
    # lead 1: anomalies obs (-1, 0, 1), pred (-1, 1, 0): sum 1 / (sqrt(2 * 2) + 1e-6)
    # lead 2: pred = 2 * obs + 2; sum 4/3 / (sqrt(2/3 * 8/3) + 1e-6) = 4/3 / (4/3 + 1e-6)
    corr = index_correlation(PRED, OBS)
    assert corr[0] == pytest.approx(1 / (2 + 1e-6), abs=1e-12)
    assert corr[1] == pytest.approx((4 / 3) / (4 / 3 + 1e-6), abs=1e-12)
    np.testing.assert_allclose(index_rmse(PRED, OBS), [math.sqrt(2 / 3), math.sqrt(17 / 3)])


def test_c_nino34_m_and_wm_hand_worked() -> None:
    corr = np.array([0.5, 1.0])
    assert c_nino34_m(corr) == pytest.approx(0.75)
    # a = 1.5 for leads 1..4; ln(1) = 0 drops lead 1; divided by L = 2
    assert c_nino34_wm(corr) == pytest.approx(1.5 * math.log(2) * 1.0 / 2)


def test_wm_weights_follow_the_tianchi_schedule() -> None:
    a = [1.5] * 4 + [2.0] * 7 + [3.0] * 7 + [4.0] * 6  # L = 24
    expected = [a_l * math.log(lead) for lead, a_l in enumerate(a, start=1)]
    np.testing.assert_allclose(nino_lead_weights(24), expected)
    # all-perfect correlations over 12 leads: weights sum / 12 exceeds 1
    assert c_nino34_wm(np.ones(12)) == pytest.approx(sum(expected[:12]) / 12)
    assert c_nino34_wm(np.ones(12)) > 1.0


def test_confusion_matrix_rows_predicted_columns_true() -> None:
    truth = np.array([0, 0, 1, 2, 2, 2])
    pred = np.array([0, 2, 1, 2, 0, 2])
    expected = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 2]])
    np.testing.assert_array_equal(confusion_matrix(pred, truth), expected)
    assert phase_accuracy(pred, truth) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="0..2"):
        confusion_matrix(np.array([3]), np.array([0]))


def test_bad_shapes_and_nan_rejected() -> None:
    with pytest.raises(ValueError, match=r"\(N, leads\)"):
        index_rmse(PRED[:, 0], OBS[:, 0])
    bad = OBS.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        index_correlation(PRED, bad)
