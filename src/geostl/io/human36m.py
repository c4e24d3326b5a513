"""Read Human3.6M frames (OpenSTL's ``data/human`` layout) as a lazy RGB pixel-grid dataset.

Layout (OpenSTL ``tools/prepare_data/download_human3.6m.sh``: the per-subject image archives,
resized to 256 x 256 by ``tools/prepare_data/resize_image.py``; ``dataloader_human.py`` reads
them)::

    ROOT/images/S1_Directions.54138969_000001.jpg
    ROOT/images/S1_Directions.54138969_000006.jpg
    ...
    ROOT/images/S<subject>_<Action>[ _<take>].<camera>_<frame, 6 digits>.jpg
    ROOT/train.txt, ROOT/test.txt          (OpenSTL's window lists; not used here)

one flat folder, one JPEG per kept frame. A clip is one (subject, action, take, camera), e.g.
``S1_Directions.54138969``. The images hold every 5th frame of the 50 fps videos: OpenSTL's
loader steps the frame number by 5 and every window start in its lists is 1 mod 5, so frames
1, 6, 11, ... exist (inferred from the lists; not confirmed against the archives). Here a frame
number that is off its clip's 5-frame grid is an error naming the file; a missing image on the
grid becomes a gap on the time axis (frame numbers are 20 ms apart, so consecutive images are
100 ms apart), which no window spans.

Split (differs from OpenSTL): subjects S1, S5, S6, S7, S8 train and S9, S11 test, the usual
Human3.6M protocol. OpenSTL's ``train.txt`` / ``test.txt`` (from STRPM) are lists of window
starts drawn from the same videos of every subject (both lists hold S1 ... S9 windows), so its
test windows overlap its training windows; a subject split cannot leak.

Values: RGB uint8 as decoded by Pillow, channels ``red``, ``green``, ``blue``. OpenSTL decodes
with ``cv2.imread`` and feeds the channels in OpenCV's **BGR** order; its JPEG decoder may round
a few values differently. Every image must be ``size`` (default 256 x 256); OpenSTL would resize
other sizes (bicubic) on the fly, here that is an error naming the file (run the resize step).

Memory: opening lists the folder and decodes the first image only; a time slice decodes its
frames on demand (lazily indexed backend array, 64-frame cache per process).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import xarray as xr

from geostl.io._video import VideoClip, decode_image, frame_files, lazy_video_dataset
from geostl.io.registry import READERS

__all__ = [
    "HUMAN_FRAME_STEP",
    "HUMAN_TEST_SUBJECTS",
    "HUMAN_TRAIN_SUBJECTS",
    "open_human36m",
]

HUMAN_TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
HUMAN_TEST_SUBJECTS = ("S9", "S11")
#: frame numbers of consecutive images differ by 5 (every 5th frame of the 50 fps videos)
HUMAN_FRAME_STEP = 5
#: the Human3.6M videos' frame rate
HUMAN_FPS = 50

_NAME_RE = re.compile(r"^(S\d+)_(.+)\.(\d+)_(\d+)\.(jpg|jpeg)$", re.IGNORECASE)


class _HumanFrames:
    """Decodes Human3.6M images as (H, W, 3) uint8 RGB, checking their size."""

    def __init__(self, files: list[Path], size: tuple[int, int]) -> None:
        self.files = files
        self.shape = (int(size[0]), int(size[1]), 3)
        self.dtype = np.dtype(np.uint8)

    def read(self, indices: np.ndarray) -> np.ndarray:
        out = np.empty((indices.size, *self.shape), dtype=np.uint8)
        for k, i in enumerate(indices):
            path = self.files[int(i)]
            img = decode_image(path)
            if img.ndim != 3:
                raise ValueError(f"frame file {path}: expected an RGB image, got a grey one")
            if img.shape != self.shape:
                raise ValueError(
                    f"frame file {path}: image is {img.shape[1]} x {img.shape[0]} (W x H), "
                    f"expected {self.shape[1]} x {self.shape[0]} (resize the images first, "
                    "as OpenSTL's resize_image.py does)"
                )
            out[k] = img
        return out


def open_human36m(
    root: str | os.PathLike,
    size: tuple[int, int] = (256, 256),
    frame_step: int = HUMAN_FRAME_STEP,
    train_subjects: tuple[str, ...] = HUMAN_TRAIN_SUBJECTS,
    test_subjects: tuple[str, ...] = HUMAN_TEST_SUBJECTS,
    min_frames: int = 1,
) -> xr.Dataset:
    """Open a Human3.6M ``images`` folder as a lazy (time, y, x) RGB dataset.

    Args:
        root: the folder holding ``images/`` (OpenSTL's ``data/human``).
        size: (height, width) every image must have.
        frame_step: frame-number step between consecutive images of a clip.
        train_subjects, test_subjects: the split (subjects in neither are an error; every
            test subject's number must exceed every train subject's).
        min_frames: a clip with fewer images is an error.

    Returns:
        ``xr.Dataset`` with ``red``, ``green``, ``blue`` (time, y, x) uint8 (0..255,
        ``units`` "1"), coords ``time`` (synthetic: subject Sn in year 2000 + n, its clips on
        consecutive days, 20 ms per frame number), ``y``, ``x``, and along time ``clip``
        (``S1_Directions.54138969``), ``subject`` (``S1``), ``role`` (``train``/``test``) and
        ``frame`` (frame number). Clips are ordered by subject number, then name.

    Raises:
        FileNotFoundError: no ``images`` folder.
        ValueError: a file whose name does not follow the layout, a frame number off its clip's
            ``frame_step`` grid or repeated, a subject in neither split, a clip with fewer than
            ``min_frames`` images, or (when read) an image that cannot be decoded or has
            another size.
    """
    folder = Path(root).expanduser() / "images"
    if not folder.is_dir():
        raise FileNotFoundError(f"Human3.6M images folder {folder} does not exist")
    subjects = {s: ("train", k) for k, s in enumerate(train_subjects)}
    subjects.update({s: ("test", k) for k, s in enumerate(test_subjects)})
    per_clip: dict[str, dict[int, Path]] = {}
    subject_of: dict[str, str] = {}
    for path, m in frame_files(folder, _NAME_RE, "S<n>_<Action>.<camera>_<frame>.jpg"):
        subject, action, camera, number = m.group(1), m.group(2), m.group(3), int(m.group(4))
        if subject not in subjects:
            raise ValueError(
                f"frame file {path}: subject {subject} is in neither the train subjects "
                f"{list(train_subjects)} nor the test subjects {list(test_subjects)}"
            )
        clip = f"{subject}_{action}.{camera}"
        frames = per_clip.setdefault(clip, {})
        if number in frames:
            raise ValueError(f"frame file {path}: frame {number} repeats {frames[number].name}")
        frames[number] = path
        subject_of[clip] = subject
    if not per_clip:
        raise ValueError(f"Human3.6M images folder {folder} holds no image")
    entries = []
    for clip, frames in per_clip.items():
        numbers = np.array(sorted(frames), dtype=np.int64)
        off = numbers[(numbers - numbers[0]) % frame_step != 0]
        if off.size:
            raise ValueError(
                f"frame file {frames[int(off[0])]}: frame {int(off[0])} is off clip {clip}'s "
                f"{frame_step}-frame grid (first frame {int(numbers[0])})"
            )
        if numbers.size < max(min_frames, 1):
            raise ValueError(
                f"Human3.6M clip {clip}: {numbers.size} image(s), fewer than the "
                f"{max(min_frames, 1)} required"
            )
        subject = subject_of[clip]
        role, number = subjects[subject][0], int(subject[1:])
        entries.append(((number, clip), VideoClip(clip, subject, role, number, numbers), frames))
    entries.sort(key=lambda e: e[0])
    roles = [c.role for _, c, _ in entries]
    if "test" in roles and "train" in roles[roles.index("test") :]:
        raise ValueError(
            f"Human3.6M split: every test subject {list(test_subjects)} must have a higher "
            f"number than every train subject {list(train_subjects)} (subjects are laid on "
            "the time axis in number order, train before test)"
        )
    files = [fr[int(n)] for _, c, fr in entries for n in c.numbers]
    return lazy_video_dataset(
        _HumanFrames(files, size),
        [c for _, c, _ in entries],
        ["red", "green", "blue"],
        np.timedelta64(1000 // HUMAN_FPS, "ms"),
        "subject",
        "1",
        {
            "source": f"Human3.6M images ({folder})",
            "layout": "ROOT/images/S<n>_<Action>.<camera>_<frame:06d>.jpg",
            "value_range": "0..255 RGB (OpenSTL feeds OpenCV's BGR order)",
            "split": (
                f"subjects {', '.join(train_subjects)} train, {', '.join(test_subjects)} test "
                "(OpenSTL: random window lists over all subjects)"
            ),
        },
    )


READERS.register(
    "human36m",
    open_human36m,
    takes="folder",
    patterns=("human*", "Human3.6M*", "h36m*"),
    description="Human3.6M frames (OpenSTL data/human), lazy RGB pixel grid",
)
