"""CrevNet: OpenSTL's parameter count, invertibility of the autoencoder, shapes, gradients,
rollout, scheduled sampling, auxiliary channels and a short training on the TEC sample."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from backbone_fit_helpers import fit_on_tec_sample
from geostl.benchmark.flops import count_flops
from geostl.models import build_backbone, build_forecaster, count_parameters
from test_backbone_contract import contract_inputs as _inputs


def test_parameter_count_matches_openstl_crevnet_model():
    """OpenSTL's default (MMNIST 64×64, C 1; latent L = rnn_size = 32, 8 predictor layers).

    Predictor layer: six gates Conv3d(3·32 → 32, 3³) 6·(96·32·27 + 32) = 497 856, out gate
    128·32·27 + 32 = 110 624, w1 64·32 + 32 = 2 080, attention 32·32 + 32 = 1 056
    → 611 616; eight layers 4 892 928. Encoder (12 i-RevNet blocks, bias-free 3³ convs with
    norms of 2 affine weights per channel, BatchNorm3d or GroupNorm alike) 104 516 →
    4 997 444 (OpenSTL's table: 5.0 M). Independent of H, W: the iono shape (72×72) gives the
    same.
    """
    for hw, norm in ((64, "batch"), (72, "batch"), (64, "group")):
        net = build_backbone(
            "crevnet", in_shape=(10, 1, hw, hw), out_channels=1, t_out=10, encoder_norm=norm
        )
        assert net.rnn_size == 32 and net.latent_hw == (hw // 8, hw // 8)
        assert count_parameters(net.frame_predictor) == 8 * 611_616
        assert count_parameters(net) == 4_997_444
    assert abs(4_997_444 / 5.0e6 - 1) < 0.01


def _conv_macs_and_norm_elements(net, x, t_out):
    """(multiply-adds of the convolutions, elements entering a norm layer) of one forward."""
    elements = [0]

    def add(module, args, output):
        elements[0] += args[0].numel()

    norms = (nn.BatchNorm3d, nn.GroupNorm)
    hooks = [m.register_forward_hook(add) for m in net.modules() if isinstance(m, norms)]
    try:
        macs = count_flops(net, (x, None, t_out)).macs
    finally:
        for hook in hooks:
            hook.remove()
    return macs, elements[0]


def test_macs_reproduce_openstl_published_figure_under_its_convention():
    """OpenSTL's Moving MNIST figure, 270.7 G, is fvcore on ``CrevNet_Model``'s training forward
    with ``batch_size`` (16) sequences of 20 frames: 17 steps (windows of frames 0–2 … 16–18,
    each predicting the next window), fvcore counting one per convolution multiply-add and 5
    per element of a training-mode BatchNorm. A geostl step is the same encode → predict →
    decode (counted here once, on the meta device, for a batch of 16).

    One step by hand (64×64, C 1, the encoder on (B, ·, 3, h, w) windows, 27-tap kernels):
    encoder groups 4 × 414 720 + (1 161 216 + 4 × 1 658 880) + (4 644 864 + 2 × 6 635 520)
    = 27 371 520, twice (encode and decode) = 54 743 040; predictor layer (latent 32 × 3 × 8 × 8
    = 192 positions) 6 · 96·32·27·192 + 128·32·27·192 + 64·32·192 + 32·32·192 = 117 374 976,
    eight layers 938 999 808; step total 993 742 848. Norm inputs: encoder 43 008 + 61 440 +
    36 864 = 141 312, twice 282 624. geostl's own 10 → 10 figure is 19 such steps per sample,
    convolutions only: 18.88 G.
    """
    step_macs, step_norm = 993_742_848, 282_624
    net = build_backbone("crevnet", in_shape=(1, 1, 64, 64), out_channels=1, t_out=1)
    net = net.to("meta").train()  # T_in + t_out − 1 = 1 step
    x = torch.empty(16, 1, 1, 64, 64, device="meta")
    macs, norm_elements = _conv_macs_and_norm_elements(net, x, 1)
    assert (macs, norm_elements) == (16 * step_macs, 16 * step_norm)
    fvcore_count = 17 * (macs + 5 * norm_elements)  # 270 682 423 296
    assert abs(fvcore_count / 270.7e9 - 1) < 1e-3
    assert round(19 * step_macs / 1e9, 2) == 18.88


def _small(aux: int = 2, **kw):
    torch.manual_seed(0)
    args = {"predictor_rnn_layers": 2, "n_blocks": [1, 1], "n_strides": [1, 2], **kw}
    return build_backbone(
        "crevnet", in_shape=(3, 1 + aux, 8, 8), out_channels=1, t_out=4, aux_channels=aux, **args
    )


@pytest.mark.parametrize(
    ("aux", "kw"),
    [
        (2, {}),
        (2, {"encoder_norm": "group"}),
        (3, {"init_ds": 1, "n_blocks": [2, 1]}),
    ],
)
def test_decode_inverts_encode_to_float_precision(aux, kw):
    """Exact in training mode too: the inverse recomputes each block's F on the same input, so
    BatchNorm's batch statistics are the same."""
    net = _small(aux, **kw).train()
    for p in net.parameters():  # non-trivial norm affines too
        p.data.normal_(0, 0.3)
    x = torch.randn(2, 1 + aux, 3, 8, 8, dtype=torch.float64)
    enc = net.encoder.double()
    with torch.no_grad():
        h1, h2 = enc.encode(x)
        assert h1.shape == h2.shape == (2, net.rnn_size, 3, *net.latent_hw)
        torch.testing.assert_close(enc.decode((h1, h2)), x, rtol=0, atol=1e-12)
    net.float()
    with torch.no_grad():
        xf = x.float()
        torch.testing.assert_close(
            net.encoder.decode(net.encoder.encode(xf)), xf, rtol=0, atol=1e-5
        )


def test_big_encoder_is_invertible():
    net = build_backbone("crevnet", in_shape=(2, 1, 16, 16), out_channels=1, t_out=1).double()
    x = torch.randn(1, 1, 3, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(net.encoder.decode(net.encoder.encode(x)), x, rtol=0, atol=1e-10)


def test_encoder_norm_batch_is_openstls_layout_and_group_is_per_sample():
    """Default BatchNorm3d (OpenSTL's ``irevnet_block``, with its running statistics in the state
    dict); ``encoder_norm="group"``: GroupNorm(1), so in training a sample's forecast does not
    depend on its batchmates, while with batch statistics it does."""
    x, fa, _ = _inputs()
    outs = {}
    for norm, kind in (("batch", nn.BatchNorm3d), ("group", nn.GroupNorm)):
        net = _small(encoder_norm=norm).train()
        block = net.encoder.stack[1].bottleneck_block
        assert isinstance(block[0], kind) and isinstance(block[3], kind)
        assert ("encoder.stack.1.bottleneck_block.0.running_mean" in net.state_dict()) == (
            norm == "batch"
        )
        with torch.no_grad():
            pair = net(x, fa[:, :1], 1)
            alone = net(x[:1], fa[:1, :1], 1)
        outs[norm] = (pair[:1] - alone).abs().max().item()
    assert outs["group"] < 1e-5
    assert outs["batch"] > 1e-4


def test_bad_arguments_are_clear_errors():
    base = {"in_shape": (3, 1, 8, 8), "out_channels": 1, "t_out": 2}
    with pytest.raises(ValueError, match="must\\s+divide H=12"):
        build_backbone("crevnet", **{**base, "in_shape": (3, 1, 12, 8)})
    with pytest.raises(ValueError, match="rnn_size=64"):
        build_backbone("crevnet", **base, rnn_size=64)
    with pytest.raises(ValueError, match="encoder_norm must be one of"):
        build_backbone("crevnet", **base, encoder_norm="layer")
    with pytest.raises(ValueError, match="n_strides"):
        build_backbone("crevnet", **base, n_strides=[1, 3, 2])
    with pytest.raises(ValueError, match="must be even"):
        build_backbone("crevnet", **{**base, "in_shape": (3, 3, 8, 8)}, aux_channels=2, init_ds=1)
    net = _small()
    x, fa, _ = _inputs()
    with pytest.raises(ValueError, match="future_aux must have shape"):
        net(x, None, 4)
    with pytest.raises(ValueError, match="x must have shape"):
        net(x[:, :2], fa, 4)


def test_residual_last_is_refused_for_want_of_a_readout():
    meta = {"t_in": 3, "t_out": 2, "target_channels": 1, "forcing_channels": 0,
            "static_channels": 0, "height": 8, "width": 8}  # fmt: skip
    cfg = {
        "backbone": {"name": "crevnet", "n_blocks": [1, 1], "n_strides": [1, 2]},
        "residual": "last",
    }
    with pytest.raises(ValueError, match="readout"):
        build_forecaster(cfg, meta)


@pytest.mark.slow
def test_validation_loss_falls_on_the_tec_sample(tmp_path):
    backbone = {
        "name": "crevnet",
        "predictor_rnn_layers": 1,
        "n_blocks": [1],
        "n_strides": [1],
        "init_ds": 1,
    }
    before, after, vals = fit_on_tec_sample(backbone, tmp_path, t_out=2, batch_size=2)
    assert after < 0.5 * before and vals[-1] < vals[0], (before, vals)
