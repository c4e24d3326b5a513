"""SimVP translator family (issue 6): every model_type builds, runs, trains, counts its
parameters like OpenSTL; the MetaFormer blocks' window/attention rules."""

import pytest
import torch

from geostl.models import build_backbone, count_parameters
from geostl.models.backbones.simvp_blocks import TRANSLATOR_BLOCKS
from geostl.models.backbones.simvp_translators import MetaTranslator, translator_names
from geostl.models.blocks.base import BlockArgs
from geostl.models.blocks.drop_path import DropPath
from geostl.models.blocks.metaformer_attention import (
    MLPMixerBlock,
    SwinBlock,
    UniFormerAttentionBlock,
    UniFormerConvBlock,
    ViTBlock,
    relative_position_index,
    swin_window,
)
from geostl.models.blocks.metaformer_conv import ConvMixerBlock

MODEL_TYPES = [
    "IncepU",
    "gSTA",
    "tau",
    "ConvMixer",
    "ConvNeXt",
    "HorNet",
    "MLPMixer",
    "MogaNet",
    "PoolFormer",
    "Swin",
    "UniFormer",
    "VAN",
    "ViT",
]

# OpenSTL weather_benchmarks.md, WeatherBench-S t2m 5.625° (12→12, 1×32×64; hid_S 32, hid_T 256,
# N_S 2, N_T 8, the configs/weather/t2m_5_625/SimVP_*.py settings), params in millions.
PUBLISHED_WEATHERBENCH_S = {
    "IncepU": 14.67,
    "gSTA": 12.76,
    "tau": 12.22,
    "ViT": 12.41,
    "Swin": 12.42,
    "UniFormer": 12.02,
    "MLPMixer": 11.10,
    "ConvMixer": 1.13,
    "PoolFormer": 9.98,
    "ConvNeXt": 10.09,
    "VAN": 12.15,
    "HorNet": 12.42,
    "MogaNet": 12.76,
}
# OpenSTL video_benchmarks.md, Moving MNIST (10→10, 1×64×64; hid_S 64, hid_T 512, N_S 4, N_T 8):
# only these SimVP model types have a published count there.
PUBLISHED_MMNIST = {"IncepU": 58.0, "gSTA": 46.8, "tau": 44.7}


# OpenSTL's SimVP settings of the published tables (configs/weather/t2m_5_625, configs/mmnist)
WEATHERBENCH_S = dict(
    in_shape=(12, 1, 32, 64), out_channels=1, t_out=12, hid_S=32, hid_T=256, N_S=2, N_T=8
)
MOVING_MNIST = dict(
    in_shape=(10, 1, 64, 64), out_channels=1, t_out=10, hid_S=64, hid_T=512, N_S=4, N_T=8
)


def small(model_type: str, **kw):
    """T_in 4, target + 1 aux channel on 16×16, latent 8×8, widths 64 (=4·16) and 32."""
    args = dict(
        in_shape=(4, 2, 16, 16),
        out_channels=1,
        t_out=4,
        aux_channels=1,
        hid_S=16,
        hid_T=32,
        N_S=2,
        N_T=3,
        model_type=model_type,
    )
    args.update(kw)
    return build_backbone("simvp", **args)


def test_every_issue_model_type_is_registered():
    names = translator_names()
    for model_type in MODEL_TYPES:
        assert model_type.lower() in names
    assert {"mlp", "moga"} <= set(names)  # OpenSTL's aliases


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_shapes_and_every_parameter_gets_a_finite_gradient(model_type):
    torch.manual_seed(0)
    net = small(model_type).train()
    x = torch.randn(2, 4, 2, 16, 16)
    future_aux = torch.randn(2, 4, 1, 16, 16)
    y = net(x, future_aux, 4)
    assert y.shape == (2, 4, 1, 16, 16)
    (y**2).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{model_type}: {name} gets a zero gradient"


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_eval_is_deterministic_and_longer_rollouts_chain_blocks(model_type):
    torch.manual_seed(0)
    net = small(model_type, drop_path=0.3, drop=0.1).eval()
    x = torch.randn(2, 4, 2, 16, 16)
    future_aux = torch.randn(2, 6, 1, 16, 16)
    with torch.no_grad():
        a = net(x, future_aux, 6)
        b = net(x, future_aux, 6)
    assert a.shape == (2, 6, 1, 16, 16)
    assert torch.equal(a, b)


