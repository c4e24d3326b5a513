"""Path expansion and transparent decompression shared by the text readers.

Compression is detected from the first bytes of the file, not from its name: gzip (``1f 8b``),
unix ``compress`` / LZW (``1f 9d``, the ``.Z`` files of IGS archives) and xz (``fd 37 7a 58``)
are decoded in memory; anything else is read as plain bytes.
"""

from __future__ import annotations

import glob
import gzip
import lzma
import os
from collections.abc import Iterable
from pathlib import Path

from geostl.io.lzw import decompress_lzw

PathLike = str | os.PathLike
PathsLike = PathLike | Iterable[PathLike]

_GLOB_CHARS = set("*?[")


def expand_paths(paths: PathsLike, what: str = "file") -> list[Path]:
    """Turn one path, a glob pattern or a list of paths/patterns into a list of existing paths.

    A pattern is expanded in sorted order. Raises ``FileNotFoundError`` naming the path or
    pattern that matched nothing, and ``ValueError`` for an empty list.
    """
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not items:
        raise ValueError(f"no {what} given: expected a path, a glob pattern or a list of paths")
    out: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if _GLOB_CHARS & set(text) and not Path(text).exists():
            matches = sorted(glob.glob(text))
            if not matches:
                raise FileNotFoundError(f"no {what} matches the pattern {text!r}")
            out.extend(Path(m) for m in matches)
        else:
            path = Path(text)
            if not path.exists():
                raise FileNotFoundError(f"{what} not found: {text}")
            out.append(path)
    return out


def read_bytes(path: PathLike) -> bytes:
    """Read a file, decompressing gzip, unix-compress (LZW) or xz content (by magic bytes)."""
    raw = Path(path).read_bytes()
    try:
        if raw[:2] == b"\x1f\x8b":
            return gzip.decompress(raw)
        if raw[:2] == b"\x1f\x9d":
            return decompress_lzw(raw)
        if raw[:6] == b"\xfd7zXZ\x00":
            return lzma.decompress(raw)
    except (OSError, EOFError, ValueError, lzma.LZMAError) as err:
        raise ValueError(f"{path}: cannot decompress: {err}") from err
    return raw


def read_text_lines(path: PathLike) -> list[str]:
    """Read a (possibly compressed) ASCII text file and return its lines without line endings."""
    return read_bytes(path).decode("latin-1").splitlines()
