"""Coastlines and the magnetic equator on the maps: shipped files read back, known places,
drawn on lat/lon grids only and the dip equator on TEC maps only."""

from __future__ import annotations

import numpy as np
import pytest

from geostl.outputs.figures import forecast_maps_figure
from geostl.outputs.geography import coastlines, dip_equator


def _near(lon, lat, x, y, km):
    """True when a coastline vertex lies within ``km`` of (x, y) degrees."""
    ok = np.isfinite(lon)
    d = np.hypot((lon[ok] - x) * np.cos(np.radians(y)), lat[ok] - y) * 111.2
    return float(d.min()) < km


def test_coastlines_pass_known_capes_and_never_along_the_map_edge():
    lon, lat = coastlines()
    assert np.isnan(lon).sum() > 100 and np.nanmin(lon) >= -180 and np.nanmax(lon) < 180
    assert _near(lon, lat, 18.47, -34.36, 150)  # Cape of Good Hope
    assert _near(lon, lat, -67.3, -55.98, 150)  # Cape Horn
    assert _near(lon, lat, 151.2, -33.86, 150)  # Sydney
    assert not _near(lon, lat, 20.0, 23.0, 800)  # the middle of the Sahara
    assert not _near(lon, lat, -150.0, 0.0, 800)  # the open Pacific
    # Natural Earth's closing segments (the 180 meridian, the south pole) were removed
    seg = np.isfinite(lon[:-1]) & np.isfinite(lon[1:])
    along_edge = seg & (np.abs(lon[:-1]) > 179.99) & (np.abs(lon[1:]) > 179.99)
    assert not along_edge.any() and np.nanmin(lat) > -89.9


def test_coastlines_wrap_into_a_0_to_360_grid_without_lines_across_the_map():
    lon, lat = coastlines(lon_min=0.0)
    assert np.nanmin(lon) >= 0.0 and np.nanmax(lon) < 360.0
    seg = np.isfinite(lon[:-1]) & np.isfinite(lon[1:])
    assert np.abs(np.diff(lon))[seg].max() < 180.0
    assert _near(lon, lat, 360.0 - 67.3, -55.98, 150)  # Cape Horn at 292.7 E


def test_dip_equator_at_the_equatorial_observatories():
    # Jicamarca (11.95 S, 76.87 W) was built on the dip equator; Thiruvananthapuram (8.5 N,
    # 76.9 E) and Addis Ababa's neighbourhood (9 N, 38.8 E) lie next to it
    assert dip_equator(np.datetime64("2010-06-01"), -76.87) == pytest.approx(-11.95, abs=1.5)
    assert dip_equator(2000.0, 76.9) == pytest.approx(8.5, abs=2.0)
    assert dip_equator(2000.0, 38.8) == pytest.approx(9.0, abs=2.0)
    # the same meridian in both conventions; between epochs linear in time
    assert dip_equator(2015.0, 290.0) == pytest.approx(dip_equator(2015.0, -70.0))
    mid = dip_equator(2012.5, [0.0, 100.0])
    ends = (dip_equator(2010.0, [0.0, 100.0]) + dip_equator(2015.0, [0.0, 100.0])) / 2
    np.testing.assert_allclose(mid, ends)
    with pytest.raises(ValueError, match="outside the IGRF-14 table"):
        dip_equator(1850.0, 0.0)


def _figure(channel, units, grid="latlon", init="2019-04-25T10:00"):
    rng = np.random.default_rng(0)
    truth = rng.random((4, 36, 72))
    lat, lon = np.linspace(87.5, -87.5, 36), np.linspace(-177.5, 177.5, 72)
    leads = np.arange(1, 5) * np.timedelta64(15, "m")
    return forecast_maps_figure(
        truth, truth + 0.1, lat, lon, lead_times=leads, init_time=np.datetime64(init),
        channel=channel, units=units, grid=grid,
    )  # fmt: skip


def test_tec_maps_get_coastlines_and_the_dip_equator_sst_maps_only_coastlines():
    tec = _figure("tec", "TECU")
    ax = tec.axes[0]
    assert len(ax.lines) == 2 and ax.get_aspect() == 1.0
    x, y = ax.lines[1].get_data()
    np.testing.assert_allclose(y, dip_equator(np.datetime64("2019-04-25T10:15"), x))
    assert "magnetic equator" in tec._suptitle.get_text()
    sst = _figure("sst", "degC")
    assert len(sst.axes[0].lines) == 1 and "magnetic" not in sst._suptitle.get_text()
    pixels = _figure("frames", "", grid="pixel")
    assert len(pixels.axes[0].lines) == 0
