"""The one key checker for plain-dict configs, and the helpers its messages are made of.

Every "unknown key / unknown name, did you mean ..." message in geostl is built here:

* :func:`close_matches` / :func:`did_you_mean`: the names of ``choices`` that look like a word
  (difflib), and the ``"did you mean 'a', 'b'?"`` text made of them;
* :func:`check_keys`: unknown or missing keys of one mapping (``KeyError``);
* :func:`unknown_keys`: every unknown key of a mapping, each with its close matches, as one
  text (for messages that list them all, e.g. a backbone's keyword arguments);
* :func:`check_choice`: a value outside its allowed choices (``ValueError``);
* :func:`plain`: a deep copy into plain dicts / lists / scalars (for YAML and checkpoints).
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "check_choice",
    "check_keys",
    "close_matches",
    "did_you_mean",
    "plain",
    "unknown_keys",
]


def close_matches(
    word: Any, choices: Iterable[Any], *, ignore_case: bool = False, cutoff: float = 0.5
) -> list[str]:
    """Up to three of ``choices`` (as strings) that look like ``word``, best first.

    ``ignore_case``: compare lower-cased (``hid_s`` finds ``hid_S``); the matches keep their
    own spelling. ``cutoff``: difflib's similarity threshold (0..1).
    """
    names = ["null" if c is None else str(c) for c in choices]
    if not ignore_case:
        return difflib.get_close_matches(str(word), names, n=3, cutoff=cutoff)
    lowered = {n.lower(): n for n in names}
    hits = difflib.get_close_matches(str(word).lower(), list(lowered), n=3, cutoff=cutoff)
    return [lowered[h] for h in hits]


def did_you_mean(word: Any, choices: Iterable[Any], **kw: Any) -> str:
    """``"did you mean 'a', 'b'?"`` for the :func:`close_matches` of ``word``, or ``""``."""
    close = close_matches(word, choices, **kw)
    return f"did you mean {', '.join(repr(c) for c in close)}?" if close else ""


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
            hint = did_you_mean(key, allowed)
            raise KeyError(
                f"{where}: unknown key {key!r}{'; ' + hint if hint else ''} "
                f"(allowed keys: {', '.join(allowed)})"
            )
    for key in required:
        if key not in d:
            raise KeyError(
                f"{where}: missing required key {key!r} (allowed keys: {', '.join(allowed)})"
            )


def unknown_keys(given: Iterable[str], allowed: Sequence[str], **kw: Any) -> str:
    """The keys of ``given`` outside ``allowed``, each with its close matches, or ``""``.

    E.g. ``"'fusoin' (did you mean 'fusion'?), 'x'"``; ``kw`` go to :func:`close_matches`.
    """
    parts = []
    for key in given:
        if key not in allowed:
            hint = did_you_mean(key, allowed, **kw)
            parts.append(f"{key!r}" + (f" ({hint})" if hint else ""))
    return ", ".join(parts)


def check_choice(value: Any, choices: Iterable[Any], where: str) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` listing them.

    ``None`` may be one of the choices (listed as ``null``).
    """
    choices = list(choices)
    if value not in choices:
        hint = did_you_mean(value, [c for c in choices if c is not None])
        names = ", ".join("null" if c is None else str(c) for c in choices)
        raise ValueError(
            f"{where}: {value!r} is not allowed{'; ' + hint if hint else ''} "
            f"(choose one of: {names})"
        )
    return value


def plain(obj: Any, where: str = "config", strict: bool = False) -> Any:
    """A deep copy of ``obj`` as plain dicts (string keys), lists and scalars.

    Mappings become dicts and tuples/lists (any sequence but str/bytes with ``strict``) become
    lists, so ``yaml.safe_dump`` accepts the result. ``strict``: also refuse anything but
    None/bool/int/float/str at the leaves with a ``TypeError`` naming ``where`` (the dotted
    position, e.g. ``model.backbone.hid_S``); otherwise leaves are kept as they are.
    """
    if isinstance(obj, Mapping):
        return {str(k): plain(v, f"{where}.{k}", strict) for k, v in obj.items()}
    if isinstance(obj, list | tuple) or (
        strict and isinstance(obj, Sequence) and not isinstance(obj, str | bytes)
    ):
        return [plain(v, f"{where}[{i}]", strict) for i, v in enumerate(obj)]
    if not strict:
        return obj
    if obj is None or isinstance(obj, bool | int | float | str):
        return copy.copy(obj)
    raise TypeError(
        f"{where} must hold plain values (numbers, strings, lists, dicts), got {type(obj).__name__}"
    )
