"""The iono_electron TFRecord reader, on small files written here in the archive's schema.

The writer below is independent of the reader: it encodes the Example protobuf by hand (wire
format) and computes CRC-32C with a pure-Python table, checked against the standard check value.
"""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geostl.data import build_datasets
from geostl.data.windows import forcing_frames
from geostl.io import open_iono_tfrecord
from geostl.runconfig import open_sources
from geostl.tasks.iono.channels import iono_data_section

needs_tfrecord = pytest.mark.skipif(
    importlib.util.find_spec("tfrecord") is None,
    reason="the optional 'tfrecord' package is not installed (pip install 'geostl[tfrecord]')",
)

# ---- an independent writer --------------------------------------------------------------------


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c_py(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked(data: bytes) -> bytes:
    c = crc32c_py(data)
    return struct.pack("<I", ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:  # length-delimited (wire type 2)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _feature(value: bytes | float) -> bytes:
    if isinstance(value, bytes):  # Feature.bytes_list (1) -> BytesList.value (1)
        return _field(1, _field(1, value))
    packed = struct.pack("<f", value)  # Feature.float_list (2) -> packed FloatList.value (1)
    return _field(2, _field(1, packed))


def example_bytes(features: dict[str, bytes | float]) -> bytes:
    """Example{features: Features{feature: map<string, Feature>}} in protobuf wire format."""
    entries = b"".join(
        _field(1, _field(1, key.encode()) + _field(2, _feature(value)))
        for key, value in features.items()
    )
    return _field(1, entries)


def write_tfrecord(path: Path, records: list[bytes]) -> None:
    with open(path, "wb") as f:
        for data in records:
            head = struct.pack("<Q", len(data))
            f.write(head + _masked(head) + data + _masked(data))


def raw_map(j: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed * 1000 + j)
    return rng.integers(0, 3000, size=(72, 72), dtype=np.uint16)


SCALARS = ("F107", "R", "Kp", "Ap", "Dst", "PlasmaSpeed", "FieldMagnitude", "SigmaB")
SCALARS += ("ProtonDensity", "FlowPressure", "ElectricField", "MagnetosonicMach")


def record(start: str, n: int, seed: int, calendar: bool = True) -> tuple[bytes, dict]:
    """One record of ``n`` 2-hourly frames from ``start``; returns bytes and the truth."""
    times = pd.date_range(start, periods=n, freq="2h")
    feats: dict[str, bytes | float] = {}
    truth: dict[str, list] = {"map": [], **{s: [] for s in SCALARS}}
    for j, t in enumerate(times):
        m = raw_map(j, seed)
        feats[f"{j}/Map"] = m.astype("<u2").tobytes()
        truth["map"].append(m)
        if calendar:
            for name, v in (("Year", t.year), ("Day", t.day_of_year), ("Hour", t.hour)):
                feats[f"{j}/{name}"] = float(v)
            feats[f"{j}/Month"], feats[f"{j}/Date"] = float(t.month), float(t.day)
        for k, name in enumerate(SCALARS):
            v = float(np.float32(seed + 10 * k + j + 0.25))
            feats[f"{j}/{name}"] = v
            truth[name].append(v)
    truth["times"] = times
    return example_bytes(feats), truth


# ---- tests ------------------------------------------------------------------------------------


def test_independent_crc32c_matches_the_standard_check_value() -> None:
    assert crc32c_py(b"123456789") == 0xE3069283


@needs_tfrecord
def test_two_records_read_back(tmp_path: Path) -> None:
    a, ta = record("2002-03-08T00:00", 4, seed=1)
    b, tb = record("2002-03-09T00:00", 3, seed=2)
    write_tfrecord(tmp_path / "part-000.tfrecord", [a, b])
    ds = open_iono_tfrecord(tmp_path / "part-000.tfrecord")
    assert ds["tec"].shape == (7, 72, 72) and ds["tec"].dtype == np.float32
    assert ds["tec"].attrs["units"] == "TECU"
    raw = np.concatenate([ta["map"], tb["map"]])
    np.testing.assert_array_equal(ds["tec"].values, raw.astype(np.float32) * np.float32(0.1))
    assert ds["tec"].values.max() > 200  # not clipped at 200 TECU
    names = {"Year", "Day", "Hour", "Month", "Date", *SCALARS}
    assert set(map(str, ds.data_vars)) == names | {"tec"}
    for name in SCALARS:
        np.testing.assert_array_equal(ds[name].values, ta[name] + tb[name])
    expected = np.concatenate([ta["times"].to_numpy(), tb["times"].to_numpy()])
    np.testing.assert_array_equal(ds["time"].values, expected)
    np.testing.assert_array_equal(ds["record"].values, [0, 0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(ds["frame"].values, [0, 1, 2, 3, 0, 1, 2])
    assert ds.attrs["record_files"] == "part-000.tfrecord,part-000.tfrecord"
    assert ds.attrs["time_is_frame_index"] == 0
    assert ds["lat"].values[0] == 87.5 and ds["lon"].values[-1] == 175.0


@needs_tfrecord
def test_files_written_by_the_tfrecord_package_read_back(tmp_path: Path) -> None:
    from tfrecord.writer import TFRecordWriter

    path = tmp_path / "pkg.tfrecord"
    writer = TFRecordWriter(str(path))
    m = raw_map(0, 3)
    writer.write({"0/Map": (m.tobytes(), "byte"), "0/Kp": (33.0, "float")})
    writer.close()
    ds = open_iono_tfrecord(path)
    np.testing.assert_array_equal(ds["tec"].values[0], m.astype(np.float32) * np.float32(0.1))
    assert ds["Kp"].values.tolist() == [33.0]


@needs_tfrecord
def test_without_calendar_scalars_time_is_a_frame_counter(tmp_path: Path) -> None:
    a, _ = record("2002-03-08", 2, seed=1, calendar=False)
    b, _ = record("2002-03-09", 3, seed=2, calendar=False)
    write_tfrecord(tmp_path / "a.tfrecord", [a])
    write_tfrecord(tmp_path / "b.tfrecord", [b])
    ds = open_iono_tfrecord(str(tmp_path / "*.tfrecord"))
    np.testing.assert_array_equal(ds["time"].values, np.arange(5))
    np.testing.assert_array_equal(ds["record"].values, [0, 0, 1, 1, 1])
    assert (
        ds.attrs["time_is_frame_index"] == 1 and ds.attrs["source_files"] == "a.tfrecord,b.tfrecord"
    )


@needs_tfrecord
def test_corrupted_files_name_the_file_and_record(tmp_path: Path) -> None:
    a, _ = record("2002-03-08", 2, seed=1)
    b, _ = record("2002-03-09", 2, seed=2)
    path = tmp_path / "bad.tfrecord"
    write_tfrecord(path, [a, b])
    good = path.read_bytes()
    second = len(a) + 16  # byte offset of record 1
    data = bytearray(good)
    data[second + 12 + 100] ^= 0x01  # one bit of record 1's data
    path.write_bytes(bytes(data))
    with pytest.raises(
        ValueError, match=rf"bad\.tfrecord: record 1 \(byte offset {second}\): CRC of the data"
    ):
        open_iono_tfrecord(path)
    data = bytearray(good)
    data[second] ^= 0x01  # record 1's length field
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"bad\.tfrecord: record 1 .*CRC of the length field"):
        open_iono_tfrecord(path)
    path.write_bytes(good[:-10])
    with pytest.raises(ValueError, match=r"bad\.tfrecord: record 1 .*truncated"):
        open_iono_tfrecord(path)


@needs_tfrecord
def test_layout_errors(tmp_path: Path) -> None:
    path = tmp_path / "x.tfrecord"
    write_tfrecord(path, [example_bytes({"0/Map": b"\x00" * 100})])
    with pytest.raises(ValueError, match=r"x\.tfrecord: record 0: '0/Map' has 100 bytes"):
        open_iono_tfrecord(path)
    m = raw_map(0, 1).tobytes()
    write_tfrecord(path, [example_bytes({"0/Map": m, "1/Map": m, "0/Kp": 3.0})])
    with pytest.raises(ValueError, match=r"record 0: scalar 'Kp' is missing for frame\(s\) \[1\]"):
        open_iono_tfrecord(path)
    feats = {"0/Map": m, "0/Year": 2002.0, "0/Day": 67.0, "0/Hour": 4.0, "0/Month": 4.0}
    write_tfrecord(path, [example_bytes(feats)])  # day 67 of 2002 is 8 March, not April
    with pytest.raises(ValueError, match=r"frame 0: the time derived from Year/Day/Hour"):
        open_iono_tfrecord(path)
    write_tfrecord(path, [example_bytes({"Map": m})])
    with pytest.raises(ValueError, match=r"feature key 'Map' is not of the form"):
        open_iono_tfrecord(path)


def test_missing_package_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, _ = record("2002-03-08", 1, seed=1)
    write_tfrecord(tmp_path / "a.tfrecord", [a])
    monkeypatch.setitem(sys.modules, "tfrecord", None)
    with pytest.raises(ImportError, match=r"optional package 'tfrecord'.*pip install"):
        open_iono_tfrecord(tmp_path / "a.tfrecord")


@needs_tfrecord
def test_archive_as_a_run_config_source_with_the_preset(tmp_path: Path) -> None:
    rec, truth = record("2002-03-08T00:00", 10, seed=5)
    write_tfrecord(tmp_path / "test-000", [rec])
    sources = open_sources({"arch": {"paths": ["test-000"], "format": "iono_tfrecord"}}, tmp_path)
    data = iono_data_section(16, maps="arch", drivers="arch", driver_format="iono_tfrecord")
    data |= {
        "splits": {"train": {"start": "2002-03-08", "end": "2002-03-09"}},
        "window": {"t_in": 3, "t_out": 2},
    }
    train = build_datasets(data, sources)["train"]
    item = train[0]
    names = train.forcing_names
    f_in = forcing_frames(item, "in").numpy()
    # the seed's loader: stored Kp / 100, (Dst + 500) / 600, same frame
    kp, dst = np.array(truth["Kp"][:3]), np.array(truth["Dst"][:3])
    np.testing.assert_allclose(f_in[:, names.index("kp"), 0, 0], kp / 100, rtol=1e-6)
    np.testing.assert_allclose(f_in[:, names.index("dst"), 0, 0], (dst + 500) / 600, rtol=1e-6)
    np.testing.assert_allclose(f_in[:, names.index("doy"), 0, 0], 67 / 367, rtol=1e-6)
    np.testing.assert_allclose(
        f_in[:, names.index("ut_hour"), 0, 0], [0, 2 / 24, 4 / 24], atol=1e-7
    )
    tec = np.stack(truth["map"][:3]).astype(np.float32) * np.float32(0.1)
    np.testing.assert_allclose(item["inputs"].numpy()[:, 0], tec / 200, rtol=1e-6)
