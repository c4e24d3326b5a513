"""The ``grid`` section: validation errors, cell expansion and the overrides of every cell."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from geostl.commands.grid import GridSpec, expand_cells, grid_dir, load_grid_config
from geostl.models import FUSIONS
from geostl.runconfig import ConfigError, load_config, save_config

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "configs" / "tec_convlstm.yaml"
# tec_convlstm.yaml declares these forcings, in this order
DECLARED = ["kp", "dst", "f107", "lst_sin", "lst_cos", "doy_sin", "doy_cos"]

GRID = """
_base_: {base}
run: {{name: g, dir: {runs}}}
data: {{schema: {{static: []}}}}  # C counts every channel fed (the mixer needs a square)
grid:
  backbones:
    convlstm: {{num_hidden: [4]}}
    simvp: {{hid_S: 4, hid_T: 8, N_S: 2, N_T: 2}}
  fusions: {fusions}
  channels: [1, 4, 2]
  future_forcings: [known, oracle]
  regimes:
    lsa: {{source: omni, variable: f107, below: 100}}
    storm: {{driver: dst, below: -50, reduce: min}}
"""


def write_grid(tmp_path: Path, fusions: str = "[concat]", extra: str = "") -> Path:
    path = tmp_path / "grid.yaml"
    path.write_text(GRID.format(base=BASE, runs=tmp_path / "runs", fusions=fusions) + extra)
    return path


def grid_of(path: Path, overrides: list[str] | None = None) -> GridSpec:
    return GridSpec.from_config(load_grid_config([path], overrides or []))


def test_cell_count_and_order(tmp_path: Path) -> None:
    fusions = ["concat"] + (["mixer"] if "mixer" in FUSIONS else [])
    grid = grid_of(write_grid(tmp_path, f"[{', '.join(fusions)}]"), ["grid.channels=[1,4]"])
    cells = expand_cells(grid)
    # per backbone: one targets-only cell, then C=4 x fusions x 2 policies
    assert len(cells) == 2 * (1 + len(fusions) * 2)
    ids = [c.id for c in cells]
    expected = ["convlstm-none-C1"]
    expected += [f"convlstm-{f}-C4-{p}" for f in fusions for p in ("known", "oracle")]
    expected += ["simvp-none-C1"]
    expected += [f"simvp-{f}-C4-{p}" for f in fusions for p in ("known", "oracle")]
    assert ids == expected


def test_one_channel_runs_once_per_backbone_without_forcings(tmp_path: Path) -> None:
    cells = expand_cells(grid_of(write_grid(tmp_path)))
    ones = [c for c in cells if c.channels == 1]
    assert [c.id for c in ones] == ["convlstm-none-C1", "simvp-none-C1"]
    for cell in ones:
        assert cell.fusion == "none" and cell.policy is None and cell.forcings == ()
        assert cell.config["model"]["fusion"] == "none"
        assert cell.config["data"]["schema"]["forcings"] == []
        # the scalings of every forcing went with them; the target's stays
        assert set(cell.config["data"]["normalisation"]["fixed"]) == {"tec"}


def test_cell_overrides_and_forcing_truncation(tmp_path: Path) -> None:
    base = load_config([BASE])
    grid = grid_of(write_grid(tmp_path))
    by_id = {c.id: c for c in expand_cells(grid)}
    cell = by_id["convlstm-concat-C4-oracle"]
    cfg = cell.config
    assert cfg["run"] == {"name": "convlstm-concat-C4-oracle", "dir": str(tmp_path / "runs/g")}
    assert cell.run_dir == grid_dir(grid) / cell.id == tmp_path / "runs" / "g" / cell.id
    # same backbone as the base: the grid kwargs merged over the base kwargs
    assert cfg["model"]["backbone"] == {
        "name": "convlstm",
        "num_hidden": [4],
        "filter_size": 5,
        "patch_size": 4,
    }
    assert cfg["model"]["fusion"] == "concat"
    assert cfg["data"]["future_forcings"] == "oracle"
    # the first C - 1 = 3 declared forcings, in declared order, as declared
    assert cfg["data"]["schema"]["forcings"] == base["data"]["schema"]["forcings"][:3]
    assert cell.forcings == tuple(DECLARED[:3])
    assert set(cfg["data"]["normalisation"]["fixed"]) == {"tec", "kp", "dst", "f107"}
    two = by_id["simvp-concat-C2-known"]
    assert two.forcings == ("kp",)
    assert set(two.config["data"]["normalisation"]["fixed"]) == {"tec", "kp"}
    # another backbone than the base: its constructor defaults, not the ConvLSTM's kwargs
    assert two.config["model"]["backbone"] == {
        "name": "simvp",
        "hid_S": 4,
        "hid_T": 8,
        "N_S": 2,
        "N_T": 2,
    }
    # everything else is the base config
    for section in ("train", "eval"):
        assert cfg[section] == base[section]
    assert cfg["data"]["splits"] == base["data"]["splits"]
    assert cfg["model"]["residual"] == base["model"]["residual"]
    assert "grid" not in cfg


def test_cell_config_is_a_normal_run_config(tmp_path: Path) -> None:
    """A cell's config written as YAML loads back unchanged with the plain run loader."""
    cell = expand_cells(grid_of(write_grid(tmp_path)))[1]
    path = save_config(cell.config, tmp_path / "cell.yaml")
    assert load_config([path]) == cell.config


