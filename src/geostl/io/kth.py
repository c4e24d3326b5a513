"""Read the KTH Action frame folders (OpenSTL's ``data/kth`` layout) as a lazy pixel-grid dataset.

Layout (OpenSTL ``tools/prepare_data/download_kth.sh`` unpacks ``kth_action.zip`` to it, and
``openstl/datasets/dataloader_kth.py`` reads it)::

    ROOT/boxing/person01_boxing_d1_uncomp/image_0001.jpg
    ROOT/boxing/person01_boxing_d1_uncomp/image_0002.jpg
    ...
    ROOT/{boxing,handclapping,handwaving,walking,jogging,running}/personPP_<action>_dS_uncomp/

one folder per action, one sub-folder per clip (person ``PP`` = 01..25, scenario ``S`` = 1..4),
one image per frame named ``image_NNNN`` (OpenSTL reads the frame number from characters 6..10
of the name). Frames are read with Pillow; like OpenSTL, the first colour channel of an RGB frame
is the grey value (the frames are grey stored as RGB); a single-channel frame is used as is.
Every frame is resized to ``size`` (default 128 x 128, OpenSTL's ``in_shape``) with OpenCV's
bilinear rule (:func:`geostl.io._video.resize_bilinear`; OpenSTL calls ``cv2.resize`` on the
float32 frame), values kept in 0..255 (OpenSTL divides by 255 afterwards; here that is the fixed
normalisation of the run config).

Split (OpenSTL): persons 01..16 train, 17..25 test. Clip order on the time axis: train persons
first, then test persons; inside each, by person, then OpenSTL's action order (boxing,
handclapping, handwaving, walking, jogging, running), then scenario.

Not confirmed from the sources at hand: the frame files' extension (OpenSTL's download script
fetches a ``jpg`` archive; ``.png``/``.jpeg``/``.bmp`` are accepted too) and the stored frame
size (the original KTH videos are 160 x 120; any size is accepted as long as every frame of the
set has the same one). A jump in a clip's frame numbers (a missing frame) becomes a gap on the
time axis, so no window spans it, as OpenSTL's check ``end - start == seq_len - 1`` does.

Memory: nothing is decoded when the dataset is opened (only the folders are listed and the first
frame's size is read); a time slice decodes its frames on demand (xarray lazily indexed backend
array, a cache of 64 decoded frames per process).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import xarray as xr

from geostl.io._video import (
    VideoClip,
    decode_image,
    frame_files,
    lazy_video_dataset,
    resize_bilinear,
)
from geostl.io.registry import READERS

__all__ = ["KTH_ACTIONS", "KTH_FPS", "KTH_TEST_PERSONS", "KTH_TRAIN_PERSONS", "open_kth"]

#: OpenSTL's action order (its "category_1" then "category_2")
KTH_ACTIONS = ("boxing", "handclapping", "handwaving", "walking", "jogging", "running")
KTH_TRAIN_PERSONS = tuple(f"{i:02d}" for i in range(1, 17))
KTH_TEST_PERSONS = tuple(f"{i:02d}" for i in range(17, 26))
#: KTH was filmed at 25 frames per second
KTH_FPS = 25

_CLIP_RE = re.compile(r"^person(\d{2})_([a-z]+)_d(\d)(_uncomp)?$")
_FRAME_RE = re.compile(r"^image[_-]?(\d+)\.(jpg|jpeg|png|bmp)$", re.IGNORECASE)


class _KTHFrames:
    """Decodes KTH frames: grey (channel 0 of RGB), resized, float32 (H, W, 1)."""

    def __init__(self, files: list[Path], size: tuple[int, int] | None) -> None:
        self.files = files
        first = self._decode(0, check=None)
        self.stored = first.shape
        self.size = size if size is not None else first.shape
        self.shape = (int(self.size[0]), int(self.size[1]), 1)
        self.dtype = np.dtype(np.float32)

    def _decode(self, i: int, check: tuple[int, int] | None) -> np.ndarray:
        path = self.files[i]
        img = decode_image(path)
        grey = img[:, :, 0] if img.ndim == 3 else img
        if check is not None and grey.shape != check:
            raise ValueError(
                f"frame file {path}: image is {grey.shape[1]} x {grey.shape[0]} (W x H), "
                f"expected {check[1]} x {check[0]} like the set's first frame {self.files[0]}"
            )
        return grey

    def read(self, indices: np.ndarray) -> np.ndarray:
        out = np.empty((indices.size, *self.shape), dtype=np.float32)
        for k, i in enumerate(indices):
            grey = self._decode(int(i), check=self.stored).astype(np.float32)
            if grey.shape != tuple(self.size):
                grey = resize_bilinear(grey, *self.size)
            out[k, :, :, 0] = grey
        return out


def open_kth(
    root: str | os.PathLike,
    size: tuple[int, int] | None = (128, 128),
    actions: tuple[str, ...] = KTH_ACTIONS,
    min_frames: int = 1,
) -> xr.Dataset:
    """Open a KTH frame folder as a lazy (time, y, x) dataset with one variable ``gray``.

    Args:
        root: the folder holding one sub-folder per action (OpenSTL's ``data/kth``).
        size: (height, width) every frame is resized to (None keeps the stored size).
        actions: the action folders to read (all six by default; each must exist).
        min_frames: a clip with fewer frames is an error (1: only an empty clip is).

    Returns:
        ``xr.Dataset`` with ``gray`` (time, y, x) float32 in 0..255 (``units`` "1", pixel
        intensity), coords ``time`` (synthetic: person PP in year 2000 + PP, its clips on
        consecutive days, 40 ms between frame numbers), ``y``, ``x`` (0-based pixel indices),
        and along time ``clip`` (``person17_walking_d1``), ``person`` (``17``), ``role``
        (``train`` or ``test``, OpenSTL's split) and ``frame`` (the frame number). Train clips
        come first.

    Raises:
        FileNotFoundError: the root or an action folder is missing.
        ValueError: a clip folder or frame file whose name does not follow the layout, a clip
            folder filed under another action, a person outside 01..25, a repeated frame
            number, a clip with fewer than ``min_frames`` frames, a frame that cannot be decoded
            or whose size differs from the set's first frame (raised when it is read).
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"KTH root folder {root} does not exist")
    unknown = [a for a in actions if a not in KTH_ACTIONS]
    if unknown:
        raise ValueError(f"open_kth: unknown action(s) {unknown}; expected {KTH_ACTIONS}")
    entries: list[tuple[tuple, VideoClip, list[Path]]] = []
    for a_rank, action in enumerate(actions):
        folder = root / action
        if not folder.is_dir():
            raise FileNotFoundError(f"KTH action folder {folder} does not exist")
        for clip_dir in sorted(p for p in folder.iterdir() if not p.name.startswith(".")):
            m = _CLIP_RE.match(clip_dir.name)
            if not clip_dir.is_dir() or m is None:
                raise ValueError(
                    f"{clip_dir}: not a KTH clip folder (expected personPP_{action}_dS_uncomp)"
                )
            person, clip_action, scenario = m.group(1), m.group(2), m.group(3)
            if clip_action != action:
                raise ValueError(f"{clip_dir}: clip of action {clip_action!r} filed under {action}")
            if person in KTH_TRAIN_PERSONS:
                role = "train"
            elif person in KTH_TEST_PERSONS:
                role = "test"
            else:
                raise ValueError(f"{clip_dir}: person {person} is not one of KTH's 01..25")
            numbers, files = _frames(clip_dir)
            if numbers.size < max(min_frames, 1):
                raise ValueError(
                    f"{clip_dir}: {numbers.size} frame(s), fewer than the {max(min_frames, 1)} "
                    "required"
                )
            clip_id = f"person{person}_{action}_d{scenario}"
            clip = VideoClip(clip_id, person, role, int(person), numbers)
            key = (role != "train", person, a_rank, scenario)
            entries.append((key, clip, files))
    if not entries:
        raise ValueError(f"KTH root {root}: no clip folders found under {list(actions)}")
    entries.sort(key=lambda e: e[0])
    files = [f for _, _, fs in entries for f in fs]
    reader = _KTHFrames(files, None if size is None else (int(size[0]), int(size[1])))
    return lazy_video_dataset(
        reader,
        [c for _, c, _ in entries],
        ["gray"],
        np.timedelta64(1000 // KTH_FPS, "ms"),
        "person",
        "1",
        {
            "source": f"KTH Action frames ({root})",
            "layout": "ROOT/<action>/personPP_<action>_dS_uncomp/image_NNNN.<ext>",
            "value_range": "0..255 grey level (channel 0 of the stored frames), resized",
            "split": "persons 01-16 train, 17-25 test (OpenSTL)",
        },
    )


def _frames(clip_dir: Path) -> tuple[np.ndarray, list[Path]]:
    """Frame numbers (sorted) and files of one clip folder; odd names are errors."""
    found: dict[int, Path] = {}
    for path, m in frame_files(clip_dir, _FRAME_RE, "image_NNNN.<jpg|png|jpeg|bmp>"):
        n = int(m.group(1))
        if n in found:
            raise ValueError(f"frame file {path}: frame number {n} repeats {found[n].name}")
        found[n] = path
    numbers = np.array(sorted(found), dtype=np.int64)
    return numbers, [found[int(n)] for n in numbers]


READERS.register(
    "kth",
    open_kth,
    takes="folder",
    patterns=("kth*", "KTH*"),
    description="KTH Action frame folders (OpenSTL data/kth), lazy gray pixel grid",
)
