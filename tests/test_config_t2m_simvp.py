"""configs/t2m_simvp.yaml: the WeatherBench-S t2m stand-in on the built-in ERA5 UK sample."""

from __future__ import annotations

from pathlib import Path

from geostl.commands.run import data_section
from geostl.data import build_datasets
from geostl.runconfig import load_config, open_sources

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "t2m_simvp.yaml"


def test_t2m_config_windows_units_and_splits() -> None:
    cfg = load_config([CONFIG])
    assert cfg["run"]["name"] == "t2m_simvp"
    assert cfg["data"]["window"] == {"t_in": 12, "t_out": 12, "stride": 1}
    sources = open_sources(cfg["data"]["sources"])
    datasets = build_datasets(data_section(cfg), sources)
    # hourly steps in [start, end): 19, 4 and 6 days -> steps - 24 + 1 windows
    assert {k: len(v) for k, v in datasets.items()} == {
        "train": 19 * 24 - 23,
        "val": 4 * 24 - 23,
        "test": 6 * 24 - 23,
    }
    test = datasets["test"]
    assert test.target_names == ["t2m"] and test.units["t2m"] == "K"
    sample = test[0]
    assert tuple(sample["inputs"].shape) == (12, 1, 36, 52)  # 33 x 49 padded to multiples of 4
    assert tuple(sample["targets"].shape) == (12, 1, 36, 52)
