"""IRI-2020 vertical TEC from PyIRI: the empirical physics baseline of TEC forecasting.

The International Reference Ionosphere gives monthly median electron-density profiles driven
by solar activity; IonoBench and others score TEC models against it. PyIRI (Forsythe et al.
2023, Space Weather) evaluates IRI-2020 on a global grid in Python with its coefficients
shipped in the package (no download). The baseline integrates PyIRI's daily electron-density
profiles (``IRI_density_1day``, CCIR foF2 coefficients) from 60 to 2000 km every 10 km
(``edp_to_vtec``) at each valid time, driven by one F10.7 value per forecast: the driver's
value at the issue time (what an operational forecast knows), in solar flux units. Optional
extra: ``pip install "geostl[iri]"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["IRI_ALTITUDES_KM", "iri_tec"]

#: UTs per PyIRI call (its profiles take UT x 195 altitudes x grid float64: 8 UTs on the
#: IONEX grid are about 65 MB)
_HOURS_PER_CALL = 8

IRI_ALTITUDES_KM = np.arange(60.0, 2000.0 + 1.0, 10.0)
"""The altitudes (km) the electron density is integrated over."""


def _pyiri():
    try:
        import PyIRI
        import PyIRI.main_library as library
    except ImportError as err:
        raise ImportError(
            "eval.baselines has 'iri' but PyIRI is not installed; install the optional extra "
            '(pip install "geostl[iri]") or remove iri from eval.baselines'
        ) from err
    return PyIRI, library


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
    """
    pyiri, library = _pyiri()
    times = np.asarray(valid_times).astype("datetime64[ns]")
    b, t = times.shape
    flux = np.broadcast_to(np.asarray(f107, dtype=np.float64), (b,))
    if not np.all(np.isfinite(flux)) or np.any(flux <= 0):
        raise ValueError(f"iri: F10.7 must be positive and finite, got {flux[~(flux > 0)][:3]}")
    lats = np.asarray(lat, dtype=np.float64)
    lons = np.asarray(lon, dtype=np.float64)
    grid_lon, grid_lat = np.meshgrid(lons, lats)
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
                grid_lon.ravel(),
                grid_lat.ravel(),
                altitudes_km,
                flux_value,
                pyiri.coeff_dir,
                0,
            )
            parts.append(library.edp_to_vtec(profiles, altitudes_km))
        tec = np.concatenate(parts).reshape(hours.size, lats.size, lons.size)
        for i, k in where:
            h = (pd.Timestamp(times[i, k]) - day) / pd.Timedelta(hours=1)
            out[i, k] = tec[int(np.flatnonzero(hours == h)[0])]
    return out
