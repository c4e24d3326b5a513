"""Writers of small video-set folders in the exact layouts OpenSTL reads (for the reader tests).

Pixel values are a known function of (clip, frame, row, column) so tests can check what they read
back: ``pixel_value(c, n, i, j) = (37 * c + 11 * n + 3 * i + 5 * j) % 256``.
"""

from __future__ import annotations

import struct
from pathlib import Path

import h5py
import numpy as np
from PIL import Image


def pixel_value(clip: int, frame: int, rows: int, cols: int, channels: int = 1) -> np.ndarray:
    """(rows, cols[, channels]) uint8 test pattern of frame ``frame`` of clip ``clip``."""
    i = np.arange(rows)[:, None, None]
    j = np.arange(cols)[None, :, None]
    c = np.arange(channels)[None, None, :]
    v = ((37 * clip + 11 * frame + 3 * i + 5 * j + 70 * c) % 256).astype(np.uint8)
    return v[:, :, 0] if channels == 1 else v


def write_kth(
    root: Path,
    clips: list[tuple[str, str, int, list[int]]],
    size: tuple[int, int] = (12, 16),
    ext: str = "png",
) -> list[str]:
    """KTH frame folders: ``clips`` = [(person 'PP', action, scenario, frame numbers)].

    Frames are RGB PNGs whose three channels hold the same grey pattern (like KTH's frames).
    Returns the clip ids in the order given."""
    ids = []
    for c, (person, action, scenario, numbers) in enumerate(clips):
        folder = root / action / f"person{person}_{action}_d{scenario}_uncomp"
        folder.mkdir(parents=True, exist_ok=True)
        for n in numbers:
            grey = pixel_value(c, n, *size)
            Image.fromarray(np.stack([grey] * 3, axis=-1)).save(folder / f"image_{n:04d}.{ext}")
        ids.append(f"person{person}_{action}_d{scenario}")
    return ids


def write_human(
    root: Path,
    clips: list[tuple[str, str, str, list[int]]],
    size: tuple[int, int] = (16, 16),
) -> list[str]:
    """``ROOT/images/S<n>_<Action>.<camera>_<frame:06d>.jpg`` for clips = [(subject, action,
    camera, frame numbers)]; RGB test pattern saved as near-lossless JPEG (quality 100).
    Returns the clip ids in the order given."""
    folder = root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for c, (subject, action, camera, numbers) in enumerate(clips):
        for n in numbers:
            img = Image.fromarray(pixel_value(c, n, *size, channels=3))
            name = f"{subject}_{action}.{camera}_{n:06d}.jpg"
            img.save(folder / name, quality=100, subsampling=0)
        ids.append(f"{subject}_{action}.{camera}")
    return ids


def write_hkl(path: Path, payload: np.ndarray, version: str = "3") -> None:
    """A hickle 2/3-layout file: the array as dataset ``/data_0`` (hickle 4: ``/data``)."""
    with h5py.File(path, "w") as f:
        f.attrs["CLASS"] = b"hickle"
        f.attrs["VERSION"] = version.encode()
        name = "data" if version.startswith("4") else "data_0"
        d = f.create_dataset(name, data=payload)
        d.attrs["type"] = [b"ndarray"]


def kitti_frames(n: int, first_clip: int, size: tuple[int, int] = (8, 10)) -> np.ndarray:
    """(n, H, W, 3) uint8 frames: frame k is pattern (first_clip, k)."""
    return np.stack([pixel_value(first_clip, k, *size, channels=3) for k in range(n)])


def write_seq(path: Path, frames: list[np.ndarray], extra: int = 8) -> list[bytes]:
    """A Norpix .seq file of JPEG frames (header 1024 bytes, then per frame a uint32 count
    including itself, the JPEG, and ``extra`` timestamp bytes). Returns the JPEG bytes."""
    import io

    h, w = frames[0].shape[:2]
    header = bytearray(1024)
    struct.pack_into("<I", header, 0, 0xFEED)
    header[4:24] = "Norpix seq".encode("utf-16-le")
    struct.pack_into("<iI", header, 28, 3, 1024)
    struct.pack_into("<9I", header, 548, w, h, 8, 8, w * h * 3, 102, len(frames), 0, w * h * 3)
    struct.pack_into("<d", header, 584, 30.0)
    jpegs = []
    body = bytearray()
    for frame in frames:
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="JPEG", quality=100, subsampling=0)
        jpeg = buf.getvalue()
        jpegs.append(jpeg)
        body += struct.pack("<I", len(jpeg) + 4) + jpeg + bytes(extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(header) + bytes(body))
    return jpegs
