"""The ``grid`` section of a run config, validated like the rest of it.

A grid config is a normal run config (the *base*: data, model, train, eval) plus::

    grid:
      backbones:                       # LABEL -> backbone kwargs, or a list of names
        convlstm: {num_hidden: [32, 32]}
        simvp: {hid_S: 16, hid_T: 64}
      fusions: [concat, mixer]         # registered fusion names (default [concat])
      channels: [1, 4, 9, 16]          # C = the target + the first C - 1 forcings
      future_forcings: [known, oracle] # policies (default [known])
      regimes:                         # named sample regimes for the MAE columns
        lsa: {driver: f107, below: 100}
        storm: {source: omni, variable: dst, below: -50, reduce: min}
      figures: false                   # each cell also writes its maps, RMSE plot and GIF
      throughput: {batch_size: null, warmup: 1, batches: 3}

``backbones``: a mapping from a label to the backbone's keyword arguments (``null`` for none).
The label is the backbone name unless the kwargs name one (``small: {name: convlstm, ...}``).
The kwargs are merged over the base config's ``model.backbone`` when that names the same
backbone (the loader's rule); a list ``[convlstm, simvp]`` takes the base kwargs for the base's
backbone and the constructor defaults for the others.

The loader checks every file and override against :data:`GRID_RUN_SPEC` (the run spec plus
``grid``); :meth:`geostl.commands.grid.spec.GridSpec.from_config` then resolves names against the
registries and the base config's schema. Every error is a :class:`ConfigError` naming the
dotted key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from geostl._keys import did_you_mean
from geostl.data import ALIGN_RULES, FUTURE_POLICIES
from geostl.runconfig import RUN_SPEC, ConfigError, Field, Section, check, with_section

from .regimes import REDUCTIONS

__all__ = [
    "GRID_RUN_SPEC",
    "GRID_SECTION",
    "REGIME_SECTION",
    "check_grid",
    "close_matches",
    "config_error",
]

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+]*$")


def _at(origin: str | None) -> str:
    return f" (in {origin})" if origin else ""


def config_error(dotted: str, origin: str | None, text: str) -> ConfigError:
    """``config key 'DOTTED' (in ORIGIN): TEXT``."""
    return ConfigError(f"config key {dotted!r}{_at(origin)}: {text}")


def close_matches(word: str, choices: list[str]) -> str:
    """``"; did you mean 'a', 'b'?"`` or ``""``."""
    hint = did_you_mean(word, choices)
    return f"; {hint}" if hint else ""


def _check_label(label: Any, dotted: str, origin: str | None, what: str) -> None:
    if not isinstance(label, str) or not _LABEL.match(label):
        raise config_error(
            dotted,
            origin,
            f"{what} {label!r} must be a name of letters, digits, '_', '.' or '+' "
            "(it names run directories and table columns)",
        )


def _check_backbones(value: Any, dotted: str, origin: str | None, complete: bool) -> None:
    """``{LABEL: null | {name?: str, **kwargs}}`` (lists are turned into this form first)."""
    if complete and not value:
        raise config_error(dotted, origin, "expected at least one backbone")
    for label, kwargs in value.items():
        key = f"{dotted}.{label}"
        _check_label(label, key, origin, "backbone label")
        if kwargs is None:
            continue
        if not isinstance(kwargs, Mapping):
            raise config_error(
                key, origin, f"expected a mapping of backbone arguments or null, got {kwargs!r}"
            )
        if "name" in kwargs and not isinstance(kwargs["name"], str):
            raise config_error(
                f"{key}.name", origin, f"expected str (a backbone name), got {kwargs['name']!r}"
            )


def _check_names(value: Any, dotted: str, origin: str | None, complete: bool) -> None:
    if complete and not value:
        raise config_error(dotted, origin, "expected a non-empty list")
    dup = sorted({v for v in value if value.count(v) > 1})
    if dup:
        raise config_error(dotted, origin, f"repeated entries {dup}")


def _check_channels(value: Any, dotted: str, origin: str | None, complete: bool) -> None:
    _check_names(value, dotted, origin, complete)
    for i, c in enumerate(value):
        if c < 1:
            raise config_error(f"{dotted}[{i}]", origin, f"expected a channel count >= 1, got {c}")


REGIME_SECTION = Section(
    {
        "driver": Field("str", None),
        "source": Field("str", None),
        "variable": Field("str", None),
        "align": Field("str", "previous_complete", choices=ALIGN_RULES),
        "interval": Field("str", None, nullable=True),
        "below": Field("float", None, nullable=True),
        "at_least": Field("float", None, nullable=True),
        "reduce": Field("str", "issue", choices=REDUCTIONS),
    }
)


def _check_regimes(value: Any, dotted: str, origin: str | None, complete: bool) -> None:
    """Each ``NAME: {driver | source + variable, below and/or at_least, reduce}``."""
    for name, entry in value.items():
        key = f"{dotted}.{name}"
        _check_label(name, key, origin, "regime name")
        if not isinstance(entry, Mapping):
            raise config_error(
                key, origin, f"expected a mapping like {{driver: f107, below: 100}}, got {entry!r}"
            )
        entry = check(entry, REGIME_SECTION, origin, complete, prefix=f"{key}.")
        if not complete:
            continue
        by_driver = entry.get("driver") is not None
        by_source = entry.get("source") is not None or entry.get("variable") is not None
        if by_driver == by_source:
            raise config_error(
                key,
                origin,
                "give either 'driver' (a forcing name of data.schema.forcings) or 'source' and "
                "'variable' (a variable of a data source), not both or neither",
            )
        if by_source and (entry.get("source") is None or entry.get("variable") is None):
            raise config_error(key, origin, "a source driver needs both 'source' and 'variable'")
        if by_driver and ("align" in entry or "interval" in entry):
            raise config_error(
                key,
                origin,
                "'align' and 'interval' apply to a source driver; a declared "
                "forcing is aligned as data.schema declares it",
            )
        below, at_least = entry.get("below"), entry.get("at_least")
        if below is None and at_least is None:
            raise config_error(
                key, origin, "expected a bound: 'below' (value < x) and/or 'at_least' (>= x)"
            )
        if below is not None and at_least is not None and not at_least < below:
            raise config_error(
                key, origin, f"at_least {at_least:g} must be smaller than below {below:g}"
            )


_LIST_CHECKS = {
    "fusions": _check_names,
    "channels": _check_channels,
    "future_forcings": _check_names,
}

GRID_SECTION = Section(
    {
        "backbones": Field("mapping", validator=_check_backbones),
        "fusions": Field("list", ["concat"], items="str"),
        "channels": Field("list", items="int"),
        "future_forcings": Field("list", ["known"], items="str", choices=FUTURE_POLICIES),
        "regimes": Field("mapping", None, nullable=True, validator=_check_regimes),
        "figures": Field("bool", False),
        "throughput": Section(
            {
                "batch_size": Field("int", None, nullable=True, minimum=1),
                "warmup": Field("int", 1, minimum=0),
                "batches": Field("int", 3, minimum=1),
            }
        ),
    },
    required=True,
)


def _backbones_mapping(value: Any, dotted: str, origin: str | None) -> Any:
    """A list of names -> ``{name: None}``; anything else unchanged (checked by the spec)."""
    if not isinstance(value, list):
        return value
    for i, name in enumerate(value):
        if not isinstance(name, str):
            raise config_error(
                f"{dotted}[{i}]", origin, f"expected a backbone name (str), got {name!r}"
            )
    dup = sorted({v for v in value if value.count(v) > 1})
    if dup:
        raise config_error(dotted, origin, f"repeated backbones {dup}")
    return {name: None for name in value}


def check_grid(
    value: Any, dotted: str = "grid", origin: str | None = None, complete: bool = False
) -> dict:
    """Validate a ``grid`` mapping (one layer, or the merged one with ``complete``); return it
    normalised (a backbone list as a mapping)."""
    if not isinstance(value, Mapping):
        raise config_error(
            dotted, origin, f"expected a mapping, got {type(value).__name__} {value!r}"
        )
    layer = dict(value)
    if "backbones" in layer:
        layer["backbones"] = _backbones_mapping(layer["backbones"], f"{dotted}.backbones", origin)
    out = check(layer, GRID_SECTION, origin, complete, prefix=f"{dotted}.")
    # (the spec's check does not run validators of list fields)
    for key, validate in _LIST_CHECKS.items():
        if key in out:
            validate(out[key], f"{dotted}.{key}", origin, complete)
    return out


def _grid_validator(value: Any, dotted: str, origin: str | None, complete: bool) -> None:
    check_grid(value, dotted, origin, complete)


GRID_RUN_SPEC = with_section(
    RUN_SPEC,
    "grid",
    Field(
        "mapping",
        validator=_grid_validator,
        help="the grid of runs: backbones x channel counts x fusions x future forcings, "
        "regimes and the table (geostl.commands.grid.config)",
    ),
)
"""The run spec with the required ``grid`` section: what ``geostl grid`` loads."""
