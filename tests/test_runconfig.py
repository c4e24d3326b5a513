"""Layered run configs: merging, _base_, overrides, validation errors, defaults, save."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from geostl.runconfig import (
    RUN_SPEC,
    ConfigError,
    fill_defaults,
    load_config,
    merge,
    parse_override,
    save_config,
)

MINIMAL = """
data:
  sources: {maps: {sample: tec}}
  schema: {targets: {source: maps, variables: [tec]}}
  splits:
    train: {start: "2019-04-25T00:00", end: "2019-04-26T00:00"}
    val: {start: "2019-04-26T05:00", end: "2019-04-26T12:00"}
    test: {start: "2019-04-26T17:00", end: "2019-04-27T00:15"}
  window: {t_in: 4, t_out: 4}
model:
  backbone: {name: convlstm, num_hidden: [8, 8], filter_size: 3}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_filled_when_train_and_eval_omitted(tmp_path: Path) -> None:
    cfg = load_config([write(tmp_path, "mini.yaml", MINIMAL)])
    assert cfg["train"]["epochs"] == 10 and cfg["train"]["lr"] == 1e-3
    assert cfg["train"]["schedule"] == "onecycle" and cfg["train"]["grad_clip"] is None
    assert cfg["train"]["scheduled_sampling"] == {
        "start": 1.0, "decay_per_step": 2e-5, "min": 0.0, "kind": "linear",
        "r_sampling_step_1": 25_000, "r_sampling_step_2": 50_000, "r_exp_alpha": 5_000.0,
    }  # fmt: skip
    assert cfg["eval"]["baselines"] == ["persistence", "sun_fixed", "climatology"]
    assert cfg["model"]["fusion"] == "concat"
    assert cfg["data"]["future_forcings"] == "known"
    assert cfg["run"] == {"name": "mini", "dir": "runs"}  # name from the file stem
    # every spec default is present: a complete config needs nothing else
    assert fill_defaults(cfg, RUN_SPEC) == cfg


