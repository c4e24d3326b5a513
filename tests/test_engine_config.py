"""train / eval config sections: defaults, round trip, unknown keys and wrong types."""

from __future__ import annotations

import pytest
import yaml

from geostl.engine import EvalConfig, TrainConfig


def test_defaults_match_the_run_config_description():
    cfg = TrainConfig.from_dict({})
    assert cfg.to_dict() == {
        "epochs": 10, "batch_size": 8, "val_batch_size": 4, "num_workers": 0,
        "optimizer": "adam", "lr": 0.001, "weight_decay": 0.0, "schedule": "onecycle",
        "warmup_steps": 0, "warmup_epochs": 0, "grad_clip": None, "criterion": "mse",
        "precision": "auto", "amp": False, "compile": False,
        "device": "auto",
        "early_stopping": None, "seed": 0, "max_minutes": None, "max_steps_per_epoch": None,
        "scheduled_sampling": {"start": 1.0, "decay_per_step": 2.0e-5, "min": 0.0,
                               "kind": "linear", "r_sampling_step_1": 25_000,
                               "r_sampling_step_2": 50_000, "r_exp_alpha": 5_000.0},
        "log_every": 10,
    }  # fmt: skip
    assert EvalConfig.from_dict(None).to_dict() == {
        "batch_size": 8,
        "baselines": ["persistence", "sun_fixed", "climatology"],
        "climatology_by": "time_of_day",
        "figure_window": -1,
        "figure_leads": None,
        "codebook_usage": False,
        "references": {},
        "iri_f107": "f107",
        "ensemble_members": 0,
        "ensemble_method": "perturb",
        "ensemble_perturb_std": 0.01,
        "ensemble_checkpoints": [],
        "ensemble_seed": 0,
        "persistence_members": None,
        "thresholds": {},
        "coverage": [0.5, 0.9],
    }


def test_round_trip_through_yaml():
    d = {
        "epochs": 3, "lr": 2, "optimizer": "adamw", "schedule": "cosine", "warmup_steps": 5,
        "grad_clip": 1, "early_stopping": 2, "max_minutes": 0.5,
        "scheduled_sampling": {"start": 0.5, "decay_per_step": 0.1},
    }  # fmt: skip
    cfg = TrainConfig.from_dict(d)
    assert cfg.lr == 2.0 and isinstance(cfg.lr, float) and cfg.scheduled_sampling.min == 0.0
    again = TrainConfig.from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict())))
    assert again == cfg
    ev = EvalConfig.from_dict({"baselines": ["persistence"], "figure_leads": [0, 3]})
    assert EvalConfig.from_dict(yaml.safe_load(yaml.safe_dump(ev.to_dict()))) == ev


def test_unknown_key_names_close_matches():
    with pytest.raises(KeyError, match=r"train: unknown key 'batch_sise'"):
        TrainConfig.from_dict({"batch_sise": 4})
    with pytest.raises(KeyError, match="did you mean 'batch_size'"):
        TrainConfig.from_dict({"batch_sise": 4})
    with pytest.raises(KeyError, match="train.scheduled_sampling: unknown key 'decay'"):
        TrainConfig.from_dict({"scheduled_sampling": {"decay": 0.1}})
    with pytest.raises(KeyError, match="did you mean 'baselines'"):
        EvalConfig.from_dict({"baseline": []})


def test_wrong_types_name_key_type_and_value():
    with pytest.raises(TypeError, match=r"train.epochs: expected an integer, got str 'ten'"):
        TrainConfig.from_dict({"epochs": "ten"})
    with pytest.raises(TypeError, match=r"train.batch_size: expected an integer, got float 8.0"):
        TrainConfig.from_dict({"batch_size": 8.0})
    with pytest.raises(TypeError, match=r"train.amp: expected true or false, got int 1"):
        TrainConfig.from_dict({"amp": 1})
    # YAML 1.1 reads 1e-3 (no dot) as a string: the message says how to write it
    lr = yaml.safe_load("lr: 1e-3")["lr"]
    with pytest.raises(TypeError, match=r"train.lr: expected a number.*write 1.0e-3"):
        TrainConfig.from_dict({"lr": lr})
    with pytest.raises(ValueError, match=r"train.optimizer: 'sgd' is not allowed"):
        TrainConfig.from_dict({"optimizer": "sgd"})
    with pytest.raises(ValueError, match=r"train.lr: expected a number > 0"):
        TrainConfig.from_dict({"lr": 0})
    with pytest.raises(ValueError, match=r"eval.baselines\[1\]: 'sunfixed'.*'sun_fixed'"):
        EvalConfig.from_dict({"baselines": ["persistence", "sunfixed"]})
    with pytest.raises(ValueError, match="eval.climatology_by"):
        EvalConfig.from_dict({"climatology_by": "season"})


def test_scheduled_sampling_probability():
    cfg = TrainConfig.from_dict({"scheduled_sampling": {"start": 1.0, "decay_per_step": 0.25,
                                                        "min": 0.2}})  # fmt: skip
    p = [cfg.scheduled_sampling.probability(s) for s in range(6)]
    assert p == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.2, 0.2])
