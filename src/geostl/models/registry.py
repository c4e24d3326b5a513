"""Name → constructor registries for the parts of a Forecaster.

A registry maps a name to a class (or factory function). New parts register themselves with a
decorator, so adding one is one file plus one line::

    @BACKBONES.register("convlstm")
    class ConvLSTM(nn.Module): ...

``build(name, **kwargs)`` checks every keyword against the constructor's signature before
calling it, so a misspelt config key stops with the key, close matches and the accepted names
instead of a bare ``TypeError`` deep inside a constructor.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from geostl._keys import did_you_mean, unknown_keys

T = TypeVar("T", bound=Callable[..., Any])


class Registry:
    """A named collection of constructors.

    Args:
        kind: what the registry holds, used in messages ("backbone", "fusion", ...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering a class or factory under ``name``; a name is taken only once."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")

        def decorator(obj: T) -> T:
            if name in self._entries:
                previous = self._entries[name]
                raise ValueError(
                    f"{self.kind} {name!r} is already registered (by "
                    f"{previous.__module__}.{previous.__qualname__}); "
                    f"cannot register {obj.__module__}.{obj.__qualname__} under the same name"
                )
            self._entries[name] = obj
            return obj

        return decorator

    def available(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str) -> Callable[..., Any]:
        """The constructor registered under ``name``; unknown names list close matches."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            pass
        known = self.available()
        listing = ", ".join(known) if known else "none registered"
        hint = did_you_mean(name, known, ignore_case=True, cutoff=0.6)
        hint = f" {hint[0].upper()}{hint[1:]}" if hint else ""
        raise KeyError(f"unknown {self.kind} {name!r}.{hint} Available: {listing}") from None

    def accepted_arguments(self, name: str) -> list[str] | None:
        """Keyword names the constructor accepts, or None when it takes ``**kwargs``."""
        params = inspect.signature(self.get(name)).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return None
        return [
            p.name
            for p in params
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        ]

    def build(self, name: str, **kwargs: Any) -> Any:
        """Construct ``name`` with ``kwargs`` after checking them against its signature.

        Raises:
            KeyError: ``name`` is not registered.
            TypeError: a keyword is unknown (with close matches and the accepted names) or a
                required argument is missing.
        """
        ctor = self.get(name)
        accepted = self.accepted_arguments(name)
        if accepted is not None:
            unknown = unknown_keys(kwargs, accepted, ignore_case=True, cutoff=0.6)
            if unknown:
                raise TypeError(
                    f"{self.kind} {name!r} got unknown argument(s) {unknown}. "
                    f"Accepted: {', '.join(accepted)}"
                )
        signature = inspect.signature(ctor)
        try:
            signature.bind(**kwargs)
        except TypeError as err:
            raise TypeError(f"{self.kind} {name!r}: {err}. Signature: {name}{signature}") from None
        return ctor(**kwargs)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.available()) or 'empty'})"


BACKBONES = Registry("backbone")
FUSIONS = Registry("fusion")
QUANTISERS = Registry("quantiser")
HEADS = Registry("head")
