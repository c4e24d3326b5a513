"""Shared parts of the video-set readers (KTH, Human3.6M, KittiCaltech).

- :class:`VideoClip`: one clip (its id, its split group, the data set's role for it, the
  group's year ``block`` and its frames' ordinal numbers);
- :func:`clip_times`: the synthetic time axis: each split group (person, subject, set) has a
  year, ``2000 + block`` (KTH person 17 -> 2017, Human3.6M S11 -> 2011, Caltech set06 -> 2006,
  KITTI train 2001, val 2002), its clips start on consecutive days of that year, and frame ``n``
  of the ``j``-th clip of the group is at ``<year>-01-01 + j days + (n - n_first) *
  frame_interval``. No window spans two clips (the pipeline skips windows whose times are not
  one step apart), and a run config can name its splits by whole years (groups), whatever the
  number of clips;
- :class:`FrameReader` and :func:`lazy_video_dataset`: a lazily indexed pixel-grid dataset whose
  frames are decoded only when a time slice is read (an xarray backend array, no dask needed),
  with a small per-process cache so the channels of one frame are decoded once;
- :func:`resize_bilinear`: OpenCV's ``INTER_LINEAR`` resize (half-pixel centres, edge clamp,
  no anti-aliasing) in float64, the resize OpenSTL applies to KTH frames.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

__all__ = [
    "frame_files",
    "CLIP_SPACING",
    "ORIGIN_YEAR",
    "FrameReader",
    "VideoClip",
    "block_start",
    "clip_times",
    "lazy_video_dataset",
    "resize_bilinear",
]

#: the year of block 0 (the axis is synthetic: no calendar meaning)
ORIGIN_YEAR = 2000
#: clip j of a group starts at <year>-01-01 + j * CLIP_SPACING
CLIP_SPACING = np.timedelta64(1, "D")
#: at most this many clips per group (one year of days)
MAX_CLIPS_PER_BLOCK = 365
#: a clip must last less than this, so that clips (and the split gaps) never overlap
MAX_CLIP_SPAN = np.timedelta64(12, "h")
#: decoded frames kept per reader (a window's frames are read once for all channels)
CACHE_FRAMES = 64


@dataclass(frozen=True)
class VideoClip:
    """One clip: ``clip`` id, split ``group`` (person, subject or set), ``role`` the data set
    gives it (``train``, ``val`` or ``test``), ``block`` (the group's year is 2000 + block),
    ``numbers`` (n,) int64 ordinal frame numbers (increasing; a jump larger than one is a
    missing frame and becomes a time gap)."""

    clip: str
    group: str
    role: str
    block: int
    numbers: np.ndarray


def block_start(block: int) -> np.datetime64:
    """``<2000 + block>-01-01T00:00`` as datetime64[ns]."""
    return np.datetime64(f"{ORIGIN_YEAR + int(block):04d}-01-01T00:00:00", "ns")


def clip_times(clips: Sequence[VideoClip], frame_interval: np.timedelta64) -> np.ndarray:
    """(sum n,) datetime64[ns]: frame ``k`` of the ``j``-th clip of a block at
    ``block_start(block) + j * 1 day + (numbers[k] - numbers[0]) * frame_interval``.

    Raises:
        ValueError: blocks not contiguous and increasing, more than 365 clips in a block, a
            clip whose frame numbers do not increase, or that lasts 12 h or more.
    """
    step = np.asarray(frame_interval).astype("timedelta64[ns]")
    parts = []
    j, previous = 0, None
    for c in clips:
        if previous is not None and c.block < previous:
            raise ValueError(
                f"clip {c.clip!r}: block {c.block} after block {previous}; clips must be "
                "ordered by block (group year)"
            )
        j = j + 1 if c.block == previous else 0
        previous = c.block
        if j >= MAX_CLIPS_PER_BLOCK:
            raise ValueError(
                f"clip {c.clip!r}: more than {MAX_CLIPS_PER_BLOCK} clips in group {c.group!r}"
            )
        offsets = (c.numbers - c.numbers[0]).astype(np.int64)
        if offsets.size and np.any(np.diff(offsets) <= 0):
            raise ValueError(f"clip {c.clip!r}: frame numbers do not increase")
        span = offsets[-1] * step if offsets.size else np.timedelta64(0, "ns")
        if span >= MAX_CLIP_SPAN:
            raise ValueError(
                f"clip {c.clip!r} spans {span.astype('timedelta64[s]')} of synthetic time; "
                f"clips must be shorter than {MAX_CLIP_SPAN}"
            )
        parts.append(block_start(c.block) + j * CLIP_SPACING + offsets * step)
    return np.concatenate(parts) if parts else np.zeros(0, dtype="datetime64[ns]")


class FrameReader(Protocol):
    """Decodes frames of a set: ``shape`` (H, W, C) and ``dtype`` of one frame,
    ``read(indices)`` -> (n, H, W, C) for global frame indices (sorted, unique)."""

    shape: tuple[int, int, int]
    dtype: np.dtype

    def read(self, indices: np.ndarray) -> np.ndarray: ...


class _FrameArray(BackendArray):
    """(T, H, W, C) backend array over a :class:`FrameReader`, with an LRU frame cache."""

    def __init__(self, reader: FrameReader, n_frames: int) -> None:
        self.reader = reader
        self.shape = (n_frames, *reader.shape)
        self.dtype = np.dtype(reader.dtype)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER, self._raw_getitem
        )

    def _raw_getitem(self, key: tuple) -> np.ndarray:
        """Outer (orthogonal) indexing: each of the four keys (int, slice or 1-D int array)
        applies to its own axis."""
        idx = np.arange(self.shape[0])[key[0]]
        out = self._frames(np.atleast_1d(idx))
        for axis in range(len(key) - 1, 0, -1):  # last axis first: earlier axes keep numbers
            k = key[axis]
            if isinstance(k, slice):
                out = out[(slice(None),) * axis + (k,)]
            else:
                out = np.take(out, k, axis=axis)
        return out[0] if np.ndim(idx) == 0 else out

    def _frames(self, idx: np.ndarray) -> np.ndarray:
        with self._lock:
            missing = sorted({int(i) for i in idx if int(i) not in self._cache})
        if missing:
            decoded = self.reader.read(np.asarray(missing, dtype=np.int64))
            with self._lock:
                for i, frame in zip(missing, decoded, strict=True):
                    self._cache[i] = frame
                    self._cache.move_to_end(i)
                while len(self._cache) > max(CACHE_FRAMES, len(idx)):
                    self._cache.popitem(last=False)
        with self._lock:
            out = np.stack([self._cache[int(i)] for i in idx]) if idx.size else None
        if out is None:
            return np.zeros((0, *self.shape[1:]), dtype=self.dtype)
        return out

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = OrderedDict()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


def lazy_video_dataset(
    reader: FrameReader,
    clips: Sequence[VideoClip],
    channels: Sequence[str],
    frame_interval: np.timedelta64,
    group_name: str,
    units: str,
    attrs: dict[str, str],
) -> xr.Dataset:
    """The pixel-grid dataset of a video set, read lazily.

    Args:
        reader: decodes frames by global index (clip order, then frame order).
        clips: the clips in axis order; their frame counts sum to the reader's frames.
        channels: one variable name per channel of the reader's frames (``gray`` or ``red``,
            ``green``, ``blue``).
        frame_interval: time between consecutive frame numbers.
        group_name: name of the split-group coordinate (``person``, ``subject``, ``set``).
        units: the variables' ``units`` attribute.
        attrs: dataset attributes (source, layout notes).

    Returns:
        ``xr.Dataset`` with one variable per channel, dims exactly ``(time, y, x)``, values as
        decoded (nothing loaded until indexed); coords ``time`` (datetime64[ns], strictly
        increasing, synthetic), ``y`` = 0..H-1 (rows, top to bottom), ``x`` = 0..W-1 and along
        ``time``: ``clip`` (str), ``group_name`` (str), ``role`` (str) and ``frame`` (int64,
        the frame number in its clip).
    """
    times = clip_times(clips, frame_interval)
    n = int(times.size)
    h, w, c = reader.shape
    if c != len(channels):
        raise ValueError(f"frames have {c} channels, expected {len(channels)} ({channels})")
    lazy = indexing.LazilyIndexedArray(_FrameArray(reader, n))
    data = xr.Variable(("time", "y", "x", "channel"), lazy)
    per_frame = {
        "clip": np.concatenate([np.full(c_.numbers.size, c_.clip, dtype=object) for c_ in clips]),
        group_name: np.concatenate(
            [np.full(c_.numbers.size, c_.group, dtype=object) for c_ in clips]
        ),
        "role": np.concatenate([np.full(c_.numbers.size, c_.role, dtype=object) for c_ in clips]),
        "frame": np.concatenate([c_.numbers for c_ in clips]).astype(np.int64),
    }
    variables = {}
    for k, name in enumerate(channels):
        var = data.isel(channel=k)
        var.attrs = {"units": units, "long_name": f"{name} pixel value"}
        variables[name] = var
    coords = {
        "time": ("time", times),
        "y": ("y", np.arange(h, dtype=np.int64)),
        "x": ("x", np.arange(w, dtype=np.int64)),
        **{k: ("time", v.astype(str) if v.dtype == object else v) for k, v in per_frame.items()},
    }
    ds = xr.Dataset(variables, coords=coords)
    ds.attrs = {
        **attrs,
        "time_axis": (
            "synthetic: each split group has a year (2000 + its number), its clip j starts on "
            "day j of that year, frames "
            f"{np.asarray(frame_interval).astype('timedelta64[ms]')} apart; no calendar meaning"
        ),
        "split_group": group_name,
    }
    return ds


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize (H, W) or (H, W, C) to (height, width[, C]) as OpenCV's ``INTER_LINEAR`` does
    for float input: source coordinate ``(i + 0.5) * H / height - 0.5``, clamped to the edge
    pixels, linear weights, no anti-aliasing. Returns float64."""
    img = np.asarray(image, dtype=np.float64)
    r0, r1, fr = _linear_taps(img.shape[0], height)
    c0, c1, fc = _linear_taps(img.shape[1], width)
    extra = (None,) * (img.ndim - 2)
    wr, wc = (slice(None), None, *extra), (None, slice(None), *extra)
    rows = img[r0] * (1 - fr)[wr] + img[r1] * fr[wr]
    return rows[:, c0] * (1 - fc)[wc] + rows[:, c1] * fc[wc]


