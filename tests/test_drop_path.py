"""Stochastic depth (geostl.models.blocks.drop_path.DropPath)."""

import math

import pytest
import torch

from geostl.models.blocks.drop_path import DropPath


def test_training_keeps_the_expected_value_one_draw_per_sample():
    torch.manual_seed(0)
    p, n = 0.3, 20000
    x = torch.randn(n, 3, 4) + 2.0
    y = DropPath(p).train()(x)
    kept = (y != 0).flatten(1)
    # one Bernoulli draw per sample: a sample is kept or dropped as a whole
    assert torch.equal(kept.all(dim=1), kept.any(dim=1))
    keep_rows = kept.all(dim=1)
    torch.testing.assert_close(y[keep_rows], x[keep_rows] / (1 - p))
    # kept fraction within 5 standard deviations of 1 - p
    sd = math.sqrt(p * (1 - p) / n)
    assert abs(keep_rows.double().mean().item() - (1 - p)) < 5 * sd
    # E[y] = x: the mean of y / x over samples is 1 within 5 standard errors
    ratio = (y / x)[:, 0, 0].double()
    assert abs(ratio.mean().item() - 1.0) < 5 * ratio.std().item() / math.sqrt(n)


def test_identity_in_eval_and_at_zero_rate():
    x = torch.randn(8, 5, 3, 3)
    assert torch.equal(DropPath(0.5).eval()(x), x)
    assert torch.equal(DropPath(0.0).train()(x), x)


def test_gradient_flows_through_kept_samples_only():
    torch.manual_seed(1)
    x = torch.ones(64, 2, requires_grad=True)
    y = DropPath(0.5).train()(x)
    y.sum().backward()
    kept = y[:, 0] != 0
    assert torch.all(x.grad[kept] == 2.0) and torch.all(x.grad[~kept] == 0.0)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_rate_outside_zero_one_is_a_clear_error(p):
    with pytest.raises(ValueError, match="drop_path must be in"):
        DropPath(p)
