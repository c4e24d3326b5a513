"""configs/svq/{kth,kitticaltech,human}: the SVQ paper's video runs load, carry its settings
(SVQ-Forecasting configs) and read a generated folder through the registered source formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geostl.data.splits import parse_splits
from geostl.io.kth import KTH_ACTIONS
from geostl.runconfig import ConfigError
from geostl.runconfig.loader import load_config
from geostl.runconfig.sources import open_sources
from geostl.tasks.video.sets import video_data_section
from video_layouts import write_kth

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "svq"

# The seed's files (configs/{kth,kitticaltech,human}/simvp/SimVPVQ_*.py):
# (folder, run, backbone, hid_S, hid_T, N_S, N_T, K, lr, epochs, set, drop_path, schedule)
RUNS = [
    ("kth", "SimVPVQ_IncepU", "IncepU", 64, 256, 2, 6, 6000, 5e-4, 100, "kth", 0.1, "onecycle"),
    ("kitticaltech", "SimVPVQ_gSTA", "gSTA", 64, 256, 2, 6, 6000, 1.25e-3, 100, "kitticaltech",
     0.2, "onecycle"),
    ("human", "SimVPVQ_gSTA", "gSTA", 64, 512, 4, 6, 10000, 2.5e-4, 50, "human", 0.1, "cosine"),
]  # fmt: skip


@pytest.mark.parametrize("frozen", [False, True])
@pytest.mark.parametrize("run", RUNS, ids=[r[0] for r in RUNS])
def test_video_run_configs(run: tuple, frozen: bool) -> None:
    folder, stem, backbone, hid_s, hid_t, n_s, n_t, k, lr, epochs, name, drop, schedule = run
    path = CONFIGS / folder / f"{stem}_{'frozen' if frozen else 'learnable'}.yaml"
    cfg = load_config([path])
    bb = cfg["model"]["backbone"]
    assert (bb["name"], bb["model_type"]) == ("simvp", backbone)
    assert (bb["hid_S"], bb["hid_T"], bb["N_S"], bb["N_T"]) == (hid_s, hid_t, n_s, n_t)
    q = bb["quantiser"]
    assert (q["name"], q["codebook_size"], q["hidden"]) == ("svq", k, 128)
    assert q["freeze_codebook"] is frozen
    assert bb["post_vq"] is False
    train = cfg["train"]
    # batch 4 per process: the seed ran 4 GPUs (16 per step)
    assert (train["lr"], train["epochs"], train["batch_size"]) == (lr, epochs, 4)
    assert (train["criterion"], train["schedule"]) == ("mae", schedule)
    assert train["warmup_epochs"] == 0 and bb["drop_path"] == drop
    # the data section is the helper's, with the standard year splits
    section = video_data_section(name, "unused")
    data = cfg["data"]
    assert data["schema"] == section["schema"]
    assert data["window"] == section["window"]
    assert data["normalisation"] == section["normalisation"]
    assert parse_splits(data["splits"]) == parse_splits(section["splits"])
    assert data["sources"]["video"]["format"] == section["sources"]["video"]["format"]


def test_kth_config_reads_a_folder_through_its_format(tmp_path: Path) -> None:
    write_kth(
        tmp_path,
        [
            ("03", "boxing", 1, [1, 2, 3]),
            ("15", "walking", 2, [1, 2]),
            ("18", "running", 4, [4, 5]),
        ],
        size=(6, 8),
    )
    for action in KTH_ACTIONS:
        (tmp_path / action).mkdir(parents=True, exist_ok=True)
    cfg = load_config(
        [CONFIGS / "kth" / "SimVPVQ_IncepU_frozen.yaml"],
        [f"data.sources.video.paths={tmp_path}"],
    )
    ds = open_sources(cfg["data"]["sources"])["video"]
    assert ds["gray"].shape == (7, 128, 128)
    splits = parse_splits(cfg["data"]["splits"])
    clips = ds["clip"].values
    held = {n: sorted(set(clips[s.contains(ds["time"].values)])) for n, s in splits.items()}
    assert held == {
        "train": ["person03_boxing_d1"],
        "val": ["person15_walking_d2"],
        "test": ["person18_running_d4"],
    }
    assert np.isfinite(ds["gray"].isel(time=slice(0, 2)).values).all()

    # the reader's own options from the source entry: stored size kept, short clips refused
    kept = load_config(
        [CONFIGS / "kth" / "SimVPVQ_IncepU_frozen.yaml"],
        [f"data.sources.video.paths={tmp_path}", "data.sources.video.reader={size: null}"],
    )
    assert open_sources(kept["data"]["sources"])["video"]["gray"].shape == (7, 6, 8)
    small = [f"data.sources.video.paths={tmp_path}", "data.sources.video.reader={size: [3, 4]}"]
    cfg = load_config([CONFIGS / "kth" / "SimVPVQ_IncepU_frozen.yaml"], small)
    assert open_sources(cfg["data"]["sources"])["video"]["gray"].shape == (7, 3, 4)
    for bad, message in (
        ("{frames: 3}", r"data\.sources\.video\.reader\.frames: not an option of the 'kth' reader"),
        ("{min_frames: 3}", "person15_walking_d2"),  # a 2-frame clip, named by the reader
    ):
        cfg = load_config(
            [CONFIGS / "kth" / "SimVPVQ_IncepU_frozen.yaml"],
            [f"data.sources.video.paths={tmp_path}", f"data.sources.video.reader={bad}"],
        )
        with pytest.raises((ConfigError, ValueError), match=message):
            open_sources(cfg["data"]["sources"])


def test_reader_options_only_for_formats_whose_reader_takes_options(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"only with the formats whose reader takes options \(.*kth.*\), got format .taxibj.",
    ):
        load_config(
            [CONFIGS / "taxibj" / "SimVPVQ_gSTA_frozen.yaml"],
            ["data.sources.taxibj.reader={size: [3, 4]}"],
        )


# (folder, run, channels, t_in, t_out, H, W, D = hid_S, K)
SHAPES = [
    ("kth", "SimVPVQ_IncepU", 1, 10, 20, 128, 128, 64, 6000),
    ("kitticaltech", "SimVPVQ_gSTA", 3, 10, 1, 128, 160, 64, 6000),
    ("human", "SimVPVQ_gSTA", 3, 4, 4, 256, 256, 64, 10000),
]


@pytest.mark.parametrize("frozen", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=[s[0] for s in SHAPES])
def test_svq_parameter_count(shape: tuple, frozen: bool) -> None:
    from geostl.models import build_forecaster

    folder, stem, c, t_in, t_out, h, w, d, k = shape
    cfg = load_config([CONFIGS / folder / f"{stem}_{'frozen' if frozen else 'learnable'}.yaml"])
    meta = {
        "t_in": t_in,
        "t_out": t_out,
        "target_channels": c,
        "forcing_channels": 0,
        "static_channels": 0,
        "height": h,
        "width": w,
    }
    model = build_forecaster(cfg["model"], meta)
    (svq,) = [m for m in model.modules() if type(m).__name__ == "SVQ"]
    trainable = sum(p.numel() for p in svq.parameters() if p.requires_grad)
    mlp = (d * 128 + 128) + (128 * k + k)  # D -> m = 128 -> K (the SVQ paper's MLP)
    assert trainable == (mlp if frozen else mlp + k * d)
