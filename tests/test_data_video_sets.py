"""Video-set data sections: splits carved from the readers' clip tables (generated folders)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geostl.data.splits import check_splits, parse_splits
from geostl.io.human36m import open_human36m
from geostl.io.kitticaltech import open_kitticaltech
from geostl.io.kth import KTH_ACTIONS
from geostl.tasks.video.sets import VIDEO_SETS, video_data_section, video_splits
from test_io_kitticaltech import SIZE
from test_io_kitticaltech import _layout as kitticaltech_layout
from video_layouts import write_human, write_kth


def _kth(root: Path) -> None:
    clips = [
        ("20", "boxing", 1, list(range(1, 6))),
        ("16", "walking", 2, list(range(1, 6))),
        ("01", "running", 1, list(range(1, 6))),
        ("15", "boxing", 4, list(range(1, 6))),
        ("02", "handclapping", 1, list(range(1, 6))),
        ("17", "jogging", 3, list(range(1, 6))),
    ]
    write_kth(root, clips, size=(8, 8))
    for action in KTH_ACTIONS:
        (root / action).mkdir(parents=True, exist_ok=True)


def _members_by_time(ds, ranges: dict) -> dict[str, list[str]]:
    """Clips whose frames all lie in each split's date range (computed from the times)."""
    splits = parse_splits(ranges)
    times = ds["time"].values
    clips = ds["clip"].values
    out = {}
    for name, split in splits.items():
        inside = split.contains(times)
        out[name] = sorted(set(clips[inside]))
        # no clip is cut by a boundary
        for c in out[name]:
            assert inside[clips == c].all(), c
    return out


def test_kth_persons_15_16_validate(tmp_path: Path) -> None:
    _kth(tmp_path)
    section = video_data_section("kth", str(tmp_path))
    from geostl.io.kth import open_kth

    ds = open_kth(tmp_path)
    ranges, members = video_splits(ds, "person", 2)
    assert video_data_section("kth", str(tmp_path), ds=ds)["splits"] == ranges
    # the standard year splits (no folder read) hold the same clips
    assert section["splits"] == {
        "train": {"start": "2001-01-01T00:00:00.000", "end": "2014-12-31T23:00:00.000"},
        "val": {"start": "2015-01-01T00:00:00.000", "end": "2016-12-31T23:00:00.000"},
        "test": {"start": "2017-01-01T00:00:00.000", "end": "2026-01-01T00:00:00.000"},
    }
    assert _members_by_time(ds, section["splits"]) == {k: sorted(v) for k, v in members.items()}
    check_splits(parse_splits(section["splits"]), 30, np.timedelta64(40, "ms"))
    assert members == {
        "train": ["person01_running_d1", "person02_handclapping_d1"],
        "val": ["person15_boxing_d4", "person16_walking_d2"],
        "test": ["person17_jogging_d3", "person20_boxing_d1"],
    }
    assert _members_by_time(ds, ranges) == {k: sorted(v) for k, v in members.items()}
    # at least one 30-frame window (40 ms steps) between splits, as the pipeline requires
    check_splits(parse_splits(ranges), 30, np.timedelta64(40, "ms"))
    assert section["sources"] == {"video": {"paths": str(tmp_path), "format": "kth"}}
    assert section["schema"] == {"targets": {"source": "video", "variables": ["gray"]}}
    assert section["window"] == {"t_in": 10, "t_out": 20, "stride": 3}
    assert section["normalisation"] == {
        "method": "fixed",
        "fixed": {"gray": {"offset": 0.0, "scale": 255.0}},
    }
    assert video_data_section("kth40", str(tmp_path), stride=1, ds=ds)["window"] == {
        "t_in": 10,
        "t_out": 40,
        "stride": 1,
    }


