"""Reader for the Channel Mixer paper's ``iono_electron`` archive: TFRecord files, no TensorFlow.

Layout (Channel_Mixer_Layer's). A TFRecord file is a sequence of records, each framed as::

    uint64 length (little-endian) | uint32 masked CRC-32C of the 8 length bytes
    length bytes of data          | uint32 masked CRC-32C of the data

with ``masked(c) = ((c >> 15) | (c << 17)) + 0xA282EAD8 (mod 2**32)``; both CRCs are checked
here (the ``tfrecord`` package's own iterator does not check them). Each record's data is one
TensorFlow ``Example`` protocol buffer holding a long run of frames ``j = 0, 1, ..., n-1``:

- ``"{j}/Map"``: bytes, a 72 x 72 row-major little-endian uint16 TEC map in 0.1 TECU;
- ``"{j}/<Name>"``: a float scalar per frame (a driver or a calendar value).

The scalar names are discovered from the records themselves (every frame must carry the same
names) and returned unchanged as variables; mapping them to our channels is the caller's job
(``geostl.tasks.iono.channels.IONO_CHANNELS`` lists the names the seed's loader reads:
``Year``, ``F107``,
``R``, ``Day``, ``Hour``, ``Month``, ``Date``, ``Kp``, ``Ap``, ``Dst``, ``PlasmaSpeed``,
``FieldMagnitude``, ``SigmaB``, ``ProtonDensity``, ``FlowPressure``, ``ElectricField``,
``MagnetosonicMach``).

Frame times are not stored as timestamps. When every frame has ``Year``, ``Day`` (day of the
year, 1-based) and ``Hour`` (UT hours) they are derived as ``Year-01-01 00:00 + (Day - 1) days +
Hour hours`` (rounded to the second), and checked against ``Month`` and ``Date`` (day of month)
when those are present. Otherwise ``time`` is a frame counter (int64, 0, 1, ... over all records
in reading order) and ``attrs["time_is_frame_index"]`` is 1.

The Example protobuf is decoded with the ``tfrecord`` package's ``example_pb2`` (it brings
``protobuf`` and ``crc32c``): ``pip install 'geostl[tfrecord]'``.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from geostl.io._files import PathsLike, expand_paths
from geostl.io.registry import READERS

MAP_SIZE = 72
"""Rows and columns of an ``iono_electron`` map."""
MAP_QUANTUM_TECU = 0.1
"""TECU per unit of the stored uint16 map."""
_MASK_DELTA = 0xA282EAD8
_KEY = re.compile(r"^(\d+)/(.+)$")
_TIME_NAMES = ("Year", "Day", "Hour")


def _modules() -> tuple[Any, Callable[[bytes], int]]:
    """The ``tfrecord`` package's Example protobuf module and a CRC-32C function."""
    try:
        import crc32c  # noqa: PLC0415
        from tfrecord import example_pb2  # noqa: PLC0415
    except ImportError as err:
        raise ImportError(
            "reading iono_electron TFRecord files needs the optional package 'tfrecord' "
            "(with its dependencies protobuf and crc32c; TensorFlow is not needed): "
            f"pip install 'geostl[tfrecord]' or pip install tfrecord ({err})"
        ) from err
    return example_pb2, crc32c.crc32c


def masked_crc(crc: int) -> int:
    """TFRecord's CRC mask: ``((c >> 15) | (c << 17)) + 0xA282EAD8`` modulo 2**32."""
    rotated = ((crc >> 15) | (crc << 17)) & 0xFFFFFFFF
    return (rotated + _MASK_DELTA) & 0xFFFFFFFF


