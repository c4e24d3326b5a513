"""MAU: OpenSTL's parameter count, MACs against the seed, shapes, gradients, rollout, scheduled
sampling, auxiliary channels and a short training on the TEC sample."""

from __future__ import annotations

import pytest
import torch

from backbone_fit_helpers import fit_on_tec_sample
from geostl.benchmark import count_flops
from geostl.models import build_backbone, count_parameters
from test_backbone_contract import contract_inputs as _inputs

IONO = {"in_shape": (12, 1, 72, 72), "out_channels": 1, "t_out": 48}


def test_parameter_count_matches_openstl_mau_model():
    """Iono configuration: hidden 4×64, filter 5, patch 1, sr_size 4, tau 5 (latent 18×18).

    One cell: conv_t and conv_s 25·64·192 + 192 = 307 392 each, conv_t_next and conv_s_next
    25·64·64 + 64 = 102 464 each, LayerNorms 2·324·(192 + 64 + 192 + 64) = 331 776
    → 1 151 488; four cells 4 605 952. Encoder 1×1 (1·64 + 64) + two 3×3 stride-2
    (9·64·64 + 64 = 36 928 each); decoder two 3×3 transposed (36 928 each); readout 64 + 1;
    OpenSTL's unused merge 128·64 + 64 = 8 256 and conv_last_sr 2·1 + 1 = 3
    → 4 762 116 (OpenSTL's MAU_Model: 4.76 M). Table 1's 4.72 M is the seed's fork, which
    drops srcnn, merge and conv_last_sr and ends the decoder at 1 channel:
    4 762 116 − 65 − 8 256 − 3 − (36 928 − 577) = 4 717 441.
    """
    net = build_backbone("mau", **IONO, openstl_inert_params=True)
    assert count_parameters(net) == 4_762_116
    assert count_parameters(net, trainable_only=True) == 4_762_116 - 8_259
    lean = build_backbone("mau", **IONO)
    assert count_parameters(lean) == 4_753_857
    assert abs((4_762_116 - 65 - 8_256 - 3 - (36_928 - 577)) / 4.72e6 - 1) < 0.001
    # concatenate-16 (Table 1: 4.72 M, flat): the 1×1 encoder grows by 15·64 weights and
    # the inert conv_last_sr from 2·1 + 1 to 32·16 + 16
    cat16 = build_backbone(
        "mau",
        **{**IONO, "in_shape": (12, 16, 72, 72)},
        aux_channels=15,
        openstl_inert_params=True,
    )
    assert count_parameters(cat16) - count_parameters(net) == 15 * 64 + 528 - 3


@pytest.mark.slow
def test_macs_at_the_seed_setting():
    """12 → 48 (59 steps), B = 1: 69.73 G convolution MACs for OpenSTL's class.

    Table 1's 67.13 G is the seed's fork (last transposed conv 36²·64·1·9 instead of
    36²·64·64·9 MACs, no 72²·64 readout: −47.36 M per step, −2.794 G) counted by fvcore, which
    also counts LayerNorm as 5 per element (4 cells · 2·324·256 · 5 · 59 = 0.196 G):
    69.725 − 2.794 + 0.196 = 67.127 G.
    """
    net = build_backbone("mau", **IONO).eval().to("meta")
    fc = count_flops(net, (torch.empty(1, 12, 1, 72, 72, device="meta"), None, 48))
    assert fc.macs == 69_725_380_608
    per_step_seed_fork = 1296 * 64 * 64 * 9 - 1296 * 64 * 9 + 5184 * 64
    layer_norm = 4 * 2 * 324 * 256 * 5
    seed = fc.macs - 59 * per_step_seed_fork + 59 * layer_norm
    assert seed / 1e9 == pytest.approx(67.13, abs=0.005)


def _small(aux: int = 2, **kw):
    torch.manual_seed(0)
    args = {
        "num_hidden": [6, 6],
        "filter_size": 3,
        "patch_size": 2,
        "sr_size": 2,
        "tau": 3,
        **kw,
    }
    return build_backbone(
        "mau", in_shape=(3, 1 + aux, 8, 8), out_channels=1, t_out=4, aux_channels=aux, **args
    )


