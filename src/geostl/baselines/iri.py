"""IRI-2020 vertical TEC from PyIRI: the empirical physics baseline of TEC forecasting.

The International Reference Ionosphere gives monthly median electron-density profiles driven
by solar activity; IonoBench and others score TEC models against it. PyIRI (Forsythe et al.
2023, Space Weather) evaluates IRI-2020 on a global grid in Python with its coefficients
shipped in the package (no download). The baseline integrates PyIRI's daily electron-density
profiles (``IRI_density_1day``, CCIR foF2 coefficients) from 60 to 2000 km every 10 km
(``edp_to_vtec``) at each valid time, driven by one F10.7 value per forecast: the driver's
value at the issue time (what an operational forecast knows), in solar flux units, from the
run's F10.7 forcing channel or from a driver series (:func:`f107_at`). Nothing is downloaded
at run time. Optional extra: ``pip install "geostl[iri]"``.

PyIRI (0.1.7) scales its F1-layer transition by the largest value over all the points and
UTs of one call (``Probability_F1``), so on a regional grid its maps would depend on which
valid times share a call (on the batch size). Every call here gets 36 daytime anchor points
(dropped from the result) that fix that scale at its global-grid value: each map depends only
on its valid time, place and F10.7, and equals PyIRI's maps on any global grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["IRI_ALTITUDES_KM", "f107_at", "iri_tec", "require_pyiri"]

#: UTs per PyIRI call (its profiles take UT x 195 altitudes x grid float64: 8 UTs on the
#: IONEX grid are about 65 MB)
_HOURS_PER_CALL = 8

IRI_ALTITUDES_KM = np.arange(60.0, 2000.0 + 1.0, 10.0)
"""The altitudes (km) the electron density is integrated over."""

#: daytime anchors added to every PyIRI call: latitudes -23, 0, 23 deg x longitudes every 30
#: deg, so that some point lies within 20 deg of the subsolar point at any UT of the year
_ANCHOR_LON, _ANCHOR_LAT = np.meshgrid(np.arange(-180.0, 180.0, 30.0), [-23.0, 0.0, 23.0])


def require_pyiri():
    """``(PyIRI, PyIRI.main_library)``; an ImportError saying how to install the extra."""
    try:
        import PyIRI
        import PyIRI.main_library as library
    except ImportError as err:
        raise ImportError(
            "eval.baselines has 'iri' but PyIRI is not installed; install the optional extra "
            '(pip install "geostl[iri]") or remove iri from eval.baselines'
        ) from err
    return PyIRI, library


def f107_at(series: xr.DataArray, issue_times: np.ndarray, where: str = "iri F10.7") -> np.ndarray:
    """The F10.7 known at each issue time, from a driver series on its own time axis.

    A sample stamped ``t_k`` describes ``[t_k, t_k + D)`` (``D`` its interval, inferred from
    the stamps), so the value known at an issue time ``t`` is that of the latest sample whose
    interval has ended, ``t_k + D <= t``, and it must be the most recent one
    (``previous_complete`` of :mod:`geostl.data.align`, the default of observed drivers):
    nothing after the issue time is read. An OMNI2 hourly record stamped 10:00 is known from
    11:00.

    Args:
        series: (time,) F10.7 [sfu] (e.g. OMNI2's daily flux on its hourly axis).
        issue_times: (B,) datetime64 issue times (the last input map of each forecast).
        where: how the error messages name the series (e.g. ``omni.f107``).

    Returns:
        (B,) float64 F10.7 [sfu].

    Raises:
        ValueError: ``series`` is not one time axis, or has no current, finite value at some
            issue time (naming the first such time).
    """
    from geostl.data.align import align_indices, infer_interval

    if series.dims != ("time",):
        raise ValueError(f"{where}: expected a (time,) series, got dims {series.dims}")
    stamps = np.asarray(series["time"].values).astype("datetime64[ns]")
    values = np.asarray(series.values, dtype=np.float64)
    issue = np.asarray(issue_times).astype("datetime64[ns]")
    interval = infer_interval(stamps, where)
    i0, _, _, found = align_indices(stamps, issue, "previous_complete", interval, where)
    out = np.where(found, values[i0], np.nan)
    bad = ~np.isfinite(out)
    if bad.any():
        k = int(np.argmax(bad))
        why = (
            f"the sample at {pd.Timestamp(stamps[i0[k]])} is NaN"
            if found[k]
            else f"no {pd.Timedelta(interval)} sample ends in the {pd.Timedelta(interval)} "
            "before it"
        )
        raise ValueError(
            f"{where}: no F10.7 at the issue time {pd.Timestamp(issue[k])}: {why} "
            f"({int(bad.sum())} of {bad.size} issue times; the series holds "
            f"{pd.Timestamp(stamps[0])} .. {pd.Timestamp(stamps[-1])})"
        )
    return out


def iri_tec(
    valid_times: np.ndarray,
    lat: Sequence[float],
    lon: Sequence[float],
    f107: np.ndarray | float,
    altitudes_km: np.ndarray = IRI_ALTITUDES_KM,
) -> np.ndarray:
    """IRI-2020 vertical TEC (TECU) at each valid time on the (lat, lon) grid.

    Args:
        valid_times: (B, T) datetime64 (UTC) valid times.
        lat: (H,) degrees north; lon: (W,) degrees east.
        f107: (B,) F10.7 (sfu) driving forecast b, or one value for all.
        altitudes_km: the integration altitudes (60 .. 2000 km every 10 km).

    Returns:
        (B, T, H, W) float64 TECU.

    Raises:
        ImportError: PyIRI is not installed (naming the extra).
        ValueError: an F10.7 that is not positive and finite (naming the forecast's first
            valid time).
    """
    pyiri, library = require_pyiri()
    times = np.asarray(valid_times).astype("datetime64[ns]")
    b, t = times.shape
    flux = np.broadcast_to(np.asarray(f107, dtype=np.float64), (b,))
    bad = ~(np.isfinite(flux) & (flux > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"iri: F10.7 must be positive and finite (sfu), got {flux[i]} for the forecast "
            f"valid from {pd.Timestamp(times[i, 0])} ({int(bad.sum())} of {b} forecasts)"
        )
    lats = np.asarray(lat, dtype=np.float64)
    lons = np.asarray(lon, dtype=np.float64)
    grid_lon, grid_lat = np.meshgrid(lons, lats)
    n_grid = grid_lon.size
    call_lon = np.concatenate([grid_lon.ravel(), _ANCHOR_LON.ravel()])
    call_lat = np.concatenate([grid_lat.ravel(), _ANCHOR_LAT.ravel()])
    out = np.empty((b, t, lats.size, lons.size), dtype=np.float64)
    # one PyIRI call per (day, F10.7) with all the UTs of that day it needs
    groups: dict[tuple[pd.Timestamp, float], list[tuple[int, int]]] = {}
    for i in range(b):
        for k in range(t):
            day = pd.Timestamp(times[i, k]).normalize()
            groups.setdefault((day, float(flux[i])), []).append((i, k))
    for (day, flux_value), where in groups.items():
        hours = np.array(
            sorted({(pd.Timestamp(times[i, k]) - day) / pd.Timedelta(hours=1) for i, k in where})
        )
        parts = []
        for a in range(0, hours.size, _HOURS_PER_CALL):  # profiles: (UT, altitude, grid)
            *_, profiles = library.IRI_density_1day(
                day.year,
                day.month,
                day.day,
                hours[a : a + _HOURS_PER_CALL],
                call_lon,
                call_lat,
                altitudes_km,
                flux_value,
                pyiri.coeff_dir,
                0,
            )
            parts.append(library.edp_to_vtec(profiles, altitudes_km)[:, :n_grid])
        tec = np.concatenate(parts).reshape(hours.size, lats.size, lons.size)
        for i, k in where:
            h = (pd.Timestamp(times[i, k]) - day) / pd.Timedelta(hours=1)
            out[i, k] = tec[int(np.flatnonzero(hours == h)[0])]
    return out
