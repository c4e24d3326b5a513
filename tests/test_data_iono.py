"""The seed's iono channel preset: order and scalings against the spec's table, built end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geostl.data import DataConfig, build_datasets
from geostl.data.windows import forcing_frames
from geostl.datasets import sample
from geostl.io import OMNI2_COLUMNS
from geostl.runconfig import load_config
from geostl.runconfig.loader import yaml_load
from geostl.tasks.iono.channels import (
    IONO_CHANNELS,
    iono_channels,
    iono_data_section,
    keep_first_channels,
)
from geostl.tasks.iono.regrid import regrid_ionex

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "iono_data.yaml"

# Liu et al. 2024's channel table, by hand: (quantity, seed scaling of the raw value)
SPEC_TABLE = [
    ("TEC", lambda raw01tecu: np.minimum(raw01tecu, 2000) / 2000),
    ("longitude index", lambda col: col / 72),
    ("latitude index", lambda row: row / 72),
    ("year", lambda x: x / 2500),
    ("F10.7", lambda x: x / 400),
    ("R", lambda x: x / 400),
    ("day of year", lambda x: x / 367),
    ("hour", lambda x: x / 24),
    ("month", lambda x: x / 13),
    ("day of month", lambda x: x / 32),
    ("Kp (x10 as in OMNI)", lambda kp10: kp10 / 100),
    ("ap", lambda x: x / 400),
    ("Dst", lambda x: (x + 500) / 600),
    ("SW speed", lambda x: x / 1200),
    ("|B|", lambda x: x / 70),
    ("sigma B", lambda x: x / 50),
    ("proton density", lambda x: x / 140),
    ("flow pressure", lambda x: x / 80),
    ("electric field", lambda x: (x + 50) / 100),
    ("Mach number", lambda x: x / 15),
]
OUR_NAMES = [
    "tec", "lon_index", "lat_index", "year", "f107", "sunspot_number", "doy", "ut_hour", "month",
    "day_of_month", "kp", "ap", "dst", "sw_speed", "b_mag", "sigma_b_mag", "proton_density",
    "flow_pressure", "e_field", "mach_number",
]  # fmt: skip


def _ours(ch, x):
    return (x - ch.offset) / ch.scale


def test_channel_order_and_scalings_match_the_spec_table() -> None:
    assert [ch.name for ch in IONO_CHANNELS] == OUR_NAMES
    assert [ch.index for ch in IONO_CHANNELS] == list(range(20))
    rng = np.random.default_rng(1)
    for ch, (what, seed) in zip(IONO_CHANNELS, SPEC_TABLE, strict=True):
        x = rng.uniform(0, 100, 50)
        if ch.name == "tec":  # our TECU = raw / 10; the seed clips raw at 2000, we do not
            np.testing.assert_allclose(_ours(ch, x), seed(10 * x), rtol=1e-12, err_msg=what)
            assert _ours(ch, 250.0) == 1.25
        elif ch.name == "kp":  # our kp is real Kp (open_omni2 divides the file's Kp*10)
            np.testing.assert_allclose(_ours(ch, x / 10), seed(x), rtol=1e-12, err_msg=what)
        elif ch.name in ("lon_index", "lat_index"):  # the feature is already index / 72
            idx = np.arange(72)
            np.testing.assert_allclose(_ours(ch, idx / 72), seed(idx), rtol=1e-12, err_msg=what)
        else:
            np.testing.assert_allclose(_ours(ch, x), seed(x), rtol=1e-12, err_msg=what)
    omni = {c.name for c in OMNI2_COLUMNS}
    for ch in IONO_CHANNELS:
        if ch.kind == "omni2":
            assert ch.source_variable in omni and ch.role == "observed", ch
        elif ch.kind == "computed":
            assert ch.role == "known"


def test_channel_sets_are_prefixes_of_the_seed_order() -> None:
    assert [c.name for c in iono_channels(4)] == ["tec", "lon_index", "lat_index", "year"]
    nine = [c.name for c in iono_channels(9)][4:]
    assert nine == ["f107", "sunspot_number", "doy", "ut_hour", "month"]
    sixteen = [c.name for c in iono_channels(16)][9:]
    assert sixteen == ["day_of_month", "kp", "ap", "dst", "sw_speed", "b_mag", "sigma_b_mag"]
    with pytest.raises(ValueError, match=r"channel count 5.*1, 4, 9, 16, 20"):
        iono_channels(5)


@pytest.mark.parametrize("n", [1, 4, 9, 16, 20])
def test_data_section_validates_and_keeps_first_channels(n: int) -> None:
    section = iono_data_section(n)
    full = iono_data_section(20)
    assert keep_first_channels(full, n) == section
    cfg = DataConfig.from_dict(
        {**section, "splits": {"train": {"start": "2019-04-25", "end": "2019-04-26"}},
         "window": {"t_in": 2, "t_out": 2}}
    )  # fmt: skip
    assert len(cfg.schema.forcings) == n - 1 and set(cfg.fixed) == set(OUR_NAMES[:n])
    observed = [f for f in cfg.schema.forcings if f.role == "observed"]
    assert all(f.align == "previous_complete" and f.source == "omni" for f in observed)


def test_archive_driver_format_reads_the_stored_names() -> None:
    section = iono_data_section(16, maps="arch", drivers="arch", driver_format="iono_tfrecord")
    by_name = {f["name"]: f for f in section["schema"]["forcings"]}
    assert by_name["kp"]["variable"] == "Kp" and by_name["f107"]["variable"] == "F107"
    assert by_name["sigma_b_mag"]["variable"] == "SigmaB" and by_name["kp"]["align"] == "previous"
    # the archive stores Kp x 10: the seed's /100
    assert section["normalisation"]["fixed"]["kp"] == {"offset": 0.0, "scale": 100.0}
    with pytest.raises(ValueError, match="driver_format 'celestrak'"):
        iono_data_section(4, driver_format="celestrak")


def test_keep_first_channels_errors() -> None:
    with pytest.raises(ValueError, match="17 channels asked.*1..16"):
        keep_first_channels(iono_data_section(16), 17)


def test_the_config_file_is_the_preset_and_can_be_a_base(tmp_path: Path) -> None:
    data = yaml_load(CONFIG.read_text())["data"]
    preset = iono_data_section(16)
    assert data["schema"] == preset["schema"]
    assert data["normalisation"] == preset["normalisation"]
    assert data["sources"]["maps"] == {"sample": "tec", "regrid": "iono72"}
    run = tmp_path / "grid.yaml"
    run.write_text(f"_base_: {CONFIG}\nmodel:\n  backbone: convlstm\n")
    cfg = load_config([run])
    assert cfg["data"]["window"] == {"t_in": 12, "t_out": 12, "stride": 1}


def test_sixteen_channels_on_the_builtin_samples_equal_omni2_at_the_right_hours() -> None:
    omni = sample("tec_drivers")
    maps = regrid_ionex(sample("tec"), "iono72")
    data = yaml_load(CONFIG.read_text())["data"]
    data.pop("sources")
    sets = build_datasets(data, {"maps": maps, "omni": omni})
    test = sets["test"]
    names = test.forcing_names
    assert names == OUR_NAMES[1:16]
    k = 5
    item = test[k]
    times = pd.DatetimeIndex(test.window_times(k)[: test.t_in])
    f_in = forcing_frames(item, "in").numpy()
    phys = test.normaliser.inverse(f_in.astype(np.float64), names)
    # an hourly average stamped hh:00 is complete at hh+1:00: frame t reads floor(t) - 1 h
    rows = omni.sel(time=(times.floor("h") - pd.Timedelta("1h")).to_numpy())
    for ch in IONO_CHANNELS[1:16]:
        c = names.index(ch.name)
        if ch.kind == "omni2":
            expect = rows[ch.source_variable].values
        else:
            expect = {
                "lon_index": np.zeros(len(times)),  # pixel (row 0, col 0)
                "lat_index": np.zeros(len(times)),
                "year": times.year,
                "doy": times.day_of_year,
                "ut_hour": times.hour + times.minute / 60,
                "month": times.month,
                "day_of_month": times.day,
            }[ch.name]
        # float32 normalised values: absolute error up to about scale * 1e-7
        atol = ch.scale * 1e-6
        np.testing.assert_allclose(phys[:, c, 0, 0], expect, rtol=0, atol=atol, err_msg=ch.name)
        # every plane is constant except the position ones
        if ch.name not in ("lon_index", "lat_index"):
            assert (f_in[:, c] == f_in[:, c, :1, :1]).all(), ch.name
    # normalised values are the seed's formulas on the OMNI2 file values (Kp file value = 10 Kp)
    dst, kp = names.index("dst"), names.index("kp")
    np.testing.assert_allclose(f_in[:, dst, 0, 0], (rows["dst"].values + 500) / 600, rtol=1e-6)
    np.testing.assert_allclose(f_in[:, kp, 0, 0], rows["kp"].values * 10 / 100, rtol=1e-6)
    lon_i, lat_i = names.index("lon_index"), names.index("lat_index")
    np.testing.assert_array_equal(f_in[0, lon_i, 3], np.float32(np.arange(72) / 72))
    np.testing.assert_array_equal(f_in[0, lat_i, :, 3], np.float32(np.arange(72) / 72))
    # TEC: the regridded map / 200 TECU
    s = int(test.starts[k])
    np.testing.assert_allclose(
        item["inputs"].numpy()[:, 0] * 200, maps["tec"].values[s : s + test.t_in], rtol=1e-6
    )
    # policy 'known': calendar/position get their future, observed drivers hold the last input
    f_out = forcing_frames(item, "out").numpy()
    np.testing.assert_array_equal(
        f_out[:, dst], np.broadcast_to(f_in[-1, dst], f_out[:, dst].shape)
    )
    hour = names.index("ut_hour")
    future = pd.DatetimeIndex(test.window_times(k)[test.t_in :])
    np.testing.assert_allclose(
        f_out[:, hour, 0, 0], (future.hour + future.minute / 60) / 24, rtol=1e-6
    )
