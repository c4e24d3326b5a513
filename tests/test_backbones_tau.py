"""TAU (SimVP + temporal attention units + differential divergence) and the SimVP.V2 alias."""

from __future__ import annotations

import copy

import pytest
import torch

from geostl.benchmark.flops import count_flops
from geostl.models import build_backbone, count_parameters
from geostl.models.backbones import TRANSLATOR_BLOCKS
from geostl.models.backbones.tau import differential_divergence

IONO = {"in_shape": (12, 1, 72, 72), "out_channels": 1, "t_out": 12}


def test_parameter_count_matches_seed_table_1():
    """Iono configuration (hid_S 64, hid_T 512, N_S 4, N_T 8, mlp_ratio 8): 48.24 M.

    A TAU block of width d differs from a gSTA block (20·d² + 175·d) in its attention 1×1:
    d → d instead of d → 2d (−d² − d) and the bias-free squeeze-excitation d → 16 → d (+32·d):
    19·d² + 206·d. Translator blocks: d = 768 once, d = 512 seven times, so SimVP's 50 527 745
    drops by (768² − 31·768) + 7·(512² − 31·512) = 566 016 + 1 723 904 → 48 237 825.
    """
    net = build_backbone("tau", **IONO)
    assert count_parameters(net) == 48_237_825
    assert abs(count_parameters(net) / 48.24e6 - 1) < 0.001
    blk = net.translator.layers[0].block
    assert sum(p.numel() for p in blk.parameters()) == 19 * 768**2 + 206 * 768
    assert blk.attn.spatial_gating_unit.fc[0].out_features == 16  # 768 // max(768 // 16, 4)
    same = build_backbone("simvp", **IONO, model_type="tau")
    assert count_parameters(same) == 48_237_825


def test_macs_at_the_seed_setting():
    """12 → 12, B = 1: 22.451 G conv/matmul MACs (Table 1: 22.54 G). fvcore also counts
    GroupNorm/BatchNorm (5 per element: 12.44 M + 2.82 M elements → 0.076 G) and the average
    pool (1.4 M): 22.529 G; SimVP shows the same 0.01 G residual (23.312 vs 23.32)."""
    net = build_backbone("tau", **IONO).eval().to("meta")
    fc = count_flops(net, (torch.empty(1, 12, 1, 72, 72, device="meta"), None, 12))
    assert fc.macs == 22_450_923_520
    norms = 5 * (12_441_600 + 497_664 + 7 * 331_776)
    pool = 768 * 324 + 7 * 512 * 324
    assert (fc.macs + norms + pool) / 1e9 == pytest.approx(22.54, abs=0.015)


def test_simvp_v2_is_simvp_with_gsta():
    v2 = build_backbone("simvp_v2", **IONO)
    ref = build_backbone("simvp", **IONO)
    assert count_parameters(v2) == count_parameters(ref) == 50_527_745
    assert v2.state_dict().keys() == ref.state_dict().keys()
    assert v2.model_type == "gSTA"
    with pytest.raises(TypeError, match="model_type"):
        build_backbone("simvp_v2", **IONO, model_type="IncepU")


def _small(name: str = "tau", aux: int = 2, **kw):
    torch.manual_seed(0)
    return build_backbone(
        name,
        in_shape=(3, 1 + aux, 8, 8),
        out_channels=1,
        t_out=3,
        aux_channels=aux,
        hid_S=4,
        hid_T=8,
        N_S=2,
        N_T=3,
        mlp_ratio=2.0,
        **kw,
    )


def _inputs(aux: int = 2, t_out: int = 3, b: int = 2):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(b, 3, 1 + aux, 8, 8, generator=g)
    fa = torch.randn(b, t_out, aux, 8, 8, generator=g) if aux else None
    truth = torch.randn(b, t_out, 1, 8, 8, generator=g)
    return x, fa, truth


def _kl_reference(pred, truth, tau):
    """Explicit loop: KL(softmax(ΔP/τ) ‖ softmax(ΔY/τ)) per (b, t), / (C·H·W), averaged."""
    b, t = pred.shape[:2]
    n = pred[0, 0].numel()
    total = 0.0
    for i in range(b):
        for k in range(t - 1):
            p = torch.softmax((pred[i, k + 1] - pred[i, k]).flatten().double() / tau, 0)
            q = torch.softmax((truth[i, k + 1] - truth[i, k]).flatten().double() / tau, 0)
            total += float((p * (p / q).log()).sum()) / n
    return total / (b * (t - 1))


