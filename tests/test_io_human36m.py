"""Human3.6M reader on an ``images/`` folder generated in OpenSTL's layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geostl.io._video import block_start
from geostl.io.human36m import open_human36m
from video_layouts import pixel_value, write_human

CLIPS = [
    ("S9", "Walking", "60457274", [1, 6, 11, 16]),
    ("S5", "Directions_1", "54138969", [6, 11, 21]),  # image 16 missing
    ("S1", "Eating", "55011271", [1, 6, 11]),
    ("S11", "Phoning", "58860488", [1, 6, 11]),
]


def test_values_coords_and_order(tmp_path: Path) -> None:
    ids = write_human(tmp_path, CLIPS)
    ds = open_human36m(tmp_path, size=(16, 16))
    assert list(ds.data_vars) == ["red", "green", "blue"]
    assert all(ds[v].dims == ("time", "y", "x") for v in ds.data_vars)
    assert ds["red"].dtype == np.uint8
    order = [2, 1, 0, 3]  # train subjects S1, S5 in the split's order, then test S9, S11
    assert list(dict.fromkeys(ds["clip"].values.tolist())) == [ids[k] for k in order]
    assert ids[2] == "S1_Eating.55011271"
    want = np.stack([pixel_value(k, n, 16, 16, channels=3) for k in order for n in CLIPS[k][3]])
    got = np.stack([ds[c].values for c in ("red", "green", "blue")], axis=-1).astype(int)
    # JPEG quality 100 without chroma subsampling: within 6 levels (a wrong frame is >= 50 off)
    assert np.abs(got - want.astype(int)).max() <= 6
    times = ds["time"].values
    s1 = block_start(1)
    assert str(s1) == "2001-01-01T00:00:00.000000000"
    np.testing.assert_array_equal(times[:3], s1 + np.array([0, 100, 200], "timedelta64[ms]"))
    # S5 (year 2005) clip: frames 6, 11, 21 -> 0, 100, 300 ms (the missing image is a gap)
    np.testing.assert_array_equal(
        times[3:6], block_start(5) + np.array([0, 100, 300], "timedelta64[ms]")
    )
    assert str(times[-1])[:4] == "2011"
    assert ds["subject"].values.tolist()[:6] == ["S1"] * 3 + ["S5"] * 3
    assert ds["role"].values.tolist() == ["train"] * 6 + ["test"] * 7
    assert ds["frame"].values.tolist()[3:6] == [6, 11, 21]


def test_frame_off_the_five_frame_grid_is_named(tmp_path: Path) -> None:
    write_human(tmp_path, CLIPS)
    write_human(tmp_path, [("S1", "Eating", "55011271", [3])])
    with pytest.raises(ValueError, match=r"S1_Eating.55011271_000003.jpg: frame 3 is off"):
        open_human36m(tmp_path, size=(16, 16))


def test_wrong_size_is_named_when_read(tmp_path: Path) -> None:
    write_human(tmp_path, CLIPS)
    path = tmp_path / "images" / "S9_Walking.60457274_000011.jpg"
    Image.fromarray(pixel_value(0, 11, 16, 12, channels=3)).save(path)
    ds = open_human36m(tmp_path, size=(16, 16))
    assert ds["red"].isel(time=slice(0, 6)).values.shape == (6, 16, 16)  # train clips read
    with pytest.raises(ValueError, match=r"000011.jpg: image is 12 x 16 .*expected 16 x 16"):
        _ = ds["blue"].values


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("S2_Walking.60457274_000001.jpg", "subject S2 is in neither"),
        ("S1_Walking_000001.jpg", "name does not follow"),
    ],
)
def test_layout_errors(tmp_path: Path, name: str, match: str) -> None:
    write_human(tmp_path, CLIPS)
    (tmp_path / "images" / name).write_bytes(b"x")
    with pytest.raises(ValueError, match=match):
        open_human36m(tmp_path, size=(16, 16))


def test_short_clip_and_missing_folder(tmp_path: Path) -> None:
    write_human(tmp_path, CLIPS)
    with pytest.raises(ValueError, match=r"S11_Phoning.58860488: 3 image\(s\), fewer than the 4"):
        open_human36m(tmp_path, size=(16, 16), min_frames=4)
    with pytest.raises(FileNotFoundError, match="images"):
        open_human36m(tmp_path / "images")


def test_custom_split_must_keep_test_subjects_last(tmp_path: Path) -> None:
    write_human(tmp_path, CLIPS)
    with pytest.raises(ValueError, match="every test subject"):
        open_human36m(
            tmp_path,
            size=(16, 16),
            train_subjects=("S5", "S9", "S11"),
            test_subjects=("S1",),
        )
