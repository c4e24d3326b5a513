"""SimVP (gSTA, IncepU): the published parameter count, shapes, gradients, block rollout."""

from __future__ import annotations

import pytest
import torch

from geostl.models import build_backbone, count_parameters
from geostl.models.backbones import TRANSLATOR_BLOCKS


def test_parameter_count_matches_seed_table_1():
    """Iono configuration: 12×1×72×72, hid_S 64, hid_T 512, N_S 4, N_T 8, gSTA, mlp_ratio 8.

    Independent count. Encoder: 3×3 conv 1→64 (640) + 3 convs 64→64 (36 928 each), GroupNorm
    128 each → 111 936. Decoder: 2 upsampling convs 64→256 (147 712) and 2 convs 64→64,
    GroupNorm 128 each, readout 64→1 (65) → 369 857. A gSTA block of width d has
    20·d² + 175·d parameters (1×1 convs d², 2d², d² in the attention, 8d² twice in the MLP;
    the rest depth-wise 5×5, 7×7, 3×3, biases, two BatchNorms, two layer scales):
    d = 768 → 11 930 880, d = 512 → 5 332 480. Translator: block(768) + 1×1 768→512
    (393 728) + 6·block(512) + block(512) + 1×1 512→768 (393 984) → 50 045 952.
    Total 50 527 745 = 50.53 M (seed Table 1: 50.53 M).
    """
    net = build_backbone("simvp", in_shape=(12, 1, 72, 72), out_channels=1, t_out=12)
    total = count_parameters(net)
    assert total == 50_527_745
    assert abs(total / 50.53e6 - 1) < 0.005


def test_incepu_builds_at_the_mmnist_configuration_of_openstl():
    """OpenSTL's published SimVP+IncepU on Moving MNIST (10×1×64×64, same widths): 58.0 M."""
    net = build_backbone(
        "simvp", in_shape=(10, 1, 64, 64), out_channels=1, t_out=10, model_type="IncepU"
    )
    assert abs(count_parameters(net) / 57.95e6 - 1) < 0.005


def _small(model_type: str = "gSTA", aux: int = 2, t_in: int = 3, **kw):
    torch.manual_seed(0)
    return build_backbone(
        "simvp",
        in_shape=(t_in, 1 + aux, 8, 8),
        out_channels=1,
        t_out=t_in,
        aux_channels=aux,
        hid_S=4,
        hid_T=8,
        N_S=2,
        N_T=3,
        model_type=model_type,
        mlp_ratio=2.0,
        **kw,
    )


def _inputs(aux: int = 2, t_out: int = 3, b: int = 2):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(b, 3, 1 + aux, 8, 8, generator=g)
    fa = torch.randn(b, t_out, aux, 8, 8, generator=g) if aux else None
    return x, fa


@pytest.mark.parametrize("model_type", ["gSTA", "IncepU"])
def test_shapes_and_every_parameter_gets_a_finite_gradient(model_type):
    net = _small(model_type).train()
    x, fa = _inputs(t_out=7)
    out = net(x, fa, 7)  # 3 chained blocks of 3 frames, the last one cut
    assert out.shape == (2, 7, 1, 8, 8)
    (out**2).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert net.aux_losses == {}


@pytest.mark.parametrize("model_type", ["gSTA", "IncepU"])
def test_block_chaining_closed_loop_with_future_aux(model_type):
    """t_out = 5 with T_in = 3 (not a multiple): two blocks, the second truncated to 2 frames."""
    net = _small(model_type).eval()
    x, fa = _inputs(t_out=5)
    with torch.no_grad():
        out = net(x, fa, 5)
        first = net.predict_block(x)
        second = net.predict_block(torch.cat([first, fa[:, :3]], dim=2))
        short = net(x, fa[:, :2], 2)
    assert out.shape == (2, 5, 1, 8, 8)
    torch.testing.assert_close(out[:, :3], first)
    torch.testing.assert_close(out[:, 3:], second[:, :2])
    torch.testing.assert_close(short, first[:, :2])


def test_auxiliary_channels_reach_the_prediction_and_truth_is_ignored():
    net = _small().eval()
    x, fa = _inputs(t_out=6)
    with torch.no_grad():
        base = net(x, fa, 6)
        fa2 = fa.clone()
        fa2[:, 1] += 1.0
        moved = net(x, fa2, 6)
        x2 = x.clone()
        x2[:, :, 1:] += 1.0
        moved_past = net(x2, fa, 6)
        with_truth = net(x, fa, 6, truth=torch.randn(2, 6, 1, 8, 8), teacher_forcing=1.0)
    assert torch.equal(base[:, :3], moved[:, :3])  # future aux only enters the next block
    assert (base[:, 3:] - moved[:, 3:]).abs().max() > 1e-6
    assert (base - moved_past).abs().max() > 1e-6
    assert torch.equal(base, with_truth)


def test_one_channel_without_aux():
    net = _small(aux=0).eval()
    x, _ = _inputs(aux=0)
    with torch.no_grad():
        assert net(x, None, 4).shape == (2, 4, 1, 8, 8)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match=r"H=10 and W=8 must be divisible by 2\^\(N_S//2\) = 4"):
        build_backbone("simvp", in_shape=(3, 1, 10, 8), out_channels=1, t_out=3)
    with pytest.raises(KeyError, match=r"unknown model_type 'gsat'.*'gsta'"):
        build_backbone("simvp", in_shape=(3, 1, 8, 8), out_channels=1, t_out=3, model_type="gsat")
    assert "gsta" in TRANSLATOR_BLOCKS.available()


def test_iono_latent_grid_and_translator_width():
    """Encoder 72 → 36 → 18 with hid_S 64; the translator sees 12·64 = 768 channels."""
    net = build_backbone("simvp", in_shape=(12, 1, 72, 72), out_channels=1, t_out=12).eval()
    with torch.no_grad():
        latent, skip = net.encoder(torch.zeros(1, 1, 72, 72))
    assert latent.shape == (1, 64, 18, 18) and skip.shape == (1, 64, 72, 72)
    first = net.translator.layers[0]
    assert first.block.norm1.num_features == 768 and first.reduction.out_channels == 512
    assert net.decoder.readout.out_channels == 1
