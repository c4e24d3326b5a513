"""Readers for the NOAA CPC / PSL climate-index text layouts (ENSO indices).

Layouts (detected automatically, or named with ``layout=``):

``cpc_nino``
    CPC monthly Nino table (``ersst5.nino.mth.91-20.ascii``, ``sstoi.indices``): a header
    ``YR MON NINO1+2 ANOM NINO3 ANOM NINO4 ANOM NINO3.4 ANOM`` (note lines before it are
    allowed), then one whitespace-separated row per month.
``psl_monthly``
    PSL "year + 12 months" text: each row a year and 12 monthly values. An optional first
    line ``first_year last_year`` and trailer lines (the missing value, then free text)
    are accepted; ``-99.99`` (or the trailer's missing value) is NaN.
``cpc_year_csv``
    CPC-style CSV with a header ``Year,01,...,12`` (e.g. RONI/ONI tables); empty cells are NaN.
``cpc_oni``
    Classic CPC ONI text table ``SEAS YR TOTAL ANOM`` with seasons DJF, JFM, ... NDJ.

Times are the first day of the month. For 3-month running seasons (ONI, RONI) the time is the
**centre month** of the season (DJF 1950 -> 1950-01-01, NDJ 1950 -> 1950-12-01).
"""

from __future__ import annotations

import os
import re

import numpy as np
import xarray as xr

from geostl.io._files import PathLike, read_text_lines
from geostl.io.registry import READERS

LAYOUTS = ("cpc_nino", "psl_monthly", "cpc_year_csv", "cpc_oni")
_SEASONS = ("DJF", "JFM", "FMA", "MAM", "AMJ", "MJJ", "JJA", "JAS", "ASO", "SON", "OND", "NDJ")
_CPC_NAMES = {"NINO1+2": "nino12", "NINO3": "nino3", "NINO4": "nino4", "NINO3.4": "nino34"}
_REGIONS = {"nino12": "Nino 1+2", "nino3": "Nino 3", "nino4": "Nino 4", "nino34": "Nino 3.4"}
_NUM_ROW = re.compile(r"^\s*\d{4}(\s+-?\d+(\.\d*)?){12}\s*$")


def _month_times(years: np.ndarray, months: np.ndarray) -> np.ndarray:
    ym = (years.astype(np.int64) - 1970) * 12 + (months.astype(np.int64) - 1)
    return ym.astype("datetime64[M]").astype("datetime64[ns]")


def detect_layout(lines: list[str], path: PathLike = "<text>") -> str:
    """Return the layout name of an index file from its first lines (see module docstring)."""
    head = [ln for ln in lines if ln.strip()][:6]
    if not head:
        raise ValueError(f"{path}: empty file, no climate-index layout to detect")
    for ln in head:
        words = ln.split()
        if words[:2] == ["SEAS", "YR"] and "ANOM" in words:
            return "cpc_oni"
        if words[:2] == ["YR", "MON"]:
            return "cpc_nino"
    first = head[0].strip()
    if first.lower().startswith("year,") and len(first.split(",")) == 13:
        return "cpc_year_csv"
    if any(_NUM_ROW.match(ln) for ln in head):
        return "psl_monthly"
    raise ValueError(
        f"{path}: unknown climate-index layout (first line {head[0].strip()[:60]!r}); expected "
        f"one of {', '.join(LAYOUTS)}"
    )


def _default_name(path: PathLike, fallback: str) -> str:
    base = os.path.basename(os.fspath(path)).lower()
    for key, name in (("roni", "roni"), ("oni", "oni")):
        if key in base:
            return name
    if "nino34" in base or "nino3.4" in base:
        return "nino34_anom" if "anom" in base else "nino34"
    return fallback


def _cpc_nino(lines: list[str], path: PathLike) -> xr.Dataset:
    start = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["YR", "MON"])
    header = lines[start].split()
    names: list[str] = []
    for word in header[2:]:
        if word == "ANOM":
            if not names:
                raise ValueError(f"{path}: header {lines[start]!r} starts with ANOM")
            names.append(names[-1] + "_anom")
        elif word in _CPC_NAMES:
            names.append(_CPC_NAMES[word])
        else:
            raise ValueError(f"{path}: unknown column {word!r} in header; expected {_CPC_NAMES}")
    rows = []
    for number, ln in enumerate(lines[start + 1 :], start=start + 2):
        if not ln.strip():
            continue
        words = ln.split()
        if len(words) != len(header):
            raise ValueError(
                f"{path}: line {number} has {len(words)} columns, expected {len(header)}"
            )
        rows.append([float(w) for w in words])
    table = np.array(rows)
    time = _month_times(table[:, 0], table[:, 1])
    data = {}
    for j, name in enumerate(names, start=2):
        region = _REGIONS[name.removesuffix("_anom")]
        kind = "SST anomaly" if name.endswith("_anom") else "SST"
        data[name] = ("time", table[:, j], {"units": "degC", "long_name": f"{region} {kind}"})
    return xr.Dataset(data, coords={"time": time})


