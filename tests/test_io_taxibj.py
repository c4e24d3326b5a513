"""TaxiBJ: the release's HDF5 layout read back (slot -> time, channels, order, gaps), its
errors, OpenSTL's dataset.npz refused, and the data section's splits and min-max scaling."""

from __future__ import annotations

import numpy as np
import pytest

from geostl.data import build_datasets
from geostl.data.splits import check_splits, parse_splits
from geostl.io import open_taxibj
from geostl.io.taxibj import slot_start_times
from geostl.runconfig import open_sources
from geostl.tasks.video.taxibj import taxibj_data_section
from taxibj_files import flows, slot_labels, write_taxibj


def test_slot_labels_become_slot_start_times() -> None:
    # hand-worked: slot SS starts (SS - 1) x 30 min after midnight
    t = slot_start_times([b"2013070101", b"2013070102", b"2013070148", "2016022948"])
    expected = ["2013-07-01T00:00", "2013-07-01T00:30", "2013-07-01T23:30", "2016-02-29T23:30"]
    np.testing.assert_array_equal(t, np.array(expected, dtype="datetime64[ns]"))


def test_release_files_read_back(tmp_path) -> None:
    # two files given newest first, the second with two missing slots (05, 06 of day 2)
    first = slot_labels(["20131030"])
    late = [s for s in slot_labels(["20140301", "20140302"]) if s[-2:] not in (b"53", b"54")]
    late = [s for s in late if not (s.startswith(b"20140302") and s[-2:] in (b"05", b"06"))]
    d1, d2 = flows(len(first), seed=1), flows(len(late), seed=2)
    p1 = write_taxibj(tmp_path / "BJ13_M32x32_T30_InOut.h5", first, d1)
    p2 = write_taxibj(tmp_path / "BJ14_M32x32_T30_InOut.h5", late, d2)
    ds = open_taxibj([p2, p1])
    assert ds["inflow"].dims == ("time", "y", "x") and ds.sizes == {
        "time": 48 + 94,
        "y": 32,
        "x": 32,
    }
    np.testing.assert_array_equal(ds["y"].values, np.arange(32))
    np.testing.assert_array_equal(ds["x"].values, np.arange(32))
    assert ds["inflow"].attrs["units"] == "count" and ds["outflow"].attrs["units"] == "count"
    # channel 0 is the inflow, 1 the outflow (the release's README); time order over files
    np.testing.assert_array_equal(ds["inflow"].values[:48], d1[:, 0].astype(np.float32))
    np.testing.assert_array_equal(ds["outflow"].values[48:], d2[:, 1].astype(np.float32))
    t = ds["time"].values
    assert t[0] == np.datetime64("2013-10-30T00:00") and t[47] == np.datetime64("2013-10-30T23:30")
    assert t[48] == np.datetime64("2014-03-01T00:00")
    # the missing slots stay missing: 02:00 is followed by 03:00
    k = int(np.flatnonzero(t == np.datetime64("2014-03-02T01:30"))[0])
    assert t[k + 1] == np.datetime64("2014-03-02T03:00")
    assert ds["slot"].values[k] == 4 and ds["slot"].values[k + 1] == 7
    assert str(p1) in ds.attrs["source_files"] and str(p2) in ds.attrs["source_files"]


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        ([b"2013070100"], r"date\[0\].*slot 0 .*outside 1 \.\. 48"),
        ([b"2013070101", b"2013070149"], r"date\[1\].*slot 49"),
        ([b"20130701-1"], r"date\[0\].*YYYYMMDDSS"),
        ([b"2013023101"], r"date\[0\].*not a valid day"),
    ],
)
def test_bad_slot_labels_name_file_and_index(tmp_path, labels, match) -> None:
    path = write_taxibj(tmp_path / "BJ13.h5", labels)
    with pytest.raises(ValueError, match=match) as err:
        open_taxibj(path)
    assert "BJ13.h5" in str(err.value)


def test_duplicated_slots_are_errors_naming_the_files(tmp_path) -> None:
    a = write_taxibj(tmp_path / "a.h5", slot_labels(["20130701"], [1, 2, 3]))
    b = write_taxibj(tmp_path / "b.h5", slot_labels(["20130701"], [3, 4]))
    with pytest.raises(ValueError, match=r"a\.h5 and .*b\.h5.*2013-07-01T01:00.*twice"):
        open_taxibj([a, b])
    c = write_taxibj(tmp_path / "c.h5", [b"2013070101", b"2013070101"])
    with pytest.raises(ValueError, match=r"c\.h5: dataset 'date' holds the slot.*twice"):
        open_taxibj(c)


