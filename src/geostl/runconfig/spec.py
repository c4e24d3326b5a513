"""The declared specification of a run config: known keys, their types and defaults.

A spec is a tree of :class:`Section` (a mapping with known keys) and :class:`Field` (a leaf with
accepted types, a default and optional choices). :func:`check` validates a (possibly partial)
config against it and :func:`fill_defaults` completes a validated one. The ``data`` and
``model`` sections are *open*: only their top-level keys are checked here, their sub-keys are
checked by their own builders (``geostl.data.DataConfig.from_dict``, the model builder).

Errors are :class:`ConfigError` naming the dotted key, what was expected, close matches of an
unknown key (difflib) and where the value came from (a file or an override).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from geostl.io import READERS

__all__ = [
    "ConfigError",
    "Field",
    "Section",
    "RUN_SPEC",
    "SOURCE_FORMATS",
    "check",
    "fill_defaults",
]

#: reader formats a ``data.sources`` entry may name (``paths`` + ``format``): the registry's
SOURCE_FORMATS = READERS.names()
#: ``data.sources.NAME.regrid`` values (see ``geostl.data.regrid``)
REGRID_CHOICES = ("native", "iono72")
BASELINES = ("persistence", "sun_fixed", "climatology")

_NO_DEFAULT = object()


class ConfigError(ValueError):
    """A run config that does not match the specification (message names key and origin)."""


@dataclass(frozen=True)
class Field:
    """A leaf: accepted ``kind`` (``int``/``float``/``bool``/``str``/``list``/``mapping``).

    ``nullable``: None is accepted. ``choices``: allowed values (for ``str``, or the items of
    a ``list``). ``items``: item kind of a list. ``minimum``: lower bound of a number.
    """

    kind: str
    default: Any = _NO_DEFAULT
    nullable: bool = False
    choices: tuple[Any, ...] | None = None
    items: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_min: bool = False
    validator: Callable[[Any, str, str | None, bool], None] | None = None

    @property
    def required(self) -> bool:
        return self.default is _NO_DEFAULT

    def describe(self) -> str:
        text = {"mapping": "a mapping", "list": "a list"}.get(self.kind, self.kind)
        if self.items:
            text += f" of {self.items}"
        if self.choices:
            what = "items in" if self.kind == "list" else "one of"
            text += f" ({what} {', '.join(map(str, self.choices))})"
        if self.minimum is not None:
            text += f" {'>' if self.exclusive_min else '>='} {self.minimum:g}"
        if self.maximum is not None:
            text += f" <= {self.maximum:g}"
        return text + (" or null" if self.nullable else "")


@dataclass(frozen=True)
class Section:
    """A mapping with known keys (``required``: must be present in a complete config)."""

    keys: dict[str, Field | Section]
    required: bool = False


def _check_sources(value: Any, dotted: str, origin: str | None, complete: bool) -> None:
    """``data.sources``: ``{NAME: {sample: str} | {paths: str | [str, ...], format: str}}``,
    each optionally with ``regrid`` (``native`` | ``iono72``) and ``every`` (e.g. ``2h``)."""
    expected = (
        f"expected {{sample: NAME}} or {{paths: [...], format: {'|'.join(SOURCE_FORMATS)}}}, "
        "optionally with regrid and every"
    )
    for name, entry in value.items():
        key = f"{dotted}.{name}"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"config key {key!r}{_where(origin)}: {expected}, got {entry!r}")
        keys = set(entry)
        allowed = ["every", "format", "paths", "reader", "regrid", "sample", "weatherbench"]
        for k in keys:
            if k not in allowed:
                raise _unknown(str(k), f"{key}.{k}", allowed, origin)
        if "regrid" in keys:
            check_field(
                entry["regrid"], Field("str", choices=REGRID_CHOICES), key + ".regrid", origin
            )
        if "every" in keys:
            check_field(entry["every"], Field("str"), key + ".every", origin)
        if "weatherbench" in keys and not isinstance(entry["weatherbench"], Mapping):
            raise ConfigError(
                f"config key {key + '.weatherbench'!r}{_where(origin)}: expected a mapping "
                f"{{set: NAME}} or {{variables: [...], levels: [...], years: [first, last]}}, "
                f"got {entry['weatherbench']!r}"
            )
        if "reader" in keys and not isinstance(entry["reader"], Mapping):
            raise ConfigError(
                f"config key {key + '.reader'!r}{_where(origin)}: expected a mapping of the "
                f"reader's keyword arguments, got {entry['reader']!r}"
            )
        if not complete:
            # one layer (a file or an override such as data.sources.maps.paths=...) may give
            # part of an entry; the merged config is checked whole
            continue
        with_options = [r.name for r in READERS if r.options]
        if "reader" in keys and entry.get("format") not in with_options:
            raise ConfigError(
                f"config key {key + '.reader'!r}{_where(origin)}: only with the formats whose "
                f"reader takes options ({', '.join(with_options)}), got format "
                f"{entry.get('format')!r}"
            )
        core = keys - {"regrid", "every", "weatherbench", "reader"}
        if "weatherbench" in keys and entry.get("format") != "weatherbench":
            raise ConfigError(
                f"config key {key + '.weatherbench'!r}{_where(origin)}: only with "
                f"format: weatherbench, got format {entry.get('format')!r}"
            )
        if "sample" in keys:
            if core != {"sample"} or not isinstance(entry["sample"], str):
                raise ConfigError(
                    f"config key {key!r}{_where(origin)}: {expected}, got {dict(entry)!r}"
                )
            continue
        if core != {"paths", "format"}:
            raise ConfigError(
                f"config key {key!r}{_where(origin)}: {expected}, got keys {sorted(keys)}"
            )
        paths = entry["paths"]
        if not (
            isinstance(paths, str)
            or (isinstance(paths, list) and paths and all(isinstance(p, str) for p in paths))
        ):
            raise ConfigError(
                f"config key {key + '.paths'!r}{_where(origin)}: expected a path or a non-empty "
                f"list of paths (str), got {paths!r}"
            )
        check_field(entry["format"], Field("str", choices=SOURCE_FORMATS), key + ".format", origin)


def _check_backbone(value: Any, dotted: str, origin: str | None, complete: bool) -> None:
    """``model.backbone``: ``{name: str, ...kwargs}`` (kwargs are checked by the builder)."""
    if "name" in value and not isinstance(value["name"], str):
        raise ConfigError(
            f"config key {dotted + '.name'!r}{_where(origin)}: expected str (a registered "
            f"backbone name), got {value['name']!r}"
        )
    if complete and "name" not in value:
        raise ConfigError(
            f"config key {dotted + '.name'!r} is missing{_where(origin)}: expected str "
            "(a registered backbone name)"
        )


def _f(kind: str, default: Any = _NO_DEFAULT, **kw: Any) -> Field:
    return Field(kind, default, **kw)


RUN_SPEC = Section(
    {
        "run": Section({"name": _f("str", None, nullable=True), "dir": _f("str", "runs")}),
        "data": Section(
            {
                "sources": _f("mapping", validator=_check_sources),
                "schema": _f("mapping"),
                "splits": _f("mapping"),
                "window": _f("mapping"),
                "normalisation": _f("mapping", None, nullable=True),
                "future_forcings": _f("str", "known", choices=("known", "oracle", "none")),
                "padding": _f("mapping", None, nullable=True),
            },
            required=True,
        ),
        "model": Section(
            {
                "backbone": _f("mapping", validator=_check_backbone),
                "fusion": _f("str", "concat"),
                "residual": _f("str", "none", choices=("none", "last")),
                "frame": _f("str", "geographic", choices=("geographic", "sun_fixed")),
            },
            required=True,
        ),
        "train": Section(
            {
                "epochs": _f("int", 10, minimum=1),
                "batch_size": _f("int", 8, minimum=1),
                "val_batch_size": _f("int", 4, minimum=1),
                "num_workers": _f("int", 0, minimum=0),
                "optimizer": _f("str", "adam", choices=("adam", "adamw")),
                "lr": _f("float", 1e-3, minimum=0, exclusive_min=True),
                "weight_decay": _f("float", 0.0, minimum=0),
                "schedule": _f("str", "onecycle", choices=("onecycle", "cosine", "constant")),
                "warmup_steps": _f("int", 0, minimum=0),
                "warmup_epochs": _f("int", 0, minimum=0),
                "grad_clip": _f("float", None, nullable=True, minimum=0, exclusive_min=True),
                "criterion": _f("str", "mse", choices=("mse", "mae")),
                "amp": _f("bool", False),
                "compile": _f("bool", False),
                "device": _f("str", "auto", choices=("auto", "cpu", "cuda")),
                "early_stopping": _f("int", None, nullable=True, minimum=1),
                "seed": _f("int", 0, minimum=0),
                "max_minutes": _f("float", None, nullable=True, minimum=0, exclusive_min=True),
                "max_steps_per_epoch": _f("int", None, nullable=True, minimum=1),
                "scheduled_sampling": Section(
                    {
                        "start": _f("float", 1.0, minimum=0, maximum=1),
                        "decay_per_step": _f("float", 2.0e-5, minimum=0),
                        "min": _f("float", 0.0, minimum=0, maximum=1),
                        "kind": _f("str", "linear", choices=("linear", "reverse")),
                        "r_sampling_step_1": _f("int", 25_000, minimum=0),
                        "r_sampling_step_2": _f("int", 50_000, minimum=0),
                        "r_exp_alpha": _f("float", 5_000.0, minimum=0, exclusive_min=True),
                    }
                ),
                "log_every": _f("int", 10, minimum=1),
            }
        ),
        "eval": Section(
            {
                "batch_size": _f("int", 8, minimum=1),
                "baselines": _f("list", list(BASELINES), items="str", choices=BASELINES),
                "climatology_by": _f(
                    "str",
                    "time_of_day",
                    nullable=True,
                    choices=("time_of_day", "month", "dayofyear"),
                ),
                "figure_window": _f("int", -1),
                "figure_leads": _f("list", None, nullable=True, items="int"),
                "codebook_usage": _f("bool", False),
            }
        ),
    },
    required=True,
)


def _where(origin: str | None) -> str:
    return f" (in {origin})" if origin else ""


def _unknown(key: str, dotted: str, allowed: list[str], origin: str | None) -> ConfigError:
    close = difflib.get_close_matches(key, allowed, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return ConfigError(
        f"unknown config key {dotted!r}{_where(origin)}{hint} "
        f"(known keys here: {', '.join(sorted(allowed))})"
    )


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "list":
        return isinstance(value, list)
    if kind == "mapping":
        return isinstance(value, Mapping)
    raise AssertionError(f"unknown field kind {kind!r}")


def check_field(
    value: Any, spec: Field, dotted: str, origin: str | None = None, complete: bool = False
) -> Any:
    """Validate one leaf; return it (ints given for a float field become floats)."""

    def bad(why: str) -> ConfigError:
        return ConfigError(
            f"config key {dotted!r}{_where(origin)}: expected {spec.describe()}, {why}"
        )

    if value is None:
        if spec.nullable:
            return None
        raise bad("got null")
    if not _is_kind(value, spec.kind):
        raise bad(f"got {type(value).__name__} {value!r}")
    if spec.kind == "list":
        for i, item in enumerate(value):
            if spec.items and not _is_kind(item, spec.items):
                raise bad(f"item [{i}] is {type(item).__name__} {item!r}")
            if spec.choices and item not in spec.choices:
                close = difflib.get_close_matches(str(item), list(spec.choices), n=3, cutoff=0.5)
                hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
                raise bad(f"item [{i}] is {item!r}{hint}")
        return list(value)
    if spec.choices and value not in spec.choices:
        close = difflib.get_close_matches(str(value), [str(c) for c in spec.choices], cutoff=0.5)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise bad(f"got {value!r}{hint}")
    low = spec.minimum is not None and (
        value <= spec.minimum if spec.exclusive_min else value < spec.minimum
    )
    if low or (spec.maximum is not None and value > spec.maximum):
        raise bad(f"got {value!r}")
    if spec.validator is not None:
        spec.validator(value, dotted, origin, complete)
    return float(value) if spec.kind == "float" else value


def check(
    cfg: Mapping[str, Any],
    spec: Section = RUN_SPEC,
    origin: str | None = None,
    complete: bool = False,
    prefix: str = "",
) -> dict[str, Any]:
    """Validate ``cfg`` against ``spec``; return a normalised copy.

    Args:
        cfg: a config mapping (one file, one override or the merged result).
        origin: where it came from, for the messages (a file path or ``override 'k=v'``).
        complete: also require every required key (the merged config); otherwise a partial
            config (one layer) is accepted.
        prefix: dotted path of ``cfg`` inside the whole config.

    Raises:
        ConfigError: an unknown key, a wrong type or value, or (``complete``) a missing key.
    """
    if not isinstance(cfg, Mapping):
        name = prefix or "the config"
        raise ConfigError(
            f"{name!s}{_where(origin)}: expected a mapping, got {type(cfg).__name__} {cfg!r}"
        )
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        dotted = f"{prefix}{key}"
        if not isinstance(key, str) or key not in spec.keys:
            raise _unknown(str(key), dotted, list(spec.keys), origin)
        sub = spec.keys[key]
        if isinstance(sub, Section):
            if value is None and not sub.required:
                raise ConfigError(
                    f"config key {dotted!r}{_where(origin)}: expected a mapping, got null "
                    "(leave the key out to take the defaults)"
                )
            out[key] = check(value, sub, origin, complete, f"{dotted}.")
        else:
            out[key] = check_field(value, sub, dotted, origin, complete)
    if complete:
        for key, sub in spec.keys.items():
            if key in out:
                continue
            if (isinstance(sub, Section) and sub.required) or (
                isinstance(sub, Field) and sub.required
            ):
                raise ConfigError(
                    f"config key {prefix}{key!r} is missing{_where(origin)}: expected "
                    + ("a mapping" if isinstance(sub, Section) else sub.describe())
                )
    return out


def fill_defaults(cfg: Mapping[str, Any], spec: Section = RUN_SPEC) -> dict[str, Any]:
    """A copy of a validated ``cfg`` with every absent optional key set to its default."""
    out = dict(cfg)
    for key, sub in spec.keys.items():
        if isinstance(sub, Section):
            out[key] = fill_defaults(out.get(key) or {}, sub)
        elif key not in out and not sub.required:
            d = sub.default
            out[key] = list(d) if isinstance(d, list) else d
    return out
