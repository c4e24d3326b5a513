"""configs/svq/taxibj: the SVQ paper's two TaxiBJ runs load with the data section of
``taxibj_data_section``, build the seed's model (SVQ parameters as published), and the learnable
one trains and tests on release-layout files through ``geostl train``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geostl.models import build_forecaster
from geostl.runconfig import load_config
from geostl.tasks.video.taxibj import taxibj_data_section
from taxibj_files import flows, slot_labels, write_taxibj

TAXIBJ = Path(__file__).resolve().parents[1] / "configs" / "svq" / "taxibj"
RUNS = ["SimVPVQ_gSTA_learnable.yaml", "SimVPVQ_gSTA_frozen.yaml"]
META = {
    "t_in": 4,
    "t_out": 4,
    "target_channels": 2,
    "forcing_channels": 0,
    "static_channels": 0,
    "height": 32,
    "width": 32,
}


@pytest.mark.parametrize("name", RUNS)
def test_config_loads_with_the_taxibj_data_section(name: str) -> None:
    cfg = load_config([TAXIBJ / name])
    entry = cfg["data"]["sources"]["taxibj"]
    expected = taxibj_data_section(entry["paths"])
    for key in ("schema", "splits", "window", "normalisation"):
        assert {k: cfg["data"][key][k] for k in expected[key]} == expected[key], key
    assert entry["format"] == "taxibj"
    train = cfg["train"]
    assert (train["lr"], train["batch_size"], train["epochs"]) == (5.0e-4, 16, 50)
    assert (train["schedule"], train["criterion"]) == ("cosine", "mae")
    backbone = cfg["model"]["backbone"]
    assert (backbone["model_type"], backbone["hid_S"], backbone["hid_T"]) == ("gSTA", 32, 256)
    assert (backbone["N_S"], backbone["N_T"]) == (2, 8)
    # the seed's configs/taxibj/simvp/SimVPVQ_gSTA_*.py
    assert backbone["drop_path"] == 0.1 and train["warmup_epochs"] == 5
    assert backbone["quantiser"]["init_method"] == "kaiming"
    assert backbone["quantiser"]["freeze_codebook"] == ("frozen" in name)


@pytest.mark.parametrize("name", RUNS)
def test_the_svq_has_the_published_parameter_count(name: str) -> None:
    cfg = load_config([TAXIBJ / name])
    model = build_forecaster(cfg["model"], dict(META))
    (svq,) = [m for m in model.modules() if type(m).__name__ == "SVQ"]
    trainable = sum(p.numel() for p in svq.parameters() if p.requires_grad)
    mlp = 4_224 + 1_290_000  # D=32 -> m=128 -> K=10,000 (the SVQ paper's MLP)
    assert trainable == (mlp if "frozen" in name else mlp + 320_000)


@pytest.mark.slow
def test_the_learnable_config_trains_and_tests_on_release_files(tmp_path) -> None:
    """Two steps with a narrower translator on a file holding a few days of each split (val and
    test cut to their first 6 h)."""
    from geostl.commands.run import train

    days = ["20160213", "20160214", "20160215", "20160314"]
    labels = slot_labels(days)
    write_taxibj(tmp_path / "BJ16_M32x32_T30_InOut.h5", labels, flows(len(labels), 5))
    cfg = load_config(
        [TAXIBJ / "SimVPVQ_gSTA_learnable.yaml"],
        [
            f"data.sources.taxibj.paths={tmp_path / 'BJ1*_M32x32_T30_InOut.h5'}",
            f"run.dir={tmp_path / 'runs'}",
            "train.epochs=1",
            "train.warmup_epochs=0",
            "train.max_steps_per_epoch=2",
            "train.batch_size=2",
            "model.backbone.hid_T=32",
            "model.backbone.N_T=2",
            "model.backbone.quantiser.factorised=true",  # the same function, no K-wide weights
            "data.splits.val.end=2016-02-15T06:00",
            "data.splits.test.end=2016-03-14T06:00",
            "train.device=cpu",
            "eval.baselines=[persistence]",
        ],
    )
    out = train(cfg, progress=False, figures=False)
    tables = json.loads((out / "metrics.json").read_text())["tables"]
    assert out.name == "SimVPVQ_gSTA_learnable"
    weightings = {r["weighting"] for r in tables["model"]["rows"] if r["metric"] == "mae"}
    assert weightings == {"plain"}
    units = tables["model"]["units"]
    assert units == {"inflow": "count", "outflow": "count"}
