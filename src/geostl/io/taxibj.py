"""TaxiBJ crowd flows (Zhang, Zheng & Qi, AAAI 2017) from the files of the original release.

The release holds four HDF5 files ``BJ13_M32x32_T30_InOut.h5`` .. ``BJ16_M32x32_T30_InOut.h5``
(Beijing divided into a 32 x 32 grid, 30-minute time slots, 48 a day), each with two datasets:

- ``date`` (N,): byte strings ``YYYYMMDDSS``, the day and the slot ``SS`` = 01 .. 48;
- ``data`` (N, 2, 32, 32): ``data[i, 0]`` the inflow and ``data[i, 1]`` the outflow matrix of
  slot ``date[i]`` (the release's README; BJ16 spans 2015-11-01 .. 2016-04-10 with 7.2 % of the
  slots missing, values 0 .. 1250).

:func:`open_taxibj` returns a pixel-grid dataset (the contract of
:mod:`geostl.data.pixelgrid`): ``inflow`` and ``outflow`` (time, y, x) float32, ``y`` = grid row
0 .. 31 and ``x`` = grid column 0 .. 31 as stored (the release gives no coordinates), ``time`` =
the **start** of each slot, ``YYYY-MM-DD 00:00 + (SS - 1) x 30 min``, in Beijing local time as
stored (the release states no time zone; nothing is converted). Missing slots stay missing:
the time axis has gaps (between the four yearly periods too) and windows across them are
skipped. The release gives no unit: flows are counts of taxi trips entering or leaving a cell
during the slot, so the unit is ``"count"`` (per 30-min slot).

OpenSTL's preprocessed ``dataset.npz`` (``X_train``, ``Y_train``, ``X_test``, ``Y_test`` of
shape (N, 4, 2, 32, 32), min-max scaled to [-1, 1]) is **not** read: it holds overlapping
4 -> 4 windows without time stamps or the scaling's min/max, so it cannot be laid on a time axis
or de-normalised to counts without inventing both. :func:`open_taxibj` refuses it with that
explanation.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import xarray as xr

from geostl.io._files import PathsLike, expand_paths
from geostl.io.registry import READERS

__all__ = ["TAXIBJ_SHAPE", "TAXIBJ_SLOTS_PER_DAY", "open_taxibj", "slot_start_times"]

TAXIBJ_SLOTS_PER_DAY = 48
TAXIBJ_SHAPE = (2, 32, 32)
"""(channels inflow/outflow, rows, columns) of one time slot."""
_SLOT = np.timedelta64(30, "m")
_LONG_NAMES = {
    "inflow": "crowd inflow: taxi trips entering the grid cell during the 30-minute slot",
    "outflow": "crowd outflow: taxi trips leaving the grid cell during the 30-minute slot",
}


def slot_start_times(dates: np.ndarray, where: str = "date") -> np.ndarray:
    """Slot labels ``YYYYMMDDSS`` (bytes or str, SS = 01 .. 48) -> (N,) datetime64[ns] slot
    starts ``YYYY-MM-DD + (SS - 1) x 30 min``.

    Raises:
        ValueError: a label that is not 10 digits, a slot outside 1 .. 48 or an invalid day,
            naming ``where``, the index and the label.
    """
    out = np.empty(len(dates), dtype="datetime64[ns]")
    for i, raw in enumerate(dates):
        text = raw.decode("ascii", "replace") if isinstance(raw, bytes | np.bytes_) else str(raw)
        text = text.strip()
        if len(text) != 10 or not text.isdigit():
            raise ValueError(f"{where}[{i}]: expected a slot label YYYYMMDDSS, got {text!r}")
        slot = int(text[8:])
        if not 1 <= slot <= TAXIBJ_SLOTS_PER_DAY:
            raise ValueError(
                f"{where}[{i}]: slot {slot} in {text!r} is outside 1 .. {TAXIBJ_SLOTS_PER_DAY}"
            )
        try:
            day = np.datetime64(f"{text[:4]}-{text[4:6]}-{text[6:8]}", "D")
        except ValueError:
            raise ValueError(f"{where}[{i}]: {text!r} is not a valid day") from None
        out[i] = day.astype("datetime64[ns]") + (slot - 1) * _SLOT
    return out


def _refuse_npz(path: Path) -> None:
    if path.suffix.lower() != ".npz" and not zipfile.is_zipfile(path):
        return
    raise ValueError(
        f"{path}: this looks like OpenSTL's preprocessed TaxiBJ dataset.npz (X_train, Y_train, "
        "X_test, Y_test of 4 -> 4 windows scaled to [-1, 1]). It has no time stamps, its windows "
        "overlap, and the min/max of its scaling are not stored, so it cannot be put on the "
        "time axis geostl splits and windows, nor de-normalised to counts. Give the release's "
        "BJ13..BJ16_M32x32_T30_InOut.h5 files instead."
    )


def _read_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One release file -> (times (N,), data (N, 2, 32, 32) float32)."""
    import h5py

    _refuse_npz(path)
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path}: not an HDF5 file ({err})") from None
    with f:
        for name in ("date", "data"):
            if name not in f:
                raise KeyError(
                    f"{path}: no dataset {name!r} (has {sorted(f.keys())}); expected the TaxiBJ "
                    "layout with 'date' (N,) and 'data' (N, 2, 32, 32)"
                )
        dates = f["date"][()]
        data = f["data"]
        if data.ndim != 4 or tuple(data.shape[1:]) != TAXIBJ_SHAPE:
            raise ValueError(
                f"{path}: dataset 'data' has shape {data.shape}; expected (N, 2, 32, 32) "
                "(inflow, outflow on the 32 x 32 grid)"
            )
        if dates.ndim != 1 or dates.shape[0] != data.shape[0]:
            raise ValueError(
                f"{path}: dataset 'date' has shape {dates.shape} but 'data' has "
                f"{data.shape[0]} slots; expected one label per slot"
            )
        values = np.asarray(data[()], dtype=np.float32)
    times = slot_start_times(dates, f"{path}:date")
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.argmax(bad.reshape(bad.shape[0], -1).any(axis=1)))
        raise ValueError(
            f"{path}: dataset 'data' has {int(bad.sum())} non-finite or negative value(s), the "
            f"first in slot {i} ({times[i]}); flows are counts >= 0"
        )
    return times, values


