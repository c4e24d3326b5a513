"""The ready configs in configs/ and ``open_sources``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from geostl.commands.demo import TEC_DEMO_CONFIG
from geostl.data import DataConfig, build_datasets
from geostl.data.splits import check_splits
from geostl.datasets import sample
from geostl.runconfig import ConfigError, load_config, open_sources

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
# data-only base files (no `model:` section), named by others with `_base_:`
BASE_ONLY = {"iono_data.yaml"}
# `geostl grid` configs (a `grid:` section; loaded and expanded in tests/test_grid_config.py)
GRID_CONFIGS = {p.name for p in CONFIGS.glob("grid_*.yaml")}
FILES = sorted(p for p in CONFIGS.glob("*.yaml") if p.name not in BASE_ONLY | GRID_CONFIGS)
# configs on stores built by geostl fetch + ingest (docs/archives.md), not on the built-in data
ARCHIVE_CONFIGS = {"iono_code_convlstm.yaml"}
# the configs on the TEC demo's data (others, e.g. t2m_simvp.yaml, are tested beside their data)
TEC_FILES = [
    p for p in FILES if p.name.startswith(("tec_", "iono_")) and p.name not in ARCHIVE_CONFIGS
]


def test_configs_folder_is_complete() -> None:
    names = {p.name for p in FILES} | BASE_ONLY | GRID_CONFIGS
    assert {"tec_convlstm.yaml", "tec_simvp.yaml", "iono_convlstm.yaml", "iono_simvp.yaml"} <= names
    readme = (CONFIGS / "README.md").read_text()
    for name in names:
        assert name in readme, f"configs/README.md does not describe {name}"


@pytest.mark.parametrize("path", TEC_FILES, ids=lambda p: p.name)
def test_every_config_loads_and_its_data_section_builds(path: Path) -> None:
    cfg = load_config([path])
    assert cfg["run"]["name"] == path.stem
    data = {k: v for k, v in cfg["data"].items() if k != "sources"}
    dc = DataConfig.from_dict(data)
    assert dc.pad_multiple == 4
    # same windows, scalings and splits as the built-in demo
    demo = DataConfig.from_dict(TEC_DEMO_CONFIG)
    for attr in ("schema", "splits", "t_in", "t_out", "fixed", "norm_method", "future_forcings"):
        assert getattr(dc, attr) == getattr(demo, attr), attr
    assert set(cfg["data"]["sources"]) == {"maps", "omni"}


def test_the_archive_config_is_the_seed_model_on_ingested_stores() -> None:
    cfg = load_config([CONFIGS / "iono_code_convlstm.yaml"])
    seed = load_config([CONFIGS / "iono_convlstm.yaml"])
    channels = load_config([CONFIGS / "iono_convlstm.yaml", CONFIGS / "iono_data.yaml"])
    assert cfg["model"] == seed["model"] and cfg["train"] == seed["train"]
    assert cfg["data"]["schema"] == channels["data"]["schema"]
    assert len(cfg["data"]["schema"]["forcings"]) == 15  # + TEC: the seed's 16 channels
    maps, omni = cfg["data"]["sources"]["maps"], cfg["data"]["sources"]["omni"]
    assert (maps["format"], maps["regrid"], maps["every"]) == ("zarr", "iono72", "2h")
    assert omni["format"] == "zarr"
    assert maps["paths"] == str(CONFIGS.parent / "stores" / "code_final_2014-2020.zarr")
    assert (cfg["data"]["window"]["t_in"], cfg["data"]["window"]["t_out"]) == (12, 48)
    dc = DataConfig.from_dict({k: v for k, v in cfg["data"].items() if k != "sources"})
    assert [str(s.start)[:4] for s in dc.splits.values()] == ["2014", "2019", "2020"]
    check_splits(dc.splits, dc.t_in + dc.t_out, np.timedelta64(2, "h"))  # a window apart


def test_iono_configs_carry_the_seed_settings() -> None:
    conv = load_config([CONFIGS / "iono_convlstm.yaml"])
    simvp = load_config([CONFIGS / "iono_simvp.yaml"])
    for cfg in (conv, simvp):
        t = cfg["train"]
        assert (t["epochs"], t["schedule"], t["optimizer"], t["batch_size"]) == (
            10,
            "onecycle",
            "adam",
            8,
        )
        assert (t["val_batch_size"], t["weight_decay"]) == (4, 0.0)
    assert conv["train"]["lr"] == 5e-4 and simvp["train"]["lr"] == 1e-3
    assert conv["model"]["backbone"] == {
        "name": "convlstm",
        "num_hidden": [128, 128, 128, 128],
        "filter_size": 5,
        "patch_size": 4,
        "openstl_inert_params": True,  # the published 15.08 M of Table 1
    }
    # the ConvLSTM kwargs of the base do not leak into SimVP
    assert simvp["model"]["backbone"] == {
        "name": "simvp",
        "model_type": "gSTA",
        "hid_S": 64,
        "hid_T": 512,
        "N_S": 4,
        "N_T": 8,
        "drop_path": 0.0,
    }
    small = load_config([CONFIGS / "tec_convlstm.yaml"])["model"]["backbone"]
    assert (small["num_hidden"], small["filter_size"], small["patch_size"]) == ([32, 32], 5, 4)


def test_tec_config_builds_windows_from_the_builtin_sample() -> None:
    cfg = load_config([CONFIGS / "tec_convlstm.yaml"])
    sources = open_sources(cfg["data"]["sources"])
    datasets = build_datasets({k: v for k, v in cfg["data"].items() if k != "sources"}, sources)
    item = datasets["test"][0]
    assert tuple(item["inputs"].shape) == (8, 1, 72, 76)  # 71x73 padded to multiples of 4
    assert tuple(item["targets"].shape) == (12, 1, 72, 76)


@pytest.mark.slow  # over 5 s on 2 cores (make test-fast leaves it out)
def test_open_sources_paths_equal_the_builtin_sample(tmp_path: Path) -> None:
    folder = Path(str(resources.files("geostl.datasets") / "_data" / "tec"))
    ionex = sorted(str(p) for p in folder.glob("uqrg*.19i.gz"))
    out = open_sources(
        {
            "maps": {"paths": ionex, "format": "ionex"},
            "omni": {"paths": str(folder / "omni2_*.dat.gz"), "format": "omni2"},
            "ref": {"sample": "tec"},
        }
    )
    np.testing.assert_array_equal(out["maps"]["tec"].values, out["ref"]["tec"].values)
    np.testing.assert_array_equal(out["omni"]["kp"].values, sample("tec_drivers")["kp"].values)
    # relative paths are taken from base_dir
    rel = open_sources(
        {"m": {"paths": [Path(p).name for p in ionex], "format": "ionex"}}, base_dir=folder
    )
    np.testing.assert_array_equal(rel["m"]["tec"].values, out["ref"]["tec"].values)


def test_open_sources_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.sources\.x\.sample.*'tecc'.*tec"):
        open_sources({"x": {"sample": "tecc"}})
    with pytest.raises(ConfigError, match=r"data\.sources\.x\.format.*did you mean 'ionex'"):
        open_sources({"x": {"paths": ["a"], "format": "ionx"}})
    with pytest.raises(ConfigError, match=r"data\.sources\.x: format 'index' reads one file"):
        open_sources({"x": {"paths": ["a", "b"], "format": "index"}})
    with pytest.raises(FileNotFoundError, match="missing.nc"):
        open_sources({"x": {"paths": ["missing.nc"], "format": "netcdf"}}, base_dir=tmp_path)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_backbone_kwargs_are_accepted_by_the_model_builder(path: Path) -> None:
    models = pytest.importorskip("geostl.models")
    if not hasattr(models, "build_backbone"):
        pytest.skip("geostl.models.build_backbone not available yet")
    cfg = load_config([path])
    kwargs = dict(cfg["model"]["backbone"])
    name = kwargs.pop("name")
    # TEC config: 8 in, 12 out, 1 target channel, 7 forcings + 2 static planes, 72x76
    net = models.build_backbone(
        name, in_shape=(8, 10, 72, 76), out_channels=1, t_out=12, aux_channels=9, **kwargs
    )
    assert sum(p.numel() for p in net.parameters()) > 0
