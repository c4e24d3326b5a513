"""The Channel Mixer paper's iono channel set: 20 stored channels, their order and fixed scalings.

The Channel Mixer paper (Liu et al. 2024) feeds per-frame channels in a fixed order and keeps the
first C of them (C = 1, 4, 9, 16; channels 16-19 are stored but unused). Here each channel is
a physical quantity (a target, a computed calendar/position feature of
:mod:`geostl.data.features`, or an OMNI2 variable of :func:`geostl.io.open_omni2`) and the seed's
scaling is the fixed ``(offset, scale)`` of our normaliser, ``(x - offset) / scale``.

Differences from the seed, on purpose:

- TEC: the seed clips the stored map at 2000 (200 TECU) before dividing; our normaliser never
  clips, so TEC above 200 TECU maps above 1.
- Kp: OMNI2 stores Kp x 10 and the seed divides that by 100; ``geostl.io.open_omni2`` already
  returns real Kp, so the scaling is Kp / 10 (the same number).
- Observed drivers are aligned with ``previous_complete`` (the last hourly average that has
  ended at the frame time); the archive's own alignment is unknown (docs/data.md).

:func:`iono_data_section` returns the ``data.schema`` and ``data.normalisation`` parts of a run
config for a channel count; :func:`keep_first_channels` cuts a 16/20-channel section down.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

CHANNEL_COUNTS = (1, 4, 9, 16, 20)
"""Channel counts the preset builds: the seed's 1, 4, 9, 16 and all 20 stored channels."""


class IonoChannel(NamedTuple):
    """One stored channel of the seed's iono frames.

    Attributes:
        index: position in the seed's stored order (0 = TEC).
        name: our channel name (the forcing or target name in a schema).
        kind: ``target``, ``computed`` (a :mod:`geostl.data.features` feature) or ``omni2``.
        source_variable: the computed feature's name, or the OMNI2 variable of ``open_omni2``.
        role: ``target``, ``known`` (computed) or ``observed`` (drivers).
        offset, scale: the seed's scaling as ``(x - offset) / scale`` in our physical units.
        units: physical units of ``x``.
        archive_name: the scalar's name in the ``iono_electron`` TFRecords (``{j}/<name>``), as
            read by the seed's loader; None for TEC (``{j}/Map``) and the position planes.
        archive_scale: the scale to use instead of ``scale`` for the archive's stored value
            (only Kp differs: the archive stores Kp x 10).
        description: what the seed calls it.
    """

    index: int
    name: str
    kind: str
    source_variable: str
    role: str
    offset: float
    scale: float
    units: str
    archive_name: str | None
    archive_scale: float
    description: str


def _ch(
    i: int,
    name: str,
    kind: str,
    var: str,
    off: float,
    scale: float,
    units: str,
    archive: str | None,
    text: str,
    archive_scale: float | None = None,
) -> IonoChannel:
    role = {"target": "target", "computed": "known", "omni2": "observed"}[kind]
    a_scale = scale if archive_scale is None else archive_scale
    return IonoChannel(i, name, kind, var, role, off, scale, units, archive, a_scale, text)


IONO_CHANNELS: tuple[IonoChannel, ...] = (
    _ch(0, "tec", "target", "tec", 0.0, 200.0, "TECU", None, "TEC map (seed: min(raw,2000)/2000)"),
    _ch(1, "lon_index", "computed", "lon_index", 0.0, 1.0, "1", None, "longitude index col/72"),
    _ch(2, "lat_index", "computed", "lat_index", 0.0, 1.0, "1", None, "latitude index row/72"),
    _ch(3, "year", "computed", "year", 0.0, 2500.0, "year", "Year", "year /2500"),
    _ch(4, "f107", "omni2", "f107", 0.0, 400.0, "sfu", "F107", "F10.7 solar radio flux /400"),
    _ch(5, "sunspot_number", "omni2", "sunspot_number", 0.0, 400.0, "1", "R", "sunspot R /400"),
    _ch(6, "doy", "computed", "doy", 0.0, 367.0, "day", "Day", "day of year /367"),
    _ch(7, "ut_hour", "computed", "ut_hour", 0.0, 24.0, "h", "Hour", "hour (UT) /24"),
    _ch(8, "month", "computed", "month", 0.0, 13.0, "month", "Month", "month /13"),
    _ch(9, "day_of_month", "computed", "day_of_month", 0.0, 32.0, "day", "Date", "day /32"),
    _ch(10, "kp", "omni2", "kp", 0.0, 10.0, "1", "Kp", "Kp (stored x10) /100", 100.0),
    _ch(11, "ap", "omni2", "ap", 0.0, 400.0, "nT", "Ap", "ap /400"),
    _ch(12, "dst", "omni2", "dst", -500.0, 600.0, "nT", "Dst", "Dst (x+500)/600"),
    _ch(13, "sw_speed", "omni2", "sw_speed", 0.0, 1200.0, "km s-1", "PlasmaSpeed", "V_sw /1200"),
    _ch(14, "b_mag", "omni2", "b_mag", 0.0, 70.0, "nT", "FieldMagnitude", "|B| average /70"),
    _ch(15, "sigma_b_mag", "omni2", "sigma_b_mag", 0.0, 50.0, "nT", "SigmaB", "sigma|B| /50"),
    _ch(
        16,
        "proton_density",
        "omni2",
        "proton_density",
        0.0,
        140.0,
        "cm-3",
        "ProtonDensity",
        "Np /140",
    ),
    _ch(
        17, "flow_pressure", "omni2", "flow_pressure", 0.0, 80.0, "nPa", "FlowPressure", "Pdyn /80"
    ),
    _ch(18, "e_field", "omni2", "e_field", -50.0, 100.0, "mV m-1", "ElectricField", "E (x+50)/100"),
    _ch(19, "mach_number", "omni2", "mach_number", 0.0, 15.0, "1", "MagnetosonicMach", "Mms /15"),
)
"""The seed's 20 stored channels in order (Channel_Mixer_Layer ``dataloader_iono.py``)."""


