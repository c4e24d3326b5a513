"""Backbone-contract checks shared by the backbone test files.

Each check takes ``small(aux=2)``, a factory of a small backbone built for 3 input frames of
8 × 8 with 1 target channel and ``aux`` auxiliary channels (t_out 4), and ``fed_frames(net, x,
fa, t_out, truth=None, tf=None) -> (out, fed_target, fed_aux)``, which runs the net and returns
the target and auxiliary channels of the frame fed at every future step.
"""

from __future__ import annotations

import torch


def contract_inputs(aux: int = 2, t_out: int = 4, b: int = 2, seed: int = 1):
    """(x (b, 3, 1 + aux, 8, 8), future_aux (b, t_out, aux, 8, 8) or None, truth)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 3, 1 + aux, 8, 8, generator=g)
    fa = torch.randn(b, t_out, aux, 8, 8, generator=g) if aux else None
    truth = torch.randn(b, t_out, 1, 8, 8, generator=g)
    return x, fa, truth


def check_closed_loop_rollout_longer_than_training(small, fed_frames) -> None:
    """Closed loop feeds back the net's own output and future_aux; 9 frames extend 4."""
    net = small().eval()
    x, fa, _ = contract_inputs(t_out=9)
    with torch.no_grad():
        out, fed_target, fed_aux = fed_frames(net, x, fa, 9)
        short = net(x, fa[:, :4], 4)
    assert out.shape == (2, 9, 1, 8, 8)
    assert torch.isfinite(out).all()
    assert torch.equal(fed_target, out[:, :8])
    assert torch.equal(fed_aux, fa[:, :8])
    torch.testing.assert_close(out[:, :4], short)


def check_teacher_forcing_one_and_zero(small, fed_frames) -> None:
    """Teacher forcing 1 feeds exactly the truth; 0 (or no truth) ignores it."""
    net = small().train()
    x, fa, truth = contract_inputs()
    _, fed_target, fed_aux = fed_frames(net, x, fa, 4, truth=truth, tf=1.0)
    assert torch.equal(fed_target, truth[:, :3])
    assert torch.equal(fed_aux, fa[:, :3])
    with torch.no_grad():
        a = net(x, fa, 4, truth=truth, teacher_forcing=0.0)
        b = net(x, fa, 4, truth=torch.randn_like(truth) * 100, teacher_forcing=0.0)
        c = net(x, fa, 4)
    assert torch.equal(a, b) and torch.equal(a, c)


def check_partial_teacher_forcing(small, fed_frames) -> None:
    """Teacher forcing 0.5 feeds truth or own output, per sample and per step."""
    net = small().train()
    x, fa, truth = contract_inputs(b=16, t_out=6)
    torch.manual_seed(3)
    with torch.no_grad():
        out, fed, _ = fed_frames(net, x, fa, 6, truth=truth, tf=0.5)
    is_truth = (fed == truth[:, :5]).flatten(2).all(-1)
    is_own = (fed == out[:, :5]).flatten(2).all(-1)
    assert (is_truth ^ is_own).all()
    assert 0.2 < is_truth.float().mean() < 0.8


def check_auxiliary_channels_reach_the_prediction(small) -> None:
    """Past and future auxiliary channels change the forecast, future ones only causally."""
    net = small().eval()
    x, fa, _ = contract_inputs()
    with torch.no_grad():
        base = net(x, fa, 4)
        fa2 = fa.clone()
        fa2[:, 1] += 1.0  # future aux of frame 1 is fed at the step that predicts frame 2
        moved = net(x, fa2, 4)
        x2 = x.clone()
        x2[:, :, 1:] += 1.0
        moved_past = net(x2, fa, 4)
    assert torch.equal(base[:, :2], moved[:, :2])
    assert (base[:, 2:] - moved[:, 2:]).abs().max() > 1e-6
    assert (base - moved_past).abs().max() > 1e-6
