"""A resolved grid: the base run config and the axes, checked against the registries and the
base config's data schema (see :mod:`geostl.commands.grid.config` for the ``grid`` keys)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from geostl.data import ChannelSchema
from geostl.data.schema import ForcingSpec
from geostl.runconfig import ConfigError, fill_defaults

from .config import GRID_SECTION, REGIME_SECTION, check_grid, close_matches, config_error
from .regimes import Regime

__all__ = ["BackboneChoice", "GridSpec"]


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
            raise config_error(
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
            raise config_error(
                key,
                None,
                f"{name!r} is not a registered backbone{close_matches(name, known)} "
                f"(available: {', '.join(known)})",
            )
        kwargs = copy.deepcopy(base_kwargs) if name == base_name else {}
        kwargs.update(copy.deepcopy(given))
        accepted = BACKBONES.accepted_arguments(name)
        if accepted is not None:
            for arg in kwargs:
                if arg not in accepted:
                    where = f"{key}.{arg}" if arg in given else f"model.backbone.{arg}"
                    raise config_error(
                        where,
                        None,
                        f"backbone {name!r} has no argument {arg!r}"
                        f"{close_matches(arg, accepted)} (accepted: {', '.join(accepted)})",
                    )
        out.append(BackboneChoice(label, name, kwargs))
    return tuple(out)


def _resolve_fusions(names: list[str]) -> tuple[str, ...]:
    from geostl.models import FUSIONS

    for i, name in enumerate(names):
        key = f"grid.fusions[{i}]"
        if name == "none":
            raise config_error(
                key,
                None,
                "'none' (the target alone) is the grid's 1-channel run: put 1 in "
                "grid.channels instead",
            )
        if name not in FUSIONS:
            known = FUSIONS.available()
            raise config_error(
                key,
                None,
                f"{name!r} is not a registered fusion{close_matches(name, known)} "
                f"(available: {', '.join(known)})",
            )
    return tuple(names)


def _resolve_channels(channels: list[int], schema: ChannelSchema) -> tuple[int, ...]:
    n_f = len(schema.forcings)
    for i, c in enumerate(channels):
        if not 1 <= c <= 1 + n_f:
            raise config_error(
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
                raise config_error(
                    f"{key}.driver",
                    None,
                    f"{e['driver']!r} is not a forcing of "
                    f"data.schema.forcings{close_matches(e['driver'], names)} (forcings: "
                    f"{', '.join(names) or 'none'}); or give source and variable",
                )
            driver = schema.forcings[names.index(e["driver"])]
        else:
            if e["source"] not in sources:
                raise config_error(
                    f"{key}.source",
                    None,
                    f"{e['source']!r} is not a data source"
                    f"{close_matches(e['source'], list(sources))} (data.sources: "
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
