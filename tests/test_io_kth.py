"""KTH reader on frame folders generated in OpenSTL's layout; the shared video helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geostl.io._video import block_start, resize_bilinear
from geostl.io.kth import KTH_ACTIONS, open_kth
from video_layouts import pixel_value, write_kth

MS = np.timedelta64(1, "ms")
DAY = np.timedelta64(1, "D")


def _layout(root: Path, clips: list) -> list[str]:
    ids = write_kth(root, clips)
    for action in KTH_ACTIONS:
        (root / action).mkdir(parents=True, exist_ok=True)
    return ids


CLIPS = [
    ("17", "walking", 1, [1, 2, 3, 4]),  # test person
    ("02", "running", 3, [1, 2, 3]),
    ("02", "boxing", 1, [5, 6, 8, 9]),  # frame 7 missing, starts at 5
    ("01", "handwaving", 2, [1, 2, 3]),
]


def test_values_coords_and_clip_order(tmp_path: Path) -> None:
    ids = _layout(tmp_path, CLIPS)
    ds = open_kth(tmp_path, size=None)
    assert list(ds.data_vars) == ["gray"]
    assert ds["gray"].dims == ("time", "y", "x")
    assert ds["gray"].attrs["units"] == "1"
    np.testing.assert_array_equal(ds["y"].values, np.arange(12))
    np.testing.assert_array_equal(ds["x"].values, np.arange(16))
    # train persons first (01, then 02 with OpenSTL's action order boxing < running), test last
    order = [3, 2, 1, 0]
    clip_ids = list(dict.fromkeys(ds["clip"].values.tolist()))
    assert clip_ids == [ids[k] for k in order]
    assert clip_ids[0] == "person01_handwaving_d2"
    expected_frames, expected_times, roles, persons = [], [], [], []
    # person PP's clips start on consecutive days of year 2000 + PP
    day_in_year = {3: 0, 2: 0, 1: 1, 0: 0}
    for k in order:
        numbers = CLIPS[k][3]
        start = block_start(int(CLIPS[k][0])) + day_in_year[k] * DAY
        for n in numbers:
            expected_frames.append(pixel_value(k, n, 12, 16))
            expected_times.append(start + (n - numbers[0]) * 40 * MS)
            roles.append("test" if CLIPS[k][0] == "17" else "train")
            persons.append(CLIPS[k][0])
    np.testing.assert_array_equal(ds["gray"].values, np.stack(expected_frames).astype(np.float32))
    np.testing.assert_array_equal(ds["time"].values, np.array(expected_times, "datetime64[ns]"))
    assert ds["role"].values.tolist() == roles
    assert ds["person"].values.tolist() == persons
    assert ds["frame"].values.tolist() == [n for k in order for n in CLIPS[k][3]]
    # the missing frame 7 of person02_boxing_d1 is an 80 ms step (a gap no window spans)
    boxing = ds["time"].values[ds["clip"].values == "person02_boxing_d1"]
    np.testing.assert_array_equal(np.diff(boxing), np.array([40, 80, 40], "timedelta64[ms]"))
    assert "synthetic" in ds.attrs["time_axis"]


def test_resize_to_openstl_size(tmp_path: Path) -> None:
    _layout(tmp_path, CLIPS[:1])
    ds = open_kth(tmp_path, size=(24, 20))
    assert ds["gray"].shape == (4, 24, 20)
    want = resize_bilinear(pixel_value(0, 3, 12, 16).astype(np.float64), 24, 20)
    np.testing.assert_allclose(ds["gray"].values[2], want, rtol=0, atol=1e-4)


def test_resize_bilinear_hand_worked() -> None:
    # OpenCV INTER_LINEAR 2x2 -> 4x4: source coords -0.25 (clamped), 0.25, 0.75, 1.25 (clamped)
    out = resize_bilinear(np.array([[0.0, 10.0], [20.0, 30.0]]), 4, 4)
    want = [
        [0.0, 2.5, 7.5, 10.0],
        [5.0, 7.5, 12.5, 15.0],
        [15.0, 17.5, 22.5, 25.0],
        [20.0, 22.5, 27.5, 30.0],
    ]
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-12)
    # shrinking 4 -> 2 samples at 0.5 and 2.5 (no anti-aliasing)
    np.testing.assert_allclose(resize_bilinear(np.arange(4.0)[None, :], 1, 2), [[0.5, 2.5]])


def test_reading_is_lazy_and_a_broken_frame_is_named(tmp_path: Path) -> None:
    _layout(tmp_path, CLIPS)
    bad = tmp_path / "running" / "person02_running_d3_uncomp" / "image_0002.png"
    bad.write_bytes(b"not a png")
    ds = open_kth(tmp_path, size=None)  # opening decodes only the first frame
    assert ds["gray"].isel(time=slice(0, 3)).values.shape == (3, 12, 16)  # other clips read
    with pytest.raises(ValueError, match="image_0002.png.*cannot be decoded"):
        _ = ds["gray"].values


def test_frame_of_another_size_is_named_when_read(tmp_path: Path) -> None:
    _layout(tmp_path, CLIPS)
    folder = tmp_path / "boxing" / "person02_boxing_d1_uncomp"
    write_kth(tmp_path / "other", [("02", "boxing", 1, [6])], size=(10, 16))
    (tmp_path / "other" / "boxing" / folder.name / "image_0006.png").replace(
        folder / "image_0006.png"
    )
    ds = open_kth(tmp_path)
    with pytest.raises(ValueError, match=r"image_0006.png: image is 16 x 10 .*expected 16 x 12"):
        _ = ds["gray"].values


@pytest.mark.parametrize(
    ("name", "match"),
    [("image_00a1.png", "image_00a1.png: name does not follow"), ("notes.txt", "notes.txt")],
)
def test_odd_frame_file_is_an_error(tmp_path: Path, name: str, match: str) -> None:
    _layout(tmp_path, CLIPS)
    (tmp_path / "walking" / "person17_walking_d1_uncomp" / name).write_bytes(b"x")
    with pytest.raises(ValueError, match=match):
        open_kth(tmp_path)


def test_repeated_frame_number_is_an_error(tmp_path: Path) -> None:
    _layout(tmp_path, CLIPS)
    folder = tmp_path / "walking" / "person17_walking_d1_uncomp"
    (folder / "image_0002.png").rename(folder / "image_2.png")
    (folder / "image_0003.png").rename(folder / "image_0002.png")
    with pytest.raises(ValueError, match="frame number 2 repeats"):
        open_kth(tmp_path)


def test_clip_too_short_and_layout_errors(tmp_path: Path) -> None:
    _layout(tmp_path, CLIPS)
    short = r"person01_handwaving_d2_uncomp: 3 frame\(s\), fewer than the 4"
    with pytest.raises(ValueError, match=short):
        open_kth(tmp_path, min_frames=4)
    (tmp_path / "walking" / "person30_walking_d1_uncomp").mkdir()
    with pytest.raises(ValueError, match="person 30 is not one of KTH's 01..25"):
        open_kth(tmp_path)
    (tmp_path / "walking" / "person30_walking_d1_uncomp").rmdir()
    (tmp_path / "walking" / "person03_boxing_d1_uncomp").mkdir()
    with pytest.raises(ValueError, match="action 'boxing' filed under walking"):
        open_kth(tmp_path)
    (tmp_path / "walking" / "person03_boxing_d1_uncomp").rmdir()
    (tmp_path / "jogging").rmdir()
    with pytest.raises(FileNotFoundError, match="jogging"):
        open_kth(tmp_path)
    with pytest.raises(FileNotFoundError, match="KTH root folder"):
        open_kth(tmp_path / "nope")


def test_clip_times_blocks() -> None:
    from geostl.io._video import VideoClip, clip_times

    clips = [
        VideoClip("a", "01", "train", 1, np.array([3, 4, 6])),
        VideoClip("b", "01", "train", 1, np.array([1])),
        VideoClip("c", "17", "test", 17, np.array([1, 2])),
    ]
    times = clip_times(clips, np.timedelta64(40, "ms"))
    want = [
        "2001-01-01T00:00:00.000",
        "2001-01-01T00:00:00.040",
        "2001-01-01T00:00:00.120",
        "2001-01-02T00:00:00.000",
        "2017-01-01T00:00:00.000",
        "2017-01-01T00:00:00.040",
    ]
    np.testing.assert_array_equal(times, np.array(want, "datetime64[ns]"))
    with pytest.raises(ValueError, match="block 1 after block 17"):
        clip_times([clips[2], clips[0]], np.timedelta64(40, "ms"))
    long = VideoClip("d", "02", "train", 2, np.array([1, 2_000_000]))
    with pytest.raises(ValueError, match="clip 'd' spans"):
        clip_times([long], np.timedelta64(40, "ms"))


def test_outer_indexing_reads_the_right_pixels(tmp_path: Path) -> None:
    _layout(tmp_path, CLIPS)
    ds = open_kth(tmp_path, size=None)
    full = ds["gray"].values
    rows, cols, times = [0, 5, 11], [1, 2, 15], [12, 0, 7]
    got = ds["gray"].isel(time=times, y=rows, x=cols).values
    np.testing.assert_array_equal(got, full[np.ix_(times, rows, cols)])
    np.testing.assert_array_equal(ds["gray"].isel(time=3, x=4).values, full[3, :, 4])
    np.testing.assert_array_equal(ds["gray"][::-2, 1:9:3, -1].values, full[::-2, 1:9:3, -1])
