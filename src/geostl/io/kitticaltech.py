"""Read KittiCaltech (PredNet's KITTI hickle files + the Caltech Pedestrian test videos) lazily.

Layout (OpenSTL ``tools/prepare_data/download_kitticaltech.sh``; ``dataloader_kitticaltech.py``
reads it)::

    ROOT/kitti_hkl/X_train.hkl        (N, 128, 160, 3) uint8 RGB frames (PredNet's
    ROOT/kitti_hkl/sources_train.hkl  process_kitti.py), and N source names such as
    ROOT/kitti_hkl/X_val.hkl          "city-2011_09_26_drive_0005_sync": one per frame,
    ROOT/kitti_hkl/sources_val.hkl    a recording's frames contiguous
    ROOT/caltech/set06/V000.seq       Caltech Pedestrian test videos (Norpix .seq of JPEGs,
    ...                               640 x 480, 30 fps), sets 06..10
    ROOT/caltech/set10/V011.seq

Hickle files are HDF5: read with h5py, no hickle dependency. hickle 2 and 3 store a top-level
array or list as the dataset ``/data_0`` (checked in hickle's own legacy-v2 writer), hickle 4 as
``/data``; a list of strings is a dataset of byte strings. Other layouts (hickle 5 stores lists
as groups) are refused with a message naming the file.

The ``.seq`` header is read from its fixed offsets (magic 0xFEED at 0, width, height, ...,
image format and frame count as nine uint32 at byte 548, fps as float64 at 584, frames from byte
1024); each frame is a uint32 byte count (itself included) followed by a JPEG, then a few bytes
of timestamp: the next frame is found as the first of the following 16 bytes where a count is
followed by a JPEG start (FF D8).

Sampling and processing as OpenSTL: KITTI frames as stored (10 Hz); Caltech keeps every 3rd
frame (the 3rd, 6th, ...; 30 fps -> 10 Hz like KITTI), resized to 128 rows keeping the aspect
ratio (640 x 480 -> 171 x 128) and centre-cropped to 160 columns (PredNet's ``process_im``).
The resize replicates scikit-image's ``resize`` (Gaussian anti-aliasing, sigma = (factor - 1)/2,
then linear interpolation on half-pixel centres, mirror edges) with scipy. Values 0..255 as
float32 for Caltech (interpolated), uint8 for KITTI. Channels are RGB: OpenSTL reads Caltech
with OpenCV and so feeds its test frames in **BGR** order while its KITTI frames are RGB.

Split (OpenSTL): KITTI ``X_train`` for training, Caltech sets 06..10 for test; PredNet's KITTI
``X_val`` drive is the validation set here (OpenSTL validates on the test set). Clip ids are
``kitti:<source>`` and ``setNN_VNNN``; the ``set`` coordinate is ``kitti_train``,
``kitti_val`` or the Caltech set. Time: KITTI train recordings in 2001, KITTI val in 2002,
Caltech setNN in 20NN, one clip a day, 100 ms between kept frames.

Memory: opening reads the source lists, the hickle arrays' shapes and the .seq frame offsets;
a time slice reads its frames on demand (KITTI: one HDF5 slice per run of frames; Caltech: one
JPEG per frame), with a 64-frame cache per process.
"""

from __future__ import annotations

import io
import os
import re
import struct
from pathlib import Path

import h5py
import numpy as np
import xarray as xr
from scipy import ndimage

from geostl.io._video import VideoClip, lazy_video_dataset
from geostl.io.registry import READERS

__all__ = ["KITTI_SIZE", "open_kitticaltech", "prednet_process", "read_hkl", "seq_frames"]

#: PredNet's KITTI frame size (rows, columns)
KITTI_SIZE = (128, 160)
#: Caltech keeps every CALTECH_EVERY-th frame (30 fps -> 10 Hz)
CALTECH_EVERY = 3
_SEQ_MAGIC = 0xFEED
_SEQ_JPEG_FORMATS = (102, 201)
_SEQ_RE = re.compile(r"^V(\d{3})\.seq$", re.IGNORECASE)
_SET_RE = re.compile(r"^set(\d{2})$", re.IGNORECASE)


