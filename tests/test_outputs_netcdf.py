"""write_forecast_netcdf: read back with xarray, coordinates, dims, values, units, attrs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
import yaml

from geostl import __version__
from geostl.data import pad_to_multiple
from geostl.outputs import ORACLE_WARNING, write_forecast_netcdf

N, T, C, H, W = 3, 4, 2, 5, 7
STEP = np.timedelta64(15, "m")


def grid() -> tuple[xr.DataArray, xr.DataArray]:
    lat = xr.DataArray(
        np.linspace(87.5, -87.5, H), dims="lat", attrs={"units": "degrees_north", "note": "IONEX"}
    )
    lon = xr.DataArray(
        np.linspace(-180.0, 180.0, W), dims="lon", attrs={"units": "degrees_east", "x": "y"}
    )
    return lat, lon


def test_forecast_netcdf_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    pred = rng.normal(20, 5, (N, T, C, H, W)).astype(np.float32)
    init = np.datetime64("2019-04-26T17:00", "ns") + np.arange(N) * STEP
    leads = np.arange(1, T + 1) * STEP
    lat, lon = grid()
    cfg = {"model": {"backbone": {"name": "convlstm"}}, "train": {"lr": 1e-3}}
    path = write_forecast_netcdf(
        tmp_path / "out" / "forecast.nc",
        torch.from_numpy(pred),
        init.astype("int64"),  # int64 ns as in a sample's times_in
        leads,
        lat,
        lon,
        ["tec", "rms"],
        {"tec": "TECU", "rms": "TECU"},
        {"institution": "test"},
        long_names={"tec": "vertical total electron content"},
        model="convlstm",
        config=cfg,
        future_forcings="known",
    )
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    assert dict(ds.sizes) == {"init_time": N, "lead_time": T, "lat": H, "lon": W}
    assert ds["tec"].dims == ("init_time", "lead_time", "lat", "lon")
    np.testing.assert_array_equal(ds["tec"].values, pred[:, :, 0])
    np.testing.assert_array_equal(ds["rms"].values, pred[:, :, 1])
    np.testing.assert_array_equal(ds["init_time"].values, init)
    assert ds["lead_time"].dtype.kind == "m"
    np.testing.assert_array_equal(ds["lead_time"].values, leads.astype("timedelta64[ns]"))
    assert ds["valid_time"].dims == ("init_time", "lead_time")
    np.testing.assert_array_equal(ds["valid_time"].values[2, 3], np.datetime64("2019-04-26T18:30"))
    np.testing.assert_array_equal(ds["lat"].values, lat.values)
    assert ds["lat"].attrs["note"] == "IONEX" and ds["lon"].attrs["x"] == "y"
    # TECU is written in UDUNITS' spelling (CF), the common name kept beside it
    assert ds["tec"].attrs["units"] == "1e16 m-2" and ds["rms"].attrs["units"] == "1e16 m-2"
    assert ds["tec"].attrs["units_common_name"] == "TECU"
    assert ds["tec"].attrs["long_name"] == "vertical total electron content"
    assert ds.attrs["geostl_version"] == __version__ and ds.attrs["model"] == "convlstm"
    assert ds.attrs["institution"] == "test" and ds.attrs["future_forcings"] == "known"
    assert "warning" not in ds.attrs
    assert yaml.safe_load(ds.attrs["config"]) == cfg
    assert [p.name for p in path.parent.iterdir()] == ["forecast.nc"]  # no temporary left


def test_padding_removed_mask_as_nan_and_oracle_warning(tmp_path: Path) -> None:
    adjust = pad_to_multiple(H, W, 4)  # 5x7 -> 8x8
    rng = np.random.default_rng(2)
    pred = rng.random((1, 2, 1, *adjust.shape))
    area = np.ones((H, W), dtype=bool)
    area[0, :2] = False
    lat, lon = grid()
    path = write_forecast_netcdf(
        tmp_path / "f.nc",
        pred,
        np.array(["2019-04-26T00:00"], dtype="datetime64[ns]"),
        np.array([1, 2]) * np.timedelta64(1, "h"),
        adjust.coords(lat.values, "rows"),  # the padded coordinates of a WindowDataset
        adjust.coords(lon.values, "cols"),
        ["tec"],
        ["TECU"],
        grid_adjust=adjust,
        area_mask=adjust.apply(area, fill=False),
        future_forcings="oracle",
    )
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    assert (ds.sizes["lat"], ds.sizes["lon"]) == (H, W)
    np.testing.assert_allclose(ds["lat"].values, lat.values)
    assert ds["lat"].attrs["units"] == "degrees_north"
    expected = np.where(area, pred[0, :, 0, :H, :W], np.nan).astype(np.float32)
    np.testing.assert_array_equal(ds["tec"].values[0], expected)
    assert ds.attrs["warning"] == ORACLE_WARNING and ds.attrs["future_forcings"] == "oracle"


def test_bad_arguments_are_named(tmp_path: Path) -> None:
    lat, lon = grid()
    pred = np.zeros((1, 2, 1, H, W))
    init = np.array(["2019-04-26"], dtype="datetime64[ns]")
    leads = np.array([1, 2]) * STEP
    with pytest.raises(ValueError, match="pred: expected"):
        write_forecast_netcdf(tmp_path / "a.nc", pred[0], init, leads, lat, lon, ["tec"], ["u"])
    with pytest.raises(ValueError, match="lead_times 3"):
        write_forecast_netcdf(
            tmp_path / "a.nc", pred, init, np.arange(3) * STEP, lat, lon, ["tec"], ["u"]
        )
    with pytest.raises(KeyError, match="no unit for channel"):
        write_forecast_netcdf(tmp_path / "a.nc", pred, init, leads, lat, lon, ["tec"], {})
    with pytest.raises(ValueError, match="lat: 4 values"):
        write_forecast_netcdf(tmp_path / "a.nc", pred, init, leads, lat[:4], lon, ["tec"], ["u"])
    with pytest.raises(TypeError, match="lead_times: expected timedelta64"):
        write_forecast_netcdf(tmp_path / "a.nc", pred, init, [0.5, 1.0], lat, lon, ["tec"], ["u"])
    assert not list(tmp_path.iterdir())
