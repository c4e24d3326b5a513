"""Build the shipped coastline file from Natural Earth's 1:110m countries (public domain).

Usage::

    python scripts/make_coastlines.py naturalearth_lowres.shp \
        src/geostl/outputs/_data/coastlines_110m.npz

The input is Natural Earth's ``ne_110m_admin_0_countries`` shapefile (the copy distributed
as ``naturalearth_lowres.shp`` in geopandas 0.14's datasets is the same data). The polygons
of all countries are merged with shapely (so land borders vanish and only coastlines stay),
the rings are cut where they run along the map's edges (the 180 degree meridian and the
south pole, where Natural Earth closes Antarctica and splits Russia and Fiji), and the
polylines are stored as one float32 (N, 2) array of (lon, lat) degrees with NaN rows between
lines. Only the standard library, numpy and shapely are needed.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np


def read_polygons(path: Path) -> list[list[np.ndarray]]:
    """The rings of every polygon record (shape type 5) of an ESRI shapefile."""
    data = path.read_bytes()
    if struct.unpack(">i", data[:4])[0] != 9994:
        raise ValueError(f"{path}: not an ESRI shapefile (file code {data[:4]!r})")
    records, pos = [], 100
    while pos < len(data):
        _, length = struct.unpack(">ii", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + 2 * length]
        pos += 8 + 2 * length
        shape_type = struct.unpack("<i", body[:4])[0]
        if shape_type == 0:
            continue
        if shape_type != 5:
            raise ValueError(f"{path}: shape type {shape_type}, expected polygons (5)")
        n_parts, n_points = struct.unpack("<ii", body[36:44])
        parts = list(struct.unpack(f"<{n_parts}i", body[44 : 44 + 4 * n_parts]))
        start = 44 + 4 * n_parts
        xy = np.frombuffer(body[start : start + 16 * n_points], dtype="<f8").reshape(-1, 2)
        records.append([xy[a:b] for a, b in zip(parts, [*parts[1:], n_points], strict=True)])
    return records


def coastlines(records: list[list[np.ndarray]]) -> np.ndarray:
    """Merged land outlines as (N, 2) float32 lon/lat with NaN rows between polylines."""
    from shapely.geometry import Polygon
    from shapely.ops import unary_union

    polys = []
    for rings in records:
        for ring in rings:  # Natural Earth: clockwise outer rings, counter-clockwise holes
            p = Polygon(ring).buffer(0)
            if not p.is_empty:
                polys.append(p)
    land = unary_union(polys)
    geoms = getattr(land, "geoms", [land])
    lines: list[np.ndarray] = []
    for poly in geoms:
        for ring in [poly.exterior, *poly.interiors]:
            xy = np.asarray(ring.coords)
            edge = (np.abs(xy[:, 0]) > 179.99) | (xy[:, 1] < -89.99)
            # keep segments with at least one end off the map's edge lines
            cut = edge[:-1] & edge[1:]
            piece: list[np.ndarray] = [xy[0]]
            for i in range(1, len(xy)):
                if cut[i - 1]:
                    if len(piece) > 1:
                        lines.append(np.array(piece))
                    piece = [xy[i]]
                else:
                    piece.append(xy[i])
            if len(piece) > 1:
                lines.append(np.array(piece))
    out = []
    for line in lines:
        out.append(line)
        out.append(np.full((1, 2), np.nan))
    return np.concatenate(out).astype(np.float32)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    records = read_polygons(Path(argv[0]))
    xy = coastlines(records)
    np.savez_compressed(argv[1], lonlat=xy)
    lines = int(np.isnan(xy[:, 0]).sum())
    print(f"{len(records)} country records -> {lines} coastline polylines, {len(xy)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
