"""``READERS``: every reader of ``geostl.io`` by format name, in the spirit of xarray's backends.

xarray finds its backends through ``BackendEntrypoint`` objects that state a name, an
``open_dataset`` function, the options it takes and a ``guess_can_open`` test on a path. Here a
reader module registers its plain ``open_X`` function once, at the bottom of its own file::

    READERS.register(
        "ionex", open_ionex, takes="files", patterns=("*.??i", "*.??i.gz"),
        description="IONEX global TEC maps (IGS / CODE / UPC)",
    )

and everything that lists formats reads them from here: the ``format:`` names a run config
accepts (``geostl.runconfig``), the "unknown format" errors, the ``reader:`` options a source
may pass, and the format table of ``docs/data.md`` (checked against this registry by
``tests/test_io_registry.py``). A new reader is therefore one file plus one ``register`` call.

A :class:`Reader` records:

- ``name``: the ``format:`` value; registering a name twice is an error;
- ``function``: the ``geostl.io`` function; its first parameter receives the paths;
- ``takes``: what that first parameter is: ``"files"`` (a path, glob or list of files),
  ``"file"`` (exactly one file) or ``"folder"`` (exactly one root folder);
- ``options``: the keyword arguments a config may pass (``{name: default}``), taken from the
  function's signature (every parameter after the first, less ``fixed``); a parameter without a
  default maps to :data:`REQUIRED`;
- ``fixed``: keyword arguments always passed (``netcdf`` is ``open_dataset(format="netcdf")``);
- ``patterns``: ``fnmatch`` patterns of the file (or folder) names the reader claims, used by
  :meth:`ReaderRegistry.guess` to guess a format from a path;
- ``description``: one line for listings and the docs table.
"""

from __future__ import annotations

import fnmatch
import inspect
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import xarray as xr

__all__ = ["READERS", "REQUIRED", "Reader", "ReaderOptionError", "ReaderRegistry"]

TAKES = ("files", "file", "folder")


class _Required:
    """Marker of an option without a default (the reader needs it)."""

    def __repr__(self) -> str:
        return "REQUIRED"


#: the default recorded for an option whose parameter has none
REQUIRED: Any = _Required()


class ReaderOptionError(ValueError):
    """Paths or options that do not fit a reader's declaration (not a bad file content).

    The message starts with the ``where`` prefix given to :meth:`Reader.read` when it is about
    an option, so callers can re-raise it as a config error naming the key.
    """


@dataclass(frozen=True)
class Reader:
    """One registered reader (see the module docstring for the fields)."""

    name: str
    function: Callable[..., xr.Dataset]
    takes: str
    patterns: tuple[str, ...]
    description: str
    fixed: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        if self.takes not in TAKES:
            raise ValueError(
                f"reader {self.name!r}: takes must be one of {', '.join(TAKES)}, got {self.takes!r}"
            )
        params = list(inspect.signature(self.function).parameters.values())
        if not params:
            raise ValueError(f"reader {self.name!r}: {self.function.__name__} takes no paths")
        unknown = [k for k in self.fixed if k not in {p.name for p in params[1:]}]
        if unknown:
            raise ValueError(
                f"reader {self.name!r}: fixed arguments {unknown} are not parameters of "
                f"{self.function.__name__}"
            )
        options = {
            p.name: REQUIRED if p.default is inspect.Parameter.empty else p.default
            for p in params[1:]
            if p.name not in self.fixed
            and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        }
        object.__setattr__(self, "options", MappingProxyType(options))
        object.__setattr__(self, "fixed", MappingProxyType(dict(self.fixed)))

    def claims(self, path: str | os.PathLike) -> bool:
        """Whether the last component of ``path`` matches one of :attr:`patterns`."""
        name = Path(path).name
        return any(fnmatch.fnmatch(name, pattern) for pattern in self.patterns)

    def read(
        self,
        paths: Sequence[str | os.PathLike],
        options: Mapping[str, Any] | None = None,
        where: str = "reader",
    ) -> xr.Dataset:
        """Call the reader on ``paths`` (one entry each for ``file`` and ``folder`` readers).

        ``options``: keyword arguments among :attr:`options` (lists become tuples, as YAML has
        no tuples); an unknown one, or a required one left out, is a
        :class:`ReaderOptionError` starting with ``{where}.{key}``. Errors of the reader
        itself (missing files, bad content) pass through unchanged.
        """
        paths = list(paths)
        if self.takes != "files" and len(paths) != 1:
            what = "one file" if self.takes == "file" else "one folder"
            raise ReaderOptionError(f"format {self.name!r} reads {what}, got {len(paths)}: {paths}")
        kwargs = dict(self.fixed)
        for key, value in (options or {}).items():
            if key not in self.options:
                raise ReaderOptionError(
                    f"{where}.{key}: not an option of the {self.name!r} reader; it takes "
                    f"{list(self.options)}"
                )
            kwargs[key] = tuple(value) if isinstance(value, list) else value
        missing = [k for k, v in self.options.items() if v is REQUIRED and k not in kwargs]
        if missing:
            raise ReaderOptionError(
                f"{where}.{missing[0]}: the {self.name!r} reader needs it (required options: "
                f"{missing})"
            )
        target = paths if self.takes == "files" else paths[0]
        return self.function(target, **kwargs)


