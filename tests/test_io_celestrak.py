"""CelesTrak SW-All reader: real file, cross-checked against OMNI2, and a generated file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geostl.io import open_celestrak, open_omni2

OBS = (
    "2019 04 25 2534 20 23 20 13 10 13 17 13 20 130   9   7   5   4   5   6   5   7   6 0.3 1"
    "   1  72.8 0  71.5  70.0  74.1  72.9  71.4"
)
PRED = (
    "2025 07 21 2617 25 13 13  7  3 07 13 10 17  83   5   5   3   2   3   5   4   6   4 0.1 0"
    " 157 120.0   133.2 136.5 116.2 129.3 132.7"
)


def _write(tmp_path: Path) -> Path:
    text = "\n".join(
        [
            "DATATYPE CssiSpaceWeather",
            "VERSION 1.2",
            "BEGIN OBSERVED",
            OBS,
            "END OBSERVED",
            "BEGIN DAILY_PREDICTED",
            PRED,
            "END DAILY_PREDICTED",
        ]
    )
    path = tmp_path / "SW-test.txt"
    path.write_text(text + "\n")
    return path


def test_generated_rows_by_hand(tmp_path: Path) -> None:
    path = _write(tmp_path)
    ds = open_celestrak(path)
    assert ds.sizes == {"time": 1, "kp_interval": 8}
    np.testing.assert_allclose(ds.kp_3h.values[0], [2.3, 2.0, 1.3, 1.0, 1.3, 1.7, 1.3, 2.0])
    np.testing.assert_array_equal(ds.ap_3h.values[0], [9, 7, 5, 4, 5, 6, 5, 7])
    assert float(ds.kp_sum[0]) == pytest.approx(13.0)
    assert float(ds.ap_daily[0]) == 6 and float(ds.sunspot_number[0]) == 1
    assert float(ds.f107_adj[0]) == 72.8 and float(ds.f107_obs[0]) == 74.1
    assert float(ds.f107_obs_ctr81[0]) == 72.9 and float(ds.f107_adj_lst81[0]) == 70.0
    assert ds.section.values.tolist() == ["OBSERVED"]
    both = open_celestrak(path, include_predicted=True)
    assert both.section.values.tolist() == ["OBSERVED", "DAILY_PREDICTED"]
    assert np.isnan(float(both.f107_qualifier[1]))  # blank in predicted rows


def test_not_a_cssi_file(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("hello\n")
    with pytest.raises(ValueError, match=r"x\.txt: not a CelesTrak CSSI"):
        open_celestrak(path)


@pytest.mark.shared_files(
    "space_weather/celestrak_SW-All.txt.gz",
    "space_weather/omni2_hourly",
    what="CelesTrak SW-All and OMNI2 hourly files",
)
def test_real_file_and_agreement_with_omni2(shared_data: Path) -> None:
    ds = open_celestrak(shared_data / "space_weather" / "celestrak_SW-All.txt.gz")
    assert ds.sizes["time"] == 24765
    assert ds.time.values[0] == np.datetime64("1957-10-01", "ns")
    assert ds.time.values[-1] == np.datetime64("2025-07-20", "ns")
    assert set(ds.section.values) == {"OBSERVED"}
    full = open_celestrak(
        shared_data / "space_weather" / "celestrak_SW-All.txt.gz",
        include_predicted=True,
        include_monthly=True,
    )
    assert full.sizes["time"] == 24765 + 39 + 194

    folder = shared_data / "space_weather" / "omni2_hourly"
    omni = open_omni2([folder / "omni2_2018.dat.gz", folder / "omni2_2019.dat.gz"])
    daily = omni[["kp", "f107"]].resample(time="1D").mean()
    cel = ds.sel(time=daily.time)
    # daily mean Kp: OMNI2 repeats each 3-hourly Kp over 3 hours -> identical means
    np.testing.assert_allclose(daily.kp.values, cel.kp_3h.mean("kp_interval").values, atol=1e-9)
    # OMNI2 F10.7 is CelesTrak's adjusted (1 AU) flux of the same day: over 2018-2019
    # (730 days) 98.2 % are identical, the rest differ by at most 2.6 sfu, r = 0.996
    diff = np.abs(daily.f107.values - cel.f107_adj.values)
    assert np.isfinite(diff).sum() == 730
    assert np.mean(diff < 0.05) > 0.98 and diff.max() < 3.0
    assert np.corrcoef(daily.f107.values, cel.f107_adj.values)[0, 1] > 0.99