@pytest.mark.parametrize("model_type", sorted(PUBLISHED_WEATHERBENCH_S))
def test_parameter_count_matches_openstl_weatherbench_s(model_type):
    net = build_backbone(
        "simvp",
        **WEATHERBENCH_S,
        model_type=model_type,
        drop_path=0.1,
    )
    published = PUBLISHED_WEATHERBENCH_S[model_type] * 1e6
    assert abs(count_parameters(net) / published - 1) < 0.01


@pytest.mark.parametrize("model_type", sorted(PUBLISHED_MMNIST))
def test_parameter_count_matches_openstl_moving_mnist(model_type):
    net = build_backbone(
        "simvp",
        **MOVING_MNIST,
        model_type=model_type,
    )
    assert abs(count_parameters(net) / (PUBLISHED_MMNIST[model_type] * 1e6) - 1) < 0.01


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_block_parameter_counts_by_hand():
    """Per-block counts worked out from the definitions (d = width, r = mlp_ratio)."""
    d, r = 64, 8
    # ConvMixer: dw 11×11 (121d + d) + BN 2d + 1×1 (d² + d) + BN 2d
    assert _count(ConvMixerBlock(BlockArgs(d))) == d * d + (121 + 6) * d
    # ViT: LN 2d + qkv 3d² + 3d + proj d² + d + LN 2d + MLP (2r d² + r d + d)
    assert _count(ViTBlock(BlockArgs(d, mlp_ratio=r))) == (4 + 2 * r) * d * d + (9 + r) * d
    # Swin: ViT's count + relative position table (2·ws − 1)² × 8 heads, ws = 4 at 8×8
    swin = SwinBlock(BlockArgs(d, mlp_ratio=r, input_resolution=(8, 8), layer_index=1))
    assert _count(swin) == (4 + 2 * r) * d * d + (9 + r) * d + 49 * 8
    # MLP-Mixer at 8×8 (L = 64 tokens, token hidden d/2): 2 LN (4d) + token MLP
    # (L·d/2 + d/2 + d/2·L + L) + channel MLP (2r d² + r d + d)
    length = 64
    expected = 4 * d + (length * d // 2 + d // 2 + d // 2 * length + length)
    expected += 2 * r * d * d + r * d + d
    assert _count(MLPMixerBlock(BlockArgs(d, mlp_ratio=r, input_resolution=(8, 8)))) == expected


def test_swin_window_rule_of_openstl():
    assert swin_window((16, 16), 0) == (4, 0)  # Moving MNIST latent: window 4
    assert swin_window((16, 16), 1) == (4, 2)  # odd layers shift by half a window
    assert swin_window((16, 32), 3) == (4, 2)  # WeatherBench-S latent
    assert swin_window((14, 28), 1) == (7, 3)  # multiples of 7 use window 7
    assert swin_window((4, 8), 1) == (4, 0)  # grid no larger than the window: one window
    with pytest.raises(ValueError, match=r"window 4 for the 18×18 latent grid"):
        swin_window((18, 18), 0)  # 72×72 TEC maps with N_S = 4: OpenSTL would crash
    with pytest.raises(ValueError, match="swin"):
        build_backbone(
            "simvp",
            in_shape=(4, 1, 72, 72),
            out_channels=1,
            t_out=4,
            hid_S=8,
            hid_T=16,
            N_S=4,
            N_T=2,
            model_type="swin",
        )


def test_relative_position_index_by_loop():
    ws = 3
    index = relative_position_index(ws)
    for i in range(ws * ws):
        for j in range(ws * ws):
            dy = i // ws - j // ws + ws - 1
            dx = i % ws - j % ws + ws - 1
            assert index[i, j] == dy * (2 * ws - 1) + dx


def test_swin_window_attention_is_local_without_shift():
    """Layer 0 (no shift): changing one 4×4 window leaves the other windows' outputs alone."""
    torch.manual_seed(0)
    block = SwinBlock(BlockArgs(16, input_resolution=(8, 8), layer_index=0)).eval()
    x = torch.randn(1, 16, 8, 8)
    x2 = x.clone()
    x2[:, :, :4, :4] += 1.0
    with torch.no_grad():
        d = (block(x2) - block(x)).abs().sum(dim=1)[0]
    assert d[:4, :4].sum() > 0
    assert d[4:, :].sum() == 0 and d[:, 4:].sum() == 0


def test_uniformer_uses_attention_where_the_width_is_kept_after_the_first_layer():
    translator = MetaTranslator("uniformer", 64, 32, 4, (8, 8))
    kinds = [type(layer.block) for layer in translator.layers]
    assert kinds == [
        UniFormerConvBlock,
        UniFormerAttentionBlock,
        UniFormerAttentionBlock,
        UniFormerConvBlock,
    ]


def test_stochastic_depth_rates_rise_linearly_over_the_blocks():
    translator = MetaTranslator("vit", 64, 32, 5, (8, 8), drop_path=0.2)
    rates = [layer.block.drop_path.p for layer in translator.layers]
    expected = torch.linspace(0.01, 0.2, 5).tolist()
    assert rates == pytest.approx(expected)
    assert all(isinstance(layer.block.drop_path, DropPath) for layer in translator.layers)


def test_stochastic_depth_makes_training_passes_random():
    torch.manual_seed(0)
    net = small("convnext", drop_path=0.5).train()
    x = torch.randn(8, 4, 2, 16, 16)
    aux = torch.randn(8, 4, 1, 16, 16)
    with torch.no_grad():
        assert not torch.equal(net(x, aux, 4), net(x, aux, 4))


def test_bad_widths_and_grids_are_clear_errors():
    with pytest.raises(ValueError, match="hornet: the block width 20"):
        TRANSLATOR_BLOCKS.get("hornet")(BlockArgs(20))
    with pytest.raises(ValueError, match="moganet: the block width 20"):
        TRANSLATOR_BLOCKS.get("moganet")(BlockArgs(20))
    with pytest.raises(ValueError, match="vit: the block width 20"):
        ViTBlock(BlockArgs(20))
    mixer = MLPMixerBlock(BlockArgs(16, input_resolution=(8, 8)))
    with pytest.raises(ValueError, match=r"mlpmixer: built for a latent grid 8×8, got 4×8"):
        mixer(torch.randn(1, 16, 4, 8))
    with pytest.raises(KeyError, match="Available: .*swin"):
        small("swim")


def _swin_by_loops(block: SwinBlock, x: torch.Tensor) -> torch.Tensor:
    """Swin block forward written pixel by pixel (float64): each window gathers its pixels at
    ((row·ws + a + shift) mod H, (col·ws + b + shift) mod W), attends with the relative bias,
    and writes the result back to the same pixels."""
    _, c, h, w = x.shape
    ws, s, heads = block.window, block.shift, 8
    d = c // heads
    tokens = x[0].permute(1, 2, 0)  # (H, W, C)
    normed = block.norm1(tokens)
    attended = torch.zeros_like(tokens)
    table = block.relative_position_bias_table
    for row in range(h // ws):
        for col in range(w // ws):
            pix = [
                ((row * ws + a + s) % h, (col * ws + b + s) % w)
                for a in range(ws)
                for b in range(ws)
            ]
            v_in = torch.stack([normed[i, j] for i, j in pix])  # (ws², C)
            q, k, v = block.attn.qkv(v_in).split(c, dim=-1)
            heads_out = []
            for hd in range(heads):
                sl = slice(hd * d, (hd + 1) * d)
                logits = q[:, sl] @ k[:, sl].T / d**0.5
                for m, (am, bm) in enumerate((a, b) for a in range(ws) for b in range(ws)):
                    for n, (an, bn) in enumerate((a, b) for a in range(ws) for b in range(ws)):
                        rel = (am - an + ws - 1) * (2 * ws - 1) + (bm - bn + ws - 1)
                        logits[m, n] = logits[m, n] + table[rel, hd]
                heads_out.append(torch.softmax(logits, dim=-1) @ v[:, sl])
            out = block.attn.proj(torch.cat(heads_out, dim=-1))
            for m, (i, j) in enumerate(pix):
                attended[i, j] = out[m]
    y = tokens + attended
    y = y + block.mlp(block.norm2(y))
    return y.permute(2, 0, 1)[None]


@pytest.mark.parametrize("layer_index", [0, 1])
def test_swin_block_matches_a_pixel_by_pixel_reference(layer_index):
    torch.manual_seed(layer_index)
    block = SwinBlock(BlockArgs(16, mlp_ratio=2, input_resolution=(8, 12), layer_index=layer_index))
    block = block.double().eval()
    with torch.no_grad():
        block.relative_position_bias_table.normal_()
        x = torch.randn(1, 16, 8, 12, dtype=torch.float64)
        torch.testing.assert_close(block(x), _swin_by_loops(block, x))


def test_token_attention_matches_torch_scaled_dot_product_attention():
    torch.manual_seed(0)
    block = ViTBlock(BlockArgs(32)).double().eval()
    t = torch.randn(2, 10, 32, dtype=torch.float64)
    qkv = block.attn.qkv(t).reshape(2, 10, 3, 8, 4).permute(2, 0, 3, 1, 4)
    ref = torch.nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
    ref = block.attn.proj(ref.transpose(1, 2).reshape(2, 10, 32))
    with torch.no_grad():
        torch.testing.assert_close(block.attn(t), ref)


# OpenSTL weather_benchmarks.md FLOPs (fvcore multiply-adds) at the WeatherBench-S setting, for
# the attention types whose cost depends on the attention layout (global, 4×4 windows).
PUBLISHED_WEATHERBENCH_S_GMACS = {"ViT": 7.99, "Swin": 6.88}


@pytest.mark.parametrize("model_type", sorted(PUBLISHED_WEATHERBENCH_S_GMACS))
def test_multiply_adds_match_openstl_weatherbench_s(model_type):
    from geostl.benchmark.flops import count_flops

    net = build_backbone(
        "simvp",
        **WEATHERBENCH_S,
        model_type=model_type,
    )
    net = net.eval().to("meta")  # shapes only: counting needs no arithmetic
    x = torch.zeros(1, 12, 1, 32, 64, device="meta")
    macs = count_flops(net, (x, None, 12)).macs
    assert abs(macs / (PUBLISHED_WEATHERBENCH_S_GMACS[model_type] * 1e9) - 1) < 0.01


def test_convmixer_multiply_adds_match_openstl_once_fvcore_rules_are_applied():
    """OpenSTL's 0.95 G for SimVP-ConvMixer (WeatherBench-S) is fvcore's count, which skips
    convolutions built with padding="same" (traced as aten::_convolution_mode, an operator
    fvcore has no handle for): the eight 11 x 11 depthwise convolutions of the translator. It
    also counts BatchNorm (eval) at 2 and GroupNorm at 5 operations per element. Our count
    minus the depthwise convolutions plus those norm counts gives the published figure."""
    from geostl.benchmark.flops import count_flops

    net = build_backbone("simvp", **WEATHERBENCH_S, model_type="ConvMixer", drop_path=0.1).eval()
    net = net.to("meta")
    x = torch.zeros(1, 12, 1, 32, 64, device="meta")
    macs = count_flops(net, (x, None, 12)).macs
    seen = {"depthwise": 0, "bn": 0, "gn": 0}

    def hook(module, _inputs, out):
        if isinstance(module, torch.nn.Conv2d) and module.groups == module.in_channels > 1:
            seen["depthwise"] += out.numel() * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, torch.nn.BatchNorm2d):
            seen["bn"] += out.numel()
        elif isinstance(module, torch.nn.GroupNorm):
            seen["gn"] += out.numel()

    handles = [m.register_forward_hook(hook) for m in net.modules()]
    with torch.no_grad():
        net(x, None, 12)
    for h in handles:
        h.remove()
    # by hand: 11 x 11 taps on the 16 x 32 latent, one block of 384 channels, seven of 256
    assert seen["depthwise"] == 121 * 512 * (384 + 7 * 256)
    fvcore_like = macs - seen["depthwise"] + 2 * seen["bn"] + 5 * seen["gn"]
    assert abs(fvcore_like / 0.95e9 - 1) < 0.01
    assert macs / 0.95e9 > 1.1  # our count includes the depthwise convolutions
