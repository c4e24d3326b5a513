"""The catalogue of public archives ``geostl fetch`` knows: where each product's files live.

A :class:`Product` turns a date range into :class:`Item` s (one file each): the URL on the
archive, the path under the data folder, how the file is checked, and how it is read. File
names change with time (the IGS long names from GPS week 2238, CDDIS's switch from unix
``compress`` to gzip); each product lists its naming :class:`Era` s and the one in force on a
date is chosen by that date.

Templates are ``str.format`` strings with the fields of :func:`date_fields`: ``{yyyy}`` (year),
``{yy}`` (two-digit year), ``{doy}`` (three-digit day of year), ``{mm}``, ``{dd}``, ``{week}``
(GPS week), and ``{var}`` for per-variable products. A URL is ``base_url + path``; a mirror
or a test server replaces ``base_url`` only (``geostl fetch --base-url``), so the archive's
folder layout and names are kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

__all__ = [
    "GPS_EPOCH",
    "IGS_LONG_NAMES_FROM",
    "PRODUCTS",
    "Era",
    "Item",
    "Product",
    "date_fields",
    "gps_week",
    "product",
]

#: day 0 of GPS time (GPS week 0 starts here)
GPS_EPOCH = dt.date(1980, 1, 6)
#: first day of GPS week 2238: the IGS long product names (``COD0OPSFIN_...INX.gz``) from here
IGS_LONG_NAMES_FROM = dt.date(2022, 11, 27)
#: CDDIS compresses new files with gzip instead of unix compress (``.Z``) from this day
CDDIS_GZIP_FROM = dt.date(2020, 12, 1)

_CDDIS = "https://cddis.nasa.gov/archive/"
_AIUB = "http://ftp.aiub.unibe.ch/"


def gps_week(day: dt.date) -> int:
    """GPS week number of ``day`` (weeks since 1980-01-06)."""
    return (day - GPS_EPOCH).days // 7


def date_fields(day: dt.date) -> dict[str, str]:
    """The template fields of ``day``: yyyy, yy, doy, mm, dd, week (see the module docstring)."""
    return {
        "yyyy": f"{day.year:04d}",
        "yy": f"{day.year % 100:02d}",
        "doy": f"{day.timetuple().tm_yday:03d}",
        "mm": f"{day.month:02d}",
        "dd": f"{day.day:02d}",
        "week": f"{gps_week(day):04d}",
    }


@dataclass(frozen=True)
class Era:
    """A naming rule in force from ``start`` (inclusive) until the next era of the product.

    ``path`` is the file's path on the archive below the product's base URL; ``sums`` the path
    of a checksum list in the same layout (``MD5SUMS`` of a CDDIS day folder) or ``None``;
    ``local_name`` the file's name on disk when the URL's last part is not a file name.
    """

    start: dt.date
    path: str
    sums: str | None = None
    local_name: str | None = None


@dataclass(frozen=True)
class Item:
    """One file to fetch.

    Attributes:
        product: the product name (``code-final``).
        key: what the file stands for: a day ``2020-01-08``, a year ``2019``, a month
            ``2019-04``, a variable ``t2m`` or ``all`` for single-file products.
        url: where it is.
        path: where it goes, relative to the data folder (``code-final/2020/CODG0080.20I.Z``).
        sums_url: URL of a checksum list naming the file, or ``None``.
        sums_alg: the hash of that list (``md5``, ``sha512``).
        content: what a good file is: ``ionex``, ``gzip-text``, ``text``, ``netcdf``, ``zip``.
        unpack_to: for zip archives, the folder (relative to the data folder) the members
            are extracted into; ``None`` otherwise.
        login: the archive needs a NASA Earthdata login (``~/.netrc``).
    """

    product: str
    key: str
    url: str
    path: str
    sums_url: str | None = None
    sums_alg: str = "md5"
    content: str = "text"
    unpack_to: str | None = None
    login: bool = False

    @property
    def name(self) -> str:
        """The file name as the archive spells it."""
        return PurePosixPath(self.path).name


@dataclass(frozen=True)
class Product:
    """A product of a public archive (see the module docstring).

    Attributes:
        name: the name ``geostl fetch`` takes.
        description: one line for ``geostl fetch --list`` and the docs.
        cadence: ``day``, ``month``, ``year``, ``variable`` (one file per variable, the range
            is not used) or ``once`` (one file).
        base_url: the archive's root; ``Era.path`` is below it.
        eras: the naming rules, ordered by start.
        reader: the ``format:`` a run config gives these files (``geostl.io.READERS``).
        content: what a good file is (:attr:`Item.content`).
        login: needs a NASA Earthdata login.
        variables: for ``cadence="variable"``: the variables by short name -> template value.
        default_variables: the variables fetched when none are named.
        unpack: ``"zip"`` when each file is a zip archive extracted after download.
        folder: the product's folder under the data folder (default: the name).
    """

    name: str
    description: str
    cadence: str
    base_url: str
    eras: tuple[Era, ...]
    reader: str
    content: str = "text"
    login: bool = False
    variables: dict[str, str] = field(default_factory=dict)
    default_variables: tuple[str, ...] = ()
    unpack: str | None = None
    folder: str = ""

    def era(self, day: dt.date) -> Era:
        """The naming rule in force on ``day``."""
        chosen = self.eras[0]
        for era in self.eras:
            if era.start <= day:
                chosen = era
        return chosen

    def items(
        self,
        start: dt.date | None = None,
        end: dt.date | None = None,
        *,
        base_url: str | None = None,
        variables: Sequence[str] | None = None,
    ) -> list[Item]:
        """The files of ``start .. end`` (both inclusive), in date order.

        Raises:
            ValueError: a dated product without a range, an end before the start, or an
                unknown variable (naming the known ones).
        """
        base = base_url if base_url is not None else self.base_url
        if base and not base.endswith("/"):
            base += "/"
        if self.cadence == "variable":
            names = list(variables) if variables else list(self.default_variables)
            unknown = [v for v in names if v not in self.variables]
            if unknown:
                raise ValueError(
                    f"{self.name}: unknown variable(s) {', '.join(unknown)}; expected some of "
                    f"{', '.join(self.variables)}"
                )
            return [self._item(base, v, self.eras[-1], {"var": self.variables[v]}) for v in names]
        if variables:
            raise ValueError(f"{self.name} has no variables; --variables is for weatherbench")
        if self.cadence == "once":
            return [self._item(base, "all", self.eras[-1], {})]
        if start is None or end is None:
            raise ValueError(f"{self.name} is a {self.cadence}ly product: give --start and --end")
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        return [
            self._item(base, key, self.era(day), date_fields(day))
            for key, day in _steps(self.cadence, start, end)
        ]

    def _item(self, base: str, key: str, era: Era, fields: dict[str, str]) -> Item:
        rel = era.path.format(**fields)
        sums = era.sums.format(**fields) if era.sums else None
        folder = self.folder or self.name
        name = era.local_name.format(**fields) if era.local_name else PurePosixPath(rel).name
        sub = fields.get("yyyy") if self.cadence == "day" else None
        path = "/".join(p for p in (folder, sub, name) if p)
        unpack_to = None
        if self.unpack == "zip":
            unpack_to = f"{folder}/{fields['var']}"
        alg = "sha512" if sums and sums.endswith("SHA512SUMS") else "md5"
        return Item(
            product=self.name,
            key=key,
            url=base + rel,
            path=path,
            sums_url=base + sums if sums else None,
            sums_alg=alg,
            content=self.content,
            unpack_to=unpack_to,
            login=self.login,
        )


def _steps(cadence: str, start: dt.date, end: dt.date) -> list[tuple[str, dt.date]]:
    if cadence == "day":
        n = (end - start).days + 1
        days = [start + dt.timedelta(days=k) for k in range(n)]
        return [(d.isoformat(), d) for d in days]
    if cadence == "month":
        out = []
        y, m = start.year, start.month
        while (y, m) <= (end.year, end.month):
            out.append((f"{y:04d}-{m:02d}", dt.date(y, m, 1)))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out
    if cadence == "year":
        return [(f"{y:04d}", dt.date(y, 1, 1)) for y in range(start.year, end.year + 1)]
    raise ValueError(f"unknown cadence {cadence!r}")


def _cddis_ionex(centre: str, long_name: str, description: str) -> Product:
    """An IGS/CDDIS IONEX product: short ``{centre}DDD0.YYi.Z`` (``.gz`` from 2020-12-01),
    the long IGS name from GPS week 2238; every day folder has MD5SUMS."""
    folder = "gnss/products/ionex/{yyyy}/{doy}/"
    return Product(
        name=f"cddis-{centre}",
        description=description + " (CDDIS; NASA Earthdata login in ~/.netrc)",
        cadence="day",
        base_url=_CDDIS,
        eras=(
            Era(dt.date(1998, 1, 1), folder + centre + "{doy}0.{yy}i.Z", folder + "MD5SUMS"),
            Era(CDDIS_GZIP_FROM, folder + centre + "{doy}0.{yy}i.gz", folder + "MD5SUMS"),
            Era(IGS_LONG_NAMES_FROM, folder + long_name, folder + "MD5SUMS"),
        ),
        reader="ionex",
        content="ionex",
        login=True,
    )


def _long(ac: str, kind: str, sampling: str) -> str:
    return ac + "0OPS" + kind + "_{yyyy}{doy}0000_01D_" + sampling + "_GIM.INX.gz"


_PSL = "https://downloads.psl.noaa.gov/"
_WB_VARIABLES = {
    "t2m": "2m_temperature",
    "u10": "10m_u_component_of_wind",
    "v10": "10m_v_component_of_wind",
    "tcc": "total_cloud_cover",
    "tp": "total_precipitation",
    "tisr": "toa_incident_solar_radiation",
    "z": "geopotential",
    "t": "temperature",
    "r": "relative_humidity",
    "q": "specific_humidity",
    "u": "u_component_of_wind",
    "v": "v_component_of_wind",
    "vo": "vorticity",
    "pv": "potential_vorticity",
}

_ALL: tuple[Product, ...] = (
    Product(
        name="code-final",
        description="CODE final GIMs, IONEX (2-hourly to 2014-10, then 1-hourly; AIUB, no login)",
        cadence="day",
        base_url=_AIUB,
        eras=(
            Era(dt.date(1995, 1, 1), "CODE/{yyyy}/CODG{doy}0.{yy}I.Z"),
            Era(IGS_LONG_NAMES_FROM, "CODE/{yyyy}/" + _long("COD", "FIN", "01H")),
        ),
        reader="ionex",
        content="ionex",
    ),
    Product(
        name="code-rapid",
        description="CODE rapid GIMs, IONEX (AIUB top folder: recent days only, no login)",
        cadence="day",
        base_url=_AIUB,
        eras=(
            Era(dt.date(1995, 1, 1), "CODE/CORG{doy}0.{yy}I.Z"),
            Era(IGS_LONG_NAMES_FROM, "CODE/" + _long("COD", "RAP", "01H")),
        ),
        reader="ionex",
        content="ionex",
    ),
    Product(
        name="code-predicted",
        description="CODE 1-/2-day predicted GIMs, IONEX (AIUB top folder, no login)",
        cadence="day",
        base_url=_AIUB,
        eras=(
            Era(dt.date(1995, 1, 1), "CODE/COPG{doy}0.{yy}I.Z"),
            Era(IGS_LONG_NAMES_FROM, "CODE/" + _long("COD", "PRD", "01H")),
        ),
        reader="ionex",
        content="ionex",
    ),
    _cddis_ionex("codg", _long("COD", "FIN", "01H"), "CODE final GIMs, IONEX"),
    _cddis_ionex("corg", _long("COD", "RAP", "01H"), "CODE rapid GIMs, IONEX"),
    _cddis_ionex("igsg", _long("IGS", "FIN", "02H"), "IGS combined final GIMs, IONEX"),
    _cddis_ionex("esag", _long("ESA", "FIN", "02H"), "ESA final GIMs, IONEX"),
    _cddis_ionex("jplg", _long("JPL", "FIN", "02H"), "JPL final GIMs, IONEX"),
    _cddis_ionex("upcg", _long("UPC", "FIN", "02H"), "UPC final GIMs, IONEX"),
    _cddis_ionex("uqrg", _long("UPC", "RAP", "15M"), "UPC rapid 15-minute GIMs, IONEX"),
    Product(
        name="omni2",
        description="OMNI2 hourly solar-wind, IMF and geomagnetic indices, one file a year (SPDF)",
        cadence="year",
        base_url="https://spdf.gsfc.nasa.gov/pub/data/omni/",
        eras=(Era(dt.date(1963, 1, 1), "low_res_omni/omni2_{yyyy}.dat"),),
        reader="omni2",
        content="text",
    ),
    Product(
        name="celestrak",
        description="CelesTrak SW-All.txt: daily Kp, ap, Ap, sunspot number and F10.7 since 1957",
        cadence="once",
        base_url="https://celestrak.org/",
        eras=(Era(dt.date(1957, 10, 1), "SpaceData/SW-All.txt"),),
        reader="celestrak",
        content="text",
    ),
    Product(
        name="ersst-v5",
        description="NOAA ERSSTv5 monthly SST 2 deg, 1854 to date, one NetCDF (PSL)",
        cadence="once",
        base_url=_PSL,
        eras=(Era(dt.date(1854, 1, 1), "Datasets/noaa.ersst.v5/sst.mnmean.nc"),),
        reader="netcdf",
        content="netcdf",
    ),
    Product(
        name="ersst-v5-monthly",
        description="NOAA ERSSTv5 monthly SST 2 deg, one NetCDF a month (NCEI)",
        cadence="month",
        base_url="https://www.ncei.noaa.gov/pub/data/cmb/ersst/",
        eras=(Era(dt.date(1854, 1, 1), "v5/netcdf/ersst.v5.{yyyy}{mm}.nc"),),
        reader="netcdf",
        content="netcdf",
    ),
    Product(
        name="cobe-sst",
        description="COBE-SST monthly SST 1 deg, 1891 to date, one NetCDF (PSL copy of JMA's)",
        cadence="once",
        base_url=_PSL,
        eras=(Era(dt.date(1891, 1, 1), "Datasets/COBE/sst.mon.mean.nc"),),
        reader="cobe",
        content="netcdf",
    ),
    Product(
        name="weatherbench",
        description="WeatherBench 5.625 deg variables 1979-2018, one zip per variable (TUM)",
        cadence="variable",
        base_url="https://dataserv.ub.tum.de/s/m1524895/",
        eras=(
            Era(
                dt.date(1979, 1, 1),
                "download?path=%2F5.625deg%2F{var}&files={var}_5.625deg.zip",
                local_name="{var}_5.625deg.zip",
            ),
        ),
        reader="weatherbench",
        content="zip",
        variables=_WB_VARIABLES,
        default_variables=("z", "t", "t2m", "tp"),
        unpack="zip",
        folder="weatherbench_5.625deg",
    ),
)

#: every product by name
PRODUCTS: dict[str, Product] = {p.name: p for p in _ALL}


def product(name: str) -> Product:
    """The product called ``name``; ``ValueError`` naming the known products otherwise."""
    if name not in PRODUCTS:
        from geostl._keys import did_you_mean

        hint = did_you_mean(name, PRODUCTS)
        raise ValueError(
            f"unknown product {name!r} ({hint or 'no close match'}); known products: "
            f"{', '.join(PRODUCTS)} (geostl fetch --list describes them)"
        )
    return PRODUCTS[name]
