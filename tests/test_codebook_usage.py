"""SVQ code-usage diagnostic accumulated over evaluation batches (geostl.engine.codebook_usage).

Standardisation is per call (one SVQ forward = one batch): the accumulated histogram is the
sum of ``code_usage`` of each call, which differs from one ``code_usage`` on all weights.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from geostl.engine.codebook_usage import CodebookUsageRecorder, find_svq_modules
from geostl.engine.config import EvalConfig
from geostl.models.quantisers import SVQ, code_usage, perplexity
from geostl.models.quantisers.usage import UsageAccumulator, affine_moments


def test_counts_add_per_batch_and_differ_from_one_call_on_everything() -> None:
    # hand-worked: each batch has one large weight on code 3 (z ≈ 2.47 in its own batch, see
    # test_quantisers_svq); standardised per batch both count, so code 3 is used twice
    b1 = torch.tensor([[0.0, 0.0, 0.0, 4.0], [0.0, 0.0, 0.0, 0.0]])
    b2 = torch.tensor([[0.0, 0.0, 0.0, 40.0], [0.0, 0.0, 0.0, 0.0]])
    acc = UsageAccumulator(4)
    acc.update(b1)
    acc.update(b2)
    assert acc.counts(2.0).tolist() == [0.0, 0.0, 0.0, 2.0]
    # all 16 weights together: mean 2.75, sample std sqrt(1495/15) ≈ 9.98, so only 40
    # (z ≈ 3.73) passes 2σ; 4 (z ≈ 0.13) does not
    together = code_usage(torch.cat([b1, b2]), 2.0)
    assert together.tolist() == [0.0, 0.0, 0.0, 1.0]
    assert acc.counts(3.0).tolist() == [0.0, 0.0, 0.0, 0.0]
    s = acc.summary()
    assert s["vectors"] == 4 and s["calls"] == 2 and s["codebook_size"] == 4
    two, three = s["thresholds"]
    assert two == {"n_sigma": 2.0, "perplexity": 1.0, "codes_used": 1, "uses": 2}
    assert three["perplexity"] is None and three["codes_used"] == 0 and three["uses"] == 0


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_blocked_standardisation_equals_code_usage_on_the_call(chunk: int) -> None:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3, 5, 4, 50, generator=g, dtype=torch.float64) ** 3  # heavy tails
    acc = UsageAccumulator(50, (1.0, 2.0, 3.0))
    acc.update(w, chunk_vectors=chunk)
    for s in (1.0, 2.0, 3.0):
        assert torch.equal(acc.counts(s), code_usage(w, s)), s
    c = acc.counts(2.0)
    assert acc.summary()["thresholds"][1]["perplexity"] == pytest.approx(perplexity(c))
    assert acc.summary(histogram=True)["thresholds"][0]["histogram"] == [
        int(v) for v in acc.counts(1.0).tolist()
    ]


def test_a_call_without_spread_is_counted_apart() -> None:
    acc = UsageAccumulator(3)
    acc.update(torch.ones(2, 3))
    s = acc.summary()
    assert s["calls"] == 0 and s["calls_zero_spread"] == 1 and s["vectors"] == 2
    assert all(t["uses"] == 0 for t in s["thresholds"])
    with pytest.raises(ValueError, match=r"expected code weights \(\.\.\., 3\)"):
        acc.update(torch.ones(2, 4))


def test_affine_moments_equal_torch_mean_and_std_of_the_formed_weights() -> None:
    g = torch.Generator().manual_seed(1)
    h = torch.randn(300, 7, generator=g, dtype=torch.float64) + 0.5
    weight = torch.randn(23, 7, generator=g, dtype=torch.float64)
    bias = torch.randn(23, generator=g, dtype=torch.float64)
    w = h @ weight.T + bias
    n, mean, std = affine_moments(h, weight, bias)
    assert n == w.numel()
    assert mean == pytest.approx(float(w.mean()), rel=1e-12)
    assert std == pytest.approx(float(w.std()), rel=1e-12)
    n, mean, std = affine_moments(h, weight, None)
    assert std == pytest.approx(float((h @ weight.T).std()), rel=1e-12)


class _Wrapped(nn.Module):
    """A model holding an SVQ somewhere inside, as SimVP does."""

    def __init__(self, factorised: bool, nonlinear: bool = True) -> None:
        super().__init__()
        svq = SVQ(4, 30, 8, nonlinear=nonlinear, factorised=factorised)
        self.inner = nn.Sequential(nn.Identity(), svq)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.inner(z)[0]


@pytest.mark.parametrize("factorised,nonlinear", [(False, True), (True, True), (True, False)])
def test_recorder_sums_the_calls_and_removes_its_hooks(factorised: bool, nonlinear: bool) -> None:
    torch.manual_seed(3)
    model = _Wrapped(factorised, nonlinear)
    svq = model.inner[1]
    assert find_svq_modules(model) == [("inner.1", svq)]
    batches = [torch.randn(2, 4, 3, 5) for _ in range(3)]
    with torch.no_grad(), CodebookUsageRecorder(model) as usage:
        for i, z in enumerate(batches):
            usage.counting = i != 1  # the second batch must not count
            model(z)
    assert not svq._forward_hooks
    expected = {
        s: sum(
            code_usage(svq.code_weights(batches[i].permute(0, 2, 3, 1)).detach(), s) for i in (0, 2)
        )
        for s in (2.0, 3.0)
    }
    (entry,) = usage.all_reduce().summary()
    assert entry["module"] == "inner.1" and entry["vectors"] == 2 * 2 * 3 * 5
    assert entry["calls"] == 2
    acc = usage.accumulators["inner.1"]
    for s, c in expected.items():
        torch.testing.assert_close(acc.counts(s), c)
    p = entry["thresholds"][0]["perplexity"]
    assert p == pytest.approx(perplexity(expected[2.0])) and 1.0 <= p <= 30.0


def test_no_svq_no_entry() -> None:
    usage = CodebookUsageRecorder(nn.Linear(2, 2))
    assert not usage and usage.summary() == []


def test_eval_codebook_usage_key_is_validated() -> None:
    assert EvalConfig().codebook_usage is False  # off unless asked for, as the seed's
    assert EvalConfig.from_dict({"codebook_usage": True}).codebook_usage is True
    with pytest.raises(TypeError, match=r"eval\.codebook_usage: expected true or false"):
        EvalConfig.from_dict({"codebook_usage": "yes"})


def test_perplexity_formula_by_hand() -> None:
    acc = UsageAccumulator(4, (2.0,))
    acc.sums.add("counts/2", torch.tensor([1.0, 1.0, 2.0, 0.0]))
    # p = (1/4, 1/4, 1/2): H = 1.5 ln 2
    assert acc.summary()["thresholds"][0]["perplexity"] == pytest.approx(
        math.exp(1.5 * math.log(2))
    )
