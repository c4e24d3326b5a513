"""Is a downloaded file what it claims to be? Checksums where published, format checks always.

Archives fail in ways a byte count does not see: an HTML login or error page served with
HTTP 200 under the file's name, a truncated gzip stream, a NetCDF that is not one. Every
downloaded file therefore passes :func:`check_content` for its product's content kind, and, when
the archive publishes a checksum list (CDDIS's ``MD5SUMS`` of each day folder), its hash must
equal the listed one (:func:`parse_sums`, hashing by :func:`pooch.file_hash`).
"""

from __future__ import annotations

import gzip
import zipfile
import zlib
from pathlib import Path

import pooch

__all__ = ["BadFileError", "check_content", "check_hash", "parse_sums", "quick_check"]

_MAGIC = {
    "gzip": (b"\x1f\x8b",),
    "compress": (b"\x1f\x9d",),
    "netcdf": (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n"),
    "zip": (b"PK\x03\x04", b"PK\x05\x06"),
}


class BadFileError(ValueError):
    """A downloaded file fails its checksum or its format check."""


def _looks_like_html(head: bytes) -> bool:
    text = head.lstrip()[:64].lower()
    return text.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<html" in text


def _head(path: Path, n: int = 4096) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def quick_check(path: Path, content: str) -> None:
    """The cheap part of :func:`check_content` (size, magic bytes, no HTML page), for files
    already in the cache. Raises :class:`BadFileError` naming the file."""
    head = _head(path)
    if not head:
        raise BadFileError(f"{path}: empty file")
    if _looks_like_html(head):
        raise BadFileError(
            f"{path}: an HTML page, not the data file (the archive answered with a login or "
            "error page; for CDDIS put your NASA Earthdata login in ~/.netrc)"
        )
    if content == "netcdf" and not head.startswith(_MAGIC["netcdf"]):
        raise BadFileError(f"{path}: not a NetCDF file (starts with {head[:8]!r})")
    if content == "zip" and not head.startswith(_MAGIC["zip"]):
        raise BadFileError(f"{path}: not a zip archive (starts with {head[:8]!r})")
    if (
        content in ("text", "ionex")
        and b"\x00" in head
        and not head.startswith(_MAGIC["gzip"] + _MAGIC["compress"])
    ):
        raise BadFileError(f"{path}: binary bytes in what should be a text file")
    name = path.name.removesuffix(".part")
    if name.endswith((".gz", ".Z")) and not head.startswith(_MAGIC["gzip"] + _MAGIC["compress"]):
        raise BadFileError(f"{path}: named {name} but not gzip/compress data")


def check_content(path: Path, content: str) -> None:
    """Check that ``path`` is a complete file of kind ``content``.

    Kinds: ``text`` (no NUL bytes, not HTML; gzip content is decompressed in full first),
    ``ionex`` (decompressed, the first record is ``IONEX VERSION / TYPE`` and the last
    ``END OF FILE``), ``netcdf`` (CDF or
    HDF5 signature), ``zip`` (every member's CRC verified).

    Raises:
        BadFileError: naming the file and what is wrong.
    """
    quick_check(path, content)
    if content == "ionex":
        from geostl.io._files import read_bytes

        try:
            data = read_bytes(path)
        except ValueError as err:
            raise BadFileError(f"{path}: cannot be decompressed: {err}") from err
        if b"IONEX VERSION / TYPE" not in data[:200]:
            raise BadFileError(
                f"{path}: not an IONEX file (the first record is not IONEX VERSION / TYPE)"
            )
        if b"END OF FILE" not in data[-400:]:
            raise BadFileError(f"{path}: truncated IONEX file (no END OF FILE record at the end)")
    elif content == "text" and _head(path, 2) == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as fh:
                while fh.read(1 << 20):
                    pass
        except (OSError, EOFError, zlib.error) as err:
            raise BadFileError(f"{path}: broken gzip stream: {err}") from err
    elif content == "zip":
        try:
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
        except (zipfile.BadZipFile, OSError, zlib.error) as err:
            raise BadFileError(f"{path}: broken zip archive: {err}") from err
        if bad is not None:
            raise BadFileError(f"{path}: zip member {bad} fails its CRC")


def parse_sums(text: str, where: str) -> dict[str, str]:
    """``{file name: hex digest}`` of an ``md5sum``/``sha512sum``-style list (``HASH  NAME`` or
    ``HASH *NAME`` per line; blank lines and ``#`` comments skipped).

    Raises:
        BadFileError: a line that is not ``HASH NAME``, naming ``where`` and the line.
    """
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or not all(c in "0123456789abcdefABCDEF" for c in parts[0]):
            raise BadFileError(f"{where}: line {n} is not 'HASH  NAME': {line[:80]!r}")
        name = parts[1].strip().lstrip("*")
        out[name.rsplit("/", 1)[-1]] = parts[0].lower()
    return out


def check_hash(path: Path, expected: str, alg: str, where: str) -> None:
    """Raise :class:`BadFileError` unless ``path``'s ``alg`` digest is ``expected``."""
    got = pooch.file_hash(str(path), alg=alg)
    if got.lower() != expected.lower():
        raise BadFileError(
            f"{path.name}: {alg} checksum mismatch: the file has {got}, {where} lists {expected}"
        )
