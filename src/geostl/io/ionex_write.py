"""``write_ionex``: TEC maps (a forecast, or any maps) as an IONEX 1.0 file.

The layout follows the IONEX 1.0 format description (Schaer, Gurtner and Feltens, 1998), as
the analysis centres write their final and predicted global maps:

- a header of 80-column records, the label in columns 61-80: ``IONEX VERSION / TYPE``,
  ``PGM / RUN BY / DATE``, ``DESCRIPTION`` (the model and the issue time), ``COMMENT``,
  ``EPOCH OF FIRST MAP`` / ``EPOCH OF LAST MAP`` (6I6), ``INTERVAL`` (s; 0 when the epochs are
  not regular), ``# OF MAPS IN FILE``, ``MAPPING FUNCTION``, ``ELEVATION CUTOFF``,
  ``OBSERVABLES USED``, ``BASE RADIUS``, ``MAP DIMENSION``, ``HGT1 / HGT2 / DHGT``,
  ``LAT1 / LAT2 / DLAT``, ``LON1 / LON2 / DLON``, ``EXPONENT``, ``END OF HEADER``;
- per epoch ``START OF TEC MAP`` / ``EPOCH OF CURRENT MAP`` / for each latitude a
  ``LAT/LON1/LON2/DLON/H`` record and the values as I5, 16 per line / ``END OF TEC MAP``;
- ``END OF FILE``.

Values are written in units of 10**EXPONENT TECU (EXPONENT -1: 0.1 TECU), rounded to the
nearest integer, 9999 where there is no value (NaN). A TEC below 0 is written as 0: the number
of such values (plus those a forecast Dataset says were set to 0 before, its variable's
``clipped_below_lower_bound``) is stated in a COMMENT record and returned; nothing else is
changed.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from geostl import __version__

__all__ = ["IonexWritten", "write_ionex"]

MISSING = 9999


@dataclass(frozen=True)
class IonexWritten:
    """What :func:`write_ionex` wrote: the path, the number of maps and of values < 0 set
    to 0."""

    path: Path
    n_maps: int
    n_clipped: int


def _record(content: str, label: str) -> str:
    if len(content) > 60:
        raise ValueError(f"IONEX record {label!r}: content longer than 60 columns: {content!r}")
    return f"{content:<60}{label}"


def _epoch(t: np.datetime64) -> str:
    ts = pd.Timestamp(t)
    if ts.microsecond or ts.nanosecond:
        raise ValueError(f"IONEX epochs are whole seconds; got {ts}")
    return "".join(f"{v:6d}" for v in (ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second))


def _regular(values: np.ndarray, name: str) -> float:
    """The constant step of a 1-D coordinate (refuses an irregular one)."""
    if values.size < 2:
        raise ValueError(f"write_ionex: {name} needs at least 2 points, got {values.size}")
    steps = np.diff(values)
    if not np.allclose(steps, steps[0], atol=1e-6) or steps[0] == 0:
        raise ValueError(
            f"write_ionex: {name} is not a regular grid (steps {np.unique(np.round(steps, 6))})"
        )
    return float(steps[0])


def _maps(data: xr.Dataset | xr.DataArray, variable: str) -> tuple[xr.DataArray, np.ndarray]:
    """(maps (E, lat, lon), epochs (E,) datetime64[ns]) of a forecast Dataset or a DataArray."""
    if isinstance(data, xr.Dataset):
        if variable not in data.data_vars:
            raise KeyError(
                f"write_ionex: no variable {variable!r} (variables: {sorted(map(str, data))})"
            )
        da = data[variable]
        if "init_time" in da.dims:
            if da.sizes["init_time"] != 1:
                raise ValueError(
                    f"write_ionex: an IONEX file holds one forecast; this one has "
                    f"{da.sizes['init_time']} init times (select one with .isel(init_time=k))"
                )
            epochs = np.asarray(data["valid_time"].values).reshape(-1)
            return da.isel(init_time=0).transpose("lead_time", "lat", "lon"), epochs
        data = da
    if "time" not in data.dims:
        raise ValueError(
            f"write_ionex: expected dims (time, lat, lon) or a forecast Dataset with init_time "
            f"and lead_time, got {data.dims}"
        )
    return data.transpose("time", "lat", "lon"), np.asarray(data["time"].values)


def write_ionex(
    data: xr.Dataset | xr.DataArray,
    path: str | os.PathLike,
    *,
    variable: str = "tec",
    description: Sequence[str] | str = (),
    comments: Sequence[str] = (),
    exponent: int = -1,
    program: str = f"geostl {__version__}",
    run_by: str = "geostl",
    mapping_function: str = "NONE",
    elevation_cutoff: float = 0.0,
    observables: str = "",
    base_radius_km: float = 6371.0,
    height_km: float = 450.0,
    system: str = "GNS",
) -> IonexWritten:
    """Write TEC maps as an IONEX 1.0 file (``.gz`` compressed when the name ends in .gz).

    Args:
        data: a forecast Dataset (dims init_time of size 1, lead_time, lat, lon; the epochs are
            its ``valid_time``) or a DataArray (time, lat, lon); TEC in TECU. The grid must be
            regular (latitudes in either order, longitudes ascending).
        path: the output file, written atomically (a temporary name, then a rename).
        variable: the TEC variable of a Dataset.
        description: DESCRIPTION text (wrapped at 60 columns), e.g. the model and issue time.
        comments: COMMENT lines (each wrapped at 60 columns).
        exponent: values are written in 10**exponent TECU (-1: 0.1 TECU).
        program, run_by: the PGM / RUN BY / DATE record (the date is now, UTC).
        mapping_function, elevation_cutoff, observables, base_radius_km, height_km: the header
            records of those names (the single-layer height of the maps, km).
        system: the satellite system code of IONEX VERSION / TYPE (``GNS``: GNSS-derived).

    Returns:
        an :class:`IonexWritten` (path, number of maps, number of values < 0 written as 0).

    Raises:
        ValueError: an irregular grid, not whole-second epochs, or a value too large for I5
            at this exponent (naming the largest).
    """
    maps, epochs = _maps(data, variable)
    epochs = epochs.astype("datetime64[ns]")
    lat = np.asarray(maps["lat"].values, dtype=np.float64)
    lon = np.asarray(maps["lon"].values, dtype=np.float64)
    dlat, dlon = _regular(lat, "lat"), _regular(lon, "lon")
    if dlon <= 0:
        raise ValueError("write_ionex: lon must be ascending")
    values = np.asarray(maps.values, dtype=np.float64) / 10.0**exponent
    negative = np.isfinite(values) & (values < 0)
    # maps clipped before (geostl.outputs.bounds) state how many values they set to 0
    n_clipped = int(negative.sum()) + int(maps.attrs.get("clipped_below_lower_bound", 0))
    values = np.where(negative, 0.0, values)
    finite = np.isfinite(values)
    scaled = np.where(finite, np.rint(values), MISSING)
    if finite.any() and scaled[finite].max() >= MISSING:
        top = float(np.asarray(maps.values)[finite].max())
        raise ValueError(
            f"write_ionex: {top:g} TECU does not fit I5 at EXPONENT {exponent} (9999 means "
            "missing); use a larger exponent"
        )
    ints = scaled.astype(np.int64)
    steps = np.diff(epochs).astype("timedelta64[s]").astype(np.int64)
    interval = int(steps[0]) if steps.size and np.all(steps == steps[0]) else 0
    unit = 10.0**exponent
    lines = [
        _record(f"{1.0:8.1f}{'':12}{'IONOSPHERE MAPS':<20}{system:<3.3}", "IONEX VERSION / TYPE"),
        _record(
            f"{program:<20.20}{run_by:<20.20}"
            f"{_dt.datetime.now(_dt.timezone.utc).strftime('%d-%b-%y %H:%M').upper():<20}",
            "PGM / RUN BY / DATE",
        ),
    ]
    text = [description] if isinstance(description, str) else list(description)
    for para in text:
        for line in textwrap.wrap(para, 60) or [""]:
            lines.append(_record(line, "DESCRIPTION"))
    lines += [
        _record(_epoch(epochs[0]), "EPOCH OF FIRST MAP"),
        _record(_epoch(epochs[-1]), "EPOCH OF LAST MAP"),
        _record(f"{interval:6d}", "INTERVAL"),
        _record(f"{len(epochs):6d}", "# OF MAPS IN FILE"),
        _record(f"  {mapping_function:<4.4}", "MAPPING FUNCTION"),
        _record(f"{elevation_cutoff:8.1f}", "ELEVATION CUTOFF"),
        _record(f"{observables:<60.60}", "OBSERVABLES USED"),
        _record(f"{base_radius_km:8.1f}", "BASE RADIUS"),
        _record(f"{2:6d}", "MAP DIMENSION"),
        _record(f"  {height_km:6.1f}{height_km:6.1f}{0.0:6.1f}", "HGT1 / HGT2 / DHGT"),
        _record(f"  {lat[0]:6.1f}{lat[-1]:6.1f}{dlat:6.1f}", "LAT1 / LAT2 / DLAT"),
        _record(f"  {lon[0]:6.1f}{lon[-1]:6.1f}{dlon:6.1f}", "LON1 / LON2 / DLON"),
        _record(f"{exponent:6d}", "EXPONENT"),
        _record(f"TEC values in {unit:g} TECU; {MISSING} if no value available", "COMMENT"),
        _record(f"{n_clipped} values below 0 TECU written as 0", "COMMENT"),
    ]
    for comment in comments:
        for line in textwrap.wrap(comment, 60) or [""]:
            lines.append(_record(line, "COMMENT"))
    lines.append(_record("", "END OF HEADER"))
    for k, t in enumerate(epochs):
        lines.append(_record(f"{k + 1:6d}", "START OF TEC MAP"))
        lines.append(_record(_epoch(t), "EPOCH OF CURRENT MAP"))
        for i, phi in enumerate(lat):
            lines.append(
                _record(
                    f"  {phi:6.1f}{lon[0]:6.1f}{lon[-1]:6.1f}{dlon:6.1f}{height_km:6.1f}",
                    "LAT/LON1/LON2/DLON/H",
                )
            )
            row = ints[k, i]
            for j in range(0, row.size, 16):
                lines.append("".join(f"{v:5d}" for v in row[j : j + 16]))
        lines.append(_record(f"{k + 1:6d}", "END OF TEC MAP"))
    lines.append(_record("", "END OF FILE"))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = ("\n".join(lines) + "\n").encode("ascii")
    if out.name.endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(payload)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return IonexWritten(out, len(epochs), n_clipped)