@pytest.mark.parametrize(
    ("cell_mode", "model_mode"), [("normal", "normal"), ("residual", "recall")]
)
def test_shapes_and_every_parameter_gets_a_finite_gradient(cell_mode, model_mode):
    net = _small(cell_mode=cell_mode, model_mode=model_mode).train()
    x, fa, truth = _inputs()
    out = net(x, fa, 4, truth=truth, teacher_forcing=0.5)
    assert out.shape == (2, 4, 1, 8, 8)
    ((out - truth) ** 2).mean().backward()
    for name, p in net.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, name
            assert torch.isfinite(p.grad).all(), name
            assert p.grad.abs().sum() > 0, name
        else:  # OpenSTL's unused convolutions: frozen
            assert name.split(".")[0] in ("merge", "conv_last_sr"), name
    assert net.aux_losses == {}


def test_attention_weights_follow_the_mau_equations():
    """Cell step against the equations written out in float64 (history of 2 random states)."""
    from geostl.models.backbones.mau_cell import MAUCell

    torch.manual_seed(0)
    cell = MAUCell(4, 5, 5, 3, tau=2, cell_mode="normal").double()
    t, s = torch.randn(2, 4, 5, 5).double(), torch.randn(2, 4, 5, 5).double()
    th, sh = torch.randn(2, 2, 4, 5, 5).double(), torch.randn(2, 2, 4, 5, 5).double()
    s_next = cell.conv_s_next(s)
    scores = torch.stack([(sh[j] * s_next).sum((1, 2, 3)) for j in range(2)]) / (4 * 25) ** 0.5
    a = torch.exp(scores) / torch.exp(scores).sum(0)
    trend = a[0, :, None, None, None] * th[0] + a[1, :, None, None, None] * th[1]
    u = torch.sigmoid(cell.conv_t_next(t))
    fused = u * t + (1 - u) * trend
    tg, tt, ts = cell.conv_t(fused).chunk(3, 1)
    sg, st, ss = cell.conv_s(s).chunk(3, 1)
    t_ref = torch.sigmoid(tg) * tt + (1 - torch.sigmoid(tg)) * st
    s_ref = torch.sigmoid(sg) * ss + (1 - torch.sigmoid(sg)) * ts
    t_new, s_new = cell(t, s, th, sh)
    torch.testing.assert_close(t_new, t_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(s_new, s_ref, rtol=1e-12, atol=1e-12)
    # and the gradients of every parameter (the cell fuses the gates into lerps)
    params = list(cell.parameters())
    g_ref = torch.autograd.grad((t_ref**2).sum() + (s_ref**3).sum(), params)
    g_new = torch.autograd.grad((t_new**2).sum() + (s_new**3).sum(), params)
    for a, b in zip(g_new, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_bad_arguments_are_clear_errors():
    base = {"in_shape": (3, 1, 8, 8), "out_channels": 1, "t_out": 2}
    with pytest.raises(ValueError, match="sr_size=4 must divide"):
        build_backbone("mau", **{**base, "in_shape": (3, 1, 10, 8)}, sr_size=4, patch_size=1)
    with pytest.raises(ValueError, match="power of two"):
        build_backbone("mau", **base, sr_size=3)
    with pytest.raises(ValueError, match="num_hidden"):
        build_backbone("mau", **base, num_hidden=[8, 4], sr_size=2)
    with pytest.raises(ValueError, match="model_mode"):
        build_backbone("mau", **base, model_mode="x", sr_size=2)
    net = _small()
    x, fa, _ = _inputs()
    with pytest.raises(ValueError, match="future_aux must have shape"):
        net(x, None, 4)
    with pytest.raises(ValueError, match="x must have shape"):
        net(x[:, :2], fa, 4)


@pytest.mark.slow
def test_validation_loss_falls_on_the_tec_sample(tmp_path):
    backbone = {"name": "mau", "num_hidden": [8, 8], "filter_size": 3, "sr_size": 2, "tau": 2}
    before, after, vals = fit_on_tec_sample(backbone, tmp_path)
    assert after < 0.5 * before and vals[-1] < vals[0], (before, vals)
