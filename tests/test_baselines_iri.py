"""IRI-2020 TEC from PyIRI (the iri extra) as a baseline, driven by the F10.7 at the issue time."""

from __future__ import annotations

import socket
import sys

import numpy as np
import pytest
import torch
import xarray as xr

from engine_toy import tec_datasets
from geostl.baselines import f107_at, iri_tec
from geostl.baselines.iri import IRI_ALTITUDES_KM
from geostl.engine.config import EvalConfig
from geostl.engine.evaluate import _ExtraBaselines

LAT = np.array([70.0, 50.0, -60.0])  # a regional grid on the night side at 09-11 UT
LON = np.array([-150.0, -120.0, -90.0, -60.0])
#: a global grid holding LAT x LON: on it PyIRI's maps do not depend on what else one call holds
GLOBAL_LAT, GLOBAL_LON = np.arange(-80.0, 81.0, 10.0), np.arange(-180.0, 180.0, 30.0)


def _direct(day: str, hours: list[float], f107: float) -> np.ndarray:
    """PyIRI called here on the global grid, one UT per call, read at LAT x LON:
    (len(hours), 3, 4) TECU."""
    pyiri = pytest.importorskip("PyIRI")
    import PyIRI.main_library as library

    y, m, d = (int(x) for x in day.split("-"))
    grid_lon, grid_lat = np.meshgrid(GLOBAL_LON, GLOBAL_LAT)
    rows = [int(np.flatnonzero(GLOBAL_LAT == v)[0]) for v in LAT]
    cols = [int(np.flatnonzero(GLOBAL_LON == v)[0]) for v in LON]
    out = []
    for hour in hours:
        *_, edp = library.IRI_density_1day(y, m, d, np.array([hour]), grid_lon.ravel(),
                                           grid_lat.ravel(), IRI_ALTITUDES_KM, f107,
                                           pyiri.coeff_dir, 0)  # fmt: skip
        tec = library.edp_to_vtec(edp, IRI_ALTITUDES_KM).reshape(grid_lat.shape)
        out.append(tec[np.ix_(rows, cols)])
    return np.stack(out)


def _no_network(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the iri baseline tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_iri_tec_equals_pyiri_called_directly_offline(monkeypatch):
    pytest.importorskip("PyIRI")
    _no_network(monkeypatch)
    # forecast 0: 3 UTs on the first day (two PyIRI calls: 2 night-side UTs, 1 day-side) and
    # one after midnight; forecast 1: the same first-day UTs with another F10.7. Each map
    # equals PyIRI's for its one UT on a global grid: neither the small grid nor the UTs that
    # share a call change it (PyIRI alone would: it scales its F1 layer by the largest value
    # of a call, 14 % off at one pixel here)
    monkeypatch.setattr("geostl.baselines.iri._HOURS_PER_CALL", 2)
    hours = [9.5, 10.5, 14.25]
    first = np.datetime64("2019-04-26", "ns") + (np.array(hours) * 3600e9).astype("timedelta64[ns]")
    times = np.stack([np.append(first, np.datetime64("2019-04-27T00:30", "ns")),
                      np.append(first, first[0])])  # fmt: skip
    got = iri_tec(times, LAT, LON, np.array([72.5, 150.0]))
    assert got.shape == (2, 4, 3, 4)
    np.testing.assert_allclose(got[0, :3], _direct("2019-04-26", hours, 72.5), rtol=1e-12)
    np.testing.assert_allclose(got[0, 3:], _direct("2019-04-27", [0.5], 72.5), rtol=1e-12)
    np.testing.assert_allclose(got[1, :3], _direct("2019-04-26", hours, 150.0), rtol=1e-12)
    np.testing.assert_array_equal(got[1, 3], got[1, 0])
    assert 1.0 < float(got[0, :3].mean()) < float(got[1, :3].mean()) < 200.0  # TECU, more flux
    with pytest.raises(ValueError, match=r"F10.7 must be positive.*nan for the forecast valid "
                                         r"from 2019-04-26 09:30:00 \(1 of 2"):  # fmt: skip
        iri_tec(times, LAT, LON, np.array([72.5, np.nan])[::-1])


def test_a_clear_error_without_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "PyIRI", None)  # import PyIRI now raises ImportError
    monkeypatch.setitem(sys.modules, "PyIRI.main_library", None)
    times = np.array([["2019-04-26T10:00"]], dtype="datetime64[ns]")
    with pytest.raises(ImportError, match=r"PyIRI is not installed.*geostl\[iri\]"):
        iri_tec(times, LAT, LON, 70.0)
    ds, sources, _ = tec_datasets(t_out=2)
    cfg = EvalConfig.from_dict({"baselines": ["iri"]})
    with pytest.raises(ImportError, match=r"eval.baselines has 'iri' but PyIRI is not installed"):
        _ExtraBaselines(ds["test"], sources, cfg, ["iri"])


