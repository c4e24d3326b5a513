"""An agency's predicted maps as a baseline (eval.references), on hand-made IONEX files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from engine_toy import tec_datasets, tiny_model
from geostl.baselines import check_reference, reference_forecast
from geostl.commands.run import write_tables
from geostl.datasets import sample
from geostl.engine import evaluate
from geostl.io import write_ionex
from geostl.outputs.rmse_plot import metric_by_lead_figure
from geostl.runconfig import open_sources
from geostl.runconfig.spec import ConfigError
from geostl.tasks.iono.regrid import regrid_ionex

LAT = np.array([10.0, 0.0, -10.0])
LON = np.array([-180.0, -90.0, 0.0, 90.0, 180.0])


def _record(content: str, label: str) -> str:
    return f"{content:<60}{label:<20}"


def _ionex_text(epochs: list[tuple[int, ...]], maps: np.ndarray) -> str:
    """A small IONEX 1.0 file written here by hand: grid LAT x LON, values in 0.1 TECU."""
    head = [
        _record(f"{1.0:8.1f}{'':12}{'I':<20}GPS", "IONEX VERSION / TYPE"),
        _record(f"{'hand':<20}{'test':<20}{'01-jan-20 00:00':<20}", "PGM / RUN BY / DATE"),
        _record(f"{'a made-up 1-day prediction'}", "DESCRIPTION"),
        _record(f"{len(epochs):6d}", "# OF MAPS IN FILE"),
        _record(f"{2:6d}", "MAP DIMENSION"),
        _record(f"  {450.0:6.1f}{450.0:6.1f}{0.0:6.1f}", "HGT1 / HGT2 / DHGT"),
        _record(f"  {10.0:6.1f}{-10.0:6.1f}{-10.0:6.1f}", "LAT1 / LAT2 / DLAT"),
        _record(f"  {-180.0:6.1f}{180.0:6.1f}{90.0:6.1f}", "LON1 / LON2 / DLON"),
        _record(f"{-1:6d}", "EXPONENT"),
        _record("", "END OF HEADER"),
    ]
    body = []
    for k, (epoch, values) in enumerate(zip(epochs, maps, strict=True), start=1):
        body.append(_record(f"{k:6d}", "START OF TEC MAP"))
        body.append(_record("".join(f"{v:6d}" for v in epoch), "EPOCH OF CURRENT MAP"))
        for lat, row in zip(LAT, values, strict=True):
            body.append(
                _record(
                    f"  {lat:6.1f}{-180.0:6.1f}{180.0:6.1f}{90.0:6.1f}{450.0:6.1f}",
                    "LAT/LON1/LON2/DLON/H",
                )  # fmt: skip
            )
            body.append("".join(f"{int(v):5d}" for v in row))
        body.append(_record(f"{k:6d}", "END OF TEC MAP"))
    return "\n".join(head + body + [_record("", "END OF FILE")]) + "\n"


def _hand_made(tmp_path) -> tuple[str, np.ndarray]:
    """Maps at 00, 01, 02 UT on 2020-01-01; map k pixel (i, j) = 100 k + 10 i + j (0.1 TECU),
    except 9999 (no value) at (1, 2) of map 1."""
    k, i, j = np.meshgrid(np.arange(3), np.arange(3), np.arange(5), indexing="ij")
    maps = 100 * k + 10 * i + j
    maps[1, 1, 2] = 9999
    path = tmp_path / "cod0010.20p"
    epochs = [(2020, 1, 1, h, 0, 0) for h in range(3)]
    path.write_text(_ionex_text(epochs, maps))
    return str(path), maps


def _open(path: str, **entry) -> xr.Dataset:
    cfg = {"CODE": {"paths": [path], "format": "ionex", **entry}}
    return open_sources(cfg, section="eval.references")["CODE"]


def test_the_maps_at_the_valid_times_with_their_holes(tmp_path):
    path, maps = _hand_made(tmp_path)
    ref = _open(path)
    check_reference(ref, ["tec"], {"lat": LAT, "lon": LON}, {"tec": "1e16 m-2"})  # = TECU
    valid = np.array([["2020-01-01T01", "2020-01-01T02"], ["2020-01-01T00", "2020-01-01T01"]],
                     dtype="datetime64[ns]")  # fmt: skip
    forecast, ok = reference_forecast(ref, ["tec"], valid, where="eval.references.CODE")
    assert forecast.shape == ok.shape == (2, 2, 1, 3, 5)
    np.testing.assert_allclose(forecast[0, 1, 0], maps[2] / 10.0, atol=1e-5)  # float32 reader
    np.testing.assert_allclose(forecast[1, 0, 0], maps[0] / 10.0, atol=1e-5)
    assert np.isnan(forecast[0, 0, 0, 1, 2]) and not ok[0, 0, 0, 1, 2] and not ok[1, 1, 0, 1, 2]
    assert ok.sum() == 2 * 2 * 15 - 2
    assert forecast[0, 0, 0, 2, 4] == pytest.approx(12.4)  # 100 + 20 + 4 tenths


def test_a_valid_time_the_file_lacks_names_the_time_and_the_file(tmp_path):
    path, _ = _hand_made(tmp_path)
    ref = _open(path)
    valid = np.array([["2020-01-01T02", "2020-01-01T03", "2020-01-01T04"]], dtype="datetime64[ns]")
    with pytest.raises(ValueError) as err:
        reference_forecast(ref, ["tec"], valid, where="eval.references.CODE")
    text = str(err.value)
    assert "eval.references.CODE (cod0010.20p): no map at 2020-01-01 03:00:00" in text
    assert "2 of the 3 maps" in text and "2020-01-01 00:00:00 .. 2020-01-01 02:00:00" in text
    # the entry's transforms apply: every 2h keeps 00 and 02 UT only
    sparse = _open(path, every="2h")
    assert sparse.sizes["time"] == 2
    with pytest.raises(ValueError, match=r"no map at 2020-01-01 01:00:00"):
        reference_forecast(sparse, ["tec"], np.array([["2020-01-01T01"]], dtype="datetime64[ns]"))


def test_another_grid_units_or_variable_is_an_error(tmp_path):
    path, _ = _hand_made(tmp_path)
    ref = _open(path)
    with pytest.raises(
        ValueError,
        match=r"CODE \(cod0010.20p\): its lat grid \(3 points, 10 \.\. "
        r"-10\) differs from the targets' \(3 points, -10 \.\. 10\).*regrid",
    ):
        check_reference(ref, ["tec"], {"lat": LAT[::-1], "lon": LON}, where="CODE")  # fmt: skip
    with pytest.raises(ValueError, match=r"its lon grid \(5 points.*\(4 points"):
        check_reference(ref, ["tec"], {"lat": LAT, "lon": LON[:-1]})
    with pytest.raises(ValueError, match=r"tec is in 'TECU' but the targets are in 'K'"):
        check_reference(ref, ["tec"], {"lat": LAT, "lon": LON}, {"tec": "K"})
    with pytest.raises(KeyError, match=r"no variable\(s\) \['sst'\]"):
        check_reference(ref, ["sst"], {"lat": LAT, "lon": LON})
    with pytest.raises(ConfigError, match=r"eval.references.CODE.regird"):
        _open(path, regird="iono72")
    with pytest.raises(ConfigError, match=r"eval.references.CODE"):
        _open(path, regrid="iono72")  # a 3 x 5 grid is not the IONEX global grid


def test_regrid_iono72_of_a_file_built_from_the_shipped_sample(tmp_path):
    maps = sample("tec").isel(time=slice(0, 5))
    predicted = write_ionex(maps["tec"] + 1.0, tmp_path / "cod1160.19p").path
    ref = _open(str(predicted), regrid="iono72")
    truth = regrid_ionex(maps, "iono72")
    grid = {"lat": truth["lat"].values, "lon": truth["lon"].values}
    check_reference(ref, ["tec"], grid, {"tec": "TECU"})
    valid = maps["time"].values[None, 1:]
    forecast, ok = reference_forecast(ref, ["tec"], valid)
    want = truth["tec"].transpose("time", "lat", "lon").values[1:] + 1.0
    np.testing.assert_allclose(forecast[0, :, 0], want, atol=1e-4)
    assert ok.all() and forecast.shape == (1, 4, 1, 72, 72)
    with pytest.raises(ValueError, match=r"its lat grid \(71 points.*\(72 points.*regrid"):
        check_reference(_open(str(predicted)), ["tec"], grid)


def test_an_agency_prediction_in_the_engine_tables_and_figure(tmp_path):
    """A predicted IONEX file (the truth + 1 TECU at every test valid time, no value poleward
    of 80 deg) scores MAE 1 on the pixels every forecast has, under its own label."""
    ds, sources, _ = tec_datasets(t_out=4)
    test = ds["test"]
    maps = sources["maps"]["tec"]
    first = test.window_times(0)[test.t_in]
    last = test.window_times(len(test) - 1)[-1]
    predicted = maps.sel(time=slice(first, last)) + 1.0
    predicted = predicted.where(np.abs(predicted.lat) < 80).rename("tec")
    path = write_ionex(predicted, tmp_path / "cod1160.19p").path  # a made-up 1-day prediction
    cfg = {"baselines": ["persistence"],
           "references": {"CODE 1-day": {"paths": [str(path)], "format": "ionex"}}}  # fmt: skip
    model = tiny_model(ds["train"])
    tables = evaluate(model, test, cfg)
    for lead in ("+15 min", "all"):
        mae = tables["CODE 1-day"].value("mae", "tec", lead, "lat")
        assert mae == pytest.approx(1.0, abs=1e-5)  # the UPC maps are 0.1 TECU exact
    assert "skill_CODE 1-day" in tables["model"].metrics()
    # every forecast on the same pixels: CODE's holes (8 of the 71 latitude rows) drop out of
    # the persistence's and the model's scores too
    alone = evaluate(model, test, {"baselines": ["persistence"]})["persistence"]
    counts = {k: t.value("n_valid", "tec", "all") for k, t in tables.items()}
    full = alone.value("n_valid", "tec", "all")
    assert set(counts.values()) == {full * 63 / 71} and full > 0
    write_tables(tables, test, tmp_path, "tiny")
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert set(written["tables"]) == {"model", "persistence", "CODE 1-day"}
    md = (tmp_path / "metrics.md").read_text()
    assert "CODE 1-day" in md and "skill_CODE 1-day" in md
    figure = metric_by_lead_figure(tables, "tec")
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert legend == ["model", "persistence", "CODE 1-day"]


def test_the_engine_refuses_a_reference_on_another_grid_or_short_of_times(tmp_path):
    ds, sources, _ = tec_datasets(t_out=4)
    test = ds["test"]
    maps = sources["maps"]["tec"]
    first = test.window_times(0)[test.t_in]
    last = test.window_times(len(test) - 1)[-1]
    predicted = maps.sel(time=slice(first, last)) + 1.0
    full = write_ionex(predicted, tmp_path / "full.19p").path
    entry = {"paths": [str(full)], "format": "ionex", "regrid": "iono72"}
    model = tiny_model(ds["train"])
    with pytest.raises(ValueError, match=r"eval.references.CODE \(full.19p\): its lat grid"):
        evaluate(model, test, {"baselines": [], "references": {"CODE": entry}})
    short = write_ionex(predicted.isel(time=slice(0, -1)), tmp_path / "short.19p").path
    entry = {"paths": [str(short)], "format": "ionex"}
    with pytest.raises(ValueError, match=r"eval.references.CODE \(short.19p\): no map at "
                                         r"2019-04-27 00:00"):  # fmt: skip
        evaluate(model, test, {"baselines": [], "references": {"CODE": entry}})