def read_hkl(path: str | os.PathLike, what: str) -> tuple[str, tuple[int, ...]]:
    """The HDF5 dataset name and shape of a hickle file's top-level array or list.

    Args:
        path: the ``.hkl`` file.
        what: what the file should hold, for messages (``frames``, ``source names``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an HDF5 file, or no ``/data_0`` / ``/data`` dataset.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"hickle file {path} ({what}) does not exist")
    try:
        with h5py.File(path, "r") as f:
            for name in ("data_0", "data"):
                node = f.get(name)
                if isinstance(node, h5py.Dataset):
                    return name, tuple(int(s) for s in node.shape)
            found = sorted(f.keys())
    except OSError as err:
        raise ValueError(f"hickle file {path}: not a readable HDF5 file ({err})") from None
    raise ValueError(
        f"hickle file {path}: no top-level dataset 'data_0' (hickle 2/3) or 'data' (hickle 4) "
        f"holding the {what}; found {found} (re-save it with hickle <= 4 or as a plain array)"
    )


def _read_sources(path: Path, n_frames: int) -> np.ndarray:
    name, shape = read_hkl(path, "source names")
    with h5py.File(path, "r") as f:
        raw = f[name][()]
    if raw.ndim != 1 or raw.size != n_frames:
        raise ValueError(
            f"hickle file {path}: {raw.size} source names of shape {shape}, expected one per "
            f"frame ({n_frames})"
        )
    return np.array([v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in raw])


def seq_frames(path: str | os.PathLike) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """Byte ``(offset, length)`` of every JPEG in a Norpix ``.seq`` file, and (height, width).

    Raises:
        ValueError: a bad magic number, a non-JPEG image format, a frame that does not start a
            JPEG, or fewer frames than the header declares (message names the file).
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(1024)
        if len(header) < 1024 or struct.unpack_from("<I", header, 0)[0] != _SEQ_MAGIC:
            raise ValueError(f"{path}: not a Norpix .seq file (no 0xFEED magic)")
        width, height, _, _, _, fmt, n_frames, _, _ = struct.unpack_from("<9I", header, 548)
        if fmt not in _SEQ_JPEG_FORMATS:
            raise ValueError(
                f"{path}: image format {fmt}, expected JPEG ({_SEQ_JPEG_FORMATS}) as in the "
                "Caltech Pedestrian videos"
            )
        frames: list[tuple[int, int]] = []
        pos = 1024
        for k in range(n_frames):
            f.seek(pos)
            head = f.read(6)
            if len(head) < 6 or head[4:6] != b"\xff\xd8":
                raise ValueError(
                    f"{path}: frame {k} of {n_frames} at byte {pos} is not a JPEG "
                    f"(file has {size} bytes)"
                )
            count = struct.unpack_from("<I", head, 0)[0]
            frames.append((pos + 4, count - 4))
            if k + 1 < n_frames:
                pos = _next_frame(f, pos + count, path, k + 1)
    return frames, (int(height), int(width))


def _next_frame(f: io.BufferedReader, pos: int, path: Path, k: int) -> int:
    f.seek(pos)
    ahead = f.read(22)
    for gap in range(17):
        if ahead[gap + 4 : gap + 6] == b"\xff\xd8":
            return pos + gap
    raise ValueError(f"{path}: frame {k} not found within 16 bytes after byte {pos}")