def test_wrong_layouts_are_errors(tmp_path) -> None:
    labels = slot_labels(["20130701"], [1, 2])
    bad = write_taxibj(tmp_path / "shape.h5", labels, np.zeros((2, 2, 32, 31)))
    with pytest.raises(ValueError, match=r"shape\.h5: dataset 'data' has shape \(2, 2, 32, 31\)"):
        open_taxibj(bad)
    renamed = write_taxibj(tmp_path / "renamed.h5", labels, date_name="slot")
    with pytest.raises(KeyError, match=r"renamed\.h5: no dataset 'date'"):
        open_taxibj(renamed)
    count = write_taxibj(tmp_path / "count.h5", slot_labels(["20130701"], [1, 2, 3]), flows(2))
    with pytest.raises(ValueError, match=r"count\.h5: dataset 'date' has shape \(3,\)"):
        open_taxibj(count)
    data = flows(2)
    data[1, 0, 3, 3] = np.nan
    nan = write_taxibj(tmp_path / "nan.h5", labels, data)
    with pytest.raises(ValueError, match=r"nan\.h5.*non-finite or negative.*slot 1"):
        open_taxibj(nan)


def test_openstl_dataset_npz_is_refused_with_the_reason(tmp_path) -> None:
    path = tmp_path / "dataset.npz"
    x = np.zeros((3, 4, 2, 32, 32), dtype=np.float32)
    np.savez(path, X_train=x, Y_train=x, X_test=x, Y_test=x)
    with pytest.raises(ValueError, match="dataset.npz.*no time stamps.*overlap"):
        open_taxibj(path)


def test_data_section_splits_are_the_last_four_weeks() -> None:
    section = taxibj_data_section("TaxiBJ/BJ1*_M32x32_T30_InOut.h5")
    # hand-worked: the record ends 2016-04-10 23:30; 28 days back is 2016-03-14 00:00; one
    # window of 8 half-hour slots (4 h) before each next split
    assert section["splits"] == {
        "train": {"start": "2013-07-01T00:00", "end": "2016-02-14T20:00"},
        "val": {"start": "2016-02-15T00:00", "end": "2016-03-13T20:00"},
        "test": {"start": "2016-03-14T00:00", "end": "2016-04-11T00:00"},
    }
    check_splits(parse_splits(section["splits"]), 8, np.timedelta64(30, "m"))
    assert section["window"] == {"t_in": 4, "t_out": 4, "stride": 1}
    assert section["sources"]["taxibj"]["format"] == "taxibj"
    assert section["normalisation"] == {"method": "minmax"}
    with pytest.raises(ValueError, match="no training period"):
        taxibj_data_section("x.h5", first_day="2016-02-15")


def test_minmax_scaling_uses_the_train_split_only(tmp_path) -> None:
    days = [f"201307{d:02d}" for d in range(1, 7)]
    data = flows(6 * 48, seed=3)
    data[5 * 48 + 10, 0, 0, 0] = 5000.0  # a test-period extreme must not enter the scaling
    path = write_taxibj(tmp_path / "BJ13_M32x32_T30_InOut.h5", slot_labels(days), data)
    section = taxibj_data_section(
        str(path), test_days=2, val_days=1, last_day="2013-07-06", first_day="2013-07-01"
    )
    sources = open_sources(section.pop("sources"))
    datasets = build_datasets(section, sources)
    norm = datasets["train"].normaliser
    train = data[: 3 * 48 - 8]  # train ends 4 h before the validation day (2013-07-04)
    for c, name in enumerate(("inflow", "outflow")):
        lo, hi = float(train[:, c].min()), float(train[:, c].max())
        assert norm.methods[name] == "minmax"
        assert norm.offsets[name] == lo and norm.scales[name] == hi - lo
    sample = datasets["train"][0]
    assert float(sample["inputs"].min()) >= 0.0 and float(sample["inputs"].max()) <= 1.0
    assert datasets["test"].grid_kind == "pixel" and datasets["test"].lat is None