def test_differential_divergence_is_the_kl_of_frame_difference_softmaxes():
    g = torch.Generator().manual_seed(3)
    pred = torch.randn(2, 5, 1, 6, 6, generator=g) * 0.05
    truth = torch.randn(2, 5, 1, 6, 6, generator=g) * 0.05
    value = differential_divergence(pred, truth, 0.1)
    assert float(value) == pytest.approx(_kl_reference(pred, truth, 0.1), rel=1e-4)
    assert float(value) > 0
    assert float(differential_divergence(truth, truth)) == pytest.approx(0.0, abs=1e-9)
    # a shift of every frame by the same field leaves the differences unchanged
    shifted = truth + torch.randn(1, 1, 1, 6, 6, generator=g)
    assert float(differential_divergence(shifted, truth)) == pytest.approx(0.0, abs=1e-7)
    assert float(differential_divergence(pred[:, :2], truth[:, :2])) == 0.0  # T <= 2
    with pytest.raises(ValueError, match="same shape"):
        differential_divergence(pred, truth[:, :3])


def test_regulariser_is_alpha_times_the_divergence_in_training_only():
    net = _small(alpha=0.3).train()
    x, fa, truth = _inputs(t_out=6)
    torch.manual_seed(5)
    pred = net(x, fa, 6, truth=truth)
    expected = 0.3 * differential_divergence(pred, truth, 0.1)
    torch.testing.assert_close(net.aux_losses["differential_divergence"], expected)
    net(x, fa, 6)  # no truth: no term
    assert net.aux_losses == {}
    off = _small(alpha=0.0).train()
    off(x, fa, 6, truth=truth)
    assert off.aux_losses == {}
    with pytest.raises(ValueError, match="alpha"):
        _small(alpha=-1.0)
    with pytest.raises(ValueError, match="tau"):
        _small(tau=0.0)


def test_tau_block_is_a_registered_translator_block():
    assert {"gsta", "tau"} <= set(TRANSLATOR_BLOCKS.available())
    with pytest.raises(ValueError, match="H=10 and W=8"):
        build_backbone("tau", in_shape=(3, 1, 10, 8), out_channels=1, t_out=3)


def _fit(backbone: dict, tmp_path, steps: int = 4, epochs: int = 2, lr: float = 3e-3):
    """Train a Forecaster on the TEC sample (padded to 72×76); val loss before/after/epochs."""
    from geostl.commands.demo import TEC_DEMO_CONFIG
    from geostl.data import build_datasets
    from geostl.datasets import sample
    from geostl.engine import Trainer, validation_loss
    from geostl.models import build_forecaster, meta_from_dataset

    cfg = copy.deepcopy(TEC_DEMO_CONFIG)
    cfg["window"]["t_out"] = 4
    cfg["padding"] = {"multiple": 4}
    data = build_datasets(cfg, {"maps": sample("tec"), "omni": sample("tec_drivers")})
    meta = meta_from_dataset(data["train"])
    meta.pop("lon"), meta.pop("time_step_hours")
    torch.manual_seed(0)
    model = build_forecaster({"backbone": backbone}, meta)
    before = validation_loss(model, data["val"], 8)
    train = {"epochs": epochs, "batch_size": 4, "max_steps_per_epoch": steps, "lr": lr,
             "schedule": "constant", "seed": 0, "scheduled_sampling": None}  # fmt: skip
    summary = Trainer(model, data, train, None, tmp_path / "fit", progress=False).fit()
    after = validation_loss(model, data["val"], 8)
    return before, after, [r["val_loss"] for r in summary["history"]]


@pytest.mark.slow
def test_validation_loss_falls_on_the_tec_sample(tmp_path):
    backbone = {"name": "tau", "hid_S": 4, "hid_T": 8, "N_S": 2, "N_T": 2, "mlp_ratio": 2.0}
    before, after, vals = _fit(backbone, tmp_path)
    assert after < 0.5 * before and vals[-1] < vals[0], (before, vals)
