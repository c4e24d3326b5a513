"""KittiCaltech reader: PredNet-style hickle files and Caltech .seq videos generated here."""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from geostl.io.kitticaltech import open_kitticaltech, prednet_process, seq_frames
from video_layouts import kitti_frames, write_hkl, write_seq

SIZE = (8, 10)


def _layout(root: Path, version: str = "3", extra: int = 8) -> list[list[bytes]]:
    kitti = root / "kitti_hkl"
    kitti.mkdir(parents=True)
    write_hkl(kitti / "X_train.hkl", kitti_frames(5, 0, SIZE), version)
    write_hkl(kitti / "sources_train.hkl", np.array([b"city-d1"] * 3 + [b"road-d2"] * 2), version)
    write_hkl(kitti / "X_val.hkl", kitti_frames(4, 7, SIZE), version)
    write_hkl(kitti / "sources_val.hkl", np.array([b"city-d5"] * 4), version)
    rng = np.random.default_rng(0)
    jpegs = []
    for name, n in (("set07/V001.seq", 7), ("set06/V000.seq", 6)):
        frames = [rng.integers(0, 256, (12, 16, 3), dtype=np.uint8) for _ in range(n)]
        jpegs.append(write_seq(root / "caltech" / name, frames, extra))
    (root / "caltech" / "data_cache.npy").write_bytes(b"ignored like OpenSTL")
    return jpegs


@pytest.mark.parametrize(("version", "extra"), [("3", 8), ("4.0.0", 0)])
def test_kitti_and_caltech_read_back(tmp_path: Path, version: str, extra: int) -> None:
    jpegs = _layout(tmp_path, version, extra)
    ds = open_kitticaltech(tmp_path, size=SIZE)
    assert list(ds.data_vars) == ["red", "green", "blue"]
    clips = list(dict.fromkeys(ds["clip"].values.tolist()))
    assert clips == ["kitti:city-d1", "kitti:road-d2", "kitti:city-d5", "set06_V000", "set07_V001"]
    assert ds["set"].values.tolist() == (
        ["kitti_train"] * 5 + ["kitti_val"] * 4 + ["set06"] * 2 + ["set07"] * 2
    )
    assert ds["role"].values.tolist() == ["train"] * 5 + ["val"] * 4 + ["test"] * 4
    rgb = np.stack([ds[c].values for c in ("red", "green", "blue")], axis=-1)
    np.testing.assert_array_equal(rgb[:5], kitti_frames(5, 0, SIZE))
    np.testing.assert_array_equal(rgb[5:9], kitti_frames(4, 7, SIZE))
    # Caltech: every 3rd frame (the 3rd and 6th of set06/V000), PredNet's resize-and-crop
    for k, frame in enumerate((2, 5)):
        decoded = np.asarray(Image.open(io.BytesIO(jpegs[1][frame])).convert("RGB"))
        np.testing.assert_allclose(rgb[9 + k], prednet_process(decoded, SIZE), atol=1e-4)
    # set07/V001 has 7 frames: the 3rd and 6th are kept
    assert ds["frame"].values.tolist() == [0, 1, 2, 0, 1, 0, 1, 2, 3, 1, 2, 1, 2]
    step = np.diff(ds["time"].values[:3])
    np.testing.assert_array_equal(step, np.array([100, 100], "timedelta64[ms]"))


def test_prednet_process_matches_scikit_image() -> None:
    transform = pytest.importorskip("skimage.transform")
    img = np.random.default_rng(1).integers(0, 256, (480, 640, 3)).astype(np.float64)
    want = transform.resize(img, (128, 171), preserve_range=True)[:, 5:165]
    np.testing.assert_allclose(prednet_process(img, (128, 160)), want, rtol=0, atol=1e-9)


def test_seq_frame_offsets(tmp_path: Path) -> None:
    frames = [np.full((4, 6, 3), v, dtype=np.uint8) for v in (10, 200, 90)]
    jpegs = write_seq(tmp_path / "V000.seq", frames, extra=8)
    offsets, (h, w) = seq_frames(tmp_path / "V000.seq")
    assert (h, w) == (4, 6)
    raw = (tmp_path / "V000.seq").read_bytes()
    assert [raw[o : o + n] for o, n in offsets] == jpegs
    # a truncated file names itself
    (tmp_path / "V001.seq").write_bytes(raw[: offsets[2][0] - 10])
    with pytest.raises(ValueError, match=r"V001.seq: frame 2 .*not"):
        seq_frames(tmp_path / "V001.seq")
    (tmp_path / "V002.seq").write_bytes(b"\x00" * 2048)
    with pytest.raises(ValueError, match="V002.seq: not a Norpix"):
        seq_frames(tmp_path / "V002.seq")


def test_hickle_errors_name_the_file(tmp_path: Path) -> None:
    _layout(tmp_path)
    kitti = tmp_path / "kitti_hkl"
    write_hkl(kitti / "sources_val.hkl", np.array([b"city-d5"] * 3))
    with pytest.raises(ValueError, match=r"sources_val.hkl: 3 source names .*one per frame \(4\)"):
        open_kitticaltech(tmp_path, size=SIZE)
    write_hkl(kitti / "sources_val.hkl", np.array([b"a", b"b", b"a", b"a"]))
    with pytest.raises(ValueError, match="sources_val.hkl: a recording's frames are not contig"):
        open_kitticaltech(tmp_path, size=SIZE)
    with h5py.File(kitti / "sources_val.hkl", "w") as f:
        f.create_group("data").create_dataset("data0", data=b"x")
    with pytest.raises(ValueError, match=r"sources_val.hkl: no top-level dataset 'data_0'"):
        open_kitticaltech(tmp_path, size=SIZE)
    write_hkl(kitti / "X_train.hkl", kitti_frames(5, 0, (8, 12)))
    with pytest.raises(ValueError, match=r"X_train.hkl: frames of shape \(5, 8, 12, 3\)"):
        open_kitticaltech(tmp_path, size=SIZE)
    (kitti / "X_train.hkl").unlink()
    with pytest.raises(FileNotFoundError, match="X_train.hkl"):
        open_kitticaltech(tmp_path, size=SIZE)


def test_caltech_layout_errors(tmp_path: Path) -> None:
    _layout(tmp_path)
    with pytest.raises(ValueError, match=r"clip kitti:road-d2: 2 frame\(s\), fewer than 3"):
        open_kitticaltech(tmp_path, size=SIZE, min_frames=3)
    (tmp_path / "caltech" / "set06" / "V000.vbb").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"V000.vbb: not a Caltech video"):
        open_kitticaltech(tmp_path, size=SIZE)
