"""Masked MSE and auxiliary losses against hand-worked values."""

from __future__ import annotations

import pytest
import torch

from geostl.engine import masked_mse, total_loss


def test_masked_mse_hand_example():
    pred = torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 1, 2, 2)
    target = torch.tensor([0.0, 0.0, 0.0, 100.0]).reshape(1, 1, 1, 2, 2)
    mask = torch.tensor([True, True, True, False]).reshape(1, 1, 1, 2, 2)
    # (1 + 4 + 9) / 3: the masked element does not count, the mean is over valid ones only
    assert float(masked_mse(pred, target, mask)) == pytest.approx(14.0 / 3.0)


def test_no_valid_element_gives_zero_with_a_gradient():
    pred = torch.ones(1, 1, 1, 2, 2, requires_grad=True)
    loss = masked_mse(pred, torch.zeros(1, 1, 1, 2, 2), torch.zeros(1, 1, 1, 2, 2, dtype=bool))
    loss.backward()
    assert float(loss.detach()) == 0.0 and float(pred.grad.abs().sum()) == 0.0


def test_total_loss_adds_weighted_aux_losses():
    pred = torch.full((1, 1, 1, 1, 2), 2.0)
    batch = {
        "targets": torch.zeros(1, 1, 1, 1, 2),
        "target_mask": torch.ones(1, 1, 1, 1, 2, dtype=bool),
    }
    out = {"pred": pred, "aux_losses": {"a": torch.tensor(3.0), "b": torch.tensor(5.0)}}
    loss, parts = total_loss(out, batch, {"a": 0.5})
    assert float(loss) == pytest.approx(4.0 + 0.5 * 3.0 + 5.0)
    assert parts == {"mse": 4.0, "a": 3.0, "b": 5.0}
    with pytest.raises(KeyError, match="aux_weights"):
        total_loss(out, batch, {"c": 1.0})
    with pytest.raises(ValueError, match="mask must be bool"):
        masked_mse(pred, pred, torch.ones_like(pred))
