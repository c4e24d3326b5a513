"""Static planes (land/ocean masks, latitude, longitude) and the area mask of the target grid."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .features import grid_feature
from .schema import ChannelSchema, StaticSpec


def _mask_plane(
    spec: StaticSpec, sources: dict[str, xr.Dataset], lat: np.ndarray, lon: np.ndarray
) -> np.ndarray:
    where = f"static {spec.name!r} ({spec.source}:{spec.variable})"
    if spec.source not in sources:
        raise KeyError(f"{where}: source {spec.source!r} not given (sources: {sorted(sources)})")
    ds = sources[spec.source]
    if spec.variable not in ds.data_vars:
        raise KeyError(
            f"{where}: variable {spec.variable!r} not in source {spec.source!r} "
            f"(variables: {sorted(map(str, ds.data_vars))})"
        )
    da = ds[spec.variable].squeeze(drop=True)
    if set(da.dims) != {"lat", "lon"}:
        raise ValueError(
            f"{where}: expected dims ('lat', 'lon') (size-1 dims are squeezed), got {da.dims}"
        )
    da = da.transpose("lat", "lon")
    for c, ref in (("lat", lat), ("lon", lon)):
        v = np.asarray(da[c].values, dtype=np.float64)
        if v.shape != ref.shape or not np.allclose(v, ref):
            raise ValueError(
                f"{where}: its {c} grid differs from the target grid "
                f"({v.size} vs {ref.size} points)"
            )
    x = np.asarray(da.values, dtype=np.float64)
    if spec.valid == "finite":
        return np.isfinite(x)
    return np.isin(x, np.asarray(spec.valid, dtype=np.float64))


def build_static(
    schema: ChannelSchema, sources: dict[str, xr.Dataset], lat: np.ndarray, lon: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Static planes in physical units and the area mask.

    Returns:
        ``planes``: name -> (H, W) float64 (masks as 0/1, lat/lon in degrees), schema order;
        ``area``: (H, W) bool, the AND of every mask with ``area: true`` (all True if none).
    """
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    planes: dict[str, np.ndarray] = {}
    area = np.ones((lat.size, lon.size), dtype=bool)
    for spec in schema.static:
        if spec.kind == "mask":
            m = _mask_plane(spec, sources, lat, lon)
            planes[spec.name] = m.astype(np.float64)
            if spec.area:
                area &= m
        else:
            planes[spec.name] = grid_feature(spec.kind, lat, lon)
    return planes, area
