"""IONEX's native 71 x 73 global grid -> the Channel Mixer paper's 72 x 72 grid (or 71 x 72).

IONEX global maps (CODE, IGS, UPC ...) are stored on latitudes 87.5 N .. 87.5 S every 2.5 deg
(71 rows) and longitudes -180 .. 180 E every 5 deg (73 columns); the first and the last column
are the same meridian. The seed's ``iono_electron`` archive holds 72 x 72 maps "derived from
CODE's 71 x 73 grid" without saying how (the Channel Mixer paper, Liu et al. 2024). We define:

- ``native``: drop the last column (+180 E, the repeat of -180 E) -> 71 x 72, longitudes
  -180 .. 175 E every 5 deg. In CODE maps the two columns are equal; some centres' maps (UPC
  UQRG) differ there (up to about 11 TECU on the built-in sample): the -180 E column is kept
  and the largest difference is recorded in ``attrs["regrid_seam_max_abs_diff"]``.
- ``iono72``: ``native``, then each longitude column is linearly interpolated in latitude onto
  72 equally spaced latitudes from 87.5 N to 87.5 S (step 175/71 = 2.4648 deg):
  ``x(phi) = (1 - w) x[i] + w x[i + 1]`` with ``phi_i >= phi > phi_{i+1}`` the bracketing source
  latitudes and ``w = (phi_i - phi) / (phi_i - phi_{i+1})``, in float64, cast back to the
  variable's dtype. No extrapolation is needed (both end rows lie on source rows and are copied
  exactly); a NaN neighbour gives NaN (nothing is filled).

Every variable with a ``lat`` dim is interpolated (``tec`` and ``rms``: the RMS is interpolated
like the TEC, which is a simplification); every variable with a ``lon`` dim loses the last
column; other variables are kept as they are.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

REGRID_CHOICES = ("native", "iono72")
IONEX_LAT = 87.5 - 2.5 * np.arange(71)
"""The IONEX global latitudes, 87.5 .. -87.5 deg north (71,)."""
IONEX_LON = -180.0 + 5.0 * np.arange(73)
"""The IONEX global longitudes, -180 .. 180 deg east (73,)."""
IONO72_LAT = np.linspace(87.5, -87.5, 72)
"""The seed-grid latitudes, 72 equally spaced from 87.5 N to 87.5 S (step 175/71 deg)."""


def check_ionex_grid(ds: xr.Dataset, where: str) -> None:
    """Raise ``ValueError`` naming ``where`` unless ``ds`` is on IONEX's 71 x 73 global grid."""
    for name, ref in (("lat", IONEX_LAT), ("lon", IONEX_LON)):
        if name not in ds.coords:
            raise ValueError(f"{where}: no {name!r} coordinate; expected IONEX's 71 x 73 grid")
        got = np.asarray(ds[name].values, dtype=np.float64)
        if got.shape != ref.shape or not np.allclose(got, ref, atol=1e-4):
            first = f"{got[0]:g}..{got[-1]:g}" if got.size else "empty"
            raise ValueError(
                f"{where}: {name} is {first} ({got.size} points), expected IONEX's global grid "
                f"{ref[0]:g}..{ref[-1]:g} every {abs(ref[1] - ref[0]):g} deg ({ref.size} points)"
            )


def latitude_weights(src_lat: np.ndarray, dst_lat: np.ndarray) -> tuple[np.ndarray, ...]:
    """Linear-interpolation indices and weights from ``src_lat`` (N,) to ``dst_lat`` (M,).

    Both axes in degrees, strictly descending, ``dst_lat`` inside ``[src_lat[-1], src_lat[0]]``.

    Returns:
        ``i0``, ``i1`` (M,) int64 and ``w`` (M,) float64 with ``out = (1 - w) x[i0] + w x[i1]``;
        ``i1 == i0`` and ``w == 0`` where a target latitude equals a source latitude.
    """
    src = np.asarray(src_lat, dtype=np.float64)
    dst = np.asarray(dst_lat, dtype=np.float64)
    if np.any(np.diff(src) >= 0) or np.any(np.diff(dst) >= 0):
        raise ValueError("latitude_weights: both latitude axes must be strictly descending")
    if dst[0] > src[0] or dst[-1] < src[-1]:
        raise ValueError(
            f"latitude_weights: target {dst[0]:g}..{dst[-1]:g} lies outside the source "
            f"{src[0]:g}..{src[-1]:g} (no extrapolation)"
        )
    # i0: the last source row at or north of each target latitude
    i0 = np.searchsorted(-src, -dst, side="right") - 1
    exact = src[i0] == dst
    i1 = np.where(exact, i0, np.minimum(i0 + 1, src.size - 1))
    span = np.where(exact, 1.0, src[i0] - src[i1])
    w = np.where(exact, 0.0, (src[i0] - dst) / span)
    return i0.astype(np.int64), i1.astype(np.int64), w


