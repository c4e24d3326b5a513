"""Reader for the CelesTrak space-weather file ``SW-All.txt`` (CSSI format, version 1.2).

Data rows are fixed-width, ``FORMAT(I4,I3,I3,I5,I3,8I3,I4,8I4,I4,F4.1,I2,I4,F6.1,I2,5F6.1)``:
year, month, day, Bartels solar rotation number, day of rotation, 8 three-hourly Kp (x10),
daily Kp sum (x10), 8 three-hourly ap, daily Ap, Cp, C9, international sunspot number,
adjusted F10.7, flux qualifier, adjusted 81-day centred and last averages, observed F10.7,
observed 81-day centred and last averages. Rows sit in sections ``BEGIN OBSERVED`` ..
``END OBSERVED``, ``DAILY_PREDICTED`` and ``MONTHLY_PREDICTED``; blank fields are NaN.
"""

from __future__ import annotations

import os

import numpy as np
import xarray as xr

from geostl.io._files import PathLike, read_text_lines
from geostl.io.registry import READERS

_WIDTHS = (4, 3, 3, 5, 3, *([3] * 8), 4, *([4] * 8), 4, 4, 2, 4, 6, 2, 6, 6, 6, 6, 6)
_SECTIONS = ("OBSERVED", "DAILY_PREDICTED", "MONTHLY_PREDICTED")

_SCALARS = {  # field index -> (name, units, long_name, scale)
    3: ("bartels_rotation", "1", "Bartels solar rotation number", 1.0),
    4: ("bartels_day", "1", "day within the Bartels rotation (1-27)", 1.0),
    13: ("kp_sum", "1", "daily sum of the 8 three-hourly Kp (file value x10 divided by 10)", 0.1),
    22: ("ap_daily", "nT", "daily planetary equivalent amplitude Ap", 1.0),
    23: ("cp", "1", "daily planetary character figure Cp", 1.0),
    24: ("c9", "1", "C9 (Cp converted to 0..9)", 1.0),
    25: ("sunspot_number", "1", "international sunspot number", 1.0),
    26: ("f107_adj", "sfu", "F10.7 adjusted to 1 AU", 1.0),
    27: ("f107_qualifier", "1", "F10.7 flux qualifier (0 ok, 1 flux missing/estimated ...)", 1.0),
    28: ("f107_adj_ctr81", "sfu", "adjusted F10.7, 81-day centred average", 1.0),
    29: ("f107_adj_lst81", "sfu", "adjusted F10.7, last 81-day average", 1.0),
    30: ("f107_obs", "sfu", "observed F10.7", 1.0),
    31: ("f107_obs_ctr81", "sfu", "observed F10.7, 81-day centred average", 1.0),
    32: ("f107_obs_lst81", "sfu", "observed F10.7, last 81-day average", 1.0),
}


def _split(line: str) -> list[str]:
    out, pos = [], 0
    for w in _WIDTHS:
        out.append(line[pos : pos + w])
        pos += w
    return out


def _number(text: str, path: PathLike, number: int) -> float:
    text = text.strip()
    if not text:
        return np.nan
    try:
        return float(text)
    except ValueError as err:
        raise ValueError(f"{path}: line {number}: field {text!r} is not a number") from err


def open_celestrak(
    path: PathLike, include_predicted: bool = False, include_monthly: bool = False
) -> xr.Dataset:
    """Read a CelesTrak ``SW-All.txt`` / ``SW-Last5Years.txt`` file (plain or ``.gz``).

    Args:
        path: the file.
        include_predicted: also return the ``DAILY_PREDICTED`` rows (default: OBSERVED only).
        include_monthly: also return the ``MONTHLY_PREDICTED`` rows (first of each month; only
            sunspot number and F10.7 are given there).

    Returns:
        Dataset on daily ``time`` (00 UT of the day) with ``kp_3h`` (time, kp_interval=8)
        real Kp (file Kp*10 divided by 10) for 00-03, 03-06, ... 21-24 UT, ``ap_3h`` (time,
        kp_interval) in nT, ``kp_sum``, ``ap_daily`` [nT], ``cp``, ``c9``, ``sunspot_number``,
        ``f107_obs``/``f107_adj`` [sfu] and their 81-day averages, and a ``section``
        coordinate (time) saying OBSERVED, DAILY_PREDICTED or MONTHLY_PREDICTED.
    """
    lines = read_text_lines(path)
    wanted = {"OBSERVED"}
    if include_predicted:
        wanted.add("DAILY_PREDICTED")
    if include_monthly:
        wanted.add("MONTHLY_PREDICTED")
    section = None
    seen: set[str] = set()
    rows: list[list[float]] = []
    sections: list[str] = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("BEGIN "):
            section = stripped[6:].strip()
            seen.add(section)
            continue
        if stripped.startswith("END "):
            section = None
            continue
        if section is None or not stripped:
            continue
        if section not in _SECTIONS:
            raise ValueError(f"{path}: line {number}: unknown section {section!r}")
        if section not in wanted:
            continue
        if len(line.rstrip()) < 18 or len(line.rstrip()) > sum(_WIDTHS):
            raise ValueError(
                f"{path}: line {number}: row length {len(line.rstrip())} does not fit the CSSI "
                f"layout ({sum(_WIDTHS)} characters)"
            )
        rows.append([_number(f, path, number) for f in _split(line)])
        sections.append(section)
    if "OBSERVED" not in seen:
        raise ValueError(f"{path}: not a CelesTrak CSSI space-weather file (no 'BEGIN OBSERVED')")
    table = np.array(rows, dtype=np.float64)
    ymd = table[:, :3].astype(np.int64)
    time = np.array(
        [np.datetime64(f"{y:04d}-{m:02d}-{d:02d}", "ns") for y, m, d in ymd], dtype="datetime64[ns]"
    )
    order = np.argsort(time, kind="stable")
    if np.any(np.diff(time[order]) <= np.timedelta64(0)):
        raise ValueError(f"{path}: repeated dates among the selected rows")
    table, time = table[order], time[order]
    sec = np.array(sections)[order]
    interval = ["00-03", "03-06", "06-09", "09-12", "12-15", "15-18", "18-21", "21-24"]
    data_vars = {
        "kp_3h": (
            ("time", "kp_interval"),
            table[:, 5:13] / 10.0,
            {
                "units": "1",
                "long_name": "three-hourly planetary Kp index",
                "comment": "file stores Kp*10 (3+ = 33 -> 3.3); divided by 10 here",
            },
        ),
        "ap_3h": (
            ("time", "kp_interval"),
            table[:, 14:22],
            {"units": "nT", "long_name": "three-hourly planetary equivalent amplitude ap"},
        ),
    }
    for k, (name, units, long_name, scale) in _SCALARS.items():
        data_vars[name] = ("time", table[:, k] * scale, {"units": units, "long_name": long_name})
    ds = xr.Dataset(
        data_vars,
        coords={
            "time": time,
            "kp_interval": ("kp_interval", interval, {"long_name": "UT interval of the day"}),
            "section": ("time", sec, {"long_name": "CSSI section of the row"}),
        },
    )
    ds.attrs["source_files"] = os.path.basename(os.fspath(path))
    ds.attrs["source"] = (
        "CelesTrak space-weather data (CSSI format), https://celestrak.org/SpaceData/"
    )
    return ds


READERS.register(
    "celestrak",
    open_celestrak,
    takes="file",
    patterns=("*SW-*.txt", "*SW-*.txt.gz"),
    description="CelesTrak / CSSI space-weather table (Kp, Ap, F10.7), daily",
)
