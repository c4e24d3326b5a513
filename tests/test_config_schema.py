"""The run-config schema: key listing, defaults, extension by task packages, `geostl config`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from geostl.cli import main
from geostl.runconfig import (
    RUN_SPEC,
    ConfigError,
    Field,
    Section,
    defaults,
    format_keys,
    key_rows,
    load_config,
    with_keys,
    with_section,
)
from test_runconfig import MINIMAL, write


def test_every_key_has_help_and_the_listing_shows_type_and_default() -> None:
    rows = key_rows(RUN_SPEC)
    assert all(text for _, _, _, text in rows), [k for k, _, _, t in rows if not t]
    listing = format_keys(section="train")
    assert "train.lr: float > 0 = 0.001\n    peak learning rate" in listing
    assert "eval." not in listing
    with pytest.raises(ConfigError, match="'trian' is not a config section; did you mean 'train'"):
        format_keys(section="trian")


def test_defaults_are_what_load_config_fills(tmp_path: Path) -> None:
    cfg = load_config([write(tmp_path, "m.yaml", MINIMAL)])
    d = defaults(RUN_SPEC)
    assert cfg["train"] == d["train"] and cfg["eval"] == d["eval"]
    assert d["run"] == {"name": None, "dir": "runs"}


def test_a_task_package_adds_keys_and_sections(tmp_path: Path) -> None:
    spec = with_keys(
        RUN_SPEC,
        "model",
        heads=Field("int", 1, minimum=1, help="output heads"),
    )
    spec = with_section(
        spec, "gapfill", Section({"mask_ratio": Field("float", 0.5, help="share masked")})
    )
    path = write(tmp_path, "m.yaml", MINIMAL)
    cfg = load_config([path], ["model.heads=3"], spec=spec)
    assert cfg["model"]["heads"] == 3 and cfg["gapfill"] == {"mask_ratio": 0.5}
    with pytest.raises(ConfigError, match=r"'gapfill\.mask_ratoi'.*did you mean 'mask_ratio'"):
        load_config([path], ["gapfill.mask_ratoi=0.1"], spec=spec)
    with pytest.raises(ConfigError, match=r"'model\.heads'"):
        load_config([path], ["model.heads=3"])  # RUN_SPEC itself is unchanged
    with pytest.raises(KeyError, match="not a section"):
        with_keys(RUN_SPEC, "train.lr", x=Field("int", 0))


def test_cli_config_show_and_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "m.yaml", MINIMAL)
    assert main(["config", "--show", "--config", str(path), "train.lr=3e-4"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown == load_config([path], ["train.lr=3e-4"])
    assert main(["config", "--keys", "eval"]) == 0
    out = capsys.readouterr().out
    assert (
        out.startswith("eval.batch_size: int >= 1 = 8") and "eval.baselines: a list of str" in out
    )
    assert main(["config", "--show", "--config", str(path), "train.lrr=1"]) == 2
    assert "did you mean 'lr'" in capsys.readouterr().err
