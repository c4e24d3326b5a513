"""Reverse scheduled sampling (PredRNN-V2): the schedule, its config keys and the engine path."""

from __future__ import annotations

import math

import pytest
import yaml

from engine_toy import TinyForecaster, tec_datasets, tiny_model
from geostl.engine import ScheduledSampling as EngineScheduledSampling
from geostl.engine import TrainConfig, Trainer
from geostl.models import ScheduledSampling
from geostl.models.backbones._contract import teacher_forcing_pair
from geostl.models.scheduled_sampling import TeacherForcing, reverse_teacher_forcing


def test_reverse_schedule_follows_the_predrnn_v2_definition():
    """Seed values τ₁ 25 000, τ₂ 50 000, α 5 000 (PredRNN-V2 / OpenSTL)."""
    assert reverse_teacher_forcing(0) == (0.5, 0.5)
    assert reverse_teacher_forcing(24_999) == (0.5, 0.5)
    assert reverse_teacher_forcing(25_000) == pytest.approx((0.5, 0.5))
    w, f = reverse_teacher_forcing(30_000)
    assert w == pytest.approx(1 - 0.5 * math.exp(-1.0)) and f == pytest.approx(0.4)
    w, f = reverse_teacher_forcing(49_999)
    assert w == pytest.approx(1 - 0.5 * math.exp(-24_999 / 5_000))
    assert f == pytest.approx(0, abs=1e-4)
    assert reverse_teacher_forcing(50_000) == (1.0, 0.0)
    assert reverse_teacher_forcing(10**6) == (1.0, 0.0)
    with pytest.raises(ValueError, match="step"):
        reverse_teacher_forcing(-1)


def test_one_scheduled_sampling_class_for_models_and_engine():
    assert EngineScheduledSampling is ScheduledSampling
    lin = ScheduledSampling()
    assert lin.kind == "linear" and lin.teacher_forcing(25_000) == pytest.approx(0.5)
    rev = ScheduledSampling.from_dict({"kind": "reverse"})
    tf = rev.teacher_forcing(30_000)
    assert isinstance(tf, TeacherForcing) and tf == reverse_teacher_forcing(30_000)
    assert rev.probability(30_000) == pytest.approx(0.4)  # the future-step probability
    small = ScheduledSampling(kind="reverse", r_sampling_step_1=2, r_sampling_step_2=6,
                              r_exp_alpha=2.0)  # fmt: skip
    assert [small.probability(k) for k in range(8)] == pytest.approx(
        [0.5, 0.5, 0.5, 0.375, 0.25, 0.125, 0.0, 0.0]
    )


def test_config_keys_round_trip_and_errors():
    d = {"scheduled_sampling": {"kind": "reverse", "r_sampling_step_1": 10,
                                "r_sampling_step_2": 20, "r_exp_alpha": 3}}  # fmt: skip
    cfg = TrainConfig.from_dict(d)
    ss = cfg.scheduled_sampling
    assert ss.kind == "reverse" and ss.r_exp_alpha == 3.0 and ss.start == 1.0
    assert TrainConfig.from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="kind: 'revers' is not allowed"):
        TrainConfig.from_dict({"scheduled_sampling": {"kind": "revers"}})
    with pytest.raises(KeyError, match="unknown key 'r_sampling_step'"):
        TrainConfig.from_dict({"scheduled_sampling": {"r_sampling_step": 3}})
    with pytest.raises(TypeError, match="r_sampling_step_1: expected an integer"):
        TrainConfig.from_dict({"scheduled_sampling": {"r_sampling_step_1": 2.5}})
    with pytest.raises(ValueError, match="r_sampling_step_2 .* must be larger"):
        ScheduledSampling(r_sampling_step_1=5, r_sampling_step_2=5)
    with pytest.raises(ValueError, match="r_exp_alpha"):
        ScheduledSampling(r_exp_alpha=0)


def test_run_config_accepts_the_reverse_keys(tmp_path):
    from geostl.runconfig import ConfigError, load_config

    path = tmp_path / "r.yaml"
    path.write_text(
        "data:\n"
        "  sources: {maps: {sample: tec}}\n"
        "  schema: {targets: {source: maps, variables: [tec]}}\n"
        "  splits:\n"
        '    train: {start: "2019-04-25T00:00", end: "2019-04-26T00:00"}\n'
        '    val: {start: "2019-04-26T05:00", end: "2019-04-26T12:00"}\n'
        "  window: {t_in: 4, t_out: 4}\n"
        "model: {backbone: {name: predrnnv2}}\n"
    )
    cfg = load_config([path], ["train.scheduled_sampling.kind=reverse"])
    ss = cfg["train"]["scheduled_sampling"]
    assert ss["kind"] == "reverse" and ss["r_sampling_step_1"] == 25_000
    assert TrainConfig.from_dict(cfg["train"]).to_dict() == cfg["train"]
    with pytest.raises(ConfigError, match="kind"):
        load_config([path], ["train.scheduled_sampling.kind=exp"])