def test_files_merge_in_order_dicts_recursively_lists_replaced(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", MINIMAL + "train: {lr: 0.1, epochs: 3}\n")
    b = write(
        tmp_path,
        "b.yaml",
        "train: {lr: 5e-4}\nmodel: {backbone: {num_hidden: [16]}}\n"
        "eval: {baselines: [climatology]}\n",
    )
    cfg = load_config([a, b])
    assert cfg["train"]["lr"] == 5e-4 and isinstance(cfg["train"]["lr"], float)
    assert cfg["train"]["epochs"] == 3  # kept from a
    assert cfg["model"]["backbone"] == {"name": "convlstm", "num_hidden": [16], "filter_size": 3}
    assert cfg["eval"]["baselines"] == ["climatology"]
    assert cfg["run"]["name"] == "b"


def test_merge_rules() -> None:
    base = {"x": {"a": 1, "b": [1, 2]}, "model": {"backbone": {"name": "convlstm", "k": 1}}}
    top = {"x": {"b": [3]}, "model": {"backbone": {"name": "simvp", "hid_S": 8}}}
    out = merge(base, top)
    assert out == {"x": {"a": 1, "b": [3]}, "model": {"backbone": {"name": "simvp", "hid_S": 8}}}
    same = merge(base, {"model": {"backbone": {"name": "convlstm", "j": 2}}})
    assert same["model"]["backbone"] == {"name": "convlstm", "k": 1, "j": 2}
    src = merge(
        {"data": {"sources": {"m": {"sample": "tec"}}}},
        {"data": {"sources": {"m": {"paths": ["f"], "format": "ionex"}}}},
    )
    assert src["data"]["sources"]["m"] == {"paths": ["f"], "format": "ionex"}
    assert base["x"]["b"] == [1, 2]  # inputs untouched


def test_base_chain_relative_to_file_and_cycle(tmp_path: Path) -> None:
    write(tmp_path, "common/root.yaml", MINIMAL + "train: {epochs: 7, lr: 0.01}\n")
    write(tmp_path, "common/mid.yaml", "_base_: root.yaml\ntrain: {lr: 0.02}\n")
    top = write(tmp_path, "exp/top.yaml", "_base_: ../common/mid.yaml\ntrain: {seed: 5}\n")
    cfg = load_config([top])
    assert (cfg["train"]["epochs"], cfg["train"]["lr"], cfg["train"]["seed"]) == (7, 0.02, 5)
    assert "_base_" not in cfg

    write(tmp_path, "c1.yaml", "_base_: c2.yaml\n")
    write(tmp_path, "c2.yaml", "_base_: [c1.yaml]\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config([tmp_path / "c1.yaml"])
    write(tmp_path, "lost.yaml", "_base_: nowhere.yaml\n")
    with pytest.raises(ConfigError, match=r"nowhere\.yaml does not exist.*lost\.yaml"):
        load_config([tmp_path / "lost.yaml"])


def test_overrides_use_yaml_scalar_rules(tmp_path: Path) -> None:
    assert parse_override("train.lr=3e-4") == {"train": {"lr": 3e-4}}
    assert parse_override("a.b.c=[persistence, climatology]") == {
        "a": {"b": {"c": ["persistence", "climatology"]}}
    }
    assert parse_override("train.grad_clip=null") == {"train": {"grad_clip": None}}
    assert parse_override("train.amp=true") == {"train": {"amp": True}}
    assert parse_override("run.name=007") == {"run": {"name": 7}}  # YAML int, rejected below
    cfg = load_config(
        [write(tmp_path, "m.yaml", MINIMAL)],
        [
            "train.lr=3e-4",
            "model.backbone.name=simvp",
            "model.backbone.hid_S=16",
            "data.window.t_out=24",
            "eval.baselines=[persistence]",
            "train.grad_clip=1",
            "train.early_stopping=3",
        ],
    )
    assert cfg["train"]["lr"] == 3e-4
    assert cfg["model"]["backbone"] == {"name": "simvp", "hid_S": 16}  # convlstm kwargs dropped
    assert cfg["data"]["window"] == {"t_in": 4, "t_out": 24}
    short = load_config([tmp_path / "m.yaml"], ["model.backbone=simvp"])
    assert short["model"]["backbone"] == {"name": "simvp"}
    same = load_config([tmp_path / "m.yaml"], ["model.backbone=convlstm"])
    assert same["model"]["backbone"] == {"name": "convlstm", "num_hidden": [8, 8], "filter_size": 3}
    assert cfg["eval"]["baselines"] == ["persistence"]
    assert cfg["train"]["grad_clip"] == 1.0 and isinstance(cfg["train"]["grad_clip"], float)
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("train.lr")
    with pytest.raises(ConfigError, match="dotted key"):
        parse_override("train..lr=1")


@pytest.mark.parametrize(
    ("override", "pattern"),
    [
        ("train.lrr=1", r"unknown config key 'train\.lrr'.*override.*did you mean 'lr'"),
        ("trian.epochs=2", r"unknown config key 'trian'.*did you mean 'train'"),
        ("train.epochs=2.5", r"'train\.epochs'.*expected int.*got float 2\.5"),
        ("train.epochs=0", r"'train\.epochs'.*expected int >= 1"),
        ("train.amp=1", r"'train\.amp'.*expected bool"),
        ("train.lr=fast", r"'train\.lr'.*expected float.*got str 'fast'"),
        ("train.optimizer=sgd", r"'train\.optimizer'.*one of adam, adamw"),
        ("train.schedule=cosin", r"did you mean 'cosine'"),
        ("train.epochs=null", r"'train\.epochs'.*got null"),
        ("eval.baselines=[persistance]", r"item \[0\].*did you mean 'persistence'"),
        ("eval.figure_leads=[1, a]", r"'eval\.figure_leads'.*list of int.*item \[1\]"),
        ("run.name=007", r"'run\.name'.*expected str"),
        ("model.backbone.name=3", r"'model\.backbone\.name'.*expected str"),
        ("model.fuson=concat", r"unknown config key 'model\.fuson'.*did you mean 'fusion'"),
        ("data.window.t_ouut=3", r"data\.window: unknown key 't_ouut'.*did you mean 't_out'"),
        ("data.sources.maps.format=ionx", r"data\.sources\.maps"),
        ("train.scheduled_sampling.mni=0", r"'train\.scheduled_sampling\.mni'.*'min'"),
    ],
)
def test_override_errors_name_key_type_and_close_matches(
    tmp_path: Path, override: str, pattern: str
) -> None:
    with pytest.raises(ConfigError, match=pattern):
        load_config([write(tmp_path, "m.yaml", MINIMAL)], [override])


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", MINIMAL + "train:\n  batch_sise: 4\n")
    with pytest.raises(ConfigError, match=r"'train\.batch_sise' \(in .*bad\.yaml\).*'batch_size'"):
        load_config([bad])
    typed = write(tmp_path, "typed.yaml", "train: {epochs: ten}\n")
    with pytest.raises(ConfigError, match=r"'train\.epochs' \(in .*typed\.yaml\): expected int"):
        load_config([write(tmp_path, "m.yaml", MINIMAL), typed])
    src = write(tmp_path, "src.yaml", "data: {sources: {m: {paths: [x.nc], fromat: netcdf}}}\n")
    with pytest.raises(ConfigError, match=r"'data\.sources\.m\.fromat'.*src\.yaml.*'format'"):
        load_config([src])
    syntax = write(tmp_path, "syntax.yaml", "train: {lr: [1\n")
    with pytest.raises(ConfigError, match=r"syntax\.yaml: not valid YAML"):
        load_config([syntax])
    with pytest.raises(ConfigError, match=r"'model' is missing"):
        load_config([write(tmp_path, "nomodel.yaml", MINIMAL.split("model:")[0])])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config([tmp_path / "absent.yaml"])


def test_save_config_round_trip(tmp_path: Path) -> None:
    cfg = load_config([write(tmp_path, "m.yaml", MINIMAL)], ["train.lr=2e-4"])
    run = tmp_path / "runs" / "m"
    run.mkdir(parents=True)
    path = save_config(cfg, run)
    assert path == run / "config.yaml"
    assert yaml.safe_load(path.read_text()) == cfg
    assert load_config([path]) == cfg
    fresh = save_config(cfg, tmp_path / "runs" / "not_yet")  # a run directory not created yet
    assert fresh == tmp_path / "runs" / "not_yet" / "config.yaml" and fresh.is_file()
    assert save_config(cfg, tmp_path / "resolved.yml").name == "resolved.yml"


def test_a_config_the_spec_accepts_builds_the_engine_configs_unchanged(tmp_path: Path) -> None:
    # (the engine configs take their defaults and keys from RUN_SPEC; the check that the two
    # copies of the defaults agree is gone with the second copy)
    engine = pytest.importorskip("geostl.engine.config")
    over = load_config(
        [write(tmp_path, "m.yaml", MINIMAL)],
        ["train.lr=3e-4", "train.grad_clip=1", "eval.figure_leads=[0, 5]", "train.amp=true"],
    )
    assert engine.TrainConfig.from_dict(over["train"]).to_dict() == over["train"]
    assert engine.EvalConfig.from_dict(over["eval"]).to_dict() == over["eval"]


@pytest.mark.parametrize(
    "override",
    ["train.lr=0", "train.seed=-1", "train.scheduled_sampling.start=1.5", "train.grad_clip=0"],
)
def test_out_of_range_values(tmp_path: Path, override: str) -> None:
    with pytest.raises(ConfigError, match=override.split("=")[0].replace(".", r"\.")):
        load_config([write(tmp_path, "m.yaml", MINIMAL)], [override])


def test_a_source_path_can_be_overridden_alone(tmp_path: Path) -> None:
    """``data.sources.NAME.paths=...`` on the command line (a partial source entry) merges into
    the file's entry; only the merged entry must be whole."""
    base = MINIMAL.replace("{maps: {sample: tec}}", "{maps: {paths: a.nc, format: netcdf}}")
    path = write(tmp_path, "src.yaml", base)
    cfg = load_config([path], ["data.sources.maps.paths=/data/b.nc"])
    assert cfg["data"]["sources"]["maps"] == {"paths": "/data/b.nc", "format": "netcdf"}
    cfg = load_config([path], ["data.sources.maps.every=2h"])
    assert cfg["data"]["sources"]["maps"]["every"] == "2h"
    # a partial entry that does not merge into a whole one is still an error
    with pytest.raises(ConfigError, match="data.sources.other"):
        load_config([path], ["data.sources.other.paths=/data/c.nc"])
    # naming the kind (sample or format) replaces the entry as a whole
    cfg = load_config([path], ["data.sources.maps.sample=tec"])
    assert cfg["data"]["sources"]["maps"] == {"sample": "tec"}
