"""Benchmark: opening a KTH frame folder and decoding windows from it (geostl.io.open_kth).

Writes a KTH-layout folder of generated JPEG frames (CLIPS clips x FRAMES frames of 160 x 120,
the archive's stored size, grey stored as RGB) in a temporary directory, then measures

- open: ``open_kth(root)`` (lists the files, decodes one frame; nothing else is read);
- per frame: reading frames one at a time in order (decode + resize to 128 x 128), first pass;
- cold window: a 30-frame window of a clip not read before;
- sliding windows: consecutive 30-frame windows one frame apart (they share 29 frames with the
  window before, which the reader's frame cache serves).

    .venv/bin/python benchmarks/bench_video_read.py [--clips 3] [--frames 300] [--windows 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from geostl.io.kth import open_kth


def write_folder(root: Path, clips: int, frames: int) -> None:
    """``root/walking/personPP_walking_d1_uncomp/image_NNNN.jpg``: only the 'walking' action
    is written (and read)."""
    rng = np.random.default_rng(0)
    for c in range(clips):
        folder = root / "walking" / f"person{c + 1:02d}_walking_d1_uncomp"
        folder.mkdir(parents=True)
        base = rng.integers(0, 256, size=(120, 160), dtype=np.uint8)
        for n in range(1, frames + 1):
            grey = np.roll(base, n, axis=1)
            Image.fromarray(np.stack([grey] * 3, axis=-1)).save(folder / f"image_{n:04d}.jpg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--windows", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_folder(root, args.clips, args.frames)
        t = time.perf_counter()
        ds = open_kth(root, actions=("walking",))
        opened = time.perf_counter() - t
        gray = ds["gray"]
        t = time.perf_counter()
        for k in range(args.frames):
            np.asarray(gray[k].values)
        per_frame = (time.perf_counter() - t) / args.frames
        t = time.perf_counter()
        np.asarray(gray[args.frames : args.frames + 30].values)
        cold = time.perf_counter() - t
        start = 2 * args.frames
        t = time.perf_counter()
        for k in range(args.windows):
            np.asarray(gray[start + k : start + k + 30].values)
        sliding = (time.perf_counter() - t) / args.windows
    total = args.clips * args.frames
    print(f"KTH-layout folder: {args.clips} clips x {args.frames} JPEG frames 160 x 120 ({total})")
    print(f"open_kth: {opened:.2f} s")
    print(f"decode + resize to 128 x 128, frame by frame: {1e3 * per_frame:.2f} ms a frame")
    print(f"cold 30-frame window: {1e3 * cold:.1f} ms")
    print(f"sliding 30-frame windows (one frame apart): {1e3 * sliding:.1f} ms a window")


if __name__ == "__main__":
    main()