def _anti_aliased_resize(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """scikit-image ``resize(image, (rows, cols), preserve_range=True)`` (order 1, anti-aliased
    when shrinking, mode reflect) in float64 with scipy."""
    img = np.asarray(image, dtype=np.float64)
    factors = np.array([img.shape[0] / rows, img.shape[1] / cols] + [1.0] * (img.ndim - 2))
    sigma = np.maximum(0.0, (factors - 1.0) / 2.0)
    if np.any(sigma > 0):
        img = ndimage.gaussian_filter(img, sigma, mode="mirror")
    return ndimage.zoom(img, 1.0 / factors, order=1, mode="mirror", grid_mode=True)


def prednet_process(image: np.ndarray, size: tuple[int, int] = KITTI_SIZE) -> np.ndarray:
    """PredNet's ``process_im``: resize (H, W, C) to ``size[0]`` rows keeping the aspect ratio,
    then crop the centre ``size[1]`` columns. Returns float64 in the input's units."""
    rows = int(size[0])
    cols = int(np.round(rows / image.shape[0] * image.shape[1]))
    resized = _anti_aliased_resize(image, rows, cols)
    d = int((cols - size[1]) / 2)
    return resized[:, d : d + int(size[1])]


class _KittiCaltechFrames:
    """Frames from hickle arrays (uint8) and .seq JPEGs (processed), as float32 (H, W, 3)."""

    def __init__(self, refs: list[tuple], size: tuple[int, int]) -> None:
        self.refs = refs
        self.shape = (int(size[0]), int(size[1]), 3)
        self.dtype = np.dtype(np.float32)

    def read(self, indices: np.ndarray) -> np.ndarray:
        out = np.empty((indices.size, *self.shape), dtype=np.float32)
        k = 0
        while k < indices.size:
            ref = self.refs[int(indices[k])]
            if ref[0] == "hkl":
                run = 1
                while (
                    k + run < indices.size
                    and indices[k + run] == indices[k] + run
                    and self.refs[int(indices[k + run])][:3] == ref[:3]
                ):
                    run += 1
                with h5py.File(ref[1], "r") as f:
                    out[k : k + run] = f[ref[2]][ref[3] : ref[3] + run]
                k += run
            else:
                out[k] = self._seq_frame(ref[1], ref[2], ref[3])
                k += 1
        return out

    def _seq_frame(self, path: Path, offset: int, length: int) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(length)
        try:
            with Image.open(io.BytesIO(data)) as im:
                rgb = np.asarray(im.convert("RGB"))
        except (UnidentifiedImageError, OSError, SyntaxError) as err:
            raise ValueError(f"{path}: JPEG at byte {offset} cannot be decoded ({err})") from None
        return prednet_process(rgb, self.shape[:2])


def open_kitticaltech(
    root: str | os.PathLike, size: tuple[int, int] = KITTI_SIZE, min_frames: int = 1
) -> xr.Dataset:
    """Open a KittiCaltech folder as a lazy (time, y, x) RGB dataset.

    Args:
        root: the folder holding ``kitti_hkl/`` and ``caltech/`` (OpenSTL's ``data``).
        size: (height, width) of the KITTI frames and of the processed Caltech frames.
        min_frames: a clip (KITTI recording or Caltech video after sampling) with fewer frames
            is an error.

    Returns:
        ``xr.Dataset`` with ``red``, ``green``, ``blue`` (time, y, x) float32 in 0..255 (``units``
        "1"), coords ``time`` (synthetic), ``y``, ``x`` and along time ``clip``, ``set``,
        ``role`` (``train``, ``val``, ``test``) and ``frame`` (KITTI: index in the recording;
        Caltech: kept-frame index k, the video's frame 3k). Order: KITTI train, KITTI val,
        Caltech test.

    Raises:
        FileNotFoundError: a missing folder or file.
        ValueError: a frame array that is not (N, H, W, 3) uint8 of ``size``, source names that
            do not match the frames or repeat a recording non-contiguously, an unexpected file
            in a Caltech set folder, a broken .seq file, a clip shorter than ``min_frames``.
    """
    root = Path(root).expanduser()
    kitti = root / "kitti_hkl"
    caltech = root / "caltech"
    for folder in (kitti, caltech):
        if not folder.is_dir():
            raise FileNotFoundError(f"KittiCaltech folder {folder} does not exist")
    clips: list[VideoClip] = []
    refs: list[tuple] = []
    for block, split in ((1, "train"), (2, "val")):
        x_path = kitti / f"X_{split}.hkl"
        name, shape = read_hkl(x_path, "frames")
        expected = (int(size[0]), int(size[1]), 3)
        if len(shape) != 4 or shape[1:] != expected:
            raise ValueError(
                f"hickle file {x_path}: frames of shape {shape}, expected (N, *{expected})"
            )
        with h5py.File(x_path, "r") as f:
            if f[name].dtype != np.uint8:
                raise ValueError(
                    f"hickle file {x_path}: frames are {f[name].dtype}, expected uint8"
                )
        sources = _read_sources(kitti / f"sources_{split}.hkl", shape[0])
        starts = np.flatnonzero(np.r_[True, sources[1:] != sources[:-1]])
        names = sources[starts]
        if len(set(names)) != names.size:
            raise ValueError(
                f"hickle file {kitti / f'sources_{split}.hkl'}: a recording's frames are not "
                "contiguous"
            )
        bounds = np.r_[starts, shape[0]]
        for src, a, b in zip(names, bounds[:-1], bounds[1:], strict=True):
            _check_length(f"kitti:{src}", b - a, min_frames)
            clip = VideoClip(f"kitti:{src}", f"kitti_{split}", split, block, np.arange(b - a))
            clips.append(clip)
            refs.extend(("hkl", x_path, name, int(i)) for i in range(a, b))
    for set_dir in sorted(p for p in caltech.iterdir() if p.is_dir()):
        if _SET_RE.match(set_dir.name) is None:
            raise ValueError(f"{set_dir}: not a Caltech set folder (expected setNN)")
        for seq in sorted(p for p in set_dir.iterdir() if not p.name.startswith(".")):
            if _SEQ_RE.match(seq.name) is None or not seq.is_file():
                raise ValueError(f"{seq}: not a Caltech video (expected VNNN.seq)")
            frames, _ = seq_frames(seq)
            kept = list(range(CALTECH_EVERY - 1, len(frames), CALTECH_EVERY))
            clip_id = f"{set_dir.name}_{seq.stem}"
            _check_length(clip_id, len(kept), min_frames)
            numbers = (np.asarray(kept, dtype=np.int64) + 1) // CALTECH_EVERY
            block = int(set_dir.name[3:])
            if block < 3:
                raise ValueError(f"{set_dir}: Caltech test sets are set03 or later (set06..set10)")
            clips.append(VideoClip(clip_id, set_dir.name, "test", block, numbers))
            refs.extend(("seq", seq, *frames[i]) for i in kept)
    if not any(c.role == "test" for c in clips):
        raise ValueError(f"Caltech folder {caltech}: no setNN/VNNN.seq video found")
    return lazy_video_dataset(
        _KittiCaltechFrames(refs, size),
        clips,
        ["red", "green", "blue"],
        np.timedelta64(100, "ms"),
        "set",
        "1",
        {
            "source": f"KittiCaltech ({root})",
            "layout": "ROOT/kitti_hkl/{X,sources}_{train,val}.hkl, ROOT/caltech/setNN/VNNN.seq",
            "value_range": "0..255 RGB (OpenSTL feeds Caltech in OpenCV's BGR order)",
            "split": "KITTI X_train train, KITTI X_val validation, Caltech set06-10 test",
        },
    )


def _check_length(clip: str, n: int, min_frames: int) -> None:
    if n < max(min_frames, 1):
        raise ValueError(f"KittiCaltech clip {clip}: {n} frame(s), fewer than {max(min_frames, 1)}")


READERS.register(
    "kitticaltech",
    open_kitticaltech,
    takes="folder",
    patterns=("kitticaltech*", "kitti*"),
    description="KITTI hickle files + Caltech Pedestrian .seq videos, lazy RGB pixel grid",
)
