"""Reader for IONEX 1.0 global ionosphere maps (Schaer, Gurtner & Feltens, 1998).

An IONEX file is a header (records labelled in columns 61-80) followed by TEC maps and,
optionally, RMS and height maps. Each map is::

    START OF TEC MAP           (map number)
    EPOCH OF CURRENT MAP       (yyyy mm dd hh mm ss)
    [EXPONENT]                 (optional, changes the unit from here to the end of this map)
    LAT/LON1/LON2/DLON/H       (one record per latitude line, then the values, 16 per line, I5)
    ...
    END OF TEC MAP

Values are integers in units of ``10**EXPONENT`` TECU; 9999 means "no value" (NaN here).

Rules implemented here (documented in ``docs/data.md``):

* epochs come from each map's ``EPOCH OF CURRENT MAP`` (``EPOCH OF LAST MAP`` is not trusted);
* every latitude record must match the header grid (LAT1/LAT2/DLAT, LON1/LON2/DLON, HGT1);
* several files are ordered by their first epoch and joined on time; when a file's last epoch
  equals the next file's first epoch (the usual 24:00 = 00:00 duplicate of daily files), the
  epoch is kept once, **taken from the later file**; any other overlap is an error;
* all files must share one grid.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from geostl.io._files import PathsLike, expand_paths, read_text_lines
from geostl.io.registry import READERS

__all__ = ["IonexFile", "join_ionex_files", "open_ionex", "read_ionex_file"]

_FILL = 9999
_PER_LINE = 16
_LETTERS = re.compile("[A-Za-z]")


@dataclass
class _Header:
    grid_lat: np.ndarray
    grid_lon: np.ndarray
    height: float
    exponent: int
    n_maps: int | None
    attrs: dict[str, str | float | int] = field(default_factory=dict)


@dataclass
class IonexFile:
    """One parsed IONEX file: its header, map epochs and TEC (and RMS) maps in TECU."""

    path: Path
    header: _Header
    tec_times: list[np.datetime64]
    tec: np.ndarray  # (T, lat, lon) float32 TECU
    rms_times: list[np.datetime64]
    rms: np.ndarray | None


def _label(line: str) -> str:
    return line[60:80].strip()


def _floats(text: str, path: Path, what: str) -> list[float]:
    try:
        return [float(x) for x in text.split()]
    except ValueError as err:
        raise ValueError(f"{path}: cannot read the {what} record {text.strip()!r}") from err


def _axis(start: float, stop: float, step: float, path: Path, what: str) -> np.ndarray:
    if step == 0:
        if start != stop:
            raise ValueError(f"{path}: {what} has step 0 but start {start} != end {stop}")
        return np.array([start])
    n = (stop - start) / step
    if n < 0 or abs(n - round(n)) > 1e-6:
        raise ValueError(
            f"{path}: {what} {start} .. {stop} is not a whole number of steps of {step}"
        )
    return start + step * np.arange(int(round(n)) + 1)


def _parse_header(lines: list[str], path: Path) -> tuple[_Header, int]:
    rec: dict[str, str] = {}
    end = None
    for i, line in enumerate(lines):
        lab = _label(line)
        if lab == "END OF HEADER":
            end = i
            break
        if lab in rec and lab in ("COMMENT", "DESCRIPTION"):
            continue
        rec.setdefault(lab, line[:60])
    if end is None:
        raise ValueError(f"{path}: not an IONEX file (no 'END OF HEADER' record)")
    if "IONEX VERSION / TYPE" not in rec:
        raise ValueError(f"{path}: not an IONEX file (no 'IONEX VERSION / TYPE' record)")
    for key in ("LAT1 / LAT2 / DLAT", "LON1 / LON2 / DLON", "HGT1 / HGT2 / DHGT"):
        if key not in rec:
            raise ValueError(f"{path}: IONEX header lacks the {key!r} record")
    dim = int(rec.get("MAP DIMENSION", "2").split()[0])
    h1, h2, _ = _floats(rec["HGT1 / HGT2 / DHGT"], path, "HGT1 / HGT2 / DHGT")
    if dim != 2 or h1 != h2:
        raise ValueError(
            f"{path}: only 2-D IONEX maps are supported (MAP DIMENSION {dim}, HGT {h1}..{h2})"
        )
    lat1, lat2, dlat = _floats(rec["LAT1 / LAT2 / DLAT"], path, "LAT1 / LAT2 / DLAT")
    lon1, lon2, dlon = _floats(rec["LON1 / LON2 / DLON"], path, "LON1 / LON2 / DLON")
    version = rec["IONEX VERSION / TYPE"]
    attrs: dict[str, str | float | int] = {
        "ionex_version": version[:8].strip(),
        "satellite_system": version[40:60].strip(),
        "shell_height_km": h1,
    }
    if "PGM / RUN BY / DATE" in rec:
        pgm = rec["PGM / RUN BY / DATE"]
        attrs["program"] = pgm[:20].strip()
        # columns 21-40 / 41-60 by the standard; some producers shift the date left by a
        # character, so split the rest on the first run of 2+ blanks when there is one
        parts = re.split(r"\s{2,}", pgm[20:60].strip(), maxsplit=1)
        if len(parts) == 2:
            attrs["centre"], attrs["creation_date"] = parts[0], parts[1]
        else:
            attrs["centre"], attrs["creation_date"] = pgm[20:40].strip(), pgm[40:60].strip()
    if "MAPPING FUNCTION" in rec:
        attrs["mapping_function"] = rec["MAPPING FUNCTION"].strip()
    if "BASE RADIUS" in rec:
        attrs["base_radius_km"] = float(rec["BASE RADIUS"].split()[0])
    if "ELEVATION CUTOFF" in rec:
        attrs["elevation_cutoff_deg"] = float(rec["ELEVATION CUTOFF"].split()[0])
    if "INTERVAL" in rec:
        attrs["interval_s"] = int(float(rec["INTERVAL"].split()[0]))
    n_maps = int(rec["# OF MAPS IN FILE"].split()[0]) if "# OF MAPS IN FILE" in rec else None
    exponent = int(rec["EXPONENT"].split()[0]) if "EXPONENT" in rec else -1
    header = _Header(
        grid_lat=_axis(lat1, lat2, dlat, path, "LAT1/LAT2/DLAT"),
        grid_lon=_axis(lon1, lon2, dlon, path, "LON1/LON2/DLON"),
        height=h1,
        exponent=exponent,
        n_maps=n_maps,
        attrs=attrs,
    )
    return header, end + 1


def _parse_epoch(text: str, path: Path, where: str) -> np.datetime64:
    try:
        y, mo, d, h, mi, s = (int(float(x)) for x in text.split()[:6])
        if not (0 <= h <= 24 and 0 <= mi < 60 and 0 <= s < 61):
            raise ValueError("time of day out of range")
        # hour 24 (used by UQRG for the closing map) is the next day's 00:00
        day = np.datetime64(f"{y:04d}-{mo:02d}-{d:02d}", "ns")
        return day + np.timedelta64(h * 3600 + mi * 60 + s, "s")
    except ValueError as err:
        raise ValueError(f"{path}: {where}: bad EPOCH OF CURRENT MAP {text.strip()!r}") from err


def _row_values(lines: list[str], n: int, path: Path, where: str) -> np.ndarray:
    """Read ``n`` I5 integers from the given data lines (16 per line)."""
    tokens = " ".join(lines).split()
    if len(tokens) == n:  # fast path: every field separated by blanks
        try:
            return np.array(list(map(int, tokens)), dtype=np.int64)
        except ValueError as err:
            raise ValueError(f"{path}: {where}: non-integer value among {tokens}") from err
    # fixed-width I5 fields (values may touch, e.g. "-1000 9999")
    fields: list[str] = []
    for line in lines:
        body = line.rstrip()
        fields.extend(body[k : k + 5] for k in range(0, len(body), 5))
    if len(fields) != n or any(not f.strip() for f in fields):
        raise ValueError(f"{path}: {where}: expected {n} values, found {len(fields)}")
    try:
        return np.array([int(f) for f in fields], dtype=np.int64)
    except ValueError as err:
        raise ValueError(f"{path}: {where}: non-integer value in {fields}") from err


def _parse_map(
    lines: list[str], start: int, header: _Header, path: Path, kind: str, number: int
) -> tuple[np.datetime64, np.ndarray, int]:
    """Parse one map starting after its START record; return (epoch, values, next line index)."""
    nlat, nlon = header.grid_lat.size, header.grid_lon.size
    lines_per_row = math.ceil(nlon / _PER_LINE)
    where = f"{kind} map {number}"
    out = np.full((nlat, nlon), np.nan, dtype=np.float64)
    exponent = header.exponent
    epoch = None
    row = 0
    i = start
    while True:
        if i >= len(lines):
            raise ValueError(
                f"{path}: {where} is not closed (file ends before 'END OF {kind} MAP'); "
                "the file is truncated"
            )
        line = lines[i]
        lab = _label(line)
        if lab == f"END OF {kind} MAP":
            break
        if lab == "EPOCH OF CURRENT MAP":
            epoch = _parse_epoch(line[:60], path, where)
            i += 1
        elif lab == "EXPONENT":
            exponent = int(line[:60].split()[0])
            i += 1
        elif lab == "LAT/LON1/LON2/DLON/H":
            if row >= nlat:
                raise ValueError(f"{path}: {where} has more than the {nlat} latitude lines")
            lat, lon1, lon2, dlon, hgt = _lat_record(line, path, where)
            want_lat = float(header.grid_lat[row])
            grid = (float(header.grid_lon[0]), float(header.grid_lon[-1]), nlon, header.height)
            n_lon = round((lon2 - lon1) / dlon) + 1 if dlon else 1
            if (
                abs(lat - want_lat) > 1e-6
                or n_lon != nlon
                or abs(lon1 - grid[0]) > 1e-6
                or abs(lon2 - grid[1]) > 1e-6
                or abs(hgt - grid[3]) > 1e-6
            ):
                raise ValueError(
                    f"{path}: {where}, latitude line {row + 1}: record "
                    f"LAT={lat} LON1={lon1} LON2={lon2} DLON={dlon} H={hgt} does not match the "
                    f"header grid (expected LAT={want_lat:g} LON1={grid[0]:g} LON2={grid[1]:g} "
                    f"with {grid[2]} longitudes, H={grid[3]:g})"
                )
            data = lines[i + 1 : i + 1 + lines_per_row]
            if len(data) < lines_per_row or any(_has_label(d) for d in data):
                raise ValueError(
                    f"{path}: {where}, latitude {lat:g}: expected {nlon} values on "
                    f"{lines_per_row} lines; the map is truncated"
                )
            ints = _row_values(data, nlon, path, f"{where}, latitude {lat:g}")
            vals = ints * (10.0**exponent)
            vals[ints == _FILL] = np.nan
            out[row] = vals
            row += 1
            i += 1 + lines_per_row
        elif line.strip() == "":
            i += 1
        else:
            raise ValueError(f"{path}: {where}: unexpected line {i + 1}: {line.rstrip()!r}")
    if epoch is None:
        raise ValueError(f"{path}: {where} has no 'EPOCH OF CURRENT MAP' record")
    if row != nlat:
        raise ValueError(
            f"{path}: {where} has {row} latitude lines, expected {nlat}; the map is truncated"
        )
    return epoch, out.astype(np.float32), i + 1


def _lat_record(line: str, path: Path, where: str) -> tuple[float, float, float, float, float]:
    text = line[:60]
    try:  # fixed layout 2X,5F6.1
        vals = tuple(float(text[2 + 6 * k : 8 + 6 * k]) for k in range(5))
    except ValueError as err:
        raise ValueError(f"{path}: {where}: bad LAT/LON1/LON2/DLON/H record {text!r}") from err
    return vals  # type: ignore[return-value]


def _read_one(path: Path, with_rms: bool) -> IonexFile:
    lines = read_text_lines(path)
    header, i = _parse_header(lines, path)
    maps: dict[str, tuple[list[np.datetime64], list[np.ndarray]]] = {
        "TEC": ([], []),
        "RMS": ([], []),
    }
    while i < len(lines):
        lab = _label(lines[i])
        if lab.startswith("START OF ") and lab.endswith(" MAP"):
            kind = lab[len("START OF ") : -len(" MAP")]
            if kind not in maps:
                raise ValueError(
                    f"{path}: {kind} maps (line {i + 1}) are not supported; "
                    "only TEC and RMS maps are read"
                )
            number = int(lines[i][:60].split()[0])
            if kind == "RMS" and not with_rms:
                while i < len(lines) and _label(lines[i]) != "END OF RMS MAP":
                    i += 1
                if i == len(lines):
                    raise ValueError(f"{path}: RMS map {number} is not closed; file truncated")
                i += 1
                continue
            epoch, values, i = _parse_map(lines, i + 1, header, path, kind, number)
            maps[kind][0].append(epoch)
            maps[kind][1].append(values)
        elif lab == "END OF FILE" or lines[i].strip() == "":
            i += 1
        else:
            raise ValueError(f"{path}: unexpected record at line {i + 1}: {lines[i].rstrip()!r}")
    tec_t, tec_v = maps["TEC"]
    if not tec_t:
        raise ValueError(f"{path}: no TEC map found")
    if header.n_maps is not None and len(tec_t) != header.n_maps:
        raise ValueError(
            f"{path}: header says {header.n_maps} maps ('# OF MAPS IN FILE') but "
            f"{len(tec_t)} TEC maps were read; the file is truncated or inconsistent"
        )
    if np.any(np.diff(np.array(tec_t)) <= np.timedelta64(0)):
        raise ValueError(f"{path}: TEC map epochs are not strictly increasing")
    rms_t, rms_v = maps["RMS"]
    rms = None
    if rms_t:
        if rms_t != tec_t:
            raise ValueError(f"{path}: RMS map epochs differ from the TEC map epochs")
        rms = np.stack(rms_v)
    return IonexFile(path, header, tec_t, np.stack(tec_v), rms_t, rms)


def open_ionex(paths: PathsLike, rms: bool = True) -> xr.Dataset:
    """Read one or several IONEX 1.0 files (plain, ``.gz`` or ``.Z``) into one dataset.

    Args:
        paths: a path, a glob pattern, or a list of them. Short names (``codg0080.20i``) and long
            IGS names (``COD0OPSFIN_20200080000_01D_01H_GIM.INX.gz``) are both fine: compression
            is detected from the file content.
        rms: also return the RMS maps when every file has them.

    Returns:
        Dataset with ``tec`` (time, lat, lon) float32 in TECU and, if present and requested,
        ``rms`` (time, lat, lon) float32 in TECU. ``lat`` in degrees north in file order
        (usually descending), ``lon`` in degrees east as in the file (often -180..180, both
        ends included). Files are ordered by first epoch; the duplicated day-boundary epoch
        is taken from the later file.

    Raises:
        ValueError: truncated maps, grids that differ from the header or between files,
            overlapping files, or RMS maps in only some of the files.
    """
    return join_ionex_files(
        [read_ionex_file(p, rms) for p in expand_paths(paths, "IONEX file")], rms
    )


def read_ionex_file(path: str | os.PathLike, rms: bool = True) -> IonexFile:
    """Parse one IONEX file (plain, ``.gz`` or ``.Z``) into its header and map arrays.

    The picklable unit of work of a parallel ingest (``geostl.archives.ingest``):
    :func:`join_ionex_files` of the parsed files is exactly :func:`open_ionex` of the paths.
    """
    return _read_one(Path(path), rms)


def join_ionex_files(files: list[IonexFile], rms: bool = True) -> xr.Dataset:
    """Join parsed IONEX files into one dataset by :func:`open_ionex`'s rules (see there)."""
    if not files:
        raise ValueError("no IONEX file given")
    files = sorted(files, key=lambda f: f.tec_times[0])
    first = files[0]
    for other in files[1:]:
        h0, h1 = first.header, other.header
        if (
            h0.grid_lat.shape != h1.grid_lat.shape
            or h0.grid_lon.shape != h1.grid_lon.shape
            or not np.allclose(h0.grid_lat, h1.grid_lat)
            or not np.allclose(h0.grid_lon, h1.grid_lon)
            or h0.height != h1.height
        ):
            raise ValueError(
                f"IONEX grids differ: {first.path.name} has lat {_desc(h0.grid_lat)}, lon "
                f"{_desc(h0.grid_lon)}, H {h0.height:g} km but {other.path.name} has lat "
                f"{_desc(h1.grid_lat)}, lon {_desc(h1.grid_lon)}, H {h1.height:g} km"
            )
    has_rms = [f.rms is not None for f in files]
    if rms and any(has_rms) and not all(has_rms):
        names = [f.path.name for f in files if f.rms is None]
        raise ValueError(
            f"IONEX files without RMS maps: {', '.join(names)} (others have them); "
            "pass rms=False to read only the TEC maps"
        )
    keep_rms = rms and all(has_rms)

    times: list[np.ndarray] = []
    tecs: list[np.ndarray] = []
    rmss: list[np.ndarray] = []
    for k, f in enumerate(files):
        t = np.array(f.tec_times, dtype="datetime64[ns]")
        n = len(t)
        if k + 1 < len(files):
            nxt = files[k + 1]
            nxt_first = nxt.tec_times[0]
            if t[-1] == nxt_first:
                n -= 1  # day-boundary duplicate: the later file provides it
            if np.any(t[:n] >= nxt_first):
                raise ValueError(
                    f"IONEX files overlap in time: {f.path.name} ends at {t[-1]} and "
                    f"{nxt.path.name} starts at {nxt_first}; only a single shared "
                    "boundary epoch is allowed"
                )
        times.append(t[:n])
        tecs.append(f.tec[:n])
        if keep_rms:
            assert f.rms is not None
            rmss.append(f.rms[:n])

    coords = {
        "time": np.concatenate(times),
        "lat": ("lat", first.header.grid_lat.astype(np.float32), _lat_attrs()),
        "lon": ("lon", first.header.grid_lon.astype(np.float32), _lon_attrs()),
    }
    data_vars = {
        "tec": (
            ("time", "lat", "lon"),
            np.concatenate(tecs),
            {
                "units": "TECU",
                "long_name": "vertical total electron content",
                "comment": "1 TECU = 1e16 electrons m-2; IONEX value 9999 read as NaN",
            },
        )
    }
    if keep_rms:
        data_vars["rms"] = (
            ("time", "lat", "lon"),
            np.concatenate(rmss),
            {"units": "TECU", "long_name": "RMS error of vertical total electron content"},
        )
    ds = xr.Dataset(data_vars, coords=coords)
    ds["time"].attrs.update({"long_name": "epoch of map (EPOCH OF CURRENT MAP)", "tz": "UTC"})
    ds.attrs.update(_merge_attrs([f.header.attrs for f in files]))
    ds.attrs["source_files"] = ",".join(os.path.basename(f.path) for f in files)
    ds.attrs["day_boundary_rule"] = (
        "a map epoch shared by consecutive files is kept once, taken from the later file"
    )
    return ds


def _desc(a: np.ndarray) -> str:
    return f"{a[0]:g}..{a[-1]:g} ({a.size})"


def _lat_attrs() -> dict[str, str]:
    return {"units": "degrees_north", "long_name": "latitude"}


def _lon_attrs() -> dict[str, str]:
    return {"units": "degrees_east", "long_name": "longitude"}


def _merge_attrs(items: list[dict[str, str | float | int]]) -> dict[str, str | float | int]:
    out: dict[str, str | float | int] = {}
    for key in items[0]:
        values = [it.get(key) for it in items]
        uniq = list(dict.fromkeys(values))
        out[key] = uniq[0] if len(uniq) == 1 else "; ".join(str(v) for v in uniq)  # type: ignore[assignment]
    return out


def _has_label(line: str) -> bool:
    """True for a header-style record (letters in the label columns), never for a data line."""
    return _LETTERS.search(line, 60, 80) is not None


READERS.register(
    "ionex",
    open_ionex,
    takes="files",
    patterns=("*.??i", "*.??i.gz", "*.??i.Z", "*.??I", "*.??I.Z", "*.INX", "*.INX.gz"),
    description="IONEX global TEC maps (IGS, CODE, UPC ...), TECU on the 2.5 x 5 deg grid",
)
