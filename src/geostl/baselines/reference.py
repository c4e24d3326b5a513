"""External forecasts as baselines: an agency's predicted maps scored like a model.

The analysis centres distribute predicted global ionosphere maps (CODE's 1- and 2-day
predictions, as IONEX files); read with the same opener as the data sources
(:func:`geostl.runconfig.open_sources`, ``eval.references``), such a forecast is matched to
each valid time of the scored windows and scored on the targets' grid. Nothing is
interpolated: the reference must hold a map at every valid time, on the targets' grid (after
the entry's own ``regrid`` / ``every``), in the targets' units; anything else is an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from geostl.baselines.recurrence import maps_at

__all__ = ["check_reference", "reference_files", "reference_forecast"]


def reference_files(ref: xr.Dataset) -> str:
    """The file names a reader stored in ``attrs["source_files"]`` (``"?"`` when none)."""
    return str(ref.attrs.get("source_files") or "?")


def _span(values: np.ndarray) -> str:
    return f"{values.size} points, {values[0]:g} .. {values[-1]:g}" if values.size else "empty"


def check_reference(
    ref: xr.Dataset,
    names: Sequence[str],
    grid: Mapping[str, np.ndarray],
    units: Mapping[str, str] | None = None,
    where: str = "reference",
) -> None:
    """Check that ``ref`` can stand for the targets: same variables, grid and units.

    Args:
        ref: the external forecast, maps on a ``time`` dim (e.g. an opened IONEX file).
        names: the target variables (C,) that ``ref`` must hold, e.g. ``["tec"]``.
        grid: ``{dim: coordinate values}`` of the targets' two grid dims in their order, e.g.
            ``{"lat": (H,) degrees north, "lon": (W,) degrees east``}; ``ref`` must have the same
            values in the same order (to 1e-6).
        units: ``{name: units}`` of the targets; a variable of ``ref`` in other units (``TECU``
            and ``1e16 m-2`` are the same) is an error. None or an empty string: not checked.
        where: how the error messages name the reference (e.g. ``eval.references.CODE``).

    Raises:
        KeyError: a target variable ``ref`` lacks.
        ValueError: another grid, another set of dims or other units (naming the files).
    """
    from geostl.outputs.netcdf import same_units

    files = reference_files(ref)
    missing = [n for n in names if n not in ref.data_vars]
    if missing:
        raise KeyError(
            f"{where} ({files}): no variable(s) {missing}; it holds "
            f"{sorted(map(str, ref.data_vars))}"
        )
    dims = tuple(grid)
    for dim, want in grid.items():
        want = np.asarray(want, dtype=np.float64)
        got = np.asarray(ref[dim].values, dtype=np.float64) if dim in ref.coords else None
        if got is None or got.shape != want.shape or not np.allclose(got, want, rtol=0, atol=1e-6):
            have = "none" if got is None else _span(got)
            raise ValueError(
                f"{where} ({files}): its {dim} grid ({have}) differs from the targets' "
                f"({_span(want)}); give the entry a regrid (e.g. regrid: iono72) as for the "
                "data source (nothing is interpolated)"
            )
    for name in names:
        da = ref[name]
        if set(da.dims) != {"time", *dims}:
            raise ValueError(
                f"{where} ({files}): {name} has dims {da.dims}, expected time and {dims}"
            )
        want_units = (units or {}).get(name, "")
        got_units = str(da.attrs.get("units", ""))
        if want_units and got_units and not same_units(got_units, want_units):
            raise ValueError(
                f"{where} ({files}): {name} is in {got_units!r} but the targets are in "
                f"{want_units!r}"
            )


def reference_forecast(
    ref: xr.Dataset,
    names: Sequence[str],
    valid_times: np.ndarray,
    dims: tuple[str, str] = ("lat", "lon"),
    where: str = "reference",
) -> tuple[np.ndarray, np.ndarray]:
    """The maps of ``ref`` at each valid time, as a forecast of the targets ``names``.

    Args:
        ref: the external forecast, ``names`` on (time, *dims) in physical units, already on
            the targets' grid (:func:`check_reference`).
        names: the target variables (C,).
        valid_times: (B, T) datetime64 valid times of the scored forecasts.
        dims: the grid dims (``lat``, ``lon``; ``y``, ``x`` for pixel grids).
        where: how the error messages name the reference.

    Returns:
        ``(forecast, valid)``: (B, T, C, H, W) float64 in the units of ``ref`` (NaN where it
        has no value, e.g. 9999 in an IONEX map) and its finiteness (B, T, C, H, W) bool.

    Raises:
        ValueError: ``ref`` has no map at some valid time, naming the first such time and
            the reference's files.
    """
    times = np.asarray(valid_times).astype("datetime64[ns]")
    if times.ndim != 2:
        raise ValueError(f"{where}: valid_times must be (B, T), got shape {times.shape}")
    label = f"{where} ({reference_files(ref)})"
    planes = [maps_at(ref[name], times, dims, label) for name in names]
    forecast = np.stack(planes, axis=2)
    return forecast, np.isfinite(forecast)
