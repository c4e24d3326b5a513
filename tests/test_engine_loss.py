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


def test_mae_criterion_hand_example_and_its_validation_twin():
    from geostl.engine.trainer import validation_loss

    pred = torch.tensor([1.0, -2.0, 3.0, 4.0]).reshape(1, 1, 1, 2, 2)
    batch = {
        "targets": torch.tensor([0.0, 0.0, 0.0, 100.0]).reshape(1, 1, 1, 2, 2),
        "target_mask": torch.tensor([True, True, True, False]).reshape(1, 1, 1, 2, 2),
    }
    loss, parts = total_loss({"pred": pred}, batch, criterion="mae")
    assert float(loss) == pytest.approx((1 + 2 + 3) / 3) and parts == {"mae": 2.0}
    loss, parts = total_loss({"pred": pred}, batch)
    assert float(loss) == pytest.approx((1 + 4 + 9) / 3) and set(parts) == {"mse"}
    with pytest.raises(ValueError, match="train.criterion"):
        total_loss({"pred": pred}, batch, criterion="huber")

    class Fixed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, b):
            return {"pred": pred.expand_as(b["targets"]) + self.w}

    dataset = [{k: v[0] for k, v in batch.items()}] * 3
    for criterion, expected in (("mae", 2.0), ("mse", 14.0 / 3.0)):
        got = validation_loss(Fixed(), dataset, batch_size=2, device="cpu", criterion=criterion)
        assert got == pytest.approx(expected)


def test_train_criterion_is_validated():
    from geostl.engine import TrainConfig

    assert TrainConfig.from_dict({"criterion": "mae"}).criterion == "mae"
    assert TrainConfig.from_dict({}).criterion == "mse"
    with pytest.raises(ValueError, match="train.criterion: 'mea' is not allowed; did you mean"):
        TrainConfig.from_dict({"criterion": "mea"})
