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
``grid``); :meth:`GridSpec.from_config` then resolves names against the registries and the
base config's schema. Every error is a :class:`ConfigError` naming the dotted key.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from geostl.data import ALIGN_RULES, FUTURE_POLICIES, ChannelSchema
from geostl.data.schema import ForcingSpec
from geostl.runconfig import RUN_SPEC, ConfigError, Field, Section, check, fill_defaults

from .regimes import REDUCTIONS, Regime

__all__ = ["GRID_RUN_SPEC", "GRID_SECTION", "GridSpec", "check_grid"]

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+]*$")


def _at(origin: str | None) -> str:
    return f" (in {origin})" if origin else ""


def _bad(dotted: str, origin: str | None, text: str) -> ConfigError:
    return ConfigError(f"config key {dotted!r}{_at(origin)}: {text}")


def _close(word: str, choices: list[str]) -> str:
    hits = difflib.get_close_matches(word, choices, n=3, cutoff=0.5)
    return f"; did you mean {', '.join(repr(h) for h in hits)}?" if hits else ""


def _check_label(label: Any, dotted: str, origin: str | None, what: str) -> None:
    if not isinstance(label, str) or not _LABEL.match(label):
        raise _bad(
            dotted,
            origin,
            f"{what} {label!r} must be a name of letters, digits, '_', '.' or '+' "
            "(it names run directories and table columns)",
        )


def _check_backbones(value: Any, dotted: str, origin: str | None, complete: bool) -> None:
    """``{LABEL: null | {name?: str, **kwargs}}`` (lists are turned into this form first)."""
    if complete and not value:
        raise _bad(dotted, origin, "expected at least one backbone")
    for label, kwargs in value.items():
        key = f"{dotted}.{label}"
        _check_label(label, key, origin, "backbone label")
        if kwargs is None:
            continue
        if not isinstance(kwargs, Mapping):
            raise _bad(
                key, origin, f"expected a mapping of backbone arguments or null, got {kwargs!r}"
            )
        if "name" in kwargs and not isinstance(kwargs["name"], str):
            raise _bad(
                f"{key}.name", origin, f"expected str (a backbone name), got {kwargs['name']!r}"
            )


def _check_names(value: Any, dotted: str, origin: str | None, complete: bool) -> None:
    if complete and not value:
        raise _bad(dotted, origin, "expected a non-empty list")
    dup = sorted({v for v in value if value.count(v) > 1})
    if dup:
        raise _bad(dotted, origin, f"repeated entries {dup}")


def _check_channels(value: Any, dotted: str, origin: str | None, complete: bool) -> None:
    _check_names(value, dotted, origin, complete)
    for i, c in enumerate(value):
        if c < 1:
            raise _bad(f"{dotted}[{i}]", origin, f"expected a channel count >= 1, got {c}")


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
            raise _bad(
                key, origin, f"expected a mapping like {{driver: f107, below: 100}}, got {entry!r}"
            )
        entry = check(entry, REGIME_SECTION, origin, complete, prefix=f"{key}.")
        if not complete:
            continue
        by_driver = entry.get("driver") is not None
        by_source = entry.get("source") is not None or entry.get("variable") is not None
        if by_driver == by_source:
            raise _bad(
                key,
                origin,
                "give either 'driver' (a forcing name of data.schema.forcings) or 'source' and "
                "'variable' (a variable of a data source), not both or neither",
            )
        if by_source and (entry.get("source") is None or entry.get("variable") is None):
            raise _bad(key, origin, "a source driver needs both 'source' and 'variable'")
        if by_driver and ("align" in entry or "interval" in entry):
            raise _bad(
                key,
                origin,
                "'align' and 'interval' apply to a source driver; a declared "
                "forcing is aligned as data.schema declares it",
            )
        below, at_least = entry.get("below"), entry.get("at_least")
        if below is None and at_least is None:
            raise _bad(
                key, origin, "expected a bound: 'below' (value < x) and/or 'at_least' (>= x)"
            )
        if below is not None and at_least is not None and not at_least < below:
            raise _bad(key, origin, f"at_least {at_least:g} must be smaller than below {below:g}")


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
            raise _bad(f"{dotted}[{i}]", origin, f"expected a backbone name (str), got {name!r}")
    dup = sorted({v for v in value if value.count(v) > 1})
    if dup:
        raise _bad(dotted, origin, f"repeated backbones {dup}")
    return {name: None for name in value}


def check_grid(
    value: Any, dotted: str = "grid", origin: str | None = None, complete: bool = False
) -> dict:
    """Validate a ``grid`` mapping (one layer, or the merged one with ``complete``); return it
    normalised (a backbone list as a mapping)."""
    if not isinstance(value, Mapping):
        raise _bad(dotted, origin, f"expected a mapping, got {type(value).__name__} {value!r}")
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


GRID_RUN_SPEC = Section(
    {**RUN_SPEC.keys, "grid": Field("mapping", validator=_grid_validator)}, required=True
)
"""The run spec with the required ``grid`` section: what ``geostl grid`` loads."""