def regrid_ionex(ds: xr.Dataset, grid: str, where: str = "dataset") -> xr.Dataset:
    """Regrid an IONEX-gridded dataset (see the module docstring) to ``grid``.

    Args:
        ds: dims include ``lat`` (71, 87.5 .. -87.5) and ``lon`` (73, -180 .. 180); e.g. the
            output of :func:`geostl.io.open_ionex` on a global file.
        grid: ``"native"`` (71 x 72) or ``"iono72"`` (72 x 72).
        where: name used in error messages (e.g. ``data.sources.maps``).

    Returns:
        A new dataset on the requested grid; attrs gain ``regrid`` (a description) and
        ``regrid_seam_max_abs_diff`` (TECU-like units of the first gridded variable, NaN-aware).

    Raises:
        ValueError: ``grid`` unknown or ``ds`` not on IONEX's global grid.
    """
    if grid not in REGRID_CHOICES:
        raise ValueError(f"{where}: unknown regrid {grid!r} (choose one of: native, iono72)")
    check_ionex_grid(ds, where)
    gridded = [v for v in ds.data_vars if {"lat", "lon"} <= set(ds[v].dims)]
    seam = float("nan")
    if gridded:
        first = ds[gridded[0]]
        diff = np.abs(first.isel(lon=0).values.astype(np.float64) - first.isel(lon=-1).values)
        seam = float(np.nanmax(diff)) if np.isfinite(diff).any() else float("nan")
    out = ds.isel(lon=slice(0, 72))
    text = "IONEX 71x73 -> 71x72: dropped the +180 E column (repeat of -180 E)"
    if grid == "iono72":
        out = _interp_lat(out, IONO72_LAT)
        text = (
            "IONEX 71x73 -> 72x72: dropped the +180 E column (repeat of -180 E), then linear "
            "interpolation in latitude onto 72 equally spaced latitudes 87.5 N .. 87.5 S"
        )
    out.attrs = {**ds.attrs, "regrid": text, "regrid_seam_max_abs_diff": seam}
    return out


def _interp_lat(ds: xr.Dataset, dst_lat: np.ndarray) -> xr.Dataset:
    """Every variable with a ``lat`` dim interpolated linearly onto ``dst_lat`` (float64)."""
    src = np.asarray(ds["lat"].values, dtype=np.float64)
    i0, i1, w = latitude_weights(src, dst_lat)
    wt = xr.DataArray(w, dims="lat")
    lat = xr.DataArray(np.array(dst_lat, dtype=np.float64), dims="lat", attrs=dict(ds["lat"].attrs))
    data_vars: dict[str, xr.DataArray] = {}
    for name, da in ds.data_vars.items():
        if "lat" not in da.dims:
            data_vars[str(name)] = da
            continue
        plain = da.drop_vars("lat")
        lo = plain.isel(lat=xr.DataArray(i0, dims="lat")).astype(np.float64)
        hi = plain.isel(lat=xr.DataArray(i1, dims="lat")).astype(np.float64)
        mixed = xr.where(wt == 0.0, lo, (1.0 - wt) * lo + wt * hi)
        mixed = mixed.transpose(*da.dims).astype(da.dtype)
        mixed.attrs = dict(da.attrs)
        data_vars[str(name)] = mixed.assign_coords(lat=lat)
    coords = {k: v for k, v in ds.coords.items() if "lat" not in v.dims}
    return xr.Dataset(data_vars, coords={**coords, "lat": lat}, attrs=dict(ds.attrs))


def regrid_to_ionex(ds: xr.Dataset, grid: str, where: str = "forecast") -> xr.Dataset:
    """Back from ``grid`` (``native`` 71 x 72 or ``iono72`` 72 x 72) to IONEX's 71 x 73 grid.

    ``iono72``: each longitude column is interpolated linearly in latitude from the 72
    latitudes back onto IONEX's 71 (weights of :func:`latitude_weights`, float64; both end rows
    coincide and are copied). Then, for both grids, the +180 E column is appended as a copy of
    -180 E (the same meridian). This is not an exact inverse of :func:`regrid_ionex`: the two
    linear interpolations in sequence smooth a map in latitude (on the built-in UPC sample the
    round trip of its maps differs from the originals by 0.084 TECU on average and at most
    2.9 TECU, at the steepest gradients; tests/test_forecast.py measures it).

    Args:
        ds: dims include ``lat`` and ``lon`` on ``grid`` (e.g. a forecast Dataset).
        grid: the grid ``ds`` is on.

    Returns:
        A new Dataset on IONEX's 71 x 73 grid; other dims and variables unchanged.

    Raises:
        ValueError: ``grid`` unknown or ``ds`` not on it, naming ``where``.
    """
    if grid not in REGRID_CHOICES:
        raise ValueError(f"{where}: unknown regrid {grid!r} (choose one of: native, iono72)")
    lat_ref = IONO72_LAT if grid == "iono72" else IONEX_LAT
    for name, ref in (("lat", lat_ref), ("lon", IONEX_LON[:72])):
        got = np.asarray(ds[name].values, dtype=np.float64) if name in ds.coords else None
        if got is None or got.shape != ref.shape or not np.allclose(got, ref, atol=1e-4):
            raise ValueError(
                f"{where}: {name} is not the {grid!r} grid's ({ref.size} points "
                f"{ref[0]:g}..{ref[-1]:g}); cannot regrid back to IONEX"
            )
    out = _interp_lat(ds, IONEX_LAT) if grid == "iono72" else ds
    seam = out.isel(lon=[0]).assign_coords(lon=[180.0])
    out = xr.concat([out, seam], dim="lon", data_vars="minimal", coords="minimal")
    out["lon"].attrs = dict(ds["lon"].attrs)
    text = f"{grid} -> IONEX 71x73 (linear in latitude, +180 E = -180 E)"
    out.attrs = {**ds.attrs, "regrid": text}
    return out