def _hourly(values: list[float]) -> xr.DataArray:
    t = np.datetime64("2019-04-26T00", "ns") + np.arange(len(values)) * np.timedelta64(1, "h")
    return xr.DataArray(np.array(values), dims="time", coords={"time": t}, name="f107")


def test_the_f107_known_at_the_issue_time():
    series = _hourly([70.0, 71.0, 72.0, np.nan, 74.0])
    issue = np.array(["2019-04-26T01:00", "2019-04-26T02:59", "2019-04-26T02:00"],
                     dtype="datetime64[ns]")  # fmt: skip
    # an hourly record stamped 01:00 is complete, hence known, from 02:00
    assert f107_at(series, issue).tolist() == [70.0, 71.0, 71.0]
    with pytest.raises(
        ValueError,
        match=r"omni.f107: no F10.7 at the issue time 2019-04-26 "
        r"04:30:00: the sample at 2019-04-26 03:00:00 is NaN",
    ):
        f107_at(series, np.array(["2019-04-26T04:30"], dtype="datetime64[ns]"), "omni.f107")
    with pytest.raises(
        ValueError,
        match=r"issue time 2019-04-26 00:30:00: no 0 days 01:00:00 "
        r"sample ends",
    ):
        f107_at(series, np.array(["2019-04-26T00:30"], dtype="datetime64[ns]"))
    with pytest.raises(ValueError, match=r"issue time 2019-04-26 07:00:00"):
        f107_at(series, np.array(["2019-04-26T07:00"], dtype="datetime64[ns]"))
    with pytest.raises(ValueError, match=r"expected a \(time,\) series"):
        f107_at(series.expand_dims(lat=[0.0]), issue)


def test_the_engine_names_a_wrong_f107():
    pytest.importorskip("PyIRI")
    ds, sources, _ = tec_datasets(t_out=2)
    test = ds["test"]
    for name, error, match in (
        ("flux", ValueError, r"eval.iri_f107: 'flux' is neither a scalar forcing channel.*'kp'"
                             r".*nor SOURCE.VARIABLE of the sources \(\['maps', 'omni'\]\)"),
        ("omni.flux", KeyError, r"eval.iri_f107: source 'omni' has no variable 'flux'"),
    ):  # fmt: skip
        cfg = EvalConfig.from_dict({"baselines": ["iri"], "iri_f107": name})
        with pytest.raises(error, match=match):
            _ExtraBaselines(test, sources, cfg, ["iri"])


@pytest.mark.slow
def test_iri_in_the_engine_uses_the_f107_at_the_issue_time():
    pytest.importorskip("PyIRI")
    ds, sources, _ = tec_datasets(t_out=2)
    test = ds["test"]
    batch = torch.utils.data.default_collate([test[0], test[5]])
    maps = {}
    for name in ("f107", "omni.f107"):  # the forcing channel, then the driver series
        cfg = EvalConfig.from_dict({"baselines": ["iri"], "iri_f107": name})
        maps[name] = _ExtraBaselines(test, sources, cfg, ["iri"]).forecasts(batch)["iri"]
    # the channel is aligned previous_complete, as f107_at reads the series: the same maps
    torch.testing.assert_close(maps["f107"], maps["omni.f107"], rtol=0, atol=0)
    got = maps["f107"]  # (2, 2, 1, 72, 76) on the padded grid
    for row, k in enumerate((0, 5)):
        f107 = test.forcings.series("f107")[test.starts[k] + test.t_in - 1]  # the issue time
        times = test.window_times(k)[test.t_in :][None]
        want = iri_tec(times, test.axis.rows, test.axis.cols, np.array([f107]))
        np.testing.assert_array_equal(test.grid_adjust.undo(got[row, :, 0]).numpy(), want[0])
