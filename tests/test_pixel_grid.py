"""Pixel-grid sources (dims time, y, x) through the pipeline: the contract's checks, the
geographic-only parts refused, plain-only metrics checked against numpy, NetCDF and figures
on y/x, and ``geostl train`` + ``geostl predict`` end to end on generated TaxiBJ files."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
import xarray as xr

from geostl.data import build_datasets, target_axis
from geostl.engine import evaluate
from geostl.models import meta_from_dataset
from geostl.outputs import forecast_maps_figure, write_forecast_netcdf
from taxibj_files import flows, slot_labels, write_taxibj

H, W = 6, 5


def _pixel_source(n: int = 60, seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    times = np.datetime64("2020-01-01T00:00") + np.arange(n) * np.timedelta64(30, "m")
    data = {
        name: (("time", "y", "x"), rng.normal(10.0 * (c + 1), 2.0, (n, H, W)), {"units": "count"})
        for c, name in enumerate(("inflow", "outflow"))
    }
    return xr.Dataset(data, coords={"time": times, "y": np.arange(H), "x": np.arange(W)})


def _config(**extra) -> dict:
    cfg = {
        "schema": {"targets": {"source": "img", "variables": ["inflow", "outflow"]}},
        "splits": {
            "train": {"start": "2020-01-01T00:00", "end": "2020-01-01T14:00"},
            "val": {"start": "2020-01-01T16:00", "end": "2020-01-01T21:00"},
            "test": {"start": "2020-01-01T23:00", "end": "2020-01-02T06:00"},
        },
        "window": {"t_in": 2, "t_out": 2},
    }
    cfg.update(extra)
    return cfg


def test_target_axis_records_a_pixel_grid() -> None:
    axis = target_axis(_pixel_source(), ("inflow", "outflow"), "img")
    assert axis.kind == "pixel" and axis.dims == ("y", "x")
    np.testing.assert_array_equal(axis.rows, np.arange(H))
    np.testing.assert_array_equal(axis.cols, np.arange(W))
    assert axis.step == np.timedelta64(30, "m")
    with pytest.raises(ValueError, match="pixel grid.*no latitudes"):
        axis.lat  # noqa: B018
    geo = _pixel_source().rename(y="lat", x="lon")
    assert target_axis(geo, ("inflow",), "geo").kind == "latlon"


def test_the_contract_is_checked() -> None:
    ds = _pixel_source()
    with pytest.raises(ValueError, match=r"coordinate 'y' must be the integers 0 \.\. 5"):
        target_axis(ds.assign_coords(y=np.arange(1, H + 1)), ("inflow",), "img")
    del ds["outflow"].attrs["units"]
    with pytest.raises(ValueError, match=r"target\(s\) \['outflow'\] have no 'units'"):
        target_axis(ds, ("inflow", "outflow"), "img")
    mixed = xr.merge(
        [_pixel_source()[["inflow"]], _pixel_source().rename(y="lat", x="lon")[["outflow"]]]
    )
    with pytest.raises(ValueError, match="mix geographic and pixel"):
        target_axis(mixed, ("inflow", "outflow"), "img")
    odd = _pixel_source().rename(x="lon")
    with pytest.raises(ValueError, match=r"expected dims \(time, lat, lon\) or.*\(time, y, x\)"):
        target_axis(odd, ("inflow",), "img")


def test_geographic_static_planes_and_features_are_refused() -> None:
    sources = {"img": _pixel_source()}
    schema = {"targets": {"source": "img", "variables": ["inflow"]}, "static": [{"kind": "lat"}]}
    with pytest.raises(ValueError, match=r"data\.schema\.static\[0\] \('lat', kind 'lat'\)"):
        build_datasets(_config(schema=schema), sources)
    schema = {
        "targets": {"source": "img", "variables": ["inflow"]},
        "forcings": [{"computed": "lst_sin"}],
    }
    with pytest.raises(ValueError, match=r"data\.schema\.forcings: 'lst_sin'.*pixel grid"):
        build_datasets(_config(schema=schema), sources)


def test_a_pixel_mask_and_row_fractions_are_allowed() -> None:
    src = _pixel_source()
    mask = np.ones((H, W))
    mask[0, :2] = 0
    sources = {"img": src, "m": xr.Dataset({"valid": (("y", "x"), mask)})}
    schema = {
        "targets": {"source": "img", "variables": ["inflow"]},
        "forcings": [{"computed": "lat_index"}],
        "static": [
            {"kind": "mask", "source": "m", "variable": "valid", "valid": [1], "area": True}
        ],
    }
    ds = build_datasets(_config(schema=schema), sources)["train"]
    assert ds.grid_kind == "pixel" and ds.lat is None and ds.lon is None
    assert not bool(ds.area_mask[0, 0]) and bool(ds.area_mask[1, 0])
    np.testing.assert_allclose(ds[0]["forcings_in"][0, 0, :, 0].numpy(), np.arange(H) / H)
    meta = meta_from_dataset(ds)
    assert (meta["height"], meta["width"], meta["lon"]) == (H, W, None)


class _Constant(torch.nn.Module):
    """Forecasts 0 in normalised units everywhere (the train mean in physical units)."""

    def __init__(self) -> None:
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(()))

    def forward(self, batch: dict) -> dict:
        return {"pred": torch.zeros_like(batch["targets"]) + 0 * self.p}


def test_metrics_are_plain_only_and_match_numpy() -> None:
    src = _pixel_source()
    datasets = build_datasets(_config(), {"img": src})
    test = datasets["test"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tables = evaluate(
            _Constant(), test, {"baselines": ["persistence", "sun_fixed"]}, {"img": src}
        )
    assert any("pixel grid" in str(w.message) for w in caught)
    assert set(tables) == {"model", "persistence"}
    model = tables["model"]
    # no cos-latitude rows: errors are plain, and the valid-pixel counts are counts
    assert {r["weighting"] for r in model.rows} == {"plain", "count"}
    assert {r["weighting"] for r in model.rows if r["metric"] in ("mse", "rmse", "mae")} == {
        "plain"
    }
    # independent: the train mean held, MSE over every test target frame, per lead, float64
    norm = test.normaliser
    for name in ("inflow", "outflow"):
        y = src[name].values
        starts = test.starts
        for lead in range(2):
            truth = y[starts + 2 + lead]
            mse = np.mean((truth - norm.offsets[name]) ** 2)
            label = model.leads()[lead]
            # samples are float32 (normalised, then de-normalised in float64)
            assert model.value("mse", name, label, "plain") == pytest.approx(mse, rel=1e-6)


def test_netcdf_and_figures_use_pixel_rows_and_columns(tmp_path) -> None:
    pred = np.random.default_rng(0).normal(size=(3, 2, 1, H, W)).astype(np.float32)
    init = np.datetime64("2020-01-01T00:00") + np.arange(3) * np.timedelta64(30, "m")
    leads = np.arange(1, 3) * np.timedelta64(30, "m")
    out = write_forecast_netcdf(
        tmp_path / "f.nc",
        pred,
        init,
        leads,
        np.arange(H),
        np.arange(W),
        ["gray"],
        ["1"],
        grid="pixel",
    )
    ds = xr.open_dataset(out)
    assert ds["gray"].dims == ("init_time", "lead_time", "y", "x")
    np.testing.assert_array_equal(ds["y"].values, np.arange(H))
    assert ds["y"].attrs["long_name"].startswith("pixel row")
    np.testing.assert_array_equal(ds["gray"].values, pred[:, :, 0])
    ds.close()
    truth = pred[0, :, 0]
    fig = forecast_maps_figure(truth, truth + 1, np.arange(H), np.arange(W), grid="pixel")
    ax = fig.axes[0]
    assert ax.get_ylabel().startswith("row y") and fig.axes[4].get_xlabel().startswith("column")
    bottom, top = ax.get_ylim()
    assert top < bottom  # row 0 at the top, as in an image


@pytest.mark.slow  # over 5 s on 2 cores (make test-fast leaves it out)
def test_geostl_train_and_predict_on_taxibj_files(tmp_path) -> None:
    from geostl.cli import main

    days = [f"201307{d:02d}" for d in range(1, 5)]
    labels = [s for s in slot_labels(days) if s != b"2013070220"]  # one missing slot
    path = write_taxibj(tmp_path / "BJ13_M32x32_T30_InOut.h5", labels, flows(len(labels), 4))
    config = tmp_path / "taxibj.yaml"
    config.write_text(
        f"""
