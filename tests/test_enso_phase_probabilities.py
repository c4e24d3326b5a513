"""Probabilistic scores of the ENSO phase head: Brier, RPS / RPSS, log score, reliability.

Hand-worked cases, a plain float64 loop reference, additivity of the sums, and the task's
metrics.json / metrics.md / phase_reliability.png on the real sample (untrained tiny model).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from geostl.runconfig import load_config
from geostl.tasks import TASKS, ready_config
from geostl.tasks.enso.scores import (
    LOG_FLOOR,
    N_BINS,
    PHASES,
    PhaseProbabilitySums,
    phase_frequencies,
)

E, L, N = 0, 1, 2
P = (0.7, 0.1, 0.2)  # E, L, N


def _sums(prob, truth, reference=None) -> PhaseProbabilitySums:
    prob, truth = np.asarray(prob, dtype=np.float64), np.asarray(truth, dtype=np.int64)
    s = PhaseProbabilitySums(prob.shape[1], reference)
    s.update(torch.from_numpy(prob), torch.from_numpy(truth))
    return s


def test_hand_worked_brier_rps_rpss_log_score_against_the_uniform_reference() -> None:
    # one forecast, 3 leads, the same p = (0.7, 0.1, 0.2) for (E, L, N); truth E, L, N
    s = _sums([[P, P, P]], [[E, L, N]]).scores()
    # Brier: truth E 0.3² + 0.1² + 0.2² = 0.14; truth L 0.7² + 0.9² + 0.2² = 1.34;
    # truth N 0.7² + 0.1² + 0.8² = 1.14
    np.testing.assert_allclose(s["brier_per_lead"], [0.14, 1.34, 1.14], atol=1e-12)
    # RPS in the order L, N, E: p = (0.1, 0.2, 0.7), cumulative P = (0.1, 0.3)
    # truth E: O = (0, 0): 0.01 + 0.09 = 0.10; truth L: O = (1, 1): 0.81 + 0.49 = 1.30;
    # truth N: O = (0, 1): 0.01 + 0.49 = 0.50
    np.testing.assert_allclose(s["rps_per_lead"], [0.10, 1.30, 0.50], atol=1e-12)
    # uniform reference, P = (1/3, 2/3): truth E 1/9 + 4/9, L 4/9 + 1/9, N 1/9 + 1/9
    np.testing.assert_allclose(s["rps_reference_per_lead"], [5 / 9, 5 / 9, 2 / 9], atol=1e-12)
    expected_rpss = [1 - 0.10 / (5 / 9), 1 - 1.30 / (5 / 9), 1 - 0.50 / (2 / 9)]
    np.testing.assert_allclose(s["rpss_per_lead"], expected_rpss, atol=1e-12)
    assert s["rpss"] == pytest.approx(1 - 1.9 / (12 / 9), abs=1e-12)
    np.testing.assert_allclose(s["p_true_per_lead"], [0.7, 0.1, 0.2], atol=1e-12)
    logs = [-math.log(0.7), -math.log(0.1), -math.log(0.2)]
    np.testing.assert_allclose(s["log_score_per_lead"], logs, atol=1e-12)
    assert s["brier"] == pytest.approx((0.14 + 1.34 + 1.14) / 3, abs=1e-12)
    assert s["log_score"] == pytest.approx(sum(logs) / 3, abs=1e-12)
    assert s["reference"].startswith("uniform")
    # reliability pooled over the 3 leads: p_E = 0.7 (bin 7) with o_E = 1, 0, 0;
    # p_L = 0.1 (bin 1, left-closed) and p_N = 0.2 (bin 2) likewise observed once each
    rel = s["reliability"]["phases"]
    for name, b, p in (("El Nino", 7, 0.7), ("La Nina", 1, 0.1), ("neutral", 2, 0.2)):
        assert rel[name]["n"] == [3 if k == b else 0 for k in range(N_BINS)], name
        assert rel[name]["mean_probability"][b] == pytest.approx(p, abs=1e-12)
        assert rel[name]["observed_frequency"][b] == pytest.approx(1 / 3, abs=1e-12)
        assert all(v is None for k, v in enumerate(rel[name]["observed_frequency"]) if k != b)


def test_rps_ranks_la_nina_neutral_el_nino_not_the_codes() -> None:
    # truth El Nino: all mass on neutral (one category away) beats all mass on La Nina (two)
    s = _sums([[(0, 0, 1), (0, 1, 0)]], [[E, E]]).scores()
    assert s["rps_per_lead"] == pytest.approx([1.0, 2.0], abs=1e-12)
    assert s["brier_per_lead"] == pytest.approx([2.0, 2.0], abs=1e-12)  # Brier cannot tell
    # truth neutral: a miss to either side is one category
    s = _sums([[(1, 0, 0), (0, 1, 0)]], [[N, N]]).scores()
    assert s["rps_per_lead"] == pytest.approx([1.0, 1.0], abs=1e-12)


def test_perfect_and_worst_forecasts_and_the_log_floor() -> None:
    perfect = _sums([[(1, 0, 0), (0, 1, 0), (0, 0, 1)]], [[E, L, N]]).scores()
    for key in ("brier", "rps", "log_score"):
        assert perfect[key] == 0.0, key
    assert perfect["p_true"] == 1.0 and perfect["rpss"] == 1.0
    rel = perfect["reliability"]["phases"]["El Nino"]
    assert rel["n"][0] == 2 and rel["n"][-1] == 1  # p = 1 falls in the last bin
    assert rel["observed_frequency"][-1] == 1.0 and rel["observed_frequency"][0] == 0.0
    worst = _sums([[(1, 0, 0)]], [[L]]).scores()
    assert worst["brier"] == pytest.approx(2.0) and worst["rps"] == pytest.approx(2.0)
    assert worst["log_score"] == pytest.approx(-math.log(LOG_FLOOR))
    assert worst["log_score_floor"] == LOG_FLOOR


def _reference_loop(prob: np.ndarray, truth: np.ndarray, ref: np.ndarray) -> dict:
    """The scores by plain loops over forecasts, leads and categories (float64)."""
    n, n_leads, _ = prob.shape
    order = [1, 2, 0]  # La Nina, neutral, El Nino
    per = {k: np.zeros(n_leads) for k in ("brier", "rps", "rps_reference", "p_true", "log")}
    rel = np.zeros((3, 10, 3))
    for i in range(n):
        for lead in range(n_leads):
            p, t = prob[i, lead], truth[i, lead]
            o = [1.0 if k == t else 0.0 for k in range(3)]
            per["brier"][lead] += sum((p[k] - o[k]) ** 2 for k in range(3))
            for key, q in (("rps", p), ("rps_reference", ref)):
                cp = co = 0.0
                for k in order[:-1]:
                    cp, co = cp + q[k], co + o[k]
                    per[key][lead] += (cp - co) ** 2
            per["p_true"][lead] += p[t]
            per["log"][lead] += -math.log(max(p[t], 1e-12))
            for k in range(3):
                b = min(int(math.floor(p[k] * 10)), 9)
                rel[k, b] += (1.0, p[k], o[k])
    means = {k: v / n for k, v in per.items()}
    means["rpss"] = 1 - per["rps"] / per["rps_reference"]
    return {"per_lead": means, "reliability": rel}


def _random(rng, n: int, n_leads: int) -> tuple[np.ndarray, np.ndarray]:
    logits = rng.normal(scale=2.0, size=(n, n_leads, 3))
    prob = torch.softmax(torch.from_numpy(logits), -1).numpy()
    return prob, rng.integers(0, 3, size=(n, n_leads))


def test_random_forecasts_equal_a_plain_loop_in_float64() -> None:
    rng = np.random.default_rng(11)
    prob, truth = _random(rng, 53, 4)
    prob[0, 0] = (1.0, 0.0, 0.0)  # a p_true of 0 at a wrong one-hot: the log floor
    truth[0, 0] = 2
    ref = rng.dirichlet((2.0, 2.0, 2.0))
    sums = PhaseProbabilitySums(4, ref, "test reference")
    for a, b in ((0, 7), (7, 8), (8, 53)):  # uneven batches
        sums.update(torch.from_numpy(prob[a:b]), torch.from_numpy(truth[a:b]))
    got, want = sums.scores(), _reference_loop(prob, truth, ref)
    for key, ref_key in (
        ("brier", "brier"),
        ("rps", "rps"),
        ("rps_reference", "rps_reference"),
        ("rpss", "rpss"),
        ("p_true", "p_true"),
        ("log_score", "log"),
    ):
        np.testing.assert_allclose(
            got[f"{key}_per_lead"], want["per_lead"][ref_key], rtol=1e-12, atol=1e-12
        )
    rel = want["reliability"]
    for k, name in enumerate(PHASES):
        table = got["reliability"]["phases"][name]
        np.testing.assert_array_equal(table["n"], rel[k, :, 0])
        full = rel[k, :, 0] > 0
        np.testing.assert_allclose(
            np.array(table["mean_probability"], dtype=float)[full],
            rel[k, full, 1] / rel[k, full, 0],
            rtol=1e-12,
        )
        np.testing.assert_allclose(
            np.array(table["observed_frequency"], dtype=float)[full],
            rel[k, full, 2] / rel[k, full, 0],
            rtol=1e-12,
        )
        assert all(table["mean_probability"][b] is None for b in np.flatnonzero(~full))
    assert got["reference"] == "test reference"
    assert list(got["reference_probabilities"].values()) == pytest.approx(ref.tolist())


def test_two_parts_merged_equal_the_whole_and_counts_sum_to_the_forecasts() -> None:
    rng = np.random.default_rng(5)
    prob, truth = _random(rng, 40, 3)
    ref = phase_frequencies(rng.integers(0, 3, size=100))
    whole = _sums(prob, truth, ref)
    part_a, part_b = _sums(prob[:17], truth[:17], ref), _sums(prob[17:], truth[17:], ref)
    merged = part_a.merge(part_b)
    torch.testing.assert_close(merged.sums, whole.sums, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(merged.reliability, whole.reliability, rtol=1e-12, atol=1e-12)
    a, b = merged.scores(), whole.scores()
    for key in ("brier", "rps", "rpss", "log_score", "p_true"):
        assert a[key] == pytest.approx(b[key], rel=1e-12), key
        np.testing.assert_allclose(a[f"{key}_per_lead"], b[f"{key}_per_lead"], rtol=1e-12)
    for name in PHASES:  # every forecast is in one bin of each phase's table
        assert sum(b["reliability"]["phases"][name]["n"]) == 40 * 3
    # the per-lead state holds every lead's forecasts once
    np.testing.assert_array_equal(whole.reliability[..., 0].sum((1, 2)).numpy(), [120.0] * 3)
    with pytest.raises(ValueError, match="other leads or reference"):
        part_a.merge(PhaseProbabilitySums(3))


def test_phase_frequencies_and_bad_inputs() -> None:
    np.testing.assert_allclose(phase_frequencies([0, 2, 2, 1, 2]), [0.2, 0.2, 0.6])
    with pytest.raises(ValueError, match="0..2"):
        phase_frequencies([0, 3])
    s = PhaseProbabilitySums(2)
    good = torch.full((4, 2, 3), 1 / 3, dtype=torch.float64)
    truth = torch.zeros(4, 2, dtype=torch.int64)
    with pytest.raises(ValueError, match="sum to 1"):
        s.update(good * 1.1, truth)
    with pytest.raises(ValueError, match="NaN"):
        s.update(torch.full_like(good, float("nan")), truth)
    with pytest.raises(ValueError, match="expected"):
        s.update(good[:, :1], truth[:, :1])
    with pytest.raises(ValueError, match="0..2"):
        s.update(good, truth + 3)
    with pytest.raises(ValueError, match="summing to 1"):
        PhaseProbabilitySums(2, [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="no forecast"):
        s.scores()


TINY = [
    "data.stride=4",
    "model.hidden=[2, 2, 4]",
    "model.trunk_channels=4",
    "model.embed=8",
    "model.head_hidden=8",
    "eval.figures=true",
]


def test_the_task_writes_the_phase_probability_scores(tmp_path: Path) -> None:
    from geostl.tasks.enso.task import _phase_reference, evaluate_enso, model_for, prepare

    task = TASKS.get("enso")
    cfg = load_config(
        ready_config("enso/enso_convlstm_ersst.yaml"), [f"run.dir={tmp_path}", *TINY],
        spec=task.spec,
    )  # fmt: skip
    datasets = prepare(cfg)
    torch.manual_seed(0)
    model = model_for(cfg, datasets).eval()
    evaluate_enso(model, datasets, cfg, tmp_path, "untrained")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    probs = metrics["methods"]["model"]["phase_probability"]
    for baseline in ("persistence", "climatology"):  # no probabilities: no such scores
        assert "phase_probability" not in metrics["methods"][baseline]
    for key in ("brier", "rps", "rps_reference", "rpss", "log_score", "p_true"):
        values = [probs[key], *probs[f"{key}_per_lead"]]
        assert len(values) == 7 and np.isfinite(values).all(), key
    # the same scores recomputed from the model's outputs on the whole test split
    test = datasets["test"]
    with torch.no_grad():
        p = torch.softmax(model(test.tensors["x"])["phase_logits"].double(), -1).numpy()
    truth = test.tensors["phase"].numpy()
    ctx = test.context
    ref = phase_frequencies(ctx.phase[ctx.train_months])
    want = _reference_loop(p, truth, ref)["per_lead"]
    np.testing.assert_allclose(probs["brier_per_lead"], want["brier"], rtol=1e-9)
    np.testing.assert_allclose(probs["rpss_per_lead"], want["rpss"], rtol=1e-9)
    np.testing.assert_allclose(probs["log_score_per_lead"], want["log"], rtol=1e-9)
    assert probs["reference"].startswith("train-split climatology")
    assert list(probs["reference_probabilities"].values()) == pytest.approx(ref.tolist())
    for name in PHASES:
        assert sum(probs["reliability"]["phases"][name]["n"]) == 27 * 6
    md = (tmp_path / "metrics.md").read_text()
    assert "| RPSS |" in md and "| Brier |" in md and "| log score |" in md
    assert "| 0.9-1.0 |" in md and "El Nino n" in md
    assert (tmp_path / "phase_reliability.png").stat().st_size > 0
    # without the train split's phases the reference is the uniform forecast
    freq, label = _phase_reference(SimpleNamespace())
    assert freq is None and label.startswith("uniform")
