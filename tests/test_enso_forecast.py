"""Operational ENSO forecasts (``geostl.load(ckpt).forecast(sst)`` -> the enso task's forecast).

The reference for the values is the task's own test split: the window of
:func:`geostl.tasks.enso.dataset.build_enso_datasets` (built from the checkpoint's sources,
SST and the index table, every month) whose last input month is the issue month, run through
the model and de-normalised as ``geostl test`` scores it. The forecasts are made from SST
maps alone, cut or poisoned after the issue month.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
import yaml

import geostl
from geostl.datasets import sample
from geostl.engine import build_model_from_checkpoint, load_checkpoint
from geostl.io import open_dataset
from geostl.runconfig import load_config
from geostl.tasks import TASKS, ready_config
from geostl.tasks.enso.forecast import PHASE_LABELS, enso_issue_window, forecast_enso
from geostl.tasks.enso.task import prepare

ISSUE = np.datetime64("2019-06", "M")  # its targets 2019-07 .. 2019-12 are in the test split
TINY = [
    "data.stride=4",
    "data.splits.train=['2010-07', '2012-12']",  # 25 windows: batches of 10, 10, 5
    "data.splits.val=['2013-01', '2013-08']",
    "data.splits.test=['2019-01', '2020-08']",
    "model.hidden=[2, 2, 4]",
    "model.trunk_channels=4",
    "model.embed=8",
    "model.head_hidden=8",
    "train.epochs=1",
    "eval.figures=false",
]


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> Path:
    """An ENSO model trained for one epoch on the built-in sample; returns its best.pt."""
    task = TASKS.get("enso")
    out = tmp_path_factory.mktemp("enso_forecast")
    path = ready_config("enso/enso_convlstm_ersst.yaml")
    cfg = load_config(path, [f"run.dir={out}", "run.name=tiny", *TINY], spec=task.spec)
    return task.train(cfg, progress=False) / "best.pt"


@pytest.fixture(scope="module")
def sst() -> xr.Dataset:
    return sample("sst").load()


def _month(t) -> str:
    return str(np.datetime64(t, "M"))


def test_forecast_equals_the_test_splits_window(tiny_ckpt, sst):
    ckpt = load_checkpoint(tiny_ckpt)
    test = prepare(ckpt["config"])["test"]
    months = test.context.times
    k = np.flatnonzero(months[test.tensors["first"].numpy() - 1] == ISSUE)
    assert k.size == 1
    model = build_model_from_checkpoint(ckpt).eval()
    with torch.no_grad():
        ref = model(test.tensors["x"][k])
    stats = ckpt["data"]["stats"]
    ref_index = (ref["index"].double() * stats["index_std"] + stats["index_mean"]).numpy()[0]

    past = sst.sel(time=slice(None, "2019-06-30"))  # no SST after the issue month at all
    out = geostl.load(tiny_ckpt).forecast(past, issue="2019-06")

    window = enso_issue_window(ckpt, {"sst": past}, ISSUE)
    assert torch.equal(window.x, test.tensors["x"][k])  # the very input the test split has
    got = out["nino34_anom"].values[0]
    assert got.shape == (6,) and out["nino34_anom"].attrs["units"] == "degC"
    np.testing.assert_allclose(got, ref_index, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(
        out["most_likely_phase"].values[0], ref["phase_logits"][0].argmax(-1)
    )
    prob = out["phase_probability"].values[0]
    np.testing.assert_allclose(prob, torch.softmax(ref["phase_logits"][0].double(), -1), atol=1e-6)
    np.testing.assert_allclose(prob.sum(-1), 1.0, atol=1e-6)
    assert list(out["phase"].values) == list(PHASE_LABELS)

    assert out["init_time"].values.tolist() == [np.datetime64("2019-06-01", "ns").astype(int)]
    valid = out["valid_time"].values[0]
    assert [_month(v) for v in valid] == ["2019-07", "2019-08", "2019-09", "2019-10",
                                          "2019-11", "2019-12"]  # fmt: skip
    assert out["lead_month"].values.tolist() == [1, 2, 3, 4, 5, 6]
    days = (out["lead_time"].values / np.timedelta64(1, "D")).tolist()
    assert days == [30, 61, 92, 122, 153, 183]  # July 31 d, August 31 d, ... after June 1
    assert out["init_time"].attrs["standard_name"] == "forecast_reference_time"
    assert out["lead_time"].attrs["standard_name"] == "forecast_period"
    assert out.attrs["geostl_version"] == geostl.__version__
    assert yaml.safe_load(out.attrs["config"])["data"] == ckpt["config"]["data"]


def test_default_issue_is_the_last_complete_window(tiny_ckpt, sst):
    ckpt = load_checkpoint(tiny_ckpt)
    out = forecast_enso(ckpt, {"sst": sst})
    assert _month(out["init_time"].values[0]) == "2020-08"  # the sample's last month
    assert _month(out["valid_time"].values[0, -1]) == "2021-02"
    # an all-NaN last month ends no complete window: the window before it is used
    gap = sst.copy(deep=True)
    gap["sst"][-1] = np.nan
    out = forecast_enso(ckpt, {"sst": gap})
    assert _month(out["init_time"].values[0]) == "2020-07"
    again = forecast_enso(ckpt, {"sst": sst}, "2020-07-15")  # any time within the month
    np.testing.assert_array_equal(out["nino34_anom"].values, again["nino34_anom"].values)


def test_values_after_the_issue_month_never_reach_the_forecast(tiny_ckpt, sst):
    ckpt = load_checkpoint(tiny_ckpt)
    clean = forecast_enso(ckpt, {"sst": sst}, ISSUE)
    poisoned = sst.copy(deep=True)
    after = poisoned["time"].values.astype("datetime64[M]") > ISSUE
    poisoned["sst"].values[after] = 1e6
    indices = sample("sst_indices").copy(deep=True)
    indices["nino34_anom"].values[indices["time"].values.astype("datetime64[M]") > ISSUE] = 1e6
    got = forecast_enso(ckpt, {"sst": poisoned, "indices": indices}, ISSUE)
    for name in ("nino34_anom", "phase_probability", "most_likely_phase"):
        assert np.array_equal(got[name].values, clean[name].values), name
    # the poison inside the window does change it (so the comparison above can fail)
    inside = sst.copy(deep=True)
    inside["sst"].loc[{"time": "2019-06-01"}] = inside["sst"].sel(time="2019-06-01") + 5.0
    moved = forecast_enso(ckpt, {"sst": inside}, ISSUE)
    assert not np.array_equal(moved["nino34_anom"].values, clean["nino34_anom"].values)


def test_a_missing_or_empty_input_month_is_an_error_naming_it(tiny_ckpt, sst, tmp_path):
    ckpt = load_checkpoint(tiny_ckpt)
    dropped = sst.sel(time=slice(None, "2019-06-30")).drop_sel(time=np.datetime64("2019-03-01"))
    path = tmp_path / "sst_2010-01_2019-06.nc"
    dropped.to_netcdf(path)
    with pytest.raises(ValueError, match=r"SST month 2019-03 is missing.*sst_2010-01_2019-06\.nc"):
        forecast_enso(ckpt, {"sst": open_dataset(path)}, ISSUE)
    empty = sst.copy(deep=True)
    empty["sst"].loc[{"time": "2019-04-01"}] = np.nan
    with pytest.raises(ValueError, match=r"2019-04 is missing or all NaN.*data\.sources\.sst"):
        forecast_enso(ckpt, {"sst": empty}, ISSUE)
    with pytest.raises(ValueError, match=r"no SST map for the issue month 2020-09"):
        forecast_enso(ckpt, {"sst": sst}, "2020-09")


def test_a_gap_in_the_ocean_or_another_grid_is_refused(tiny_ckpt, sst):
    ckpt = load_checkpoint(tiny_ckpt)
    holed = sst.copy(deep=True)
    holed["sst"].loc[{"time": "2019-05-01", "lat": 4.0, "lon": 200.0}] = np.nan
    with pytest.raises(
        ValueError, match=r"2019-05 has no value \(NaN\) in 1 cells.*lat 4, lon 200"
    ):
        forecast_enso(ckpt, {"sst": holed}, ISSUE)
    with pytest.raises(ValueError, match=r"lon on the model's grid .* trained on 0\.\.352"):
        forecast_enso(ckpt, {"sst": sst.isel(lon=slice(0, 170))}, ISSUE)
    with pytest.raises(ValueError, match=r"needs the 'sst' source"):
        forecast_enso(ckpt, {"maps": sst}, ISSUE)


def test_geostl_forecast_writes_the_enso_forecast_as_netcdf(tiny_ckpt, sst, tmp_path):
    """The CLI path: SST months in a NetCDF file -> the index and phase forecast file."""
    from geostl.cli import main

    path = tmp_path / "ersst_2019-2020.nc"
    sst.sel(time=slice("2019-01", "2020-03")).to_netcdf(path, engine="h5netcdf")
    out = tmp_path / "enso_forecast.nc"
    assert main(["forecast", "--ckpt", str(tiny_ckpt), "--input", str(path),
                 "--out", str(out)]) == 0  # fmt: skip
    api = geostl.load(tiny_ckpt).forecast(sst.sel(time=slice("2019-01", "2020-03")))
    with xr.open_dataset(out, engine="h5netcdf") as written:
        assert _month(written.init_time.values[0]) == "2020-03"
        np.testing.assert_array_equal(written["nino34_anom"].values, api["nino34_anom"].values)
        probs = written["phase_probability"].values
        np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-6)
        assert written.attrs["Conventions"] == "CF-1.10"
