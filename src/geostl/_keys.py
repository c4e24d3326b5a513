"""Key checking for plain-dict configs: unknown keys stop with close matches (difflib)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any


def check_keys(
    d: Mapping[str, Any],
    allowed: Iterable[str],
    where: str,
    required: Iterable[str] = (),
) -> None:
    """Raise ``KeyError`` if ``d`` has a key outside ``allowed`` or lacks one of ``required``.

    ``where`` names the config section (e.g. ``"data.schema.forcings[2]"``) in the message,
    which lists the allowed keys and, when there are any, the closest matches.
    """
    if not isinstance(d, Mapping):
        raise TypeError(f"{where}: expected a mapping (dict), got {type(d).__name__}")
    allowed = sorted(allowed)
    for key in d:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise KeyError(
                f"{where}: unknown key {key!r}{hint} (allowed keys: {', '.join(allowed)})"
            )
    for key in required:
        if key not in d:
            raise KeyError(
                f"{where}: missing required key {key!r} (allowed keys: {', '.join(allowed)})"
            )


def check_choice(value: Any, choices: Iterable[str], where: str) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` listing them."""
    choices = list(choices)
    if value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"{where}: {value!r} is not allowed{hint} (choose one of: {', '.join(choices)})"
        )
    return value
