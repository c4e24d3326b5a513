"""The seed's ENSO ConvLSTM (spec §4.3) and its composite loss (spec §4.4)."""

from __future__ import annotations

import math

import pytest
import torch

from geostl.tasks.enso.loss import SEED_WEIGHTS, enso_loss
from geostl.tasks.enso.model import EnsoConvLSTM, SeedConvLSTMCell


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_count_matches_the_seed_at_its_grid() -> None:
    model = EnsoConvLSTM(width=360, height=115)
    assert _count(model) == 2_389_605
    # the spec's breakdown, part by part
    assert [_count(c) for c in model.cells] == [9_856, 18_496, 153_728]
    assert _count(model.conv1) == 801
    assert _count(model.conv2) == _count(model.conv3) == 25_632
    assert _count(model.linear) == 2_138_176
    assert model.linear.in_features == 33_408
    assert _count(model.b1) == 128
    assert _count(model.index_head) == 8_320 + 129
    assert _count(model.phase_head) == 8_320 + 387


def test_head_shapes() -> None:
    torch.manual_seed(0)
    model = EnsoConvLSTM(width=30, height=17, hidden=(4, 4, 8), n_leads=6).eval()
    out = model(torch.randn(2, 6, 1, 30, 17))
    assert out["sst"].shape == (2, 1, 30, 17)
    assert out["index"].shape == (2, 6)
    assert out["phase_logits"].shape == (2, 6, 3)
    # (30-5)//2+1 = 13 -> (13-5)//3+1 = 3 ; (17-5)//2+1 = 7 -> (7-5)//3+1 = 1
    assert model.linear.in_features == 32 * 3 * 1


def test_bad_input_shape_and_too_small_grid() -> None:
    model = EnsoConvLSTM(width=30, height=17, hidden=(4, 4, 8))
    with pytest.raises(ValueError, match=r"\(B, T, C, 30, 17\)"):
        model(torch.zeros(1, 6, 1, 17, 30))
    with pytest.raises(ValueError, match="too small"):
        EnsoConvLSTM(width=12, height=40)


def test_cell_matches_hand_written_equations() -> None:
    torch.manual_seed(1)
    cell = SeedConvLSTMCell(2, 3, 3)
    x, h, c = torch.randn(1, 2, 5, 4), torch.randn(1, 3, 5, 4), torch.randn(1, 3, 5, 4)
    w, b = cell.conv.weight.double(), cell.conv.bias.double()
    gates = torch.nn.functional.conv2d(torch.cat([x, h], 1).double(), w, b, padding=1)
    i, f, o, g = gates[:, 0:3], gates[:, 3:6], gates[:, 6:9], gates[:, 9:12]
    c_ref = torch.sigmoid(f) * c.double() + torch.sigmoid(i) * torch.tanh(g)
    h_ref = torch.sigmoid(o) * torch.tanh(c_ref)
    h_new, c_new = cell(x, (h, c))
    torch.testing.assert_close(c_new.double(), c_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h_new.double(), h_ref, atol=1e-5, rtol=1e-5)


def test_loss_hand_worked() -> None:
    pred = {
        "sst": torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]]),
        "index": torch.tensor([[1.0]]),
        "phase_logits": torch.tensor([[[math.log(2.0), 0.0, 0.0]]]),
    }
    target = torch.tensor([[[[0.0, 2.0], [5.0, float("nan")]]]])
    ocean = torch.tensor([[True, True], [True, False]])
    loss = enso_loss(pred, target, ocean, torch.tensor([[0.5]]), torch.tensor([[0]]))
    # grid: squared errors 1, 0, 4 over 3 ocean cells; index: 0.5^2; CE: -ln(2/4)
    assert SEED_WEIGHTS == (0.2, 0.4, 0.4)
    assert loss.sst.item() == pytest.approx(5 / 3)
    assert loss.index.item() == pytest.approx(0.25)
    assert loss.phase.item() == pytest.approx(math.log(2.0))
    expected = 0.2 * 5 / 3 + 0.4 * 0.25 + 0.4 * math.log(2.0)
    assert loss.total.item() == pytest.approx(expected)


def test_land_cell_has_no_effect_on_loss_or_gradient() -> None:
    sst = torch.zeros(1, 1, 2, 2, requires_grad=True)
    pred = {"sst": sst, "index": torch.zeros(1, 1), "phase_logits": torch.zeros(1, 1, 3)}
    ocean = torch.tensor([[True, False], [True, True]])
    args = (torch.zeros(1, 1), torch.zeros(1, 1, dtype=torch.long))
    t1 = torch.tensor([[[[1.0, 7.0], [0.0, 0.0]]]])
    t2 = torch.tensor([[[[1.0, -30.0], [0.0, 0.0]]]])
    l1 = enso_loss(pred, t1, ocean, *args)
    l1.total.backward()
    assert sst.grad[0, 0, 0, 1] == 0
    assert l1.total.item() == enso_loss(pred, t2, ocean, *args).total.item()
    t3 = torch.tensor([[[[1.0, 7.0], [0.0, 2.0]]]])  # an ocean cell changes the loss
    assert enso_loss(pred, t3, ocean, *args).sst.item() == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="no True"):
        enso_loss(pred, t1, torch.zeros(2, 2, dtype=torch.bool), *args)


def test_training_step_reduces_loss() -> None:
    torch.manual_seed(0)
    model = EnsoConvLSTM(width=13, height=13, hidden=(4, 4, 8), trunk_channels=8, n_leads=2)
    x = torch.randn(4, 3, 1, 13, 13)
    sst, ocean = torch.randn(4, 1, 13, 13), torch.ones(13, 13, dtype=torch.bool)
    index, phase = torch.randn(4, 2), torch.tensor([[0, 1], [2, 2], [1, 0], [0, 2]])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(10):
        opt.zero_grad()
        loss = enso_loss(model(x), sst, ocean, index, phase).total
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.8 * first


def test_seed_grid_forward_shapes() -> None:
    model = EnsoConvLSTM(width=360, height=115).eval()  # the flatten size fits the real convs
    with torch.no_grad():
        out = model(torch.zeros(2, 1, 1, 360, 115))
    assert out["sst"].shape == (2, 1, 360, 115)
    assert out["index"].shape == (2, 1)
    assert out["phase_logits"].shape == (2, 1, 3)
