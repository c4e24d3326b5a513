"""``data.sources.NAME.regrid`` / ``every`` in run configs, wired through ``open_sources``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geostl.datasets import sample
from geostl.runconfig import SOURCE_FORMATS, ConfigError, check, open_sources


@pytest.mark.slow  # over 5 s on 2 cores (make test-fast leaves it out)
def test_regrid_and_every_on_a_builtin_sample() -> None:
    out = open_sources(
        {
            "maps": {"sample": "tec", "regrid": "iono72", "every": "1h"},
            "native": {"sample": "tec", "regrid": "native"},
            "omni": {"sample": "tec_drivers", "every": "2h"},
        }
    )
    ref = sample("tec")
    assert out["maps"]["tec"].shape == (49, 72, 72)
    assert out["native"]["tec"].shape == (193, 71, 72)
    # every 1 h keeps the 15-min maps stamped on the hour, unchanged (regrid: end rows exact)
    np.testing.assert_array_equal(out["maps"]["tec"].values[:, 0], ref["tec"].values[::4, 0, :72])
    assert (pd.DatetimeIndex(out["omni"]["time"].values).hour % 2 == 0).all()
    assert out["omni"].sizes["time"] == sample("tec_drivers").sizes["time"] // 2


def test_transform_errors_name_the_source() -> None:
    with pytest.raises(ConfigError, match=r"data\.sources\.omni: no 'lat' coordinate"):
        open_sources({"omni": {"sample": "tec_drivers", "regrid": "iono72"}})
    with pytest.raises(ConfigError, match=r"data\.sources\.m: every 20min is not a whole multiple"):
        open_sources({"m": {"sample": "tec", "every": "20min"}})
    with pytest.raises(ConfigError, match=r"data\.sources\.m\.regrid.*native, iono72.*'iono71'"):
        open_sources({"m": {"sample": "tec", "regrid": "iono71"}})
    with pytest.raises(ConfigError, match=r"data\.sources\.m\.regird.*did you mean 'regrid'"):
        open_sources({"m": {"sample": "tec", "regird": "iono72"}})


def test_the_spec_accepts_the_new_keys_and_format() -> None:
    assert "iono_tfrecord" in SOURCE_FORMATS
    layer = {
        "data": {
            "sources": {
                "a": {"paths": ["x/*.tfrecord"], "format": "iono_tfrecord", "every": "2h"},
                "b": {"paths": "x.i", "format": "ionex", "regrid": "native"},
            }
        }
    }
    assert check(layer)["data"]["sources"] == layer["data"]["sources"]
    with pytest.raises(ConfigError, match=r"data\.sources\.a\.every.*expected str"):
        check({"data": {"sources": {"a": {"sample": "tec", "every": 2}}}})