class ReaderRegistry:
    """Readers by format name (listed in name order, whatever the import order); duplicates
    are refused."""

    def __init__(self) -> None:
        self._readers: dict[str, Reader] = {}

    def register(
        self,
        name: str,
        function: Callable[..., xr.Dataset],
        *,
        takes: str,
        patterns: Sequence[str],
        description: str,
        fixed: Mapping[str, Any] | None = None,
    ) -> Reader:
        """Register ``function`` as format ``name`` and return its :class:`Reader`.

        Raises:
            ValueError: ``name`` is already registered (naming the function holding it), a
                bad ``takes``, an empty description or ``fixed`` keys the function lacks.
        """
        if name in self._readers:
            held = self._readers[name].function
            raise ValueError(
                f"reader format {name!r} is already registered (by {held.__module__}."
                f"{held.__qualname__})"
            )
        if not description.strip() or "\n" in description:
            raise ValueError(f"reader {name!r}: the description must be one non-empty line")
        reader = Reader(name, function, takes, tuple(patterns), description, dict(fixed or {}))
        self._readers[name] = reader
        return reader

    def names(self) -> tuple[str, ...]:
        """The format names, sorted."""
        return tuple(sorted(self._readers))

    def get(self, name: str) -> Reader:
        """The reader of format ``name``.

        Raises:
            KeyError: ``unknown format X; known: a, b, ...``.
        """
        if name not in self._readers:
            raise KeyError(f"unknown format {name!r}; known: {', '.join(self.names())}")
        return self._readers[name]

    __getitem__ = get

    def __contains__(self, name: object) -> bool:
        return name in self._readers

    def __iter__(self) -> Iterator[Reader]:
        return iter([self._readers[n] for n in self.names()])

    def __len__(self) -> int:
        return len(self._readers)

    def guess(self, path: str | os.PathLike) -> list[str]:
        """The formats whose patterns claim ``path``'s name (may be several or none)."""
        return [r.name for r in self if r.claims(path)]

    def markdown_table(self) -> str:
        """The format table of ``docs/data.md``: format, function, takes, options, patterns."""
        rows = [
            "| format | function | takes | options (default) | file patterns | description |",
            "|---|---|---|---|---|---|",
        ]
        for r in self:
            opts = ", ".join(f"`{k}={v!r}`" for k, v in r.options.items()) or "none"
            pats = ", ".join(f"`{p}`" for p in r.patterns)
            func = f"`{r.function.__module__}.{r.function.__name__}`"
            rows.append(f"| `{r.name}` | {func} | {r.takes} | {opts} | {pats} | {r.description} |")
        return "\n".join(rows)


#: every reader of ``geostl.io`` (filled by the reader modules; import ``geostl.io`` first)
READERS = ReaderRegistry()
