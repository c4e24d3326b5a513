"""Reader for NASA/GSFC SPDF OMNI2 hourly ("low resolution") yearly files ``omni2_YYYY.dat``.

Each row has 55 whitespace-separated words (format document ``omni2.text``): year, day of year,
hour, then 52 parameters. Missing values are written as all-9 fill of each word's format
(``999.9``, ``99999`` ...); they become NaN here. The row time is the **start** of the hourly
averaging interval [hh:00, hh+1:00).
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
import xarray as xr

from geostl.io._files import PathsLike, expand_paths, read_bytes
from geostl.io.registry import READERS


class _Col(NamedTuple):
    name: str
    fill: float | None
    units: str
    long_name: str


# words 4..55 of the OMNI2 hourly record (1-based word numbers in comments)
OMNI2_COLUMNS: tuple[_Col, ...] = (
    _Col("bartels_rotation", 9999, "1", "Bartels rotation number"),  # 4
    _Col("imf_spacecraft_id", 99, "1", "ID of the IMF spacecraft"),  # 5
    _Col("plasma_spacecraft_id", 99, "1", "ID of the solar-wind plasma spacecraft"),  # 6
    _Col("imf_n_points", 999, "1", "number of points in the IMF averages"),  # 7
    _Col("plasma_n_points", 999, "1", "number of points in the plasma averages"),  # 8
    _Col("b_mag", 999.9, "nT", "field magnitude average |B| (1/N sum |B|)"),  # 9
    _Col("b_vector_mag", 999.9, "nT", "magnitude of the average field vector"),  # 10
    _Col("b_lat_gse", 999.9, "degree", "latitude angle of the average field vector, GSE"),
    _Col("b_lon_gse", 999.9, "degree", "longitude angle of the average field vector, GSE"),
    _Col("bx_gse", 999.9, "nT", "Bx, GSE (= GSM)"),  # 13
    _Col("by_gse", 999.9, "nT", "By, GSE"),  # 14
    _Col("bz_gse", 999.9, "nT", "Bz, GSE"),  # 15
    _Col("by_gsm", 999.9, "nT", "By, GSM"),  # 16
    _Col("bz_gsm", 999.9, "nT", "Bz, GSM"),  # 17
    _Col("sigma_b_mag", 999.9, "nT", "RMS standard deviation of the average magnitude"),
    _Col("sigma_b", 999.9, "nT", "RMS standard deviation of the field vector"),  # 19
    _Col("sigma_bx", 999.9, "nT", "RMS standard deviation of Bx (GSE)"),  # 20
    _Col("sigma_by", 999.9, "nT", "RMS standard deviation of By (GSE)"),  # 21
    _Col("sigma_bz", 999.9, "nT", "RMS standard deviation of Bz (GSE)"),  # 22
    _Col("proton_temperature", 9999999.0, "K", "proton temperature"),  # 23
    _Col("proton_density", 999.9, "cm-3", "proton density"),  # 24
    _Col("sw_speed", 9999.0, "km s-1", "solar-wind (plasma flow) speed"),  # 25
    _Col("flow_lon", 999.9, "degree", "plasma flow longitude angle, quasi-GSE"),  # 26
    _Col("flow_lat", 999.9, "degree", "plasma flow latitude angle, GSE"),  # 27
    _Col("alpha_proton_ratio", 9.999, "1", "alpha/proton density ratio Na/Np"),  # 28
    _Col("flow_pressure", 99.99, "nPa", "solar-wind flow pressure"),  # 29
    _Col("sigma_t", 9999999.0, "K", "standard deviation of proton temperature"),  # 30
    _Col("sigma_n", 999.9, "cm-3", "standard deviation of proton density"),  # 31
    _Col("sigma_v", 9999.0, "km s-1", "standard deviation of flow speed"),  # 32
    _Col("sigma_flow_lon", 999.9, "degree", "standard deviation of flow longitude angle"),
    _Col("sigma_flow_lat", 999.9, "degree", "standard deviation of flow latitude angle"),
    _Col("sigma_alpha_proton_ratio", 9.999, "1", "standard deviation of Na/Np"),  # 35
    _Col("e_field", 999.99, "mV m-1", "electric field -V*Bz(GSM)*1e-3"),  # 36
    _Col("plasma_beta", 999.99, "1", "plasma beta"),  # 37
    _Col("alfven_mach_number", 999.9, "1", "Alfven Mach number"),  # 38
    _Col("kp", 99, "1", "planetary geomagnetic index Kp (file value Kp*10 divided by 10)"),
    _Col("sunspot_number", 999, "1", "sunspot number R (version 2)"),  # 40
    _Col("dst", 99999, "nT", "Dst index (Kyoto)"),  # 41
    _Col("ae", 9999, "nT", "AE index (Kyoto)"),  # 42
    _Col("proton_flux_1mev", 999999.99, "cm-2 s-1 sr-1", "proton flux > 1 MeV"),  # 43
    _Col("proton_flux_2mev", 99999.99, "cm-2 s-1 sr-1", "proton flux > 2 MeV"),  # 44
    _Col("proton_flux_4mev", 99999.99, "cm-2 s-1 sr-1", "proton flux > 4 MeV"),  # 45
    _Col("proton_flux_10mev", 99999.99, "cm-2 s-1 sr-1", "proton flux > 10 MeV"),  # 46
    _Col("proton_flux_30mev", 99999.99, "cm-2 s-1 sr-1", "proton flux > 30 MeV"),  # 47
    _Col("proton_flux_60mev", 99999.99, "cm-2 s-1 sr-1", "proton flux > 60 MeV"),  # 48
    _Col("proton_flux_flag", None, "1", "magnetospheric contamination flag (-1..6)"),  # 49
    _Col("ap", 999, "nT", "ap index"),  # 50
    _Col("f107", 999.9, "sfu", "F10.7 solar radio flux (1 sfu = 1e-22 W m-2 Hz-1)"),  # 51
    _Col("pc_n", 999.9, "1", "polar cap index PC(N)"),  # 52
    _Col("al", 99999, "nT", "AL index (Kyoto)"),  # 53
    _Col("au", 99999, "nT", "AU index (Kyoto)"),  # 54
    _Col("mach_number", 99.9, "1", "magnetosonic Mach number"),  # 55
)
N_WORDS = 3 + len(OMNI2_COLUMNS)  # 55


def _read_table(path: os.PathLike | str) -> np.ndarray:
    text = read_bytes(path).decode("latin-1")
    tokens = text.split()
    lines = text.splitlines()
    n_rows = sum(1 for line in lines if line.strip())
    if len(tokens) != n_rows * N_WORDS:
        for number, line in enumerate(lines, start=1):
            n = len(line.split())
            if line.strip() and n != N_WORDS:
                raise ValueError(
                    f"{path}: line {number} has {n} words, expected {N_WORDS} "
                    f"(OMNI2 hourly format): {line[:60]!r}..."
                )
    try:
        return np.array(tokens, dtype=np.float64).reshape(n_rows, N_WORDS)
    except ValueError:
        for number, line in enumerate(lines, start=1):
            try:
                [float(x) for x in line.split()]
            except ValueError as err:
                raise ValueError(f"{path}: line {number}: non-numeric word: {err}") from err
        raise


def _times(table: np.ndarray, path: os.PathLike | str) -> np.ndarray:
    year, doy, hour = table[:, 0], table[:, 1], table[:, 2]
    bad = (doy < 1) | (doy > 366) | (hour < 0) | (hour > 23) | (year != np.round(year))
    if bad.any():
        row = int(np.argmax(bad)) + 1
        raise ValueError(f"{path}: row {row} has an invalid year/day/hour {table[row - 1, :3]}")
    start = (year.astype(np.int64) - 1970).astype("datetime64[Y]").astype("datetime64[ns]")
    return (
        start
        + (doy.astype(np.int64) - 1) * np.timedelta64(1, "D")
        + hour.astype(np.int64) * np.timedelta64(1, "h")
    )


def open_omni2(paths: PathsLike) -> xr.Dataset:
    """Read OMNI2 hourly files (plain or ``.gz``), one or many years, into one dataset.

    Returns:
        Dataset on dim ``time`` (datetime64[ns], UTC, the **start** of each hourly average)
        with one float64 variable per OMNI2 word 4..55 (see ``OMNI2_COLUMNS``), fill values
        replaced by NaN. ``kp`` is real Kp (the file stores Kp*10, e.g. 33 = 3+ -> 3.3).

    Raises:
        ValueError: a row without 55 words (naming file and line), non-numeric words,
            or files that overlap in time.
    """
    pieces = []
    for path in expand_paths(paths, "OMNI2 file"):
        table = _read_table(path)
        if table.shape[0] == 0:
            raise ValueError(f"{path}: no data rows")
        pieces.append((_times(table, path), table, path))
    pieces.sort(key=lambda p: p[0][0])
    for (t0, _, p0), (t1, _, p1) in zip(pieces, pieces[1:], strict=False):
        if t1[0] <= t0[-1]:
            raise ValueError(
                f"OMNI2 files overlap in time: {p0} ends at {t0[-1]}, {p1} starts at {t1[0]}"
            )
    time = np.concatenate([p[0] for p in pieces])
    table = np.concatenate([p[1] for p in pieces])
    if np.any(np.diff(time) <= np.timedelta64(0)):
        k = int(np.argmax(np.diff(time) <= np.timedelta64(0)))
        raise ValueError(f"OMNI2 rows are not in time order near {time[k]}")
    data_vars = {}
    for j, col in enumerate(OMNI2_COLUMNS, start=3):
        values = table[:, j].copy()
        if col.fill is not None:
            values[values == col.fill] = np.nan  # the text fill parses to exactly this float
        attrs = {"units": col.units, "long_name": col.long_name, "omni2_word": j + 1}
        if col.fill is not None:
            attrs["fill_value_in_file"] = col.fill
        if col.name == "kp":
            values = values / 10.0
            attrs["comment"] = "OMNI2 stores Kp*10 (3+ = 33); divided by 10 here (3+ -> 3.3)"
        data_vars[col.name] = ("time", values, attrs)
    ds = xr.Dataset(data_vars, coords={"time": time})
    ds["time"].attrs.update(
        {
            "long_name": "start of the hourly averaging interval",
            "comment": "OMNI2 hourly averages cover [hh:00, hh+1:00) UTC; time = hh:00",
        }
    )
    ds.attrs["source_files"] = ",".join(os.path.basename(p[2]) for p in pieces)
    ds.attrs["source"] = "NASA/GSFC SPDF OMNI2 hourly (low resolution) data"
    return ds


READERS.register(
    "omni2",
    open_omni2,
    takes="files",
    patterns=("omni2_*.dat", "omni2_*.dat.gz"),
    description="OMNI2 hourly solar-wind and geomagnetic indices (NASA SPDF yearly files)",
)
