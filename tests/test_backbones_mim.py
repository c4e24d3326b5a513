"""MIM: the seed's parameter count and MACs, shapes, gradients, rollout, scheduled sampling and a
short training on the built-in TEC sample."""

from __future__ import annotations

import copy
from functools import lru_cache

import pytest
import torch

from geostl.benchmark import count_flops
from geostl.models import build_backbone, count_parameters


def test_parameter_count_matches_seed_table_1():
    """Iono configuration: 72×72, 1 channel, 12→48, 4×128 hidden, filter 5, patch 4 (18×18).

    Independent count (OpenSTL layout, bias-free convolutions, k² = 25, 18·18 = 324):
      ST-LSTM layer: conv_x 16·896·25 = 358 400, conv_h 128·512·25 = 1 638 400,
        conv_m 128·384·25 = 1 228 800, conv_o 256·128·25 = 819 200, conv_last 256·128 = 32 768
        → 4 077 568;
      MIM block (×3): conv_t_cc 128·384·25 = 1 228 800, conv_s_cc, conv_x_cc and the MIMS
        conv_h_concat, conv_x_concat 4 × 1 638 400, ct_weight 256·324 = 82 944,
        oc_weight 128·324 = 41 472, conv_last 32 768 → 7 939 584, ×3 = 23 818 752;
      MIMN (×3): 2 × 1 638 400 + 82 944 + 41 472 + unused conv_last 32 768 → 3 433 984,
        ×3 = 10 301 952;
      readout 128·16 = 2 048                      → 38 200 320 = 38.20 M (Table 1: 38.20 M).
    """
    with torch.device("meta"):  # shapes only: fast, no memory
        net = build_backbone(
            "mim", in_shape=(12, 1, 72, 72), out_channels=1, t_out=48, openstl_inert_params=True
        )
        lean = build_backbone("mim", in_shape=(12, 1, 72, 72), out_channels=1, t_out=48)
        cat4 = build_backbone(
            "mim",
            in_shape=(12, 4, 72, 72),
            out_channels=1,
            t_out=48,
            aux_channels=3,
            openstl_inert_params=True,
        )
    total = count_parameters(net)
    assert total == 38_200_320
    assert abs(total / 38.20e6 - 1) < 0.01
    assert count_parameters(net, trainable_only=True) == 38_200_320 - 3 * 32_768
    assert count_parameters(lean) == 38_200_320 - 3 * 32_768
    # concatenate-4: 3·16 more first-layer input channels · 896·25 weights → Table 1: 39.28 M
    assert abs(count_parameters(cat4) / 39.28e6 - 1) < 0.01


@pytest.mark.slow
@pytest.mark.parametrize(
    ("shape", "t_out", "gmacs"),
    [((12, 1, 72, 72), 48, 711), ((10, 1, 64, 64), 10, 179.2), ((12, 1, 32, 64), 12, 108.7)],
)
def test_macs_match_the_seed_and_openstl(shape, t_out, gmacs):
    """Seed Table 1 (iono 12→48): 711 G; OpenSTL MMNIST 179.2 G and WeatherBench-S 109 G.

    Per step at 18×18: convolutions 12.103 G; 59 steps = 714.1 G, less the three MIMN units at
    the first step (3 × 1.062 G), which OpenSTL computes on zeros and fvcore's trace drops.
    """
    with torch.device("meta"):
        net = build_backbone("mim", in_shape=shape, out_channels=1, t_out=t_out).eval()
    fc = count_flops(net, (torch.empty(1, *shape, device="meta"), None, t_out))
    assert fc.macs / 1e9 == pytest.approx(gmacs, rel=0.005)


def _small(aux: int = 2, **kw):
    torch.manual_seed(0)
    return build_backbone(
        "mim",
        in_shape=(3, 1 + aux, 8, 8),
        out_channels=1,
        t_out=4,
        aux_channels=aux,
        num_hidden=[5, 5, 5],
        filter_size=3,
        patch_size=2,
        **kw,
    )


def _inputs(aux: int = 2, t_out: int = 4, b: int = 2, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 3, 1 + aux, 8, 8, generator=g)
    fa = torch.randn(b, t_out, aux, 8, 8, generator=g) if aux else None
    truth = torch.randn(b, t_out, 1, 8, 8, generator=g)
    return x, fa, truth


def test_peephole_weights_learn_once_the_cell_state_is_nonzero():
    net = _small().train()
    x, fa, truth = _inputs()
    ((net(x, fa, 4) - truth) ** 2).mean().backward()
    for name, p in net.named_parameters():
        if name.endswith(("ct_weight", "oc_weight")):
            assert p.grad.abs().sum() > 0, name


def test_every_rollout_starts_from_zero_state():
    """Unlike OpenSTL's module-held MIMS state, one batch never leaks into the next."""
    net = _small().eval()
    x, fa, _ = _inputs()
    with torch.no_grad():
        a = net(x, fa, 4)
        net(torch.randn_like(x), torch.randn_like(fa), 4)
        b = net(x, fa, 4)
        single = net(x[:1], fa[:1], 4)
    assert torch.equal(a, b)
    torch.testing.assert_close(a[:1], single)


