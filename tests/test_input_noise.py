"""The training-time input-noise ablation (the SVQ paper): fraction ρ multiplied by U(−2, 2)."""

from __future__ import annotations

import math

import pytest
import torch

from geostl.models.input_noise import InputNoise


@pytest.mark.parametrize("fraction", [0.1, 0.5])
def test_fraction_and_factor_distribution(fraction: float) -> None:
    torch.manual_seed(0)
    n = 200_000
    x = torch.full((n,), 3.0)
    y = InputNoise(fraction).train()(x)
    changed = y != x
    # binomial: the changed share is within 5 standard errors of ρ
    assert abs(changed.double().mean().item() - fraction) < 5 * math.sqrt(
        fraction * (1 - fraction) / n
    )
    factors = (y[changed] / 3.0).double()
    m = factors.numel()
    assert factors.min() >= -2.0 and factors.max() <= 2.0
    # U(−2, 2): mean 0 (sd 2/√3/√m), variance 4/3, a quarter of the mass in each unit interval
    assert abs(factors.mean().item()) < 5 * (2 / math.sqrt(3)) / math.sqrt(m)
    assert factors.var().item() == pytest.approx(4 / 3, rel=0.03)
    assert (factors > 1).double().mean().item() == pytest.approx(0.25, abs=0.01)


def test_identity_in_eval_and_for_zero_fraction() -> None:
    x = torch.randn(4, 3, 5)
    assert torch.equal(InputNoise(0.5).eval()(x), x)
    assert torch.equal(InputNoise(0.0).train()(x), x)


def test_all_elements_with_fraction_one() -> None:
    torch.manual_seed(1)
    x = torch.ones(10_000)
    y = InputNoise(1.0).train()(x)
    assert (y != x).all()


@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.3", True])
def test_bad_fraction_is_named(bad: object) -> None:
    with pytest.raises(ValueError, match="input_noise: fraction"):
        InputNoise(bad)  # type: ignore[arg-type]
