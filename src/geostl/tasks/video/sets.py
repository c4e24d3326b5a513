"""OpenSTL's video sets (KTH, Human3.6M, KittiCaltech) as run-config ``data`` sections.

The readers (:func:`geostl.io.kth.open_kth`, :func:`geostl.io.human36m.open_human36m`,
:func:`geostl.io.kitticaltech.open_kitticaltech`) lay the clips on a synthetic time axis, one
year per split group (KTH person PP: year 2000 + PP; Human3.6M subject Sn: 2000 + n; KITTI
train 2001, KITTI val 2002, Caltech setNN 20NN), its clips on consecutive days, so the data
set's train clips come first and its test clips last; every frame is tagged with its ``clip``,
split group and ``role``. :func:`video_splits` cuts date ranges at clip starts:

- **train**: the data set's train clips, less the validation groups;
- **val**: whole persons / subjects / sequences carved from the training clips (the last
  ``n_val`` groups of the training block: KTH persons 15 and 16, Human3.6M subject S8), or the
  data set's own validation clips where it has them (KittiCaltech: PredNet's ``X_val.hkl``
  KITTI drive). Never the test set (OpenSTL evaluates on the test set as its "validation");
- **test**: the data set's test clips.

Consecutive splits are one hour apart (more than any window), so no window mixes splits.
:func:`video_data_section` without an opened folder uses the standard splits as whole group
years instead (:meth:`VideoSet.year_splits`), which hold the same clips.

Sets (OpenSTL ``--dataname``), source format, channels, window, default stride (frames):

- ``kth`` / ``kth20``: ``kth``, ``gray``, 10 -> 20, stride 3; ``kth40``: the same, 10 -> 40.
  OpenSTL samples windows backwards from each clip's end, every 30 frames (non-overlapping)
  for boxing, handclapping, handwaving and walking and every 3 frames for jogging and running;
  here one stride (3) for every clip, counted from the split's first frame.
- ``human``: ``human36m``, ``red``, ``green``, ``blue``, 4 -> 4, stride 5. OpenSTL draws its
  windows from the lists ``train.txt`` / ``test.txt`` (roughly 85k starts; about one in five
  images by our estimate of the archive's size).
- ``kitticaltech``: ``kitticaltech``, ``red``, ``green``, ``blue``, 10 -> 1, stride 11 (OpenSTL:
  non-overlapping 11-frame windows, counted from each recording's end).

Every channel is scaled by the fixed ``(x - 0) / 255`` so the model sees [0, 1] as in OpenSTL;
metrics are then reported in 0..255 pixel units (OpenSTL reports them on the [0, 1] scale,
summed over the pixels of a frame).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from geostl.io._video import ORIGIN_YEAR, block_start

__all__ = [
    "VIDEO_SETS",
    "VideoSet",
    "open_video_source",
    "video_data_section",
    "video_set",
    "video_splits",
]

#: time between the end of one split and the start of the next (longer than any window)
SPLIT_GAP = np.timedelta64(1, "h")
_ONE_DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class VideoSet:
    """One set: source ``format``, ``channels``, window ``t_in`` -> ``t_out``, ``stride``,
    split-group coordinate ``group`` and ``n_val`` (groups carved from the training block for
    validation; 0 when the reader tags the data set's own validation clips)."""

    name: str
    format: str
    channels: tuple[str, ...]
    t_in: int
    t_out: int
    stride: int
    group: str
    n_val: int
    years: tuple[tuple[int, int], tuple[int, int], tuple[int, int]]

    def year_splits(self) -> dict[str, dict[str, str]]:
        """The standard splits as whole group years (inclusive ``years`` of train, val, test):
        ``{"train": {"start": "2001-01-01T00:00", "end": "<next year>-01-01T00:00" - 1 h}, ...}``
        (the last split ends at the start of the year after its last)."""
        out: dict[str, dict[str, str]] = {}
        names = ("train", "val", "test")
        for k, (name, (first, last)) in enumerate(zip(names, self.years, strict=True)):
            end = block_start(last + 1 - ORIGIN_YEAR)
            if k < 2:
                end = end - SPLIT_GAP
            out[name] = {"start": _iso(block_start(first - ORIGIN_YEAR)), "end": _iso(end)}
        return out


_RGB = ("red", "green", "blue")
#: group years: KTH persons 01-14 train, 15-16 val, 17-25 test
_KTH_YEARS = ((2001, 2014), (2015, 2016), (2017, 2025))
#: Human3.6M S1, S5, S6, S7 train (years 2001-2007), S8 val, S9 and S11 test
_HUMAN_YEARS = ((2001, 2007), (2008, 2008), (2009, 2011))
#: KITTI X_train 2001, KITTI X_val 2002, Caltech set06..set10 2006-2010
_KC_YEARS = ((2001, 2001), (2002, 2002), (2006, 2010))
VIDEO_SETS: dict[str, VideoSet] = {
    s.name: s
    for s in (
        VideoSet("kth", "kth", ("gray",), 10, 20, 3, "person", 2, _KTH_YEARS),
        VideoSet("kth20", "kth", ("gray",), 10, 20, 3, "person", 2, _KTH_YEARS),
        VideoSet("kth40", "kth", ("gray",), 10, 40, 3, "person", 2, _KTH_YEARS),
        VideoSet("human", "human36m", _RGB, 4, 4, 5, "subject", 1, _HUMAN_YEARS),
        VideoSet("kitticaltech", "kitticaltech", _RGB, 10, 1, 11, "set", 0, _KC_YEARS),
    )
}


def video_set(name: str) -> VideoSet:
    """The set called ``name`` (OpenSTL's ``--dataname``: kth, kth20, kth40, human,
    kitticaltech)."""
    if name not in VIDEO_SETS:
        raise KeyError(f"unknown video set {name!r}; expected one of {', '.join(VIDEO_SETS)}")
    return VIDEO_SETS[name]


def open_video_source(
    fmt: str, root: str, options: Mapping[str, Any] | None = None, where: str = "reader"
) -> xr.Dataset:
    """Open a video-set folder with the reader of source format ``fmt``.

    ``fmt``: the ``format`` of one of :data:`VIDEO_SETS` (``geostl.io.READERS`` holds the
    reader). ``options``: keyword arguments of that reader (e.g. ``{"size": [120, 160],
    "min_frames": 30}``; lists become tuples), from a source entry's ``reader`` mapping. An
    option the reader does not take is an error naming ``where`` and listing the ones it takes.
    """
    from geostl.io import READERS

    formats = sorted({s.format for s in VIDEO_SETS.values()})
    if fmt not in formats:
        raise KeyError(f"unknown video format {fmt!r}; expected one of {', '.join(formats)}")
    return READERS[fmt].read([root], options, where)


def video_splits(
    ds: xr.Dataset, group: str, n_val: int
) -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    """Date-range splits of a video dataset from its clip table.

    Args:
        ds: a video reader's dataset (coords ``time``, ``clip``, ``role`` and ``group`` along
            time; clips in the order train, [val,] test).
        group: the split-group coordinate (``person``, ``subject``, ``set``).
        n_val: groups carved from the end of the training block for validation; 0 to use the
            clips whose role is ``val``.

    Returns:
        ``({"train"|"val"|"test": {"start", "end"}}, {split: [clip ids]})``: half-open ranges of
        times (ISO strings, ms), and the clips each holds.

    Raises:
        ValueError: roles not in train, val, test order, a split with no clip, ``n_val`` with
            a reader that already has validation clips, or not enough training groups.
    """
    for coord in ("clip", "role", group):
        if coord not in ds.coords:
            raise ValueError(f"video dataset has no {coord!r} coordinate along time")
    clips = np.asarray(ds["clip"].values).astype(str)
    first = np.flatnonzero(np.r_[True, clips[1:] != clips[:-1]])
    table = {
        "clip": clips[first],
        "role": np.asarray(ds["role"].values).astype(str)[first],
        "group": np.asarray(ds[group].values).astype(str)[first],
        "start": np.asarray(ds["time"].values, dtype="datetime64[ns]")[first],
    }
    if len(set(table["clip"])) != table["clip"].size:
        raise ValueError("video dataset: a clip's frames are not contiguous on the time axis")
    roles = list(table["role"])
    order = {"train": 0, "val": 1, "test": 2}
    if any(r not in order for r in roles) or roles != sorted(roles, key=order.__getitem__):
        raise ValueError("video dataset: clips must be ordered train, [val,] test by role")
    split_of = np.array(roles, dtype=object)
    if n_val > 0:
        if "val" in roles:
            raise ValueError("video dataset already has validation clips; use n_val=0")
        train_groups = [str(g) for g in dict.fromkeys(table["group"][split_of == "train"])]
        if len(train_groups) <= n_val:
            raise ValueError(
                f"video dataset: {len(train_groups)} training {group}(s) ({train_groups}); "
                f"cannot carve {n_val} for validation and keep one for training"
            )
        val_groups = set(train_groups[-n_val:])
        split_of[(split_of == "train") & np.isin(table["group"], list(val_groups))] = "val"
    ranges: dict[str, dict[str, str]] = {}
    members: dict[str, list[str]] = {}
    names = ["train", "val", "test"]
    for k, name in enumerate(names):
        idx = np.flatnonzero(split_of == name)
        if idx.size == 0:
            raise ValueError(f"video dataset: the {name} split has no clip")
        following = [np.flatnonzero(split_of == n) for n in names[k + 1 :]]
        nxt = next((f[0] for f in following if f.size), None)
        end = table["start"][nxt] - SPLIT_GAP if nxt is not None else table["start"][-1] + _ONE_DAY
        ranges[name] = {"start": _iso(table["start"][idx[0]]), "end": _iso(end)}
        members[name] = [str(c) for c in table["clip"][idx]]
    return ranges, members


def _iso(t: np.datetime64) -> str:
    return str(np.datetime_as_string(np.datetime64(t, "ms"), unit="ms"))


def video_data_section(
    name: str,
    root: str,
    source: str = "video",
    stride: int | None = None,
    n_val: int | None = None,
    ds: xr.Dataset | None = None,
) -> dict[str, Any]:
    """A run-config ``data`` section for a video set read from its folder.

    Args:
        name: a set of ``VIDEO_SETS`` (kth, kth20, kth40, human, kitticaltech).
        root: the set's folder (KTH: the action folders' parent; Human3.6M: the folder holding
            ``images/``; KittiCaltech: the folder holding ``kitti_hkl/`` and ``caltech/``).
        source: the name of the source in ``data.sources``.
        stride: window stride in frames (default: the set's, see the module table).
        n_val: validation groups carved from training (default: the set's).
        ds: an opened dataset of the folder: the splits are then cut from its clip table
            (:func:`video_splits`, ``n_val`` groups carved for validation). Without it the
            folder is not read and the splits are the set's standard group years
            (:meth:`VideoSet.year_splits`: KTH persons 01-14 / 15-16 / 17-25, Human3.6M
            S1-S7 / S8 / S9-S11, KittiCaltech KITTI train / KITTI val / Caltech).

    Returns:
        ``{"sources": {source: {"paths": root, "format": FORMAT}}, "schema": {"targets":
        {"source": source, "variables": channels}}, "splits": ..., "window": {"t_in", "t_out",
        "stride"}, "normalisation": {"method": "fixed", "fixed": {channel: {"offset": 0,
        "scale": 255}}}}``.
    """
    vs = video_set(name)
    if ds is None:
        if n_val is not None:
            raise ValueError("video_data_section: n_val needs ds (the opened folder)")
        ranges = vs.year_splits()
    else:
        ranges, _ = video_splits(ds, vs.group, vs.n_val if n_val is None else int(n_val))
    return {
        "sources": {source: {"paths": str(root), "format": vs.format}},
        "schema": {"targets": {"source": source, "variables": list(vs.channels)}},
        "splits": ranges,
        "window": {
            "t_in": vs.t_in,
            "t_out": vs.t_out,
            "stride": vs.stride if stride is None else int(stride),
        },
        "normalisation": {
            "method": "fixed",
            "fixed": {c: {"offset": 0.0, "scale": 255.0} for c in vs.channels},
        },
    }
