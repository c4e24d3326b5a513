"""WindowDataset on the real TEC and SST samples (skipped without ../shared/data)."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from geostl.data import build_datasets
from geostl.data.windows import forcing_frames

DATA = Path(
    os.environ.get("GEOSTL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
TEC = DATA / "tec" / "uqrg_2019-04-25_to_2019-04-26_15min.nc"
SST = DATA / "sst" / "ersst_v5_sst.mnmean_2010-01_2020-08.nc"


@pytest.mark.skipif(
    not TEC.exists(),
    reason="needs ../shared/data/tec/uqrg_2019-04-25_to_2019-04-26_15min.nc "
    "(UQRG 15-min TEC maps as NetCDF; see tests/README.md)",
)
def test_tec_15min_with_hourly_drivers_read_back():
    tec = xr.open_dataset(TEC)
    ht = pd.date_range("2019-04-24", "2019-04-28", freq="1h")
    omni = xr.Dataset(
        {"kp": ("time", np.arange(ht.size) % 90 / 10.0, {"units": "1"})}, coords={"time": ht}
    )
    cfg = {
        "schema": {
            "targets": {"source": "tec", "variables": ["tec"]},
            "forcings": [{"name": "kp", "source": "omni"}, {"computed": "lst_sin"}],
            "static": [{"kind": "lat"}, {"kind": "lon"}],
        },
        "splits": {
            "train": {"start": "2019-04-25", "end": "2019-04-26"},
            "val": {"start": "2019-04-26T06:00", "end": "2019-04-27T00:15"},
        },
        "window": {"t_in": 12, "t_out": 12},
        "normalisation": {"fixed": {"tec": {"offset": 0, "scale": 200}}},
        "padding": {"multiple": 8},
    }
    sets = build_datasets(cfg, {"tec": tec, "omni": omni})
    val = sets["val"]
    assert len(sets["train"]) == 96 - 24 + 1 and len(val) == 73 - 24 + 1
    raw = xr.open_dataset(TEC)["tec"].values  # independent full read
    first = int(np.searchsorted(tec["time"].values, np.datetime64("2019-04-26T06:00")))
    s = val[len(val) - 1]
    a = first + len(val) - 1
    np.testing.assert_allclose(
        s["inputs"][:, 0, :71, :73].numpy() * 200, raw[a : a + 12], rtol=1e-6, atol=1e-5
    )
    np.testing.assert_allclose(
        s["targets"][:, 0, :71, :73].numpy() * 200, raw[a + 12 : a + 24], rtol=1e-6, atol=1e-5
    )
    assert s["inputs"].shape == (12, 1, 72, 80) and s["input_mask"][:, :, :71, :73].all()
    assert not s["input_mask"][:, :, 71:].any() and not s["input_mask"][..., 73:].any()
    assert val.lat[0] == 87.5 and val.lat[70] == -87.5 and val.units["tec"] == "TECU"
    assert val.n_skipped_gaps == 0 and val.time_step == np.timedelta64(15, "m")
    # kp: hourly, last complete hour; last window ends at 2019-04-27 00:00
    t = pd.Timestamp(int(s["times_in"][-1]))
    ref = omni["kp"].sel(time=t.floor("1h") - pd.Timedelta("1h")).item()
    assert forcing_frames(s, "in")[-1, 0, 0, 0].item() == pytest.approx(
        (ref - val.normaliser.offsets["kp"]) / val.normaliser.scales["kp"], rel=1e-5
    )
    assert torch.equal(
        forcing_frames(s, "out")[:, 0], forcing_frames(s, "in")[-1:, 0].expand(12, -1, -1)
    )


@pytest.mark.skipif(
    not SST.exists(),
    reason="needs ../shared/data/sst/ersst_v5_sst.mnmean_2010-01_2020-08.nc "
    "(ERSSTv5 monthly sample; see tests/README.md)",
)
def test_sst_monthly_land_nan_becomes_mask():
    sst = xr.open_dataset(SST)
    cfg = {
        "schema": {
            "targets": {"source": "sst", "variables": ["sst"]},
            "forcings": [{"computed": "month"}],
        },
        "splits": {
            "train": {"start": "2010-01-01", "end": "2016-01-01"},
            "test": {"start": "2017-01-01", "end": "2020-09-01"},
        },
        "window": {"t_in": 3, "t_out": 3, "stride": 3},
    }
    sets = build_datasets(cfg, {"sst": sst})
    raw = xr.open_dataset(SST)["sst"].values.astype(np.float64)
    norm = sets["train"].normaliser
    np.testing.assert_allclose(norm.offsets["sst"], np.nanmean(raw[:72]), rtol=1e-9)
    np.testing.assert_allclose(norm.scales["sst"], np.nanstd(raw[:72]), rtol=1e-9)
    test = sets["test"]
    assert len(test) == (44 - 6) // 3 + 1 and test.n_skipped_gaps == 0
    s = test[0]
    np.testing.assert_array_equal(s["input_mask"][:, 0].numpy(), np.isfinite(raw[84:87]))
    phys = test.normaliser.inverse(s["inputs"], ["sst"]).numpy()[:, 0]
    ok = np.isfinite(raw[84:87])
    np.testing.assert_allclose(phys[ok], raw[84:87][ok], atol=1e-4)
    assert 0.25 < 1 - ok.mean() < 0.4  # ~31 % land
    months = (forcing_frames(s, "out")[:, 0, 0, 0] * 3.5 + 6.5).round().tolist()
    assert months == [4.0, 5.0, 6.0]  # 2017-04 .. 2017-06, calendar feature known in future
