"""Declared channel schema: which variables are targets, forcings (known/observed) and static.

Built from a plain dict (YAML-able) and serialised back to one (for checkpoints)::

    {
      "targets": {"source": "maps", "variables": ["tec"]},
      "forcings": [
        {"name": "kp", "source": "omni", "role": "observed", "align": "previous_complete"},
        {"name": "f107", "source": "daily", "role": "observed", "align": "daily",
         "allow_lookahead": True},
        {"computed": "lst_sin"}, {"computed": "doy_cos"},
      ],
      "static": [
        {"name": "ocean", "kind": "mask", "source": "lsm", "variable": "mask", "valid": [1]},
        {"kind": "lat"}, {"kind": "lon"},
      ],
    }

Forcing roles: ``known`` (its future is known when forecasting: calendar and position features)
or ``observed`` (only observed: Kp, Dst, F10.7...). Computed features are always ``known``.
Alignment rules are described in :mod:`geostl.data.align`. An observed forcing aligned with a
rule that can look past the target time (``nearest``, ``linear``, ``daily``) must say
``allow_lookahead: true``: future observations are never fed silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from geostl._keys import check_choice, check_keys

from .align import ALIGN_RULES, CAUSAL_RULES
from .features import COMPUTED_FEATURES

ROLES = ("known", "observed")
STATIC_KINDS = ("mask", "lat", "lon")


@dataclass(frozen=True)
class ForcingSpec:
    """One forcing channel: either read from ``source``/``variable`` or ``computed``."""

    name: str
    role: str
    computed: str | None = None
    source: str | None = None
    variable: str | None = None
    align: str | None = None
    interval: str | None = None
    fill: str | float | None = None
    allow_lookahead: bool = False

    _KEYS = (
        "name",
        "role",
        "computed",
        "source",
        "variable",
        "align",
        "interval",
        "fill",
        "allow_lookahead",
    )

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> ForcingSpec:
        check_keys(d, cls._KEYS, where)
        if "computed" in d and d["computed"] is not None:
            feat = check_choice(d["computed"], COMPUTED_FEATURES, f"{where}.computed")
            for key in ("source", "variable", "align", "interval", "fill"):
                if d.get(key) is not None:
                    raise ValueError(
                        f"{where}: key {key!r} does not apply to computed feature "
                        f"{feat!r} (computed from the time axis and grid)"
                    )
            role = d.get("role", "known")
            if role != "known":
                raise ValueError(
                    f"{where}: computed feature {feat!r} must have role 'known', got {role!r}"
                )
            return cls(name=str(d.get("name", feat)), role="known", computed=feat)
        if "name" not in d:
            raise KeyError(f"{where}: missing required key 'name' (or give 'computed')")
        if "source" not in d:
            raise KeyError(
                f"{where}: forcing {d['name']!r} needs key 'source' (the name of the "
                "dataset it is read from)"
            )
        role = check_choice(d.get("role", "observed"), ROLES, f"{where}.role")
        default_rule = "previous_complete" if role == "observed" else "previous"
        rule = check_choice(d.get("align", default_rule), ALIGN_RULES, f"{where}.align")
        lookahead = bool(d.get("allow_lookahead", False))
        if role == "observed" and rule not in CAUSAL_RULES and not lookahead:
            raise ValueError(
                f"{where}: observed forcing {d['name']!r} with align={rule!r} can use values "
                f"stamped after the target time; use one of {', '.join(CAUSAL_RULES)} or set "
                "allow_lookahead: true to accept that explicitly"
            )
        fill = d.get("fill")
        if fill is not None and not isinstance(fill, (int, float)) and fill != "ffill":
            raise ValueError(f"{where}.fill: expected null, 'ffill' or a number, got {fill!r}")
        interval = d.get("interval")
        return cls(
            name=str(d["name"]),
            role=role,
            source=str(d["source"]),
            variable=str(d.get("variable", d["name"])),
            align=rule,
            interval=None if interval is None else str(interval),
            fill=float(fill) if isinstance(fill, (int, float)) else fill,
            allow_lookahead=lookahead,
        )

    def to_dict(self) -> dict[str, Any]:
        if self.computed is not None:
            return {"name": self.name, "computed": self.computed, "role": "known"}
        return {
            "name": self.name,
            "role": self.role,
            "source": self.source,
            "variable": self.variable,
            "align": self.align,
            "interval": self.interval,
            "fill": self.fill,
            "allow_lookahead": self.allow_lookahead,
        }


@dataclass(frozen=True)
class StaticSpec:
    """One static plane: a land/ocean ``mask`` read from a variable, or ``lat``/``lon``."""

    name: str
    kind: str
    source: str | None = None
    variable: str | None = None
    valid: tuple[float, ...] | str | None = None
    area: bool = True

    _KEYS = ("name", "kind", "source", "variable", "valid", "area")

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> StaticSpec:
        check_keys(d, cls._KEYS, where, required=("kind",))
        kind = check_choice(d["kind"], STATIC_KINDS, f"{where}.kind")
        if kind != "mask":
            for key in ("source", "variable", "valid", "area"):
                if key in d:
                    raise ValueError(f"{where}: key {key!r} does not apply to kind {kind!r}")
            return cls(name=str(d.get("name", kind)), kind=kind, area=False)
        check_keys(d, cls._KEYS, where, required=("kind", "source", "variable", "valid"))
        valid = d["valid"]
        if valid == "finite":
            valid_t: tuple[float, ...] | str = "finite"
        elif (
            isinstance(valid, (list, tuple))
            and valid
            and all(isinstance(v, (int, float)) for v in valid)
        ):
            valid_t = tuple(float(v) for v in valid)
        else:
            raise ValueError(
                f"{where}.valid: expected 'finite' or a non-empty list of numbers "
                f"(the mask values that count as valid), got {valid!r}"
            )
        return cls(
            name=str(d.get("name", d["variable"])),
            kind="mask",
            source=str(d["source"]),
            variable=str(d["variable"]),
            valid=valid_t,
            area=bool(d.get("area", True)),
        )

    def to_dict(self) -> dict[str, Any]:
        if self.kind != "mask":
            return {"name": self.name, "kind": self.kind}
        valid = self.valid if isinstance(self.valid, str) else list(self.valid or ())
        return {
            "name": self.name,
            "kind": "mask",
            "source": self.source,
            "variable": self.variable,
            "valid": valid,
            "area": self.area,
        }


@dataclass(frozen=True)
class ChannelSchema:
    """Targets (one source), forcing channels (ordered) and static planes (ordered)."""

    target_source: str
    targets: tuple[str, ...]
    forcings: tuple[ForcingSpec, ...] = field(default_factory=tuple)
    static: tuple[StaticSpec, ...] = field(default_factory=tuple)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "schema") -> ChannelSchema:
        """Validate a plain dict (see module docstring); errors name the bad key."""
        check_keys(d, ("targets", "forcings", "static"), where, required=("targets",))
        tgt = d["targets"]
        check_keys(
            tgt, ("source", "variables"), f"{where}.targets", required=("source", "variables")
        )
        variables = tgt["variables"]
        if isinstance(variables, str) or not variables:
            raise ValueError(
                f"{where}.targets.variables: expected a non-empty list of variable "
                f"names, got {variables!r}"
            )
        forcings = tuple(
            ForcingSpec.from_dict(f, f"{where}.forcings[{i}]")
            for i, f in enumerate(d.get("forcings") or [])
        )
        static = tuple(
            StaticSpec.from_dict(s, f"{where}.static[{i}]")
            for i, s in enumerate(d.get("static") or [])
        )
        schema = cls(str(tgt["source"]), tuple(str(v) for v in variables), forcings, static)
        for group, names in (
            ("targets.variables", schema.targets),
            ("forcings", schema.forcing_names),
            ("static", schema.static_names),
        ):
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"{where}.{group}: duplicate channel names {dup}")
        clash = set(schema.targets) & set(schema.forcing_names)
        if clash:
            raise ValueError(f"{where}: names {sorted(clash)} are both targets and forcings")
        return schema

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of strings, numbers, lists and dicts; ``from_dict`` inverts it."""
        return {
            "targets": {"source": self.target_source, "variables": list(self.targets)},
            "forcings": [f.to_dict() for f in self.forcings],
            "static": [s.to_dict() for s in self.static],
        }

    @property
    def forcing_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.forcings)

    @property
    def static_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.static)