def iter_records(path: str | os.PathLike) -> Iterator[tuple[int, bytes]]:
    """Yield ``(record number, data bytes)`` of one TFRecord file, both CRCs checked.

    Raises:
        ValueError: a truncated record or a CRC mismatch, naming the file, the record number
            (0-based) and its byte offset.
    """
    _, crc32c = _modules()
    raw = Path(path).read_bytes()
    pos, k = 0, 0
    while pos < len(raw):
        where = f"{path}: record {k} (byte offset {pos})"
        if pos + 12 > len(raw):
            raise ValueError(f"{where}: truncated header ({len(raw) - pos} bytes left, need 12)")
        head = raw[pos : pos + 8]
        (length,) = struct.unpack("<Q", head)
        (stored,) = struct.unpack("<I", raw[pos + 8 : pos + 12])
        if masked_crc(crc32c(head)) != stored:
            raise ValueError(
                f"{where}: CRC of the length field does not match (stored 0x{stored:08x}, "
                f"computed 0x{masked_crc(crc32c(head)):08x}); the file is corrupted or not "
                "a TFRecord file"
            )
        start, end = pos + 12, pos + 12 + length
        if end + 4 > len(raw):
            raise ValueError(
                f"{where}: truncated: the record declares {length} data bytes but the file "
                f"ends {len(raw) - start} bytes after its header"
            )
        data = raw[start:end]
        (stored,) = struct.unpack("<I", raw[end : end + 4])
        computed = masked_crc(crc32c(data))
        if computed != stored:
            raise ValueError(
                f"{where}: CRC of the data does not match (stored 0x{stored:08x}, computed "
                f"0x{computed:08x}); the record is corrupted"
            )
        yield k, data
        pos, k = end + 4, k + 1


@dataclass
class _Record:
    file: str
    number: int  # over all files
    in_file: int  # in its file
    tec: np.ndarray  # (n, 72, 72) float32 TECU
    scalars: dict[str, np.ndarray]  # name -> (n,) float64
    times: np.ndarray | None  # (n,) datetime64[ns] or None


