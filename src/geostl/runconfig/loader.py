"""Layered YAML run configs: ``_base_`` files, ordered merging, dotted overrides, validation.

Order of precedence (later wins)::

    base files named by ``_base_`` (recursively, relative to the file naming them)
      < the file itself
      < the next file on the command line ...
      < dotted overrides ``train.lr=3e-4 model.backbone.name=simvp eval.baselines=[persistence]``

Merging: mappings merge key by key, everything else (lists included) is replaced. Two
exceptions keep a layer from mixing incompatible entries: an entry of ``data.sources`` is
replaced as a whole when the later layer names its kind (``sample`` or ``format``; a layer
giving only e.g. ``paths`` or ``every`` merges into the entry), and ``model.backbone`` is
replaced as a whole when the later layer names a different backbone (its kwargs belong to the
earlier one). ``model.backbone: NAME`` is short for
``model.backbone: {name: NAME}``. The dotted overrides are first joined key by key into one
layer (later wins), which is then merged as above: their order does not matter, so
``data.sources.era5.paths=X data.sources.era5.format=netcdf`` works either way round (merged
one at a time, the ``format`` override would replace the entry and drop the ``paths``).

Relative file paths of the data sources (``data.sources.NAME.paths``, and ``paths`` of the
external forecasts in ``eval.references``) are taken relative to the file that names them (a
dotted override: relative to the current directory) and stored absolute in the resolved
config, so a run's ``config.yaml`` and checkpoints work from any directory. ``~`` is expanded;
glob patterns are kept.

YAML scalars follow the YAML 1.2 core rules for numbers, so ``5e-4`` is a float (PyYAML's YAML
1.1 resolver alone would read it as the string ``"5e-4"``).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from geostl._keys import plain

from .spec import RUN_SPEC, ConfigError, Section, check, fill_defaults

__all__ = [
    "anchor_paths",
    "load_config",
    "merge",
    "parse_override",
    "run_dir",
    "save_config",
    "yaml_load",
]

BASE_KEY = "_base_"


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` / ``5E+4`` (no dot) as floats."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def yaml_load(text: str, origin: str = "<string>") -> Any:
    """Parse YAML text with the loader above; syntax errors name ``origin``."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as err:
        raise ConfigError(f"{origin}: not valid YAML: {err}") from err


def merge(
    base: Mapping[str, Any], top: Mapping[str, Any], path: str = "", whole: bool = True
) -> dict[str, Any]:
    """Recursive merge, ``top`` wins; see the module docstring for the replacement rules.

    ``whole=False`` merges key by key everywhere (no whole-entry replacement): used to join the
    dotted overrides into one layer, so that their order does not matter.
    """
    out = copy.deepcopy(dict(base))
    for key, value in top.items():
        dotted = f"{path}{key}"
        old = out.get(key)
        replace_whole = whole and (
            (
                path == "data.sources."
                and isinstance(value, Mapping)
                and bool({"sample", "format"} & set(value))
            )
            or (
                dotted == "model.backbone"
                and isinstance(old, Mapping)
                and isinstance(value, Mapping)
                and "name" in value
                and value["name"] != old.get("name")
            )
        )
        if isinstance(old, Mapping) and isinstance(value, Mapping) and not replace_whole:
            out[key] = merge(old, value, f"{dotted}.", whole)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _normalise(layer: dict[str, Any]) -> dict[str, Any]:
    """``model.backbone: NAME`` (a string) is short for ``model.backbone: {name: NAME}``."""
    model = layer.get("model")
    if isinstance(model, Mapping) and isinstance(model.get("backbone"), str):
        layer = {**layer, "model": {**model, "backbone": {"name": model["backbone"]}}}
    return layer


def _read_layer(path: Path, stack: tuple[Path, ...], spec: Section = RUN_SPEC) -> dict[str, Any]:
    """One file with its ``_base_`` chain merged below it; each file checked on its own."""
    path = path.resolve()
    if path in stack:
        chain = " -> ".join(str(p) for p in (*stack, path))
        raise ConfigError(f"{path}: _base_ cycle: {chain}")
    if not path.is_file():
        named = f" (named by _base_ in {stack[-1]})" if stack else ""
        raise ConfigError(f"config file {path} does not exist{named}")
    data = yaml_load(path.read_text(encoding="utf-8"), str(path))
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a YAML mapping at the top, got {type(data).__name__}")
    data = _normalise(dict(data))
    bases = data.pop(BASE_KEY, None)
    if bases is None:
        bases = []
    elif isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(
            f"{path}: {BASE_KEY} must be a file name or a list of them, got {bases!r}"
        )
    check(data, spec, origin=str(path))
    data = anchor_paths(data, path.parent)
    merged: dict[str, Any] = {}
    for base in bases:
        merged = merge(merged, _read_layer(path.parent / base, (*stack, path), spec))
    return merge(merged, data)


#: sections whose entries may name files with ``paths`` (anchored by :func:`anchor_paths`)
PATH_SECTIONS = (("data", "sources"), ("eval", "references"))


