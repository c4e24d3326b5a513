"""Dotted overrides: their order does not matter, and how they combine with the files."""

from __future__ import annotations

from pathlib import Path

import pytest

from geostl.runconfig import ConfigError, load_config
from test_runconfig import MINIMAL, write

PATHS = "data.sources.maps.paths=[a.nc, b.nc]"
FORMAT = "data.sources.maps.format=netcdf"


@pytest.mark.parametrize("overrides", [[PATHS, FORMAT], [FORMAT, PATHS]])
def test_source_paths_and_format_in_either_order(
    tmp_path: Path, overrides: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # relative override paths are taken from the current directory
    cfg = load_config([write(tmp_path, "m.yaml", MINIMAL)], overrides)
    paths = [str(tmp_path / "a.nc"), str(tmp_path / "b.nc")]
    assert cfg["data"]["sources"]["maps"] == {"paths": paths, "format": "netcdf"}


@pytest.mark.parametrize("first_name", [True, False])
def test_backbone_name_and_kwargs_in_either_order(tmp_path: Path, first_name: bool) -> None:
    over = ["model.backbone.name=simvp", "model.backbone.hid_S=16"]
    cfg = load_config([write(tmp_path, "m.yaml", MINIMAL)], over if first_name else over[::-1])
    assert cfg["model"]["backbone"] == {"name": "simvp", "hid_S": 16}  # convlstm kwargs dropped


def test_new_source_given_only_by_overrides(tmp_path: Path) -> None:
    cfg = load_config(
        [write(tmp_path, "m.yaml", MINIMAL)],
        ["data.sources.era5.format=netcdf", "data.sources.era5.paths=/data/era5.nc"],
    )
    assert cfg["data"]["sources"]["era5"] == {"paths": "/data/era5.nc", "format": "netcdf"}
    assert cfg["data"]["sources"]["maps"] == {"sample": "tec"}  # the file's source is kept


def test_list_values_replace_and_later_override_wins(tmp_path: Path) -> None:
    base = write(tmp_path, "m.yaml", MINIMAL + "eval: {baselines: [persistence, climatology]}\n")
    cfg = load_config([base], ["eval.baselines=[sun_fixed]", "train.lr=1e-2", "train.lr=3e-4"])
    assert cfg["eval"]["baselines"] == ["sun_fixed"]  # lists are replaced, not appended to
    assert cfg["train"]["lr"] == 3e-4
    empty = load_config([base], ["eval.baselines=[]"])
    assert empty["eval"]["baselines"] == []


def test_format_alone_over_a_sample_source_is_incomplete(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.sources\.maps.*got keys \['format'\]"):
        load_config([write(tmp_path, "m.yaml", MINIMAL)], [FORMAT])


def test_unknown_override_key_names_close_matches(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config([write(tmp_path, "m.yaml", MINIMAL)], ["train.batch_sise=4"])
    msg = str(err.value)
    assert "'train.batch_sise'" in msg and "override 'train.batch_sise=4'" in msg
    assert "did you mean 'batch_size', 'val_batch_size'" in msg
    with pytest.raises(ConfigError, match=r"'data\.sources\.era5\.fromat'.*'format'"):
        load_config([write(tmp_path, "m.yaml", MINIMAL)], ["data.sources.era5.fromat=netcdf"])
