"""geostl train end to end on a generated KTH folder with the seed's KTH SVQ config (narrowed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geostl.io.kth import KTH_ACTIONS
from geostl.runconfig.loader import load_config
from video_layouts import write_kth

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "svq" / "kth"


@pytest.mark.slow
def test_kth_svq_config_trains_and_tests_on_a_frame_folder(tmp_path: Path) -> None:
    """Two steps of the seed's KTH SVQ run (narrower translator, 256 codes) on persons 01
    (train), 15 (validation) and 17 (test), 35 frames each: with stride 3, two 30-frame windows
    a clip, read through the ``kth`` source format and resized to 128 x 128."""
    from geostl.commands.run import train

    frames = list(range(1, 36))
    write_kth(
        tmp_path / "kth",
        [("01", "boxing", 1, frames), ("15", "walking", 2, frames), ("17", "running", 3, frames)],
        size=(12, 16),
    )
    for action in KTH_ACTIONS:
        (tmp_path / "kth" / action).mkdir(parents=True, exist_ok=True)
    cfg = load_config(
        [CONFIG / "SimVPVQ_IncepU_learnable.yaml"],
        [
            f"data.sources.video.paths={tmp_path / 'kth'}",
            f"run.dir={tmp_path / 'runs'}",
            "train.epochs=1",
            "train.max_steps_per_epoch=2",
            "train.batch_size=2",
            "train.val_batch_size=2",
            "eval.batch_size=2",
            "model.backbone.hid_S=8",
            "model.backbone.hid_T=16",
            "model.backbone.N_T=2",
            "model.backbone.quantiser.codebook_size=256",
            "eval.codebook_usage=false",
            "train.device=cpu",
        ],
    )
    out = train(cfg, progress=False, figures=False)
    assert (out / "best.pt").is_file()
    tables = json.loads((out / "metrics.json").read_text())["tables"]
    rows = tables["model"]["rows"]
    assert {r["weighting"] for r in rows if r["metric"] == "mae"} == {"plain"}
    assert tables["model"]["units"] == {"gray": "1"}
    mae = [r for r in rows if r["metric"] == "mae"]
    assert len({r["lead"] for r in mae}) >= 20  # one row per lead of the 20 predicted frames
    # de-normalised grey levels: a near-untrained model is off by grey levels, not by fractions
    assert all(0.5 < r["value"] < 255 for r in mae)
    assert "persistence" in tables
