"""Physical lower bounds at output (geostl.outputs.bounds) and the output format chooser."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from geostl.outputs import clip_lower, clip_to_bounds, forecast_format, lower_bound


@pytest.mark.parametrize(
    ("name", "attrs", "bound"),
    [
        ("tec", {"units": "TECU"}, 0.0),
        ("vtec", {}, 0.0),
        ("t2m", {"units": "K", "long_name": "2 metre temperature"}, 0.0),
        ("sst", {"units": "K", "long_name": "sea surface temperature anomaly"}, None),
        ("sst", {"units": "degC"}, None),
        ("r", {"units": "%", "long_name": "relative humidity"}, 0.0),
        ("q", {"units": "kg kg**-1", "long_name": "specific humidity"}, 0.0),
        ("u10", {"units": "m s**-1", "long_name": "10 metre U wind component"}, None),
        ("z", {"units": "m**2 s**-2"}, None),
        ("dtec", {"units": "TECU", "long_name": "TEC difference"}, None),
    ],
)
def test_lower_bound_by_quantity(name, attrs, bound):
    assert lower_bound(name, attrs) == bound


def test_clip_lower_counts_and_keeps_nan():
    x = np.array([-1.0, 0.0, np.nan, 2.0, -0.5])
    y, n = clip_lower(x, 0.0)
    assert n == 2
    np.testing.assert_array_equal(y, [0.0, 0.0, np.nan, 2.0, 0.0])
    t, m = clip_lower(torch.tensor(x), 0.0)
    assert m == 2 and torch.equal(torch.isnan(t), torch.isnan(torch.tensor(y)))
    same, none = clip_lower(x, None)
    assert none == 0 and same is x


def test_clip_to_bounds_states_the_count_once():
    ds = xr.Dataset(
        {
            "tec": (("t", "x"), [[-2.0, 3.0], [np.nan, -0.1]], {"units": "TECU"}),
            "u10": (("t", "x"), [[-2.0, 3.0], [1.0, -4.0]], {"units": "m s**-1"}),
        }
    )
    out, counts = clip_to_bounds(ds)
    assert counts == {"tec": 2}
    assert out["tec"].attrs["clipped_below_lower_bound"] == 2
    assert "2 value(s) below the physical lower bound 0" in out["tec"].attrs["comment"]
    np.testing.assert_array_equal(out["u10"].values, ds["u10"].values)  # no bound: untouched
    again, counts2 = clip_to_bounds(out)
    assert counts2 == {"tec": 2} and again["tec"].attrs["clipped_below_lower_bound"] == 2
    assert float(ds["tec"].min()) == -2.0  # the input is not changed


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.nc", "netcdf"), ("b.zarr", "zarr"), ("codg1170.19i", "ionex"),
     ("GEOS0OPSFC_20191170000_01D_15M_GIM.INX.gz", "ionex"), ("x.19I.gz", "ionex")],
)  # fmt: skip
def test_output_format_from_the_name(name, fmt):
    assert forecast_format(name) == fmt


def test_unknown_output_format_is_an_error():
    with pytest.raises(ValueError, match=r"cannot tell the output format.*--format"):
        forecast_format("forecast.csv")
    with pytest.raises(ValueError, match="choose one of netcdf, zarr, ionex"):
        forecast_format("a.nc", "grib")
    assert forecast_format("anything.bin", "zarr") == "zarr"
