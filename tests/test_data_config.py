"""Schema, splits and DataConfig: validation messages and plain-dict round trips."""

import json

import numpy as np
import pytest

from geostl.data import ChannelSchema, DataConfig, check_splits, parse_splits

SCHEMA = {
    "targets": {"source": "maps", "variables": ["tec"]},
    "forcings": [
        {"name": "kp", "source": "omni"},
        {"name": "f107", "source": "daily", "align": "daily", "allow_lookahead": True},
        {"computed": "lst_sin"},
        {"name": "doy", "computed": "doy_cos"},
    ],
    "static": [
        {"name": "ocean", "kind": "mask", "source": "lsm", "variable": "mask", "valid": [0]},
        {"kind": "lat"},
    ],
}
CONFIG = {
    "schema": SCHEMA,
    "splits": {
        "train": {"start": "2019-01-01", "end": "2019-02-01"},
        "val": {"start": "2019-02-03", "end": "2019-02-10"},
        "test": {"start": "2019-02-12", "end": "2019-03-01"},
    },
    "window": {"t_in": 12, "t_out": 12, "stride": 2},
    "normalisation": {"fixed": {"tec": {"offset": 0, "scale": 200}}},
    "padding": {"multiple": 8, "mode": "crop"},
}


def test_schema_defaults_and_roundtrip():
    s = ChannelSchema.from_dict(SCHEMA)
    kp = s.forcings[0]
    assert (kp.role, kp.align, kp.variable) == ("observed", "previous_complete", "kp")
    assert s.forcings[2].role == "known" and s.forcings[2].name == "lst_sin"
    assert s.forcing_names == ("kp", "f107", "lst_sin", "doy")
    assert s.static_names == ("ocean", "lat")
    d = s.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert ChannelSchema.from_dict(d) == s


@pytest.mark.parametrize(
    "patch, match",
    [
        ({"forcings": [{"name": "kp", "source": "o", "rol": "observed"}]}, r"'rol'.*'role'"),
        ({"forcings": [{"name": "kp", "source": "o", "role": "future"}]}, "known, observed"),
        ({"forcings": [{"name": "kp", "source": "o", "align": "linear"}]}, "allow_lookahead"),
        ({"forcings": [{"computed": "lst_sine"}]}, r"'lst_sin'"),
        ({"forcings": [{"computed": "month", "role": "observed"}]}, "must have role 'known'"),
        ({"forcings": [{"name": "kp"}]}, "needs key 'source'"),
        ({"static": [{"kind": "mask", "source": "l", "variable": "m"}]}, "'valid'"),
        ({"static": [{"kind": "landmask"}]}, "mask, lat, lon"),
        ({"targets": {"source": "maps", "variables": "tec"}}, "non-empty list"),
        ({"forcings": [{"name": "tec", "source": "o"}]}, "both targets and forcings"),
    ],
)
def test_schema_errors_name_the_key(patch, match):
    with pytest.raises((KeyError, ValueError), match=match):
        ChannelSchema.from_dict({**SCHEMA, **patch})


def test_config_roundtrip_and_unknown_key_close_match():
    cfg = DataConfig.from_dict(CONFIG)
    d = cfg.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert DataConfig.from_dict(d) == cfg
    assert cfg.grid_adjust(71, 73).shape == (64, 72)
    with pytest.raises(KeyError, match=r"'windw'.*did you mean 'window'"):
        DataConfig.from_dict({**CONFIG, "windw": {}})
    with pytest.raises(KeyError, match=r"'tin'.*'t_in'"):
        DataConfig.from_dict({**CONFIG, "window": {"tin": 3, "t_out": 2}})
    with pytest.raises(ValueError, match=r"future_forcings.*'oracl'.*'oracle'"):
        DataConfig.from_dict({**CONFIG, "future_forcings": "oracl"})
    with pytest.raises(ValueError, match=r"normalisation.fixed.*'tecc'.*'tec'"):
        DataConfig.from_dict({**CONFIG, "normalisation": {"fixed": {"tecc": {}}}})


def test_splits_overlap_and_gap_errors_name_both_splits():
    step = np.timedelta64(1, "h")
    ok = parse_splits(CONFIG["splits"])
    check_splits(ok, 24, step)
    overlap = parse_splits(
        {
            "train": {"start": "2019-01-01", "end": "2019-02-01"},
            "test": {"start": "2019-01-31", "end": "2019-03-01"},
        }
    )
    with pytest.raises(ValueError, match=r"'train'.*'test'.*overlap"):
        check_splits(overlap, 24, step)
    # exactly one window (24 h) apart is allowed, one step less is not
    edge = {
        "train": {"start": "2019-01-01", "end": "2019-02-01"},
        "val": {"start": "2019-02-02", "end": "2019-02-05"},
    }
    check_splits(parse_splits(edge), 24, step)
    edge["val"]["start"] = "2019-02-01T23:00"
    with pytest.raises(
        ValueError, match=r"'train' \(ends 2019-02-01.*'val' \(starts 2019-02-01T23"
    ):
        check_splits(parse_splits(edge), 24, step)
    with pytest.raises(ValueError, match=r"splits.val: start .* must be before end"):
        parse_splits(
            {
                "train": {"start": "2019-01-01", "end": "2019-02-01"},
                "val": {"start": "2019-03-01", "end": "2019-02-01"},
            }
        )
    with pytest.raises(KeyError, match=r"'valid'.*'val'"):
        parse_splits(
            {
                "train": {"start": "2019-01-01", "end": "2019-02-01"},
                "valid": {"start": "2019-03-01", "end": "2019-04-01"},
            }
        )


def test_monthly_split_gap_counts_calendar_months():
    month = np.timedelta64(1, "M")
    sp = {
        "train": {"start": "2010-01-01", "end": "2016-01-01"},
        "test": {"start": "2016-07-01", "end": "2020-01-01"},
    }
    check_splits(parse_splits(sp), 6, month)
    sp["test"]["start"] = "2016-06-01"
    with pytest.raises(ValueError, match="6 steps of 1 calendar month"):
        check_splits(parse_splits(sp), 6, month)


def test_split_without_a_whole_window_is_an_error():
    """A split too short for one window must stop the build, not yield an empty dataset."""
    import xarray as xr

    from geostl.data import build_datasets

    times = np.arange("2020-01-01T00", "2020-01-03T00", dtype="datetime64[h]").astype("M8[ns]")
    maps = xr.Dataset(
        {
            "tec": (
                ("time", "lat", "lon"),
                np.ones((times.size, 2, 3), np.float32),
                {"units": "TECU"},
            )
        },
        coords={"time": times, "lat": [10.0, 0.0], "lon": [0.0, 120.0, 240.0]},
    )
    config = {
        "schema": {"targets": {"source": "maps", "variables": ["tec"]}},
        "splits": {
            "train": {"start": "2020-01-01T00", "end": "2020-01-02T00"},
            "test": {"start": "2020-01-02T06", "end": "2020-01-02T09"},
        },
        "window": {"t_in": 2, "t_out": 2},
        "normalisation": {"method": "fixed", "fixed": {"tec": {"offset": 0, "scale": 10}}},
    }
    with pytest.raises(ValueError, match=r"splits.test .* holds 3 target time\(s\).* needs 4"):
        build_datasets(config, {"maps": maps})
    config["splits"]["test"]["end"] = "2020-01-02T10"
    assert len(build_datasets(config, {"maps": maps})["test"]) == 1
