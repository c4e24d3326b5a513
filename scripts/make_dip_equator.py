"""Build the shipped table of the magnetic (dip) equator from the IGRF-14 main field.

Usage (ppigrf, a small pure-Python IGRF package, is needed by this script only)::

    pip install ppigrf==2.1.0
    python scripts/make_dip_equator.py src/geostl/outputs/_data/dip_equator_igrf14.csv

For each epoch 1900, 1905, ..., 2030 (IGRF-14's definitive and predictive models) and each
longitude -180, -178, ..., 180 degrees east, the geodetic latitude at which the field's
inclination is zero at 350 km altitude (the ionosphere's F-region peak, where the equatorial
ionisation anomaly's crests are ordered by the dip equator) is found by bisection in
[-30, 30] degrees, to 1e-4 degrees. The CSV has one row per epoch: ``epoch`` then the
latitudes at the longitudes named in the header.
"""

from __future__ import annotations

import sys
from datetime import datetime

import numpy as np

ALTITUDE_KM = 350.0
EPOCHS = np.arange(1900, 2031, 5)
LONGITUDES = np.arange(-180, 181, 2)


def inclination(lon: np.ndarray, lat: np.ndarray, when: datetime) -> np.ndarray:
    """Inclination (degrees, positive down) of IGRF-14 at ``ALTITUDE_KM``, geodetic lat."""
    import ppigrf

    be, bn, bu = ppigrf.igrf(lon, lat, ALTITUDE_KM, when)
    be, bn, bu = (np.asarray(b).reshape(np.shape(lon)) for b in (be, bn, bu))
    return np.degrees(np.arctan2(-bu, np.hypot(be, bn)))


def dip_latitudes(when: datetime) -> np.ndarray:
    lo = np.full(LONGITUDES.shape, -30.0)
    hi = np.full(LONGITUDES.shape, 30.0)
    lon = LONGITUDES.astype(float)
    if not (np.all(inclination(lon, lo, when) < 0) and np.all(inclination(lon, hi, when) > 0)):
        raise RuntimeError(f"{when}: the dip equator is not bracketed by +-30 degrees")
    while float(np.max(hi - lo)) > 1e-4:
        mid = 0.5 * (lo + hi)
        down = inclination(lon, mid, when) > 0
        hi = np.where(down, mid, hi)
        lo = np.where(down, lo, mid)
    return 0.5 * (lo + hi)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    rows = [["epoch", *(f"{v:d}" for v in LONGITUDES)]]
    for year in EPOCHS:
        lat = dip_latitudes(datetime(int(year), 1, 1))
        rows.append([f"{year:d}", *(f"{v:.3f}" for v in lat)])
    with open(argv[0], "w") as f:
        f.write(
            f"# magnetic (dip) equator: geodetic latitude (degrees north) of zero inclination at "
            f"{ALTITUDE_KM:g} km, IGRF-14, by scripts/make_dip_equator.py\n"
        )
        for row in rows:
            f.write(",".join(row) + "\n")
    print(f"{len(EPOCHS)} epochs x {len(LONGITUDES)} longitudes -> {argv[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