def test_non_stationarity_path_is_used():
    """MIMN reads h¹_t − h¹_{t−1}: zeroing its convolutions changes the forecast."""
    net = _small().eval()
    x, fa, _ = _inputs()
    with torch.no_grad():
        base = net(x, fa, 4)
        for unit in net.mimn:
            unit.conv_x_concat[0].weight.zero_()
        moved = net(x, fa, 4)
    assert (base - moved).abs().max() > 1e-6


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match=r"patch_size=4.*H=10"):
        build_backbone("mim", in_shape=(3, 1, 10, 12), out_channels=1, t_out=2)
    with pytest.raises(ValueError, match="num_hidden must be equal for every layer"):
        build_backbone("mim", in_shape=(3, 1, 8, 8), out_channels=1, t_out=2, num_hidden=[8, 4])
    with pytest.raises(ValueError, match="num_hidden must list at least 2 positive"):
        build_backbone("mim", in_shape=(3, 1, 8, 8), out_channels=1, t_out=2, num_hidden=[8])
    with pytest.raises(ValueError, match="filter_size must be a positive odd int"):
        build_backbone("mim", in_shape=(3, 1, 8, 8), out_channels=1, t_out=2, filter_size=4)
    with pytest.raises(ValueError, match="stride must be 1"):
        build_backbone("mim", in_shape=(3, 1, 8, 8), out_channels=1, t_out=2, stride=2)
    net = _small()
    x, fa, truth = _inputs()
    with pytest.raises(ValueError, match="future_aux must have shape"):
        net(x, None, 4)
    with pytest.raises(ValueError, match="x must have shape"):
        net(x[:, :2], fa, 4)
    with pytest.raises(ValueError, match="truth must have shape"):
        net(x, fa, 4, truth=truth[:, :2], teacher_forcing=0.5)


def test_mim_memory_step_against_a_float64_reference():
    """One MIMN/MIMS step equals the equations written out (non-zero peepholes)."""
    from geostl.models.backbones.mim_cells import MIMMemory

    torch.manual_seed(0)
    unit = MIMMemory(4, 4, 5, 5, 3, layer_norm=False).double()
    with torch.no_grad():
        unit.ct_weight.normal_()
        unit.oc_weight.normal_()
    x, h, c = (torch.randn(2, 4, 5, 5, dtype=torch.float64) for _ in range(3))
    conv = torch.nn.functional.conv2d
    z = conv(h, unit.conv_h_concat[0].weight, padding=1) + conv(
        x, unit.conv_x_concat[0].weight, padding=1
    )
    i, g, f, o = z[:, 0:4], z[:, 4:8], z[:, 8:12], z[:, 12:16]
    i_c, f_c = c * unit.ct_weight[:4], c * unit.ct_weight[4:]
    c_ref = torch.sigmoid(f + f_c + 1.0) * c + torch.sigmoid(i + i_c) * torch.tanh(g)
    h_ref = torch.sigmoid(o + c_ref * unit.oc_weight) * torch.tanh(c_ref)
    h_new, c_new = unit(x, h, c)
    torch.testing.assert_close(c_new, c_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_new, h_ref, rtol=1e-12, atol=1e-12)


@lru_cache(maxsize=1)
def _padded_tec():
    from geostl.commands.demo import TEC_DEMO_CONFIG
    from geostl.data import build_datasets
    from geostl.datasets import sample

    cfg = copy.deepcopy(TEC_DEMO_CONFIG)
    cfg["window"]["t_out"] = 4
    cfg["padding"] = {"multiple": 4}
    return build_datasets(cfg, {"maps": sample("tec"), "omni": sample("tec_drivers")})


@pytest.mark.slow
def test_short_training_on_the_tec_sample_lowers_the_validation_loss(tmp_path):
    """Six Adam steps (batch 4, scheduled sampling) of a 2×8-channel MIM on real TEC windows
    (72×76 after padding, 7 forcings, 2 static planes) lower the masked val-split MSE."""
    from geostl.engine import Trainer, validation_loss
    from geostl.models import build_forecaster, meta_from_dataset

    ds = _padded_tec()
    torch.manual_seed(0)
    # the inert weights draw from the generator at construction: with them the seeded
    # initialisation (and so this trajectory) is the one this threshold was set on
    backbone = {"name": "mim", "num_hidden": [8, 8], "filter_size": 3, "patch_size": 4,
                "openstl_inert_params": True}  # fmt: skip
    model = build_forecaster({"backbone": backbone}, meta_from_dataset(ds["train"]))
    before = validation_loss(model, ds["val"], 8)
    cfg = {"epochs": 1, "batch_size": 4, "max_steps_per_epoch": 6, "lr": 0.01,
           "schedule": "constant",
           "scheduled_sampling": {"start": 1.0, "decay_per_step": 0.1, "min": 0.0}}  # fmt: skip
    summary = Trainer(
        model, ds, cfg, None, tmp_path / "mim", progress=False, tensorboard=False
    ).fit()
    after = validation_loss(model, ds["val"], 8)
    assert after < 0.7 * before, (before, summary["history"])
