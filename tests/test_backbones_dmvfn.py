"""DMVFN: OpenSTL's parameter and MAC counts, warping, routing, rollout, losses."""

from __future__ import annotations

import copy

import pytest
import torch

from geostl.benchmark.flops import count_flops
from geostl.models import build_backbone, build_forecaster, count_parameters
from geostl.models.backbones.dmvfn_blocks import warp


def _mvfb_params(f: int, p: int) -> int:
    """conv0 (p → f/2 → f, stride 2), 3 convs f → f, squeeze f → f/4, full-resolution branch
    p → 8 → 8, transposed 4×4 conv (f/4 + 8) → 5; 3×3 convs with bias and PReLU slopes."""
    return (
        (9 * p * (f // 2) + f)
        + (9 * (f // 2) * f + 2 * f)
        + 3 * (9 * f * f + 2 * f)
        + (9 * f * (f // 4) + 2 * (f // 4))
        + (9 * p * 8 + 16)
        + (9 * 8 * 8 + 16)
        + (16 * 5 * (f // 4 + 8) + 5)
    )


def _expected(c: int) -> int:
    p = 4 * c + 1 + 4
    blocks = sum(_mvfb_params(f, p) for f in (160,) * 3 + (80,) * 3 + (44,) * 3)
    routing = (9 * 2 * c * 32 + 32) + (9 * 32 * 32 + 32) + (32 * 9 + 9)
    return blocks + routing


def test_parameter_counts_match_openstls_published_ones():
    """OpenSTL's default DMVFN: 3 522 922 for one channel (MMNIST, published 3.5 M; the same
    at the iono 72×72 grid, the count does not depend on H, W) and 3 541 426 for TaxiBJ's two
    channels (published 3.54 M)."""
    with torch.device("meta"):
        one = build_backbone("dmvfn", in_shape=(12, 1, 72, 72), out_channels=1, t_out=48)
        two = build_backbone("dmvfn", in_shape=(4, 2, 32, 32), out_channels=2, t_out=4)
    assert count_parameters(one) == _expected(1) == 3_522_922
    assert count_parameters(two) == _expected(2) == 3_541_426
    assert round(count_parameters(two) / 1e6, 2) == 3.54


@pytest.mark.slow
def test_macs_match_openstls_published_ones():
    """One next-frame step, B = 1 (OpenSTL's fvcore count runs every block): MMNIST 64×64
    0.217 G (published 0.2 G), TaxiBJ 32×32×2 0.0565 G (0.057 G). At the iono setting
    (72×72, 48 steps) 48 × 0.287 G = 13.78 G."""
    cases = (((10, 1, 64, 64), 217_067_808), ((4, 2, 32, 32), 56_543_520))
    for shape, macs in cases:
        with torch.device("meta"):
            net = build_backbone("dmvfn", in_shape=shape, out_channels=shape[1], t_out=1)
        fc = count_flops(net.eval(), (torch.empty(1, *shape, device="meta"), None, 1))
        assert fc.macs == macs
    assert round(217_067_808 / 1e9, 1) == 0.2 and round(56_543_520 / 1e9, 3) == 0.057


def test_warp_zero_flow_is_the_identity_and_a_unit_flow_shifts_one_pixel():
    img = torch.randn(2, 3, 6, 7, dtype=torch.float64)
    flow = torch.zeros(2, 2, 6, 7, dtype=torch.float64)
    torch.testing.assert_close(warp(img, flow), img)
    flow[:, 0] = 1.0  # sample one pixel to the right (x)
    torch.testing.assert_close(warp(img, flow)[..., :-1], img[..., 1:])
    flow[:, 0], flow[:, 1] = 0.0, -1.0  # one pixel up (y)
    torch.testing.assert_close(warp(img, flow)[..., 1:, :], img[..., :-1, :])


def _small(aux: int = 2, **kw):
    torch.manual_seed(0)
    args = {"routing_out_channels": 4, "num_features": [8, 8, 4], "scale": [2, 1, 1]}
    return build_backbone(
        "dmvfn",
        in_shape=(3, 1 + aux, 9, 11),
        out_channels=1,
        t_out=2,
        aux_channels=aux,
        **{**args, **kw},
    )


def _inputs(aux: int = 2, t_out: int = 2, b: int = 3):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(b, 3, 1 + aux, 9, 11, generator=g)
    fa = torch.rand(b, t_out, aux, 9, 11, generator=g) if aux else None
    truth = torch.rand(b, t_out, 1, 9, 11, generator=g)
    return x, fa, truth


def test_shapes_gradients_and_the_block_loss():
    net = _small().train()
    x, fa, truth = _inputs(t_out=4)
    torch.manual_seed(2)
    out = net(x, fa, 4, truth=truth, teacher_forcing=0.5)
    assert out.shape == (3, 4, 1, 9, 11)  # odd grid: transposed-conv output cropped
    assert set(net.aux_losses) == {"block_l1"}
    loss = (out - truth).pow(2).mean() + net.aux_losses["block_l1"]
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert net.routing.routing[0].weight.grad.abs().sum() > 0  # straight-through routing
    off = _small(deep_supervision=False).train()
    off(x, fa, 4, truth=truth)
    assert off.aux_losses == {}


def test_block_loss_weights_follow_gamma():
    """One step, routing fixed: Σ_i γ^(n−1−i)·mean|out_i − truth| from the block outputs."""
    net = _small(gamma=0.5).train()
    x, fa, truth = _inputs(t_out=1)
    torch.manual_seed(3)
    net(x, fa, 1, truth=truth)
    torch.manual_seed(3)
    _, blocks = net.step(x[:, -2], x[:, -1], supervise=True)
    expected = sum(
        w * (o - truth[:, 0]).abs().mean() for w, o in zip((0.25, 0.5, 1.0), blocks, strict=True)
    )
    torch.testing.assert_close(net.aux_losses["block_l1"], expected)


def test_teacher_forcing_one_feeds_exactly_the_truth_and_zero_ignores_it():
    net = _small().eval()
    x, fa, truth = _inputs(t_out=3)
    with torch.no_grad():
        free = net(x, fa, 3)
        ignored = net(x, fa, 3, truth=truth, teacher_forcing=0.0)
        forced = net(x, fa, 3, truth=truth, teacher_forcing=1.0)
        img1 = torch.cat([truth[:, 0], fa[:, 0]], 1)
        img2 = torch.cat([truth[:, 1], fa[:, 1]], 1)
        step2, _ = net.step(x[:, -1], img1, supervise=False)
        step3, _ = net.step(img1, img2, supervise=False)
    torch.testing.assert_close(free, ignored)
    torch.testing.assert_close(forced[:, 1], step2)
    torch.testing.assert_close(forced[:, 2], step3)


def test_routing_switches_blocks_per_sample():
    net = _small().eval()
    x, _, _ = _inputs()
    with torch.no_grad():
        r = net.routing_vector(x[:, -2], x[:, -1])
    assert r.shape == (3, 3) and set(r.unique().tolist()) <= {0.0, 1.0}
    net.train()
    torch.manual_seed(0)
    draws = torch.stack([net.routing_vector(x[:, -2], x[:, -1]) for _ in range(200)])
    assert set(draws.unique().tolist()) <= {0.0, 1.0}
    assert 0.0 < float(draws.detach().mean()) < 1.0


def test_clamp_and_bad_arguments():
    net = _small(clamp=(0.2, 0.4)).eval()
    x, fa, _ = _inputs()
    with torch.no_grad():
        out = net(x, fa, 2)
    assert out.min() >= 0.2 and out.max() <= 0.4
    with pytest.raises(ValueError, match="T_in must be >= 2"):
        build_backbone("dmvfn", in_shape=(1, 1, 16, 16), out_channels=1, t_out=1)
    with pytest.raises(ValueError, match="num_features must list multiples of 4"):
        _small(num_features=[6, 8, 4])
    with pytest.raises(ValueError, match="one positive int per block"):
        _small(scale=[1, 1])
    with pytest.raises(ValueError, match="dmvfn: x must have shape"):
        net(x[:, :2], fa, 2)


def test_residual_last_is_refused_no_readout():
    meta = {"t_in": 3, "t_out": 2, "target_channels": 1, "forcing_channels": 0,
            "static_channels": 0, "height": 16, "width": 16}  # fmt: skip
    with pytest.raises(ValueError, match="readout"):
        build_forecaster({"backbone": "dmvfn", "residual": "last"}, meta)
    assert build_forecaster({"backbone": "dmvfn"}, meta) is not None


@pytest.mark.slow
def test_validation_loss_falls_on_the_tec_sample(tmp_path):
    from geostl.commands.demo import TEC_DEMO_CONFIG
    from geostl.data import build_datasets
    from geostl.datasets import sample
    from geostl.engine import Trainer, validation_loss
    from geostl.models import meta_from_dataset

    cfg = copy.deepcopy(TEC_DEMO_CONFIG)
    cfg["window"]["t_out"] = 4
    data = build_datasets(cfg, {"maps": sample("tec"), "omni": sample("tec_drivers")})
    meta = meta_from_dataset(data["train"])
    meta.pop("lon"), meta.pop("time_step_hours")
    torch.manual_seed(0)
    backbone = {"name": "dmvfn", "routing_out_channels": 4, "num_features": [8, 4],
                "scale": [2, 1]}  # fmt: skip
    model = build_forecaster({"backbone": backbone}, meta)
    before = validation_loss(model, data["val"], 8)
    train = {"epochs": 2, "batch_size": 2, "max_steps_per_epoch": 3, "lr": 3e-3,
             "schedule": "constant", "seed": 0,
             "scheduled_sampling": {"start": 1.0, "decay_per_step": 0.1, "min": 0.0}}  # fmt: skip
    summary = Trainer(model, data, train, None, tmp_path / "fit", progress=False).fit()
    vals = [r["val_loss"] for r in summary["history"]]
    after = validation_loss(model, data["val"], 8)
    assert after < before and vals[-1] < vals[0], (before, vals)