def open_taxibj(paths: PathsLike) -> xr.Dataset:
    """Read TaxiBJ release files (``BJ13`` .. ``BJ16_M32x32_T30_InOut.h5``) into one dataset.

    Args:
        paths: a path, a glob pattern (e.g. ``TaxiBJ/BJ1*_M32x32_T30_InOut.h5``) or a list.

    Returns:
        Dataset (in memory; about 180 MB for the four files) with ``inflow`` and ``outflow``
        (time, y, x) float32 in ``count`` per 30-min slot; ``time`` the slot starts (module
        docstring), in time order over all files; ``y``/``x`` int64 0 .. 31; non-index
        coordinate ``slot`` (time,) int64 1 .. 48; ``attrs["source_files"]``.

    Raises:
        ValueError: OpenSTL's ``dataset.npz`` (refused, see the module docstring), a file that is
            not HDF5, a ``data`` shape other than (N, 2, 32, 32), a bad slot label, a negative or
            non-finite value, or a slot present twice (in one file or in two) -- each naming the
            file(s) and the dataset.
        KeyError: a file without ``date`` or ``data``.
    """
    files = expand_paths(paths, "TaxiBJ file")
    parts = [(path, *_read_file(path)) for path in files]
    origin = np.concatenate([np.full(t.size, k) for k, (_, t, _) in enumerate(parts)])
    times = np.concatenate([t for _, t, _ in parts])
    values = np.concatenate([v for _, _, v in parts])
    order = np.argsort(times, kind="stable")
    times, values, origin = times[order], values[order], origin[order]
    dup = np.flatnonzero(np.diff(times) == np.timedelta64(0, "ns"))
    if dup.size:
        k = int(dup[0])
        a, b = files[int(origin[k])], files[int(origin[k + 1])]
        where = f"{a}" if a == b else f"{a} and {b}"
        raise ValueError(
            f"{where}: dataset 'date' holds the slot starting {times[k]} twice "
            f"({dup.size} duplicated slot(s) in all); each slot must appear once"
        )
    slot = ((times - times.astype("datetime64[D]")) // _SLOT).astype(np.int64) + 1
    coords = {
        "time": times,
        "y": np.arange(TAXIBJ_SHAPE[1], dtype=np.int64),
        "x": np.arange(TAXIBJ_SHAPE[2], dtype=np.int64),
        "slot": ("time", slot, {"long_name": "half-hour slot of the day (1 = 00:00-00:30)"}),
    }
    data_vars = {
        name: (
            ("time", "y", "x"),
            values[:, c],
            {"units": "count", "long_name": _LONG_NAMES[name]},
        )
        for c, name in enumerate(("inflow", "outflow"))
    }
    ds = xr.Dataset(data_vars, coords=coords)
    ds["time"].attrs.update(
        long_name="start of the 30-minute slot (Beijing local time as stored)",
    )
    ds["y"].attrs.update(long_name="grid row index as stored (orientation not stated)")
    ds["x"].attrs.update(long_name="grid column index as stored (orientation not stated)")
    ds.attrs.update(
        title="TaxiBJ crowd flows (Zhang, Zheng & Qi, AAAI 2017)",
        source_files=",".join(str(p) for p in files),
        grid="pixel: the 32 x 32 grid over Beijing, no coordinates in the release",
    )
    return ds


READERS.register(
    "taxibj",
    open_taxibj,
    takes="files",
    patterns=("BJ1?_M32x32_T30_InOut.h5",),
    description="TaxiBJ crowd flows, 32 x 32 pixel grid, 30-minute slots (release HDF5 files)",
)