def test_human_subject_s8_validates(tmp_path: Path) -> None:
    write_human(
        tmp_path,
        [
            ("S11", "Walking", "1", [1, 6, 11]),
            ("S8", "Eating", "1", [1, 6, 11]),
            ("S1", "Eating", "2", [1, 6, 11]),
            ("S8", "Eating", "2", [1, 6, 11]),
            ("S9", "Phoning", "1", [1, 6, 11]),
        ],
        size=(8, 8),
    )
    ds = open_human36m(tmp_path, size=(8, 8))
    section = video_data_section("human", str(tmp_path), ds=ds)
    _, members = video_splits(ds, "subject", 1)
    assert members == {
        "train": ["S1_Eating.2"],
        "val": ["S8_Eating.1", "S8_Eating.2"],
        "test": ["S9_Phoning.1", "S11_Walking.1"],
    }
    assert _members_by_time(ds, section["splits"]) == {k: sorted(v) for k, v in members.items()}
    years = video_data_section("human", str(tmp_path))["splits"]
    assert _members_by_time(ds, years) == {k: sorted(v) for k, v in members.items()}
    assert section["schema"]["targets"]["variables"] == ["red", "green", "blue"]
    assert section["window"] == {"t_in": 4, "t_out": 4, "stride": 5}
    assert section["sources"]["video"]["format"] == "human36m"


def test_kitticaltech_uses_kitti_val(tmp_path: Path) -> None:
    kitticaltech_layout(tmp_path)
    ds = open_kitticaltech(tmp_path, size=SIZE)
    section = video_data_section("kitticaltech", str(tmp_path), ds=ds)
    _, members = video_splits(ds, "set", 0)
    assert members == {
        "train": ["kitti:city-d1", "kitti:road-d2"],
        "val": ["kitti:city-d5"],
        "test": ["set06_V000", "set07_V001"],
    }
    assert _members_by_time(ds, section["splits"]) == {k: sorted(v) for k, v in members.items()}
    years = video_data_section("kitticaltech", str(tmp_path))["splits"]
    assert _members_by_time(ds, years) == {k: sorted(v) for k, v in members.items()}
    assert years["test"] == {"start": "2006-01-01T00:00:00.000", "end": "2011-01-01T00:00:00.000"}
    assert section["window"] == {"t_in": 10, "t_out": 1, "stride": 11}
    with pytest.raises(ValueError, match="already has validation clips"):
        video_splits(ds, "set", 1)


def test_split_errors(tmp_path: Path) -> None:
    write_kth(tmp_path, [("01", "boxing", 1, [1, 2]), ("17", "boxing", 1, [1, 2])], size=(8, 8))
    for action in KTH_ACTIONS:
        (tmp_path / action).mkdir(parents=True, exist_ok=True)
    from geostl.io.kth import open_kth

    ds = open_kth(tmp_path, size=None)
    with pytest.raises(ValueError, match=r"1 training person\(s\) \(\['01'\]\); cannot carve 1"):
        video_splits(ds, "person", 1)
    with pytest.raises(ValueError, match="the val split has no clip"):
        video_splits(ds, "person", 0)
    with pytest.raises(KeyError, match="unknown video set 'ucf'"):
        video_data_section("ucf", str(tmp_path))
    assert set(VIDEO_SETS) == {"kth", "kth20", "kth40", "human", "kitticaltech"}


def test_windows_through_the_pipeline_never_span_a_gap_or_two_clips(tmp_path: Path) -> None:
    """KTH 10 -> 20 windows with stride 3 on the standard year splits, counted by hand: train
    clip of 35 frames -> starts 0, 3; test clip with frame 36 missing (35 + 34 frames) -> 0, 3
    in the first run and 36, 39 (local indices) in the second; the candidate at 33 spans the
    gap and is skipped."""
    from geostl.data import build_datasets
    from geostl.io.kth import open_kth

    write_kth(
        tmp_path,
        [
            ("01", "boxing", 1, list(range(1, 36))),
            ("15", "walking", 1, list(range(1, 36))),
            ("17", "running", 1, list(range(1, 36)) + list(range(37, 71))),
        ],
        size=(8, 8),
    )
    for action in KTH_ACTIONS:
        (tmp_path / action).mkdir(parents=True, exist_ok=True)
    ds = open_kth(tmp_path, size=None)
    section = video_data_section("kth", str(tmp_path))
    data = {k: v for k, v in section.items() if k != "sources"}
    datasets = build_datasets(data, {"video": ds})
    assert {k: len(v) for k, v in datasets.items()} == {"train": 2, "val": 2, "test": 4}
    test = datasets["test"]
    frames = ds["frame"].values
    first_test = int(np.flatnonzero(ds["role"].values == "test")[0])
    assert [int(s) - first_test for s in test.starts] == [0, 3, 36, 39]
    for s in test.starts:
        window = frames[s : s + 30]
        assert np.all(np.diff(window) == 1)
    sample = test[2]
    assert tuple(sample["inputs"].shape) == (10, 1, 8, 8)
    # fixed scaling x / 255: the model sees the stored grey levels / 255
    grey = ds["gray"].values[test.starts[2] : test.starts[2] + 10]
    np.testing.assert_allclose(sample["inputs"][:, 0].numpy(), grey / 255.0, rtol=0, atol=1e-6)