def test_backbone_list_takes_base_kwargs_for_the_base_backbone(tmp_path: Path) -> None:
    grid = grid_of(write_grid(tmp_path), ["grid.backbones=[convlstm, simvp]"])
    by_label = {b.label: b for b in grid.backbones}
    assert by_label["convlstm"].kwargs == {
        "num_hidden": [32, 32],
        "filter_size": 5,
        "patch_size": 4,
    }
    assert by_label["simvp"].kwargs == {}


def test_label_naming_another_backbone(tmp_path: Path) -> None:
    grid = grid_of(
        write_grid(tmp_path), ["grid.backbones={tiny: {name: convlstm, num_hidden: [2]}}"]
    )
    # mappings merge: the file's two backbones plus the labelled one
    tiny = [b for b in grid.backbones if b.label == "tiny"][0]
    assert tiny.name == "convlstm" and tiny.kwargs["num_hidden"] == [2]
    assert "tiny-none-C1" in [c.id for c in expand_cells(grid)]


@pytest.mark.parametrize(
    ("override", "pattern"),
    [
        ("grid.channels=[1,9]", r"grid\.channels\[1\].*C = 9 is outside \[1, 8\].*kp, dst"),
        ("grid.channels=[0]", r"grid\.channels\[0\].*>= 1"),
        ("grid.channels=[1,1]", r"grid\.channels.*repeated"),
        ("grid.fusion=[concat]", r"unknown config key 'grid\.fusion'.*did you mean 'fusions'"),
        ("grid.fusions=[concta]", r"grid\.fusions\[0\].*'concta'.*did you mean 'concat'"),
        ("grid.fusions=[none]", r"grid\.fusions\[0\].*1-channel run"),
        ("grid.future_forcings=[orcale]", r"grid\.future_forcings.*did you mean 'oracle'"),
        (
            "grid.backbones.convlstm.num_hiden=[4]",
            r"grid\.backbones\.convlstm\.num_hiden.*'num_hidden'",
        ),
        ("grid.backbones={convlsm: null}", r"grid\.backbones\.convlsm.*did you mean 'convlstm'"),
        ("grid.backbones={a/b: null}", r"grid\.backbones\.a/b.*backbone label"),
        ("grid.regimes.lsa.driver=f107", r"grid\.regimes\.lsa.*either 'driver'"),
        ("grid.regimes.storm.driver=dts", r"grid\.regimes\.storm\.driver.*did you mean 'dst'"),
        ("grid.regimes.lsa.source=omin", r"grid\.regimes\.lsa\.source.*did you mean 'omni'"),
        ("grid.regimes.lsa.reduce=median", r"grid\.regimes\.lsa\.reduce.*issue, mean, min, max"),
        ("grid.regimes.lsa.at_least=200", r"grid\.regimes\.lsa.*at_least 200 must be smaller"),
        ("grid.regimes.x={driver: dst}", r"grid\.regimes\.x.*expected a bound"),
        ("grid.regimes.x={driver: dst, belo: 1}", r"grid\.regimes\.x\.belo.*did you mean 'below'"),
        ("grid.regimes.storm.align=nearest", r"grid\.regimes\.storm.*'align' and 'interval'"),
        ("data.schema.targets.variables=[tec, x]", r"targets\.variables.*one target variable"),
        ("grid.throughput.batches=0", r"grid\.throughput\.batches.*>= 1"),
    ],
)
def test_bad_grid_keys_are_named(tmp_path: Path, override: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        grid_of(write_grid(tmp_path), [override])


def test_missing_grid_and_wrong_types(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config key 'grid' is missing"):
        load_grid_config([BASE])
    with pytest.raises(ConfigError, match=r"'grid\.channels'.*expected a list of int, got null"):
        load_grid_config([write_grid(tmp_path)], ["grid.channels="])
    partial = tmp_path / "partial.yaml"
    partial.write_text(f"_base_: {BASE}\ngrid: {{backbones: [convlstm]}}\n")
    with pytest.raises(ConfigError, match=r"grid\.'?channels'? is missing"):
        load_grid_config([partial])
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"_base_: {BASE}\ngrid: {{backbones: [convlstm], channels: 4}}\n")
    with pytest.raises(
        ConfigError,
        match=r"'grid\.channels' \(in " + re.escape(str(bad)) + r"\).*a list of int, got int 4",
    ):
        load_grid_config([bad])
    # a plain run config refuses the grid section (it is for `geostl grid` only)
    with pytest.raises(ConfigError, match=r"unknown config key 'grid'"):
        load_config([write_grid(tmp_path)])


def test_fusion_that_cannot_take_a_channel_count_names_the_cell(tmp_path: Path) -> None:
    if "mixer" not in FUSIONS:
        pytest.skip("fusion 'mixer' not registered")
    grid = grid_of(write_grid(tmp_path, "[mixer]"))  # C = 2 is not a square
    with pytest.raises(ConfigError, match=r"grid cell convlstm-mixer-C2-known: fusion 'mixer'"):
        expand_cells(grid)


def test_the_shipped_tec_grid() -> None:
    """configs/grid_tec.yaml: 26 cells over the seed's channel sets, in the seed's order."""
    grid = GridSpec.from_config(load_grid_config([REPO / "configs" / "grid_tec.yaml"]))
    cells = expand_cells(grid)
    assert len(cells) == 2 * (1 + 3 * 2 * 2) == 26
    assert {c.backbone for c in cells} == {"convlstm", "simvp"}
    seed_order = [
        "lon_index", "lat_index", "year",  # C = 4
        "f107", "sunspot_number", "doy", "ut_hour", "month",  # C = 9
        "day_of_month", "kp", "ap", "dst", "sw_speed", "b_mag", "sigma_b_mag",  # C = 16
    ]  # fmt: skip
    for cell in cells:
        assert cell.forcings == tuple(seed_order[: cell.channels - 1])
        assert set(cell.config["data"]["normalisation"]["fixed"]) == {"tec", *cell.forcings}
        assert cell.config["data"]["schema"].get("static", []) == []
    assert [r.name for r in grid.regimes] == ["lsa", "hsa", "storm", "quiet"]


def test_the_shipped_svq_grid_builds_every_model() -> None:
    """configs/grid_svq_t2m.yaml: SimVP, SVQ (learnable, frozen) and two VQ baselines, C = 1."""
    from geostl.models import build_forecaster

    grid = GridSpec.from_config(load_grid_config([REPO / "configs" / "grid_svq_t2m.yaml"]))
    cells = expand_cells(grid)
    assert [c.id for c in cells] == [
        f"{label}-none-C1"
        for label in ("simvp", "simvp_svq", "simvp_svq_frozen", "simvp_vq", "simvp_rvq")
    ]
    meta = {
        "t_in": 12, "t_out": 12, "target_channels": 1, "forcing_channels": 0,
        "static_channels": 0, "height": 36, "width": 52,
    }  # fmt: skip
    counts = {}
    for cell in cells[:3]:  # the VQ baselines need the optional vq extra
        model = build_forecaster(cell.config["model"], meta)
        counts[cell.id] = sum(p.numel() for p in model.parameters())
    # SVQ adds its MLP (8 -> 128 -> 10,000) and, when learnable, the 10,000 x 8 codebook
    mlp = (8 * 128 + 128) + (128 * 10_000 + 10_000)
    assert counts["simvp_svq_frozen-none-C1"] - counts["simvp-none-C1"] == mlp
    assert counts["simvp_svq-none-C1"] - counts["simvp-none-C1"] == mlp + 10_000 * 8
