"""Static planes (land/ocean masks, latitude, longitude) and the area mask of the target grid."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .features import grid_feature
from .pixelgrid import GEOGRAPHIC_ONLY_FEATURES, GRID_DIMS, LATLON, PIXEL
from .schema import ChannelSchema, StaticSpec


def _mask_plane(
    spec: StaticSpec,
    sources: dict[str, xr.Dataset],
    lat: np.ndarray,
    lon: np.ndarray,
    dims: tuple[str, str] = ("lat", "lon"),
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
    if set(da.dims) != set(dims):
        raise ValueError(f"{where}: expected dims {dims} (size-1 dims are squeezed), got {da.dims}")
    da = da.transpose(*dims)
    for c, ref in zip(dims, (lat, lon), strict=True):
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
    schema: ChannelSchema,
    sources: dict[str, xr.Dataset],
    lat: np.ndarray,
    lon: np.ndarray,
    kind: str = LATLON,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Static planes in physical units and the area mask.

    ``lat``/``lon`` are the target grid's rows and columns: degrees on a geographic grid, y and
    x on a pixel grid (``kind="pixel"``), where masks have dims (y, x) and ``lat``/``lon``
    planes are errors naming the static entry.

    Returns:
        ``planes``: name -> (H, W) float64 (masks as 0/1, lat/lon in degrees), schema order;
        ``area``: (H, W) bool, the AND of every mask with ``area: true`` (all True if none).
    """
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    planes: dict[str, np.ndarray] = {}
    area = np.ones((lat.size, lon.size), dtype=bool)
    for i, spec in enumerate(schema.static):
        if kind == PIXEL and spec.kind in GEOGRAPHIC_ONLY_FEATURES:
            raise ValueError(
                f"data.schema.static[{i}] ({spec.name!r}, kind {spec.kind!r}): the target grid "
                "is a pixel grid (dims y, x) without latitudes or longitudes; remove this "
                "entry"
            )
        if spec.kind == "mask":
            m = _mask_plane(spec, sources, lat, lon, GRID_DIMS[kind])
            planes[spec.name] = m.astype(np.float64)
            if spec.area:
                area &= m
        else:
            planes[spec.name] = grid_feature(spec.kind, lat, lon)
    return planes, area