def test_rgb_sets_through_the_pipeline(tmp_path: Path) -> None:
    """Human3.6M (uint8 RGB) and KittiCaltech windows built by the pipeline: three channels,
    x / 255, counts by hand (Human: 13 images a clip, 8-image windows every 5 -> starts 0, 5)."""
    from geostl.data import build_datasets

    numbers = list(range(1, 62, 5))  # 13 images
    write_human(
        tmp_path / "h",
        [(subject, "Eating", "1", numbers) for subject in ("S1", "S8", "S9")],
        size=(8, 8),
    )
    ds = open_human36m(tmp_path / "h", size=(8, 8))
    section = video_data_section("human", str(tmp_path / "h"))
    datasets = build_datasets({k: v for k, v in section.items() if k != "sources"}, {"video": ds})
    assert {k: len(v) for k, v in datasets.items()} == {"train": 2, "val": 2, "test": 2}
    test = datasets["test"]
    assert test.target_names == ["red", "green", "blue"]
    sample = test[1]
    assert tuple(sample["inputs"].shape) == (4, 3, 8, 8)
    s = int(test.starts[1])
    rgb = np.stack([ds[c].values[s : s + 4] for c in ("red", "green", "blue")], axis=1)
    np.testing.assert_allclose(sample["inputs"].numpy(), rgb / 255.0, rtol=0, atol=1e-6)
    # KittiCaltech: 23 KITTI train frames -> windows at 0, 11; 12 val frames -> 0; a Caltech
    # video of 36 frames keeps 12 -> 0 (10 -> 1 windows, stride 11)
    from video_layouts import kitti_frames, write_hkl, write_seq

    kitti = tmp_path / "kc" / "kitti_hkl"
    kitti.mkdir(parents=True)
    write_hkl(kitti / "X_train.hkl", kitti_frames(23, 0, (8, 10)))
    write_hkl(kitti / "sources_train.hkl", np.array([b"city-a"] * 23))
    write_hkl(kitti / "X_val.hkl", kitti_frames(12, 3, (8, 10)))
    write_hkl(kitti / "sources_val.hkl", np.array([b"road-b"] * 12))
    rng = np.random.default_rng(0)
    video = [rng.integers(0, 256, (12, 16, 3), dtype=np.uint8) for _ in range(36)]
    write_seq(tmp_path / "kc" / "caltech" / "set06" / "V000.seq", video)
    ds = open_kitticaltech(tmp_path / "kc", size=(8, 10))
    section = video_data_section("kitticaltech", str(tmp_path / "kc"))
    datasets = build_datasets({k: v for k, v in section.items() if k != "sources"}, {"video": ds})
    assert {k: len(v) for k, v in datasets.items()} == {"train": 2, "val": 1, "test": 1}
    sample = datasets["train"][1]
    assert tuple(sample["inputs"].shape) == (10, 3, 8, 10)
    assert tuple(sample["targets"].shape) == (1, 3, 8, 10)
    want = np.moveaxis(kitti_frames(23, 0, (8, 10))[21], -1, 0) / 255.0
    np.testing.assert_allclose(sample["targets"][0].numpy(), want, rtol=0, atol=1e-6)
