"""McNoldy's ONI / Niño 3.4 text table (``ONI_NINO34_1854-2020.txt``, RSMAS, U. Miami).

The seed (002) reads it with ``read_table2(..., skip = 9)``: free-text lines, then a
whitespace-separated header row naming the columns, then one row per month. The columns the
seed uses are ``YEAR``, ``MON/MMM`` (month number; a three-letter month name is accepted too),
``NINO34_MEAN`` (°C, mean SST of 5°S–5°N, 170°W–120°W) and ``PHASE`` (``E`` El Niño, ``L`` La
Niña, ``N`` neutral, from the ONI). Every other column is read as a float series under its
lower-cased name (``/`` and ``-`` become ``_``). ``-99.9``, ``-99.99`` and ``-999`` mean missing.

:func:`open_oni_table` finds the header as the first line containing ``YEAR`` and
``NINO34_MEAN`` (so the number of preamble lines does not matter).
"""

from __future__ import annotations

import os

import numpy as np
import xarray as xr

from geostl.io._files import PathLike, read_text_lines
from geostl.io.registry import READERS

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MISSING = (-99.9, -99.99, -999.0)
_PHASES = {"E": 0, "L": 1, "N": 2}  # the seed's alphabetical factor order


def _month(word: str, path: PathLike, number: int) -> int:
    text = word.split("/")[0].upper()
    if text in _MONTHS:
        return _MONTHS.index(text) + 1
    try:
        month = int(text)
    except ValueError:
        month = 0
    if not 1 <= month <= 12:
        raise ValueError(f"{path}: line {number}: month {word!r} is not 1..12 or JAN..DEC")
    return month


def open_oni_table(path: PathLike) -> xr.Dataset:
    """Read the ONI / Niño 3.4 table into a monthly dataset.

    Returns:
        Dataset on ``time`` (first of the month) with ``nino34`` (°C, the NINO34_MEAN column),
        ``phase`` (int64: 0 = E, 1 = L, 2 = N) and the file's other numeric columns.

    Raises:
        ValueError: no header, a row with the wrong number of columns, an unknown phase
            letter, a non-numeric value, or months not strictly increasing.
    """
    lines = read_text_lines(path)
    start = next(
        (i for i, ln in enumerate(lines) if {"YEAR", "NINO34_MEAN"} <= set(ln.split())), None
    )
    if start is None:
        raise ValueError(f"{path}: no header row with YEAR and NINO34_MEAN columns")
    header = lines[start].split()
    month_col = next((c for c in header if c.upper().startswith("MON")), None)
    if month_col is None or "PHASE" not in header:
        raise ValueError(f"{path}: header {header} lacks a MON(/MMM) or PHASE column")
    years, months, phases = [], [], []
    numeric = {c: [] for c in header if c not in ("YEAR", month_col, "PHASE")}
    for number, ln in enumerate(lines[start + 1 :], start=start + 2):
        words = ln.split()
        if not words:
            continue
        if len(words) != len(header):
            raise ValueError(
                f"{path}: line {number} has {len(words)} columns, expected {len(header)} "
                f"({' '.join(header)})"
            )
        row = dict(zip(header, words, strict=True))
        if row["PHASE"].upper() not in _PHASES:
            raise ValueError(f"{path}: line {number}: PHASE {row['PHASE']!r} is not E, L or N")
        try:
            years.append(int(row["YEAR"]))
            for col in numeric:
                numeric[col].append(float(row[col]))
        except ValueError as err:
            raise ValueError(f"{path}: line {number}: {err}") from err
        months.append(_month(row[month_col], path, number))
        phases.append(_PHASES[row["PHASE"].upper()])
    if not years:
        raise ValueError(f"{path}: no data rows after the header")
    ym = (np.array(years) - 1970) * 12 + np.array(months) - 1
    if (np.diff(ym) <= 0).any():
        raise ValueError(f"{path}: months are not strictly increasing")
    time = ym.astype("datetime64[M]").astype("datetime64[ns]")
    data = {}
    for col, vals in numeric.items():
        arr = np.array(vals, dtype=np.float64)
        arr[np.isin(arr, _MISSING)] = np.nan
        name = "nino34" if col == "NINO34_MEAN" else col.lower().replace("/", "_").replace("-", "_")
        long_name = "Nino 3.4 mean SST" if col == "NINO34_MEAN" else col
        data[name] = ("time", arr, {"units": "degC", "long_name": long_name})
    data["phase"] = ("time", np.array(phases), {"codes": "0 = E (El Nino), 1 = L (La Nina), 2 = N"})
    return xr.Dataset(
        data,
        coords={"time": time},
        attrs={"source_files": os.path.basename(os.fspath(path)), "layout": "mcnoldy_oni"},
    )


READERS.register(
    "oni",
    open_oni_table,
    takes="file",
    patterns=("ONI_NINO34_*.txt",),
    description="McNoldy's ONI / Nino 3.4 monthly text table with El Nino / La Nina phases",
)