@dataclass(frozen=True)
class BackboneChoice:
    """One backbone of the grid: its label, registered name and full kwargs."""

    label: str
    name: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class GridSpec:
    """A resolved grid: the base run config and the axes.

    Attributes:
        base: the run config without ``grid`` (every cell starts from a copy).
        schema: the base data schema (one target, the ordered forcings truncated per C).
        backbones, fusions, channels, policies: the axes, in config order.
        regimes: the scoring regimes.
        target: the target variable (the grid scores a single target, as the seed's table).
        figures: whether cells write their figures.
        throughput: ``{"batch_size": int | None, "warmup": int, "batches": int}``.
    """

    base: dict[str, Any]
    schema: ChannelSchema
    backbones: tuple[BackboneChoice, ...]
    fusions: tuple[str, ...]
    channels: tuple[int, ...]
    policies: tuple[str, ...]
    regimes: tuple[Regime, ...]
    target: str
    figures: bool
    throughput: dict[str, Any]

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> GridSpec:
        """Resolve a config loaded with ``load_config(..., spec=GRID_RUN_SPEC)``.

        Raises:
            ConfigError: an unknown backbone, fusion or backbone argument, a channel count
                outside [1, 1 + forcings], an unknown regime driver or source, not exactly one
                target variable, or no test split.
        """
        if "grid" not in cfg:
            raise ConfigError("config key 'grid' is missing: expected the grid section")
        g = fill_defaults(check_grid(cfg["grid"], complete=True), GRID_SECTION)
        base = {k: copy.deepcopy(v) for k, v in cfg.items() if k != "grid"}
        schema = ChannelSchema.from_dict(base["data"]["schema"], "data.schema")
        if "test" not in base["data"]["splits"]:
            raise ConfigError(
                "config key 'data.splits.test' is missing: the grid scores every cell on the "
                "test split"
            )
        if len(schema.targets) != 1:
            raise _bad(
                "data.schema.targets.variables",
                None,
                f"the grid scores one target variable (C counts it as channel 1), got "
                f"{list(schema.targets)}",
            )
        return cls(
            base=base,
            schema=schema,
            backbones=_resolve_backbones(g["backbones"], base["model"]["backbone"]),
            fusions=_resolve_fusions(g["fusions"]),
            channels=_resolve_channels(g["channels"], schema),
            policies=tuple(g["future_forcings"]),
            regimes=_resolve_regimes(g["regimes"] or {}, schema, base["data"]["sources"]),
            target=schema.targets[0],
            figures=bool(g["figures"]),
            throughput=dict(g["throughput"]),
        )


def _resolve_backbones(
    entries: Mapping[str, Any], base_backbone: Mapping[str, Any]
) -> tuple[BackboneChoice, ...]:
    from geostl.models import BACKBONES

    base_name = base_backbone["name"]
    base_kwargs = {k: v for k, v in base_backbone.items() if k != "name"}
    out = []
    for label, given in entries.items():
        key = f"grid.backbones.{label}"
        given = dict(given or {})
        name = str(given.pop("name", label))
        if name not in BACKBONES:
            known = BACKBONES.available()
            raise _bad(
                key,
                None,
                f"{name!r} is not a registered backbone{_close(name, known)} "
                f"(available: {', '.join(known)})",
            )
        kwargs = copy.deepcopy(base_kwargs) if name == base_name else {}
        kwargs.update(copy.deepcopy(given))
        accepted = BACKBONES.accepted_arguments(name)
        if accepted is not None:
            for arg in kwargs:
                if arg not in accepted:
                    where = f"{key}.{arg}" if arg in given else f"model.backbone.{arg}"
                    raise _bad(
                        where,
                        None,
                        f"backbone {name!r} has no argument {arg!r}"
                        f"{_close(arg, accepted)} (accepted: {', '.join(accepted)})",
                    )
        out.append(BackboneChoice(label, name, kwargs))
    return tuple(out)


def _resolve_fusions(names: list[str]) -> tuple[str, ...]:
    from geostl.models import FUSIONS

    for i, name in enumerate(names):
        key = f"grid.fusions[{i}]"
        if name == "none":
            raise _bad(
                key,
                None,
                "'none' (the target alone) is the grid's 1-channel run: put 1 in "
                "grid.channels instead",
            )
        if name not in FUSIONS:
            known = FUSIONS.available()
            raise _bad(
                key,
                None,
                f"{name!r} is not a registered fusion{_close(name, known)} "
                f"(available: {', '.join(known)})",
            )
    return tuple(names)


def _resolve_channels(channels: list[int], schema: ChannelSchema) -> tuple[int, ...]:
    n_f = len(schema.forcings)
    for i, c in enumerate(channels):
        if not 1 <= c <= 1 + n_f:
            raise _bad(
                f"grid.channels[{i}]",
                None,
                f"C = {c} is outside [1, {1 + n_f}]: data.schema has 1 target and {n_f} "
                f"forcing(s) ({', '.join(schema.forcing_names) or 'none'})",
            )
    return tuple(channels)


def _resolve_regimes(
    entries: Mapping[str, Any], schema: ChannelSchema, sources: Mapping[str, Any]
) -> tuple[Regime, ...]:
    out = []
    for name, entry in entries.items():
        key = f"grid.regimes.{name}"
        e = fill_defaults(entry, REGIME_SECTION)
        if e["driver"] is not None:
            names = list(schema.forcing_names)
            if e["driver"] not in names:
                raise _bad(
                    f"{key}.driver",
                    None,
                    f"{e['driver']!r} is not a forcing of "
                    f"data.schema.forcings{_close(e['driver'], names)} (forcings: "
                    f"{', '.join(names) or 'none'}); or give source and variable",
                )
            driver = schema.forcings[names.index(e["driver"])]
        else:
            if e["source"] not in sources:
                raise _bad(
                    f"{key}.source",
                    None,
                    f"{e['source']!r} is not a data source"
                    f"{_close(e['source'], list(sources))} (data.sources: "
                    f"{', '.join(sources)})",
                )
            driver = ForcingSpec.from_dict(
                {
                    "name": name,
                    "source": e["source"],
                    "variable": e["variable"],
                    "role": "observed",
                    "align": e["align"],
                    "interval": e["interval"],
                    "allow_lookahead": True,  # scoring only: never fed to a model
                },
                key,
            )
        out.append(Regime(name, driver, key, e["below"], e["at_least"], e["reduce"]))
    return tuple(out)
