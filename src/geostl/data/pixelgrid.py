"""The two kinds of target grid, and the check of a pixel-grid source.

A **geographic** source (kind ``latlon``) has target variables with dims (time, lat, lon):
latitudes and longitudes in degrees. Metrics are reported plain and cos-latitude weighted,
static ``lat``/``lon`` planes and local-time features are available, and the ``sun_fixed``
baseline runs where the grid is global in longitude.

A **pixel-grid source** (kind ``pixel``) is an image-like field with no geography (traffic grids
such as TaxiBJ, video frames such as KTH, Human3.6M, KittiCaltech). Its contract:

- target variables with dims exactly (time, y, x): ``y`` = image rows from top to bottom,
  ``x`` = columns from left to right, with integer coordinates 0 .. H-1 and 0 .. W-1 (a
  dimension without a coordinate counts as 0 .. n-1);
- one variable per channel (e.g. ``inflow``, ``outflow``; ``gray``; ``red``, ``green``,
  ``blue``), each with a ``units`` attribute (a neutral one such as ``"count"`` or ``"1"`` where
  the data have no physical unit);
- ``time`` datetime64, strictly increasing. Video clips are laid end to end on a time axis the
  reader documents (e.g. frames 1/fps apart, each clip starting on its own day, so that no
  window spans two clips: windows across gaps are skipped by
  :func:`geostl.data.timeaxis.window_starts`); a per-time non-dimension coordinate (e.g.
  ``clip``) may name the clip.

What the pipeline does on a pixel grid: metrics report the ``plain`` weighting only (no cos-lat;
``ForecastMetrics(lat=None)``), and every place that would pick ``lat`` picks the first of
:data:`geostl.metrics.table.WEIGHTING_PREFERENCE` present; no meridian weights; static
``lat``/``lon`` planes and the computed ``lat``, ``lon``, ``lst_sin``, ``lst_cos`` features are
errors naming the key (``lat_index``/``lon_index`` are row/column fractions and allowed); the
``sun_fixed`` baseline is left out with a warning; figures label their axes as pixel rows and
columns (row 0 at the top); ``geostl predict`` writes NetCDF on (init_time, lead_time, y, x).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = [
    "GEOGRAPHIC_ONLY_FEATURES",
    "GRID_DIMS",
    "GRID_KINDS",
    "LATLON",
    "PIXEL",
    "check_target_grid",
]

LATLON = "latlon"
PIXEL = "pixel"
GRID_KINDS = (LATLON, PIXEL)
#: (row dim, column dim) of each grid kind
GRID_DIMS: dict[str, tuple[str, str]] = {LATLON: ("lat", "lon"), PIXEL: ("y", "x")}
#: computed features and static kinds that need latitudes/longitudes
GEOGRAPHIC_ONLY_FEATURES = ("lat", "lon", "lst_sin", "lst_cos")


def _kind_of(dims: tuple[str, ...]) -> str | None:
    for kind, (row, col) in GRID_DIMS.items():
        if set(dims) == {"time", row, col}:
            return kind
    return None


def check_target_grid(
    ds: xr.Dataset, variables: tuple[str, ...], source: str
) -> tuple[str, np.ndarray, np.ndarray]:
    """The grid kind of the target variables and their row and column coordinates.

    Args:
        ds: the target source.
        variables: the target variable names.
        source: the source's name (for messages).

    Returns:
        ``(kind, rows (H,) float64, cols (W,) float64)``: kind ``latlon`` (rows = lat degrees
        north, cols = lon degrees east) or ``pixel`` (rows = y = 0 .. H-1, cols = x = 0 .. W-1).

    Raises:
        KeyError: a variable is missing. ValueError: dims that are neither (time, lat, lon) nor
        (time, y, x), targets of different kinds, pixel coordinates that are not 0 .. n-1, or a
        pixel-grid variable without ``units``.
    """
    kinds: dict[str, str] = {}
    for v in variables:
        if v not in ds.data_vars:
            raise KeyError(
                f"target variable {v!r} not in source {source!r} "
                f"(variables: {sorted(map(str, ds.data_vars))})"
            )
        kind = _kind_of(tuple(map(str, ds[v].dims)))
        if kind is None:
            raise ValueError(
                f"target {source}:{v}: expected dims (time, lat, lon) or, for a pixel grid, "
                f"(time, y, x); got {ds[v].dims}"
            )
        kinds[v] = kind
    if len(set(kinds.values())) > 1:
        raise ValueError(
            f"source {source!r}: targets mix geographic and pixel grids: "
            + ", ".join(f"{v} ({k})" for v, k in kinds.items())
        )
    kind = next(iter(kinds.values()))
    row, col = GRID_DIMS[kind]
    rows = np.asarray(ds[row].values, dtype=np.float64)
    cols = np.asarray(ds[col].values, dtype=np.float64)
    if kind == PIXEL:
        for name, values in ((row, rows), (col, cols)):
            if not np.array_equal(values, np.arange(values.size)):
                raise ValueError(
                    f"source {source!r}: pixel-grid coordinate {name!r} must be the integers "
                    f"0 .. {values.size - 1} (rows top to bottom, columns left to right), got "
                    f"{values[:4].tolist()}{' ...' if values.size > 4 else ''}"
                )
        no_units = [v for v in variables if "units" not in ds[v].attrs]
        if no_units:
            raise ValueError(
                f"source {source!r}: pixel-grid target(s) {no_units} have no 'units' attribute "
                "(give a neutral one such as 'count' or '1' where the data have no unit)"
            )
    return kind, rows, cols