def anchor_paths(layer: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """``layer`` with every relative ``paths`` entry of :data:`PATH_SECTIONS` made absolute
    against ``base`` (``~`` expanded first; absolute paths and globs kept as they are)."""
    out = dict(layer)
    for top, sub in PATH_SECTIONS:
        section = out.get(top)
        if not isinstance(section, Mapping) or not isinstance(section.get(sub), Mapping):
            continue
        entries = {}
        for name, entry in section[sub].items():
            if isinstance(entry, Mapping) and "paths" in entry:
                entry = {**entry, "paths": _anchor(entry["paths"], base)}
            entries[name] = entry
        out[top] = {**section, sub: entries}
    return out


def _anchor(paths: Any, base: Path) -> Any:
    def one(p: Any) -> Any:
        if not isinstance(p, str | os.PathLike):
            return p  # a wrong type is reported by the source opener, naming the key
        q = Path(p).expanduser()
        return q.as_posix() if q.is_absolute() else os.path.normpath(base.absolute() / q)

    if isinstance(paths, list | tuple):
        return [one(p) for p in paths]
    return one(paths)


def parse_override(text: str) -> dict[str, Any]:
    """``"a.b.c=value"`` -> ``{"a": {"b": {"c": value}}}``, value parsed as a YAML scalar/flow.

    ``key=`` (nothing after ``=``) gives null.
    """
    if "=" not in text:
        raise ConfigError(
            f"override {text!r}: expected KEY=VALUE with a dotted key, e.g. train.lr=3e-4"
        )
    key, _, raw = text.partition("=")
    key = key.strip()
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise ConfigError(f"override {text!r}: {key!r} is not a dotted key like train.lr")
    if BASE_KEY in parts:
        raise ConfigError(f"override {text!r}: {BASE_KEY} can only be given in a file")
    value = yaml_load(raw, f"override {text!r}") if raw.strip() else None
    out: dict[str, Any] = {parts[-1]: value}
    for part in reversed(parts[:-1]):
        out = {part: out}
    return out


def load_config(
    paths: Sequence[str | os.PathLike] | str | os.PathLike,
    overrides: Iterable[str] = (),
    defaults: bool = True,
    spec: Section = RUN_SPEC,
) -> dict[str, Any]:
    """Load, merge, override and validate a run config.

    Args:
        paths: YAML files merged in order (later wins); each may name ``_base_`` files.
        overrides: dotted ``KEY=VALUE`` strings applied after the files, in order.
        defaults: fill every absent optional key of ``run``/``train``/``eval`` (and
            ``data.future_forcings``, ``model.fusion`` ...) from the spec. ``run.name``
            defaults to the stem of the last file.
        spec: the specification every file, override and the merged result are checked
            against (default :data:`RUN_SPEC`; ``geostl grid`` passes one with a ``grid``
            section added).

    The ``data`` sub-keys (schema, splits, window ...) are checked by
    ``geostl.data.DataConfig.from_dict``; the ``model.backbone`` kwargs are left to the
    model builder (only ``name`` is checked here).

    Returns:
        The resolved config as plain dicts/lists/scalars (see ``RUN_SPEC``).

    Raises:
        ConfigError: a missing file, a ``_base_`` cycle, invalid YAML, an unknown key or a wrong
            type (naming the dotted key, the expected type, close matches and the file or
            override it came from), or a missing required section.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    cfg: dict[str, Any] = {}
    for p in paths:
        cfg = merge(cfg, _read_layer(Path(p), (), spec))
    # the overrides form one layer (joined key by key, later wins) merged over the files, so
    # data.sources.x.paths=P data.sources.x.format=F (or model.backbone.name=N with its kwargs)
    # give the same result in either order
    joined: dict[str, Any] = {}
    for text in overrides:
        layer = _normalise(parse_override(text))
        check(layer, spec, origin=f"override {text!r}")
        layer = anchor_paths(layer, Path.cwd())
        joined = merge(joined, layer, whole=False)
    cfg = merge(cfg, joined)
    files = ", ".join(str(p) for p in paths) or "no files"
    origin = f"the merged config from {files}"
    cfg = check(cfg, spec, origin=origin, complete=True)
    if "task" not in cfg:  # a task's data section is checked by its own schema and builder
        _check_data(cfg["data"], origin)
    if not defaults:
        return cfg
    cfg = fill_defaults(cfg, spec)
    if cfg["run"]["name"] is None:
        cfg["run"]["name"] = Path(paths[-1]).stem if paths else "run"
    return cfg


def _check_data(data: Mapping[str, Any], origin: str) -> None:
    """The data sub-keys, through their own builder ``geostl.data.DataConfig.from_dict``."""
    from geostl.data import DataConfig

    try:
        DataConfig.from_dict({k: v for k, v in data.items() if k != "sources"}, where="data")
    except (KeyError, ValueError, TypeError) as err:
        text = err.args[0] if err.args else repr(err)
        raise ConfigError(f"{text} (in {origin})") from err


def run_dir(cfg: Mapping[str, Any]) -> Path:
    """The run directory ``run.dir / run.name`` of a resolved config."""
    return Path(cfg["run"]["dir"]) / str(cfg["run"]["name"])


def save_config(cfg: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write the resolved config as YAML (atomically); ``load_config([path])`` reads it back.

    ``path`` is a ``.yaml``/``.yml`` file, or a directory (the run directory, created if
    needed) in which ``config.yaml`` is written.
    """
    path = Path(path)
    if path.is_dir() or path.suffix.lower() not in (".yaml", ".yml"):
        path = path / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(plain(cfg), sort_keys=False, default_flow_style=None, width=100)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text("# resolved geostl run config\n" + text, encoding="utf-8")
    os.replace(tmp, path)
    return path
