"""OpenSTL's WeatherBench 5.625° data sets as run-config ``data`` sections.

Each set names its variables and levels (the channels, in order), its time step, its window and
its default years. :func:`weatherbench_data_section` turns a set into a ``data`` section for
``geostl train`` that reads a WeatherBench folder through the ``weatherbench`` source format.

Sets (OpenSTL ``--dataname weather_<set>_5_625``):

=============  ====================================================  ======  ======  ===========
set            channels                                              step    window  train years
=============  ====================================================  ======  ======  ===========
t2m            t2m                                                   1 h     12→12   2010–2015
r              r_1000 (OpenSTL keeps the last of the 13 levels)      1 h     12→12   2010–2015
uv10           u10, v10                                              1 h     12→12   2010–2015
tcc            tcc                                                   1 h     12→12   2010–2015
mv_4_4_s6      r, t, u, v × 150, 500, 850 hPa (12)                   6 h     4→4     1979–2015
mv_4_28_s6     as mv_4_4_s6                                          6 h     4→28    1979–2015
hmv_4_4_s6     z, t, r, q, u, v, vo, pv × 13 levels, then t2m, u10,  6 h     4→4     1980–2015
               v10, tcc, tp, tisr (110)
=============  ====================================================  ======  ======  ===========

Validation is 2016 and test 2017–2018 for every set. The project's splits leave one window
(``(T_in + T_out) × step``) between consecutive splits, so train ends that long before
2016-01-01 and validation that long before 2017-01-01 (OpenSTL uses the whole years and, unlike
here, evaluates on the test set as its "validation").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import xarray as xr

from geostl.io.weatherbench import WEATHERBENCH_LEVELS, channel_name

__all__ = ["WEATHERBENCH_SETS", "WBSet", "weatherbench_data_section", "weatherbench_set"]

_MV_LEVELS = (150, 500, 850)
_HMV_PRESSURE = ("z", "t", "r", "q", "u", "v", "vo", "pv")
_HMV_SINGLE = ("t2m", "u10", "v10", "tcc", "tp", "tisr")


@dataclass(frozen=True)
class WBSet:
    """One data set: ``variables`` (short names), ``levels`` per pressure-level variable (hPa),
    time ``step_hours``, window ``t_in``→``t_out`` and years (inclusive)."""

    name: str
    variables: tuple[str, ...]
    levels: dict[str, tuple[int, ...]]
    step_hours: int
    t_in: int
    t_out: int
    train_years: tuple[int, int]
    val_years: tuple[int, int] = (2016, 2016)
    test_years: tuple[int, int] = (2017, 2018)

    @property
    def channels(self) -> list[str]:
        """Channel names in order, e.g. ``["r_150", "r_500", "r_850", "t_150", ...]``."""
        out: list[str] = []
        for short in self.variables:
            for level in self.levels.get(short, (None,)):
                out.append(channel_name(short, level))
        return out

    @property
    def years(self) -> tuple[int, int]:
        """First and last year read (train start .. test end)."""
        return self.train_years[0], self.test_years[1]


def _single(name: str, variables: tuple[str, ...], levels: dict[str, tuple[int, ...]]) -> WBSet:
    return WBSet(name, variables, levels, 1, 12, 12, (2010, 2015))


WEATHERBENCH_SETS: dict[str, WBSet] = {
    s.name: s
    for s in (
        _single("t2m", ("t2m",), {}),
        _single("r", ("r",), {"r": (WEATHERBENCH_LEVELS[-1],)}),
        _single("uv10", ("u10", "v10"), {}),
        _single("tcc", ("tcc",), {}),
        WBSet(
            "mv_4_4_s6",
            ("r", "t", "u", "v"),
            {v: _MV_LEVELS for v in ("r", "t", "u", "v")},
            6,
            4,
            4,
            (1979, 2015),
        ),
        WBSet(
            "mv_4_28_s6",
            ("r", "t", "u", "v"),
            {v: _MV_LEVELS for v in ("r", "t", "u", "v")},
            6,
            4,
            28,
            (1979, 2015),
        ),
        WBSet(
            "hmv_4_4_s6",
            _HMV_PRESSURE + _HMV_SINGLE,
            {v: WEATHERBENCH_LEVELS for v in _HMV_PRESSURE},
            6,
            4,
            4,
            (1980, 2015),
        ),
    )
}


def weatherbench_set(name: str) -> WBSet:
    """The set called ``name`` (also accepted: OpenSTL's ``weather_<name>_5_625``)."""
    key = name.removeprefix("weather_").removesuffix("_5_625")
    if key in WEATHERBENCH_SETS:
        return WEATHERBENCH_SETS[key]
    raise KeyError(
        f"unknown WeatherBench set {name!r}; expected one of {', '.join(WEATHERBENCH_SETS)}"
    )


def _split(first_year: int, last_year: int, gap: pd.Timedelta | None) -> dict[str, str]:
    end = pd.Timestamp(f"{last_year + 1}-01-01")
    if gap is not None:
        end = end - gap
    return {"start": f"{first_year}-01-01T00:00", "end": end.strftime("%Y-%m-%dT%H:%M")}


def weatherbench_data_section(
    name: str,
    root: str,
    source: str = "wb",
    years: dict[str, tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """A run-config ``data`` section for a set read from a WeatherBench folder.

    Args:
        name: a set of ``WEATHERBENCH_SETS`` (or ``weather_<name>_5_625``).
        root: the WeatherBench 5.625° folder (one sub-folder per variable).
        source: the name of the source in ``data.sources``.
        years: optional ``{"train"|"val"|"test": (first, last)}`` overriding the set's years
            (inclusive calendar years), e.g. for a shorter experiment.

    Returns:
        ``{"sources": {source: {"paths": root, "format": "weatherbench", "weatherbench":
        {"set": name, "years": [first, last]}, ["every": "6h"]}}, "schema": {"targets": ...},
        "splits": ..., "window": ..., "normalisation": {"method": "standard"}}``: targets are
        the set's channels; statistics are fitted on the train split (per channel, over time,
        lat and lon).
    """
    wb = weatherbench_set(name)
    ranges = {"train": wb.train_years, "val": wb.val_years, "test": wb.test_years}
    for split, rng in (years or {}).items():
        if split not in ranges:
            raise KeyError(f"years: unknown split {split!r}; expected train, val or test")
        ranges[split] = (int(rng[0]), int(rng[1]))
    gap = pd.Timedelta(hours=(wb.t_in + wb.t_out) * wb.step_hours)
    splits = {
        "train": _split(*ranges["train"], gap),
        "val": _split(*ranges["val"], gap),
        "test": _split(*ranges["test"], None),
    }
    entry: dict[str, Any] = {
        "paths": str(root),
        "format": "weatherbench",
        "weatherbench": {
            "set": wb.name,
            "years": [ranges["train"][0], ranges["test"][1]],
        },
    }
    if wb.step_hours != 1:
        entry["every"] = f"{wb.step_hours}h"
    return {
        "sources": {source: entry},
        "schema": {"targets": {"source": source, "variables": wb.channels}},
        "splits": splits,
        "window": {"t_in": wb.t_in, "t_out": wb.t_out, "stride": 1},
        "normalisation": {"method": "standard"},
    }


_OPTION_KEYS = ("set", "variables", "levels", "years")


def open_weatherbench_source(root: str, options: Any, where: str) -> xr.Dataset:
    """Read a ``data.sources`` entry of format ``weatherbench``.

    ``options`` is the entry's ``weatherbench`` mapping: ``{set: NAME, years: [first, last]}``
    (years optional: the set's train start .. test end) or ``{variables: [short, ...],
    levels: [hPa, ...] | {short: [hPa, ...]}, years: [first, last]}``.

    Returns:
        the :func:`geostl.io.open_weatherbench` dataset (lazy).

    Raises:
        ValueError: a malformed ``options`` (the message names ``where``); reader errors pass
            through.
    """
    from geostl.io.weatherbench import open_weatherbench

    if not isinstance(options, dict):
        raise ValueError(
            f"{where}.weatherbench: expected a mapping {{set: NAME}} or {{variables: [...], "
            f"levels: [...], years: [first, last]}}, got {options!r}"
        )
    unknown = sorted(set(options) - set(_OPTION_KEYS))
    if unknown:
        raise ValueError(f"{where}.weatherbench: unknown key(s) {unknown}; expected {_OPTION_KEYS}")
    if ("set" in options) == ("variables" in options):
        raise ValueError(f"{where}.weatherbench: give exactly one of 'set' or 'variables'")
    if "set" in options:
        if "levels" in options:
            raise ValueError(f"{where}.weatherbench: 'levels' comes with the set; drop it")
        wb = weatherbench_set(str(options["set"]))
        variables: list[str] = list(wb.variables)
        levels: Any = {k: list(v) for k, v in wb.levels.items()}
        years = options.get("years", list(wb.years))
    else:
        variables = options["variables"]
        levels = options.get("levels")
        if "years" not in options:
            raise ValueError(f"{where}.weatherbench.years: required with 'variables'")
        years = options["years"]
    if not (
        isinstance(years, list | tuple)
        and len(years) == 2
        and all(isinstance(y, int) and not isinstance(y, bool) for y in years)
        and years[0] <= years[1]
    ):
        raise ValueError(
            f"{where}.weatherbench.years: expected [first, last] (integer years, first <= "
            f"last), got {years!r}"
        )
    return open_weatherbench(root, variables, list(range(years[0], years[1] + 1)), levels)