def _linear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    i0 = np.floor(src).astype(np.int64)
    frac = src - i0
    low = i0 < 0
    i0[low], frac[low] = 0, 0.0
    high = i0 >= n_in - 1
    i0[high], frac[high] = n_in - 1, 0.0
    return i0, np.minimum(i0 + 1, n_in - 1), frac


def decode_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file with Pillow: (H, W) for grey, (H, W, 3) uint8 RGB for colour
    (palette/alpha/CMYK/YCbCr images are converted to RGB).

    Raises:
        ValueError: the file cannot be decoded as an image, or holds more than 8 bits per
            channel (16-bit or float modes such as ``I;16``: converting them to 8 bits would
            clip every value above 255), the message naming the file.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode.startswith(("I", "F")):
                raise ValueError(
                    f"frame file {path}: image mode {im.mode!r} has more than 8 bits per "
                    "channel; expected 8-bit grey or RGB frames (values 0..255), as the data "
                    "sets store them (converting would clip the values above 255)"
                )
            if im.mode not in ("L", "RGB"):
                im = im.convert("RGB")
            return np.asarray(im)
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"frame file {path}: cannot be decoded as an image ({err})") from None


def frame_files(
    folder: Path, pattern: re.Pattern[str], expected: str
) -> Iterator[tuple[Path, re.Match[str]]]:
    """``(path, match)`` of every frame file of ``folder`` in name order, hidden files skipped.

    The listing is ``os.scandir``'s, whose file types come from the directory itself (no stat
    per frame: a Human3.6M folder holds ~10^5 images). A name ``pattern`` does not match, or an
    entry that is not a file, is an error naming it and the ``expected`` name form.
    """
    with os.scandir(folder) as listing:
        entries = sorted(listing, key=lambda e: e.name)
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = folder / entry.name
        m = pattern.match(entry.name)
        if m is None or not entry.is_file():
            raise ValueError(f"frame file {path}: name does not follow {expected}")
        yield path, m