def _psl_monthly(lines: list[str], path: PathLike, name: str, units: str) -> xr.Dataset:
    missing = [-99.99, -99.9, -999.0, -9999.0]
    body = [(n, ln) for n, ln in enumerate(lines, start=1) if ln.strip()]
    rows: list[list[float]] = []
    k = 0
    if body and len(body[0][1].split()) == 2 and not _NUM_ROW.match(body[0][1]):
        k = 1  # "first_year last_year" header
    for number, ln in body[k:]:
        if _NUM_ROW.match(ln):
            rows.append([float(w) for w in ln.split()])
            continue
        words = ln.split()
        if rows and len(words) == 1:
            try:  # trailer: the missing value, then free text
                missing.append(float(words[0]))
                break
            except ValueError:
                pass
        if rows:
            break  # free-text trailer
        raise ValueError(f"{path}: line {number} is not 'year + 12 values': {ln.strip()[:60]!r}")
    if not rows:
        raise ValueError(f"{path}: no 'year + 12 values' rows")
    table = np.array(rows)
    years = np.repeat(table[:, 0], 12)
    months = np.tile(np.arange(1, 13), len(table))
    values = table[:, 1:].ravel()
    values[np.isin(values, missing)] = np.nan
    attrs = {"units": units, "long_name": name, "missing_values_in_file": str(sorted(set(missing)))}
    return xr.Dataset({name: ("time", values, attrs)}, coords={"time": _month_times(years, months)})


def _cpc_year_csv(lines: list[str], path: PathLike, name: str, units: str) -> xr.Dataset:
    header = lines[0].strip().split(",")
    if [h.strip().lstrip("0") for h in header[1:]] != [str(m) for m in range(1, 13)]:
        raise ValueError(f"{path}: header {lines[0]!r} is not 'Year,01,...,12'")
    years, months, values = [], [], []
    for number, ln in enumerate(lines[1:], start=2):
        if not ln.strip():
            continue
        cells = ln.strip().split(",")
        if len(cells) != 13:
            raise ValueError(f"{path}: line {number} has {len(cells)} cells, expected 13")
        try:
            year = int(cells[0])
            vals = [float(c) if c.strip() else np.nan for c in cells[1:]]
        except ValueError as err:
            raise ValueError(f"{path}: line {number}: {err}") from err
        years.extend([year] * 12)
        months.extend(range(1, 13))
        values.extend(vals)
    attrs = {
        "units": units,
        "long_name": f"{name.upper()} (3-month running mean, centred on the month)",
        "comment": "time = first day of the centre month of the 3-month season",
    }
    return xr.Dataset(
        {name: ("time", np.array(values), attrs)},
        coords={"time": _month_times(np.array(years), np.array(months))},
    )


def _cpc_oni(lines: list[str], path: PathLike) -> xr.Dataset:
    start = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["SEAS", "YR"])
    years, months, total, anom = [], [], [], []
    for number, ln in enumerate(lines[start + 1 :], start=start + 2):
        words = ln.split()
        if not words:
            continue
        if len(words) != 4 or words[0] not in _SEASONS:
            raise ValueError(
                f"{path}: line {number} is not 'SEAS YR TOTAL ANOM' (season one of "
                f"{', '.join(_SEASONS)}): {ln.strip()!r}"
            )
        years.append(int(words[1]))
        months.append(_SEASONS.index(words[0]) + 1)  # centre month: DJF -> Jan
        total.append(float(words[2]))
        anom.append(float(words[3]))
    time = _month_times(np.array(years), np.array(months))
    comment = "3-month season centred on the month: DJF of YR -> January of YR"
    return xr.Dataset(
        {
            "oni_total": (
                "time",
                np.array(total),
                {
                    "units": "degC",
                    "long_name": "Nino 3.4 SST, 3-month running mean",
                    "comment": comment,
                },
            ),
            "oni": (
                "time",
                np.array(anom),
                {
                    "units": "degC",
                    "long_name": "Oceanic Nino Index (3-month Nino 3.4 anomaly)",
                    "comment": comment,
                },
            ),
        },
        coords={"time": time},
    )


def open_index(
    path: PathLike, layout: str | None = None, name: str | None = None, units: str = "degC"
) -> xr.Dataset:
    """Read a monthly climate-index text file (CPC/PSL layouts) into a dataset on ``time``.

    Args:
        path: the file (plain or compressed).
        layout: one of ``LAYOUTS``; detected from the first lines when None.
        name: variable name for the single-series layouts (``psl_monthly``, ``cpc_year_csv``);
            by default guessed from the file name (``roni``, ``oni``, ``nino34_anom``,
            ``nino34``) or ``index``.
        units: units of the single-series layouts (the CPC tables are always degC).

    Returns:
        Dataset with monthly ``time`` (datetime64[ns], first of the month; centre month for
        3-month seasons) and float64 variables with ``units`` and ``long_name``; missing = NaN.
    """
    lines = read_text_lines(path)
    if layout is None:
        layout = detect_layout(lines, path)
    elif layout not in LAYOUTS:
        raise ValueError(f"unknown index layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    try:
        if layout == "cpc_nino":
            ds = _cpc_nino(lines, path)
        elif layout == "psl_monthly":
            ds = _psl_monthly(lines, path, name or _default_name(path, "index"), units)
        elif layout == "cpc_year_csv":
            ds = _cpc_year_csv(lines, path, name or _default_name(path, "index"), units)
        else:
            ds = _cpc_oni(lines, path)
    except StopIteration:
        raise ValueError(f"{path}: header of layout {layout!r} not found") from None
    if np.any(np.diff(ds.time.values) <= np.timedelta64(0)):
        raise ValueError(f"{path}: months are not strictly increasing")
    ds.attrs["source_files"] = os.path.basename(os.fspath(path))
    ds.attrs["layout"] = layout
    return ds


READERS.register(
    "index",
    open_index,
    takes="file",
    patterns=(
        "*.nino.mth.*.ascii",
        "*.indices",
        "*.data",
        "*.data.txt",
        "*oni*.csv",
        "oni.ascii.txt",
    ),
    description="NOAA CPC / PSL monthly climate-index text tables (Nino, ONI, RONI)",
)
