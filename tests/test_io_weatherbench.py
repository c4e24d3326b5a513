"""WeatherBench 5.625° reader and OpenSTL's sets, on small files in the archive's exact layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geostl.data import build_datasets
from geostl.io.weatherbench import open_weatherbench
from geostl.runconfig import open_sources
from geostl.runconfig.spec import ConfigError
from geostl.tasks.weatherbench.sets import (
    WEATHERBENCH_SETS,
    weatherbench_data_section,
    weatherbench_set,
)
from weatherbench_files import LAYOUT, expected_value, write_weatherbench

LAT = [-87.1875 + 5.625 * i for i in range(32)]


def test_single_level_read_back_coordinates_units_and_values(tmp_path: Path) -> None:
    write_weatherbench(tmp_path, ["t2m", "u10"], [2016, 2017], hours=6)
    ds = open_weatherbench(tmp_path, ["u10", "t2m"], [2016, 2017])
    assert list(ds.data_vars) == ["u10", "t2m"]
    assert ds["t2m"].dims == ("time", "lat", "lon")
    assert ds.sizes == {"time": 12, "lat": 32, "lon": 64}
    assert ds["lat"].values[0] == -87.1875 and ds["lat"].values[-1] == 87.1875
    np.testing.assert_allclose(ds["lat"].values, LAT)
    assert ds["lon"].values[0] == 0.0 and ds["lon"].values[-1] == 354.375
    assert ds["t2m"].attrs["units"] == "K"
    assert ds["u10"].attrs["units"] == "m s**-1"
    times = pd.DatetimeIndex(ds["time"].values)
    assert times[0] == pd.Timestamp("2016-01-01T00") and times[5] == pd.Timestamp("2016-01-01T05")
    assert times[6] == pd.Timestamp("2017-01-01T00")
    assert ds["t2m"].chunks is not None, "values should stay lazy (dask)"
    np.testing.assert_array_equal(
        ds["t2m"].values[6:], expected_value("t2m", 2017, np.arange(6), None)
    )
    assert "2m_temperature/2m_temperature_2017_5.625deg.nc" in ds.attrs["source_files"]


def test_pressure_levels_become_channels_in_the_asked_order(tmp_path: Path) -> None:
    write_weatherbench(tmp_path, ["r", "z"], [2010], hours=3)
    ds = open_weatherbench(tmp_path, ["r", "z"], [2010], levels={"r": [850, 150], "z": [500]})
    assert list(ds.data_vars) == ["r_850", "r_150", "z_500"]
    assert ds["r_150"].dims == ("time", "lat", "lon")
    assert ds["r_150"].attrs["units"] == "%" and ds["r_150"].attrs["level"] == 150
    assert ds["z_500"].attrs["units"] == "m**2 s**-2"
    np.testing.assert_array_equal(ds["r_150"].values, expected_value("r", 2010, np.arange(3), 150))
    np.testing.assert_array_equal(ds["z_500"].values, expected_value("z", 2010, np.arange(3), 500))


@pytest.mark.parametrize(
    ("name", "channels"),
    [
        ("t2m", ["t2m"]),
        ("r", ["r_1000"]),
        ("uv10", ["u10", "v10"]),
        ("tcc", ["tcc"]),
        (
            "mv_4_4_s6",
            [f"{v}_{lv}" for v in ("r", "t", "u", "v") for lv in (150, 500, 850)],
        ),
    ],
)
def test_set_channels_and_units(tmp_path: Path, name: str, channels: list[str]) -> None:
    wb = weatherbench_set(name)
    assert wb.channels == channels
    write_weatherbench(tmp_path, list(wb.variables), [2016], hours=2)
    section = weatherbench_data_section(name, str(tmp_path))
    section["sources"]["wb"]["weatherbench"]["years"] = [2016, 2016]
    section["sources"]["wb"].pop("every", None)
    ds = open_sources(section["sources"])["wb"]
    assert list(ds.data_vars) == channels == section["schema"]["targets"]["variables"]
    for ch in channels:
        short = ds[ch].attrs["weatherbench_variable"]
        assert ds[ch].attrs["units"] == LAYOUT[short][1]


def test_hmv_has_110_channels_in_order(tmp_path: Path) -> None:
    wb = weatherbench_set("weather_hmv_4_4_s6_5_625")
    assert len(wb.channels) == 8 * 13 + 6 == 110
    assert wb.channels[:2] == ["z_50", "z_100"] and wb.channels[103] == "pv_1000"
    assert wb.channels[104:] == ["t2m", "u10", "v10", "tcc", "tp", "tisr"]
    write_weatherbench(tmp_path, list(wb.variables), [2016], hours=12, step_hours=6)
    ds = open_sources(
        {
            "wb": {
                "paths": str(tmp_path),
                "format": "weatherbench",
                "weatherbench": {"set": "hmv_4_4_s6", "years": [2016, 2016]},
            }
        }
    )["wb"]
    assert list(ds.data_vars) == wb.channels
    assert ds.sizes == {"time": 2, "lat": 32, "lon": 64}
    np.testing.assert_array_equal(ds["vo_925"].values, expected_value("vo", 2016, [0, 1], 925))


def test_default_splits_and_steps_follow_openstl() -> None:
    s = weatherbench_data_section("t2m", "/nowhere")
    assert s["splits"] == {
        "train": {"start": "2010-01-01T00:00", "end": "2015-12-31T00:00"},  # 24 h gap
        "val": {"start": "2016-01-01T00:00", "end": "2016-12-31T00:00"},
        "test": {"start": "2017-01-01T00:00", "end": "2019-01-01T00:00"},
    }
    assert s["window"] == {"t_in": 12, "t_out": 12, "stride": 1}
    assert "every" not in s["sources"]["wb"]
    assert s["sources"]["wb"]["weatherbench"] == {"set": "t2m", "years": [2010, 2018]}
    mv = weatherbench_data_section("weather_mv_4_4_s6_5_625", "/nowhere")
    assert mv["window"] == {"t_in": 4, "t_out": 4, "stride": 1}
    assert mv["sources"]["wb"]["every"] == "6h"
    assert mv["splits"]["train"] == {"start": "1979-01-01T00:00", "end": "2015-12-30T00:00"}
    assert WEATHERBENCH_SETS["hmv_4_4_s6"].train_years == (1980, 2015)


def test_windows_per_split_on_generated_years(tmp_path: Path) -> None:
    """Three years of 3 days hourly: each split holds 72 steps -> 72 - 24 + 1 = 49 windows."""
    write_weatherbench(tmp_path, ["t2m"], [2015, 2016, 2017], hours=72)
    section = weatherbench_data_section(
        "t2m", str(tmp_path), years={"train": (2015, 2015), "test": (2017, 2017)}
    )
    sources = open_sources(section["sources"])
    data = {k: v for k, v in section.items() if k != "sources"}
    datasets = build_datasets(data, sources)
    assert {k: len(v) for k, v in datasets.items()} == {"train": 49, "val": 49, "test": 49}
    # statistics are fitted on the train year only (float64 over time, lat, lon)
    train = expected_value("t2m", 2015, np.arange(72), None).astype(np.float64)
    first = datasets["train"][0]
    mean, std = train.mean(), train.std()
    got = first["targets"]
    want = (expected_value("t2m", 2015, np.arange(12, 24), None) - mean) / std
    np.testing.assert_allclose(got.numpy()[:, 0], want, atol=1e-4)


def test_six_hourly_sets_subsample_hourly_files(tmp_path: Path) -> None:
    write_weatherbench(tmp_path, ["r", "t", "u", "v"], [2016], hours=48, levels=(150, 500, 850))
    section = weatherbench_data_section("mv_4_4_s6", str(tmp_path))
    section["sources"]["wb"]["weatherbench"]["years"] = [2016, 2016]
    ds = open_sources(section["sources"])["wb"]
    hours = pd.DatetimeIndex(ds["time"].values).hour
    assert ds.sizes["time"] == 8 and set(hours) == {0, 6, 12, 18}
    np.testing.assert_array_equal(
        ds["t_850"].values, expected_value("t", 2016, np.arange(0, 48, 6), 850)
    )


def test_missing_folder_file_variable_and_level_errors(tmp_path: Path) -> None:
    write_weatherbench(tmp_path, ["t2m", "r"], [2016], hours=2, levels=(500, 850))
    with pytest.raises(FileNotFoundError, match="10m_u_component_of_wind"):
        open_weatherbench(tmp_path, ["u10"], [2016])
    with pytest.raises(FileNotFoundError, match="2m_temperature_2017_5.625deg.nc"):
        open_weatherbench(tmp_path, ["t2m"], [2016, 2017])
    with pytest.raises(KeyError, match=r"no level\(s\) \[150\] hPa.*available: \[500, 850\]"):
        open_weatherbench(tmp_path, ["r"], [2016], levels=[150])
    with pytest.raises(ValueError, match="'r' has pressure levels"):
        open_weatherbench(tmp_path, ["r"], [2016])
    with pytest.raises(KeyError, match="unknown WeatherBench variable 'msl'"):
        open_weatherbench(tmp_path, ["msl"], [2016])
    with pytest.raises(FileNotFoundError, match="root folder"):
        open_weatherbench(tmp_path / "absent", ["t2m"], [2016])
    # a file that holds another variable than its folder says
    wrong = tmp_path / "total_cloud_cover"
    wrong.mkdir()
    (tmp_path / "2m_temperature" / "2m_temperature_2016_5.625deg.nc").rename(
        wrong / "total_cloud_cover_2016_5.625deg.nc"
    )
    with pytest.raises(KeyError, match=r"total_cloud_cover_2016_5.625deg.nc: variable 'tcc' not"):
        open_weatherbench(tmp_path, ["tcc"], [2016])


def test_variables_with_different_times_are_refused(tmp_path: Path) -> None:
    write_weatherbench(tmp_path, ["u10"], [2016], hours=6)
    write_weatherbench(tmp_path, ["v10"], [2016], hours=5)
    with pytest.raises(ValueError, match="'u10' and 'v10' have different time axes"):
        open_weatherbench(tmp_path, ["u10", "v10"], [2016])


def test_source_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="weatherbench is missing"):
        open_sources({"wb": {"paths": str(tmp_path), "format": "weatherbench"}})
    with pytest.raises(ConfigError, match="only with format: weatherbench"):
        open_sources(
            {"wb": {"paths": str(tmp_path), "format": "netcdf", "weatherbench": {"set": "t2m"}}}
        )
    with pytest.raises(ConfigError, match="exactly one of 'set' or 'variables'"):
        open_sources({"wb": {"paths": str(tmp_path), "format": "weatherbench", "weatherbench": {}}})
    with pytest.raises(ConfigError, match=r"years: expected \[first, last\]"):
        open_sources(
            {
                "wb": {
                    "paths": str(tmp_path),
                    "format": "weatherbench",
                    "weatherbench": {"set": "t2m", "years": [2018, 2017]},
                }
            }
        )
    with pytest.raises(KeyError, match="unknown WeatherBench set 'wind'"):
        weatherbench_set("wind")


@pytest.mark.slow
def test_geostl_train_on_a_weatherbench_folder(tmp_path: Path) -> None:
    """`geostl train` end to end on generated uv10 files: the fields grow by 0.01 m/s an hour,
    so persistence misses by exactly 0.01 m/s per hour of lead, in the files' unit."""
    import json

    import yaml

    from geostl.cli import main

    root = tmp_path / "wb"
    write_weatherbench(root, ["u10", "v10"], [2015, 2016, 2017], hours=48)
    data = weatherbench_data_section(
        "weather_uv10_5_625", str(root), years={"train": (2015, 2015), "test": (2017, 2017)}
    )
    cfg = {
        "run": {"name": "wb_uv10", "dir": str(tmp_path / "runs")},
        "data": data,
        "model": {
            "backbone": {
                "name": "simvp",
                "model_type": "gSTA",
                "hid_S": 8,
                "hid_T": 16,
                "N_S": 2,
                "N_T": 2,
            }
        },
        "train": {"epochs": 1, "max_steps_per_epoch": 1, "batch_size": 4},
        "eval": {"baselines": ["persistence"]},
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", "--config", str(path), "--no-progress"]) == 0
    tables = json.loads((tmp_path / "runs" / "wb_uv10" / "metrics.json").read_text())["tables"]
    rows = tables["persistence"]["rows"]
    units = tables["persistence"]["units"]
    assert units == {"u10": "m s**-1", "v10": "m s**-1"}
    for row in rows:
        if row["metric"] == "rmse" and row["lead"] in ("+1 h", "+12 h"):
            lead = int(row["lead"][1:-2])
            assert row["value"] == pytest.approx(0.01 * lead, rel=1e-3), row