def _decode(example_pb2: Any, data: bytes, where: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    try:
        example = example_pb2.Example.FromString(data)
    except Exception as err:  # protobuf raises its own DecodeError
        raise ValueError(f"{where}: not a TensorFlow Example protobuf ({err})") from err
    maps: dict[int, bytes] = {}
    values: dict[str, dict[int, float]] = {}
    for key, feature in example.features.feature.items():
        m = _KEY.match(key)
        if m is None:
            raise ValueError(
                f"{where}: feature key {key!r} is not of the form '<frame>/<name>' "
                "(e.g. '0/Map', '0/Kp')"
            )
        j, name = int(m.group(1)), m.group(2)
        kind = feature.WhichOneof("kind")
        if name == "Map":
            if kind != "bytes_list" or len(feature.bytes_list.value) != 1:
                raise ValueError(f"{where}: {key!r} must hold one bytes value (a uint16 map)")
            maps[j] = feature.bytes_list.value[0]
            continue
        if kind == "float_list":
            vals = feature.float_list.value
        elif kind == "int64_list":
            vals = feature.int64_list.value
        else:
            raise ValueError(f"{where}: {key!r} holds {kind}, expected one float scalar")
        if len(vals) != 1:
            raise ValueError(f"{where}: {key!r} holds {len(vals)} values, expected one scalar")
        values.setdefault(name, {})[j] = float(vals[0])
    n = len(maps)
    if n == 0:
        raise ValueError(f"{where}: no '<frame>/Map' feature: not an iono_electron record")
    if sorted(maps) != list(range(n)):
        missing = sorted(set(range(max(maps) + 1)) - set(maps))
        raise ValueError(f"{where}: frames are not numbered 0..{n - 1}; no Map for {missing[:5]}")
    nbytes = 2 * MAP_SIZE * MAP_SIZE
    tec = np.empty((n, MAP_SIZE, MAP_SIZE), dtype=np.float32)
    for j in range(n):
        if len(maps[j]) != nbytes:
            raise ValueError(
                f"{where}: '{j}/Map' has {len(maps[j])} bytes, expected {nbytes} "
                f"({MAP_SIZE} x {MAP_SIZE} uint16)"
            )
        raw = np.frombuffer(maps[j], dtype="<u2").reshape(MAP_SIZE, MAP_SIZE)
        tec[j] = raw.astype(np.float32) * np.float32(MAP_QUANTUM_TECU)
    scalars: dict[str, np.ndarray] = {}
    for name, per_frame in values.items():
        if len(per_frame) != n or max(per_frame) >= n:
            absent = sorted(set(range(n)) - set(per_frame))
            extra = sorted(set(per_frame) - set(range(n)))
            raise ValueError(
                f"{where}: scalar {name!r} is missing for frame(s) {absent[:5]} or given for "
                f"frame(s) without a map {extra[:5]}; every frame must carry the same names"
            )
        scalars[name] = np.array([per_frame[j] for j in range(n)], dtype=np.float64)
    return tec, scalars


def _derive_times(scalars: dict[str, np.ndarray], where: str) -> np.ndarray | None:
    if not all(name in scalars for name in _TIME_NAMES):
        return None
    year, doy, hour = (scalars[name] for name in _TIME_NAMES)
    bad = (year != np.round(year)) | (doy < 1) | (doy > 366) | (doy != np.round(doy))
    bad |= (hour < 0) | (hour >= 24)
    if bad.any():
        j = int(np.argmax(bad))
        raise ValueError(
            f"{where}: frame {j} has Year {year[j]!r}, Day {doy[j]!r}, Hour {hour[j]!r}; "
            "expected an integer year, a day of the year 1..366 and an hour in [0, 24)"
        )
    start = (year.astype(np.int64) - 1970).astype("datetime64[Y]").astype("datetime64[ns]")
    seconds = np.round(hour * 3600.0).astype(np.int64)
    times = start + (doy.astype(np.int64) - 1) * np.timedelta64(1, "D")
    times = times + seconds * np.timedelta64(1, "s")
    idx = pd.DatetimeIndex(times)
    beyond = idx.year.to_numpy() != year.astype(np.int64)
    for name, got in (("Month", idx.month), ("Date", idx.day)):
        if name in scalars:
            beyond |= got.to_numpy() != scalars[name]
    if beyond.any():
        j = int(np.argmax(beyond))
        stored = {
            k: scalars[k][j] for k in ("Year", "Day", "Hour", "Month", "Date") if k in scalars
        }
        raise ValueError(
            f"{where}: frame {j}: the time derived from Year/Day/Hour ({times[j]}) disagrees "
            f"with the stored calendar values {stored}"
        )
    return times.astype("datetime64[ns]")


def _read_file(path: Path, first_number: int) -> list[_Record]:
    example_pb2, _ = _modules()
    out = []
    for k, data in iter_records(path):
        where = f"{path}: record {k}"
        tec, scalars = _decode(example_pb2, data, where)
        times = _derive_times(scalars, where)
        out.append(_Record(path.name, first_number + k, k, tec, scalars, times))
    if not out:
        raise ValueError(f"{path}: holds no record")
    return out


def open_iono_tfrecord(paths: PathsLike) -> xr.Dataset:
    """Read ``iono_electron`` TFRecord files into one dataset, records joined along ``time``.

    Args:
        paths: a path, a glob pattern, or a list of them (e.g. ``iono_electron/test/*``).

    Returns:
        Dataset with ``tec`` (time, lat, lon) float32 in TECU (stored uint16 x 0.1; nothing
        clipped, unlike the seed's loader which clips at 200 TECU) and one float64 variable
        (time,) per stored scalar name, unchanged name and value. Non-index coordinates
        ``record`` (time,) (the record number over all files, 0-based, in reading order:
        files in sorted order, records in file order) and ``frame`` (time,) (``j`` in the
        record); ``attrs["record_files"]`` names each record's file. ``time`` is derived
        from Year/Day/Hour (module docstring) and must increase strictly over all records, or
        is the frame counter when those names are absent. ``lat`` = 72 latitudes 87.5 N ..
        87.5 S, ``lon`` = -180 .. 175 E every 5 deg: the grid of ``regrid: iono72``, an
        assumption (the archive stores no coordinates; ``attrs["grid"]`` says so).

    Raises:
        ImportError: the ``tfrecord`` package is not installed.
        ValueError: CRC mismatch or truncation (file, record, byte offset), a record that is
            not in the iono_electron layout, differing scalar names between records, times
            that do not increase.
    """
    records: list[_Record] = []
    for path in expand_paths(paths, "iono_electron TFRecord file"):
        records.extend(_read_file(Path(path), len(records)))
    names = list(records[0].scalars)
    for rec in records[1:]:
        if set(rec.scalars) != set(names):
            raise ValueError(
                f"{rec.file}: record {rec.in_file} has scalars {sorted(rec.scalars)}, but "
                f"{records[0].file} record 0 has {sorted(names)}"
            )
    timed = [rec.times is not None for rec in records]
    n_total = sum(rec.tec.shape[0] for rec in records)
    if all(timed):
        time = np.concatenate([rec.times for rec in records])  # type: ignore[misc]
        steps = np.diff(time)
        if np.any(steps <= np.timedelta64(0, "ns")):
            i = int(np.argmax(steps <= np.timedelta64(0, "ns"))) + 1
            rec_of = np.concatenate([np.full(r.tec.shape[0], r.number) for r in records])
            rec = records[int(rec_of[i])]
            raise ValueError(
                f"{rec.file}: record {rec.in_file}: frame time {time[i]} does not follow "
                f"{time[i - 1]}; records must be in time order without overlap (read train/ "
                "and test/ as separate sources)"
            )
        time_attrs = {
            "long_name": "frame time derived from Year + (Day - 1) days + Hour h",
            "tz": "UTC",
        }
    else:
        time = np.arange(n_total, dtype=np.int64)
        time_attrs = {"long_name": "frame counter over all records (no Year/Day/Hour stored)"}
    data_vars: dict[str, Any] = {
        "tec": (
            ("time", "lat", "lon"),
            np.concatenate([rec.tec for rec in records]),
            {
                "units": "TECU",
                "long_name": "vertical total electron content",
                "comment": "stored as uint16 in 0.1 TECU; not clipped",
            },
        )
    }
    for name in names:
        data_vars[name] = (
            "time",
            np.concatenate([rec.scalars[name] for rec in records]),
            {"units": "as stored", "long_name": f"iono_electron scalar {name!r} per frame"},
        )
    coords = {
        "time": ("time", time, time_attrs),
        "lat": ("lat", np.linspace(87.5, -87.5, MAP_SIZE), _LAT_ATTRS),
        "lon": ("lon", -180.0 + 5.0 * np.arange(MAP_SIZE), _LON_ATTRS),
        "record": ("time", np.concatenate([np.full(r.tec.shape[0], r.number) for r in records])),
        "frame": ("time", np.concatenate([np.arange(r.tec.shape[0]) for r in records])),
    }
    ds = xr.Dataset(data_vars, coords=coords)
    ds.attrs["source"] = "iono_electron archive (Zenodo 10.5281/zenodo.13165939), TFRecord"
    ds.attrs["source_files"] = ",".join(dict.fromkeys(rec.file for rec in records))
    ds.attrs["record_files"] = ",".join(rec.file for rec in records)
    ds.attrs["time_is_frame_index"] = int(not all(timed))
    ds.attrs["grid"] = (
        "assumed: 72 latitudes 87.5N..87.5S equally spaced, longitudes -180..175E every 5 deg "
        "(the archive stores no coordinates)"
    )
    return ds


_LAT_ATTRS = {"units": "degrees_north", "long_name": "latitude (assumed)"}
_LON_ATTRS = {"units": "degrees_east", "long_name": "longitude (assumed)"}


READERS.register(
    "iono_tfrecord",
    open_iono_tfrecord,
    takes="files",
    patterns=("*.tfrecord", "*.tfrecords"),
    description="Channel Mixer seed's iono_electron TFRecord archive (TEC maps + drivers)",
)