def test_contract_reads_floats_and_pairs():
    assert teacher_forcing_pair("b", None) == (1.0, 0.0)
    assert teacher_forcing_pair("b", 0.3) == (1.0, 0.3)
    assert teacher_forcing_pair("b", TeacherForcing(0.2, 0.7)) == (0.2, 0.7)


class _Spy(TinyForecaster):
    """Records what the trainer passes as ``teacher_forcing``; uses its future probability."""

    seen: list

    def forward(self, batch, teacher_forcing=None):
        self.seen.append(teacher_forcing)
        if isinstance(teacher_forcing, tuple):
            teacher_forcing = teacher_forcing[1]
        return super().forward(batch, teacher_forcing)


def test_trainer_passes_the_reverse_pair_and_logs_the_future_probability(tmp_path):
    ds, _, _ = tec_datasets(t_out=4)
    base = tiny_model(ds["train"])
    spy = _Spy(base.model_cfg, base.meta)
    spy.seen = []
    cfg = {"epochs": 1, "batch_size": 4, "max_steps_per_epoch": 4, "schedule": "constant",
           "scheduled_sampling": {"kind": "reverse", "r_sampling_step_1": 1,
                                  "r_sampling_step_2": 3, "r_exp_alpha": 1.0}}  # fmt: skip
    summary = Trainer(spy, ds, cfg, None, tmp_path / "r", progress=False).fit()
    train_calls = [tf for tf in spy.seen if tf is not None]
    assert train_calls == [reverse_teacher_forcing(k, 1, 3, 1.0) for k in range(4)]
    assert summary["history"][-1]["teacher_forcing"] == 0.0


def test_reverse_scheduled_sampling_trains_a_convlstm_through_the_pipeline(tmp_path):
    """``train.scheduled_sampling.kind: reverse`` with the demo model, ConvLSTM (small): the
    Trainer hands the Forecaster the (warmup, future) pair, the backbone feeds its own
    reconstructions at warm-up steps (it would ignore warmup if it could not), and training
    runs to finite losses. ConvLSTM takes the pair since it runs the shared rollout."""
    import torch

    from engine_toy import meta_of
    from geostl.models import build_forecaster

    ds, _, _ = tec_datasets(t_out=4)
    meta = meta_of(ds["train"])
    torch.manual_seed(0)
    model = build_forecaster(
        {"backbone": {"name": "convlstm", "num_hidden": [4], "filter_size": 3,
                      "patch_size": 1}, "fusion": "concat"}, meta)  # fmt: skip
    backbone = model.backbone
    seen: list = []
    backbone.register_forward_pre_hook(
        lambda m, args, kwargs: seen.append(kwargs.get("teacher_forcing")), with_kwargs=True
    )
    fed: list = []
    first = backbone.cells[0]
    first.register_forward_pre_hook(lambda m, args: fed.append(args[0].detach().clone()))
    cfg = {"epochs": 1, "batch_size": 4, "max_steps_per_epoch": 3, "schedule": "constant",
           "scheduled_sampling": {"kind": "reverse", "r_sampling_step_1": 1,
                                  "r_sampling_step_2": 3, "r_exp_alpha": 1.0}}  # fmt: skip
    summary = Trainer(model, ds, cfg, None, tmp_path / "r", progress=False).fit()
    pairs = [tf for tf in seen if tf is not None]
    assert pairs == [reverse_teacher_forcing(k, 1, 3, 1.0) for k in range(3)]
    assert all(math.isfinite(v) for row in summary["history"] for k, v in row.items()
               if isinstance(v, float))  # fmt: skip
    # the backbone itself: warmup 0 feeds its own reconstruction at steps 1 … T_in − 1
    x, fa, truth = _convlstm_inputs(backbone)
    backbone.train()
    fed.clear()
    with torch.no_grad():
        backbone(x, fa, 4, truth=truth, teacher_forcing=(0.0, 0.0))
    given = patch_frames(backbone, x)
    assert torch.equal(fed[0], given[:, 0])
    own = fed[1][:, : backbone.out_channels]  # own reconstruction of frame 1, not the input
    assert not torch.equal(own, given[:, 1, : backbone.out_channels])
    assert torch.equal(fed[1][:, backbone.out_channels :], given[:, 1, backbone.out_channels :])
    fed.clear()
    with torch.no_grad():
        backbone(x, fa, 4, truth=truth, teacher_forcing=(1.0, 0.0))
    assert all(torch.equal(fed[t], given[:, t]) for t in range(backbone.t_in))


def _convlstm_inputs(backbone):
    import torch

    g = torch.Generator().manual_seed(0)
    c = backbone.out_channels + backbone.aux_channels
    x = torch.randn(2, backbone.t_in, c, backbone.h, backbone.w, generator=g)
    fa = torch.randn(2, 4, backbone.aux_channels, backbone.h, backbone.w, generator=g)
    truth = torch.randn(2, 4, backbone.out_channels, backbone.h, backbone.w, generator=g)
    return x, (fa if backbone.aux_channels else None), truth


def patch_frames(backbone, x):
    from geostl.models.patching import patch

    return patch(x, backbone.patch_size)