def iono_channels(n_channels: int) -> tuple[IonoChannel, ...]:
    """The first ``n_channels`` seed channels (one of ``CHANNEL_COUNTS``), TEC first."""
    if n_channels not in CHANNEL_COUNTS:
        raise ValueError(
            f"iono channel count {n_channels!r}: expected one of {CHANNEL_COUNTS} (the seed's "
            "1, 4, 9, 16 channels, or all 20 stored ones)"
        )
    return IONO_CHANNELS[:n_channels]


def _forcing(ch: IonoChannel, drivers: str, driver_format: str) -> dict[str, Any]:
    if ch.kind == "computed":
        return {"name": ch.name, "computed": ch.source_variable}
    if driver_format == "omni2":
        variable, align = ch.source_variable, "previous_complete"
    else:
        variable, align = str(ch.archive_name), "previous"
    return {
        "name": ch.name,
        "source": drivers,
        "variable": variable,
        "role": "observed",
        "align": align,
    }


def iono_data_section(
    n_channels: int,
    maps: str = "maps",
    drivers: str = "omni",
    driver_format: str = "omni2",
) -> dict[str, Any]:
    """The ``schema`` and ``normalisation`` of a run config's ``data`` for the seed's channels.

    Args:
        n_channels: C, one of 1, 4, 9, 16, 20: the target TEC plus the first C - 1 forcings in
            the seed's order (lon_index, lat_index, year, f107, sunspot_number, doy, ut_hour,
            month, day_of_month, kp, ap, dst, sw_speed, b_mag, sigma_b_mag, then the extras
            proton_density, flow_pressure, e_field, mach_number).
        maps: the source name holding ``tec`` (time, lat, lon).
        drivers: the source name holding the observed drivers.
        driver_format: ``omni2`` (variables of ``open_omni2``, aligned ``previous_complete``)
            or ``iono_tfrecord`` (the archive's stored scalars, e.g. ``Kp``, aligned
            ``previous``: the value stored with the frame; Kp scaled by 100 as stored x 10).

    Returns:
        ``{"schema": {"targets": ..., "forcings": [...]}, "normalisation": {"method": "fixed",
        "fixed": {name: {"offset", "scale"}}}}``: merge it into ``data`` beside
        ``sources``, ``splits`` and ``window``.
    """
    if driver_format not in ("omni2", "iono_tfrecord"):
        raise ValueError(
            f"iono driver_format {driver_format!r}: expected 'omni2' or 'iono_tfrecord'"
        )
    channels = iono_channels(n_channels)
    forcings = [_forcing(ch, drivers, driver_format) for ch in channels[1:]]
    fixed = {}
    for ch in channels:
        scale = ch.archive_scale if driver_format == "iono_tfrecord" else ch.scale
        fixed[ch.name] = {"offset": ch.offset, "scale": scale}
    return {
        "schema": {"targets": {"source": maps, "variables": ["tec"]}, "forcings": forcings},
        "normalisation": {"method": "fixed", "fixed": fixed},
    }


def keep_first_channels(data: dict[str, Any], n_channels: int) -> dict[str, Any]:
    """A copy of a ``data`` section keeping the targets and the first ``n_channels - 1`` forcings.

    Fixed scalings of the dropped forcings are removed too (``DataConfig`` refuses a scaling
    for a channel that is not in the schema). ``n_channels`` counts the single target (TEC)
    as channel 1, as the seed does.

    Raises:
        ValueError: ``n_channels`` < 1, more than the section has, or more than one target.
    """
    out = copy.deepcopy(data)
    schema = out["schema"]
    targets = list(schema["targets"]["variables"])
    forcings = list(schema.get("forcings") or [])
    if len(targets) != 1:
        raise ValueError(f"keep_first_channels: expected one target variable, got {targets}")
    if not 1 <= n_channels <= 1 + len(forcings):
        raise ValueError(
            f"keep_first_channels: {n_channels} channels asked, the section has 1 target and "
            f"{len(forcings)} forcings (1..{1 + len(forcings)} possible)"
        )
    kept = forcings[: n_channels - 1]
    dropped = {f.get("name", f.get("computed")) for f in forcings[n_channels - 1 :]}
    schema["forcings"] = kept
    norm = out.get("normalisation") or {}
    if "fixed" in norm:
        norm["fixed"] = {k: v for k, v in norm["fixed"].items() if k not in dropped}
    return out