run: {{name: tiny, dir: {tmp_path / "runs"}}}
data:
  sources: {{taxibj: {{paths: {path}, format: taxibj}}}}
  schema: {{targets: {{source: taxibj, variables: [inflow, outflow]}}}}
  splits:
    train: {{start: "2013-07-01T00:00", end: "2013-07-02T20:00"}}
    val: {{start: "2013-07-03T00:00", end: "2013-07-03T05:00"}}
    test: {{start: "2013-07-04T00:00", end: "2013-07-04T05:00"}}
  window: {{t_in: 4, t_out: 4}}
  normalisation: {{method: minmax}}
model:
  backbone: {{name: simvp, model_type: gSTA, hid_S: 4, hid_T: 8, N_S: 2, N_T: 2}}
train: {{epochs: 1, max_steps_per_epoch: 2, batch_size: 4, max_minutes: null, device: cpu}}
eval: {{baselines: [persistence, climatology], climatology_by: time_of_day, figure_leads: [3]}}
"""
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["train", "--config", str(config)]) == 0
    run = tmp_path / "runs" / "tiny"
    tables = json.loads((run / "metrics.json").read_text())["tables"]
    assert set(tables) == {"model", "persistence", "climatology"}
    for table in tables.values():
        assert "lat" not in {r["weighting"] for r in table["rows"]}
        assert {r["weighting"] for r in table["rows"] if r["metric"] == "rmse"} == {"plain"}
    assert "inflow" in (run / "metrics.md").read_text()
    assert (run / "forecast_maps.png").stat().st_size > 0
    out = tmp_path / "pred.nc"
    assert main(["predict", "--ckpt", str(run / "best.pt"), "--out", str(out)]) == 0
    with xr.open_dataset(out) as pred:
        assert pred["inflow"].dims == ("init_time", "lead_time", "y", "x")
        assert pred.sizes["y"] == 32 and pred["inflow"].attrs["units"] == "count"
        assert pred["init_time"].values[0] == np.datetime64("2013-07-04T01:30")


def test_grid_scores_fall_back_to_plain_and_say_so() -> None:
    from geostl.commands.grid.scores import score_windows
    from geostl.commands.grid.table import table_notes

    src = _pixel_source()
    test = build_datasets(_config(), {"img": src})["test"]
    scores = score_windows(_Constant(), test, {}, "inflow", batch_size=4)
    assert scores["weighting"] == "plain" and scores["units"] == "count"
    # plain RMSE is the square root of the plain pooled MSE (no cos-latitude weight anywhere)
    assert scores["rmse"] == pytest.approx(np.sqrt(scores["mse"]), rel=1e-12)
    result = {"scores": scores, "channels": 1, "policy": None, "uses_future_observed": False}
    result["complexity"] = {
        "device": "cpu",
        "device_name": "x",
        "threads": 1,
        "batch_size": 4,
        "warmup": 0,
        "batches": 1,
    }
    result.update(cell="c", backbone="simvp", fusion="none")
    notes = " ".join(table_notes([result], [], [], ["inflow"], "test", "runs"))
    assert "RMSE (count): unweighted (a pixel grid" in notes and "cos(latitude)" not in notes
