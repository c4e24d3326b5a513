"""One file from an archive to disk: resumable, retried, checked, moved into place atomically.

:func:`download` streams a URL into ``NAME.part`` beside the destination. When the connection
drops, the next attempt (or the next run) asks for the rest with an HTTP ``Range`` request and
appends to the part file; a server that ignores ranges sends the whole file again and the part
is rewritten. The caller checks the part file (:mod:`geostl.archives.checks`) and only then
moves it to its name with ``os.replace``, so a file under its final name is always complete.

Credentials come from a ``.netrc`` file and go only to the host they are written for
(:class:`ArchiveSession`): NASA Earthdata redirects a CDDIS request to
``urs.earthdata.nasa.gov``, which gets the login; CDDIS itself, and any other host a redirect
leads to, never sees it. Credentials are never sent over plain HTTP except to the loopback
interface (a local mirror).
"""

from __future__ import annotations

import ipaddress
import netrc
import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import requests
import urllib3

__all__ = [
    "ArchiveSession",
    "DownloadError",
    "MissingFileError",
    "download",
    "netrc_credentials",
]

_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A file could not be fetched (network, HTTP status, login, or a bad file)."""


class MissingFileError(DownloadError):
    """The archive has no such file (HTTP 404 / 410): a day the archive lacks."""


def _default_netrc() -> Path:
    return Path(os.environ.get("NETRC", Path.home() / ".netrc"))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def netrc_credentials(url: str, path: str | os.PathLike | None = None) -> tuple[str, str] | None:
    """``(login, password)`` of the ``.netrc`` entry of ``url``'s host, or ``None``.

    Only an entry for that exact host counts (a ``default`` entry is ignored, so a login is
    never sent to a host it was not written for), and only over HTTPS or to a loopback host.

    Raises:
        DownloadError: the netrc file exists but cannot be parsed (naming the file and line).
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "https" and not _is_loopback(host):
        return None
    file = Path(path) if path is not None else _default_netrc()
    if not file.is_file():
        return None
    try:
        entries = netrc.netrc(os.fspath(file)).hosts
    except (netrc.NetrcParseError, OSError) as err:
        raise DownloadError(f"cannot read the netrc file {file}: {err}") from err
    entry = entries.get(host)
    if entry is None:
        return None
    login, _account, password = entry
    return (login or "", password or "")


class _HostAuth(requests.auth.AuthBase):
    """Basic auth from the netrc entry of the request's own host (if any)."""

    def __init__(self, netrc_path: str | os.PathLike | None) -> None:
        self.netrc_path = netrc_path

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        creds = netrc_credentials(r.url or "", self.netrc_path)
        if creds is not None:
            r.prepare_auth(creds)
        return r


class ArchiveSession(requests.Session):
    """A ``requests.Session`` whose credentials follow the host, redirects included.

    Args:
        netrc_path: the netrc file (default ``$NETRC`` or ``~/.netrc``).
    """

    def __init__(self, netrc_path: str | os.PathLike | None = None) -> None:
        super().__init__()
        self.netrc_path = netrc_path
        self.auth = _HostAuth(netrc_path)
        from geostl import __version__

        self.headers["User-Agent"] = f"geostl/{__version__} (+fetch)"

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        """On a redirect: drop any Authorization header, then add the new host's own login."""
        prepared_request.headers.pop("Authorization", None)
        creds = netrc_credentials(prepared_request.url or "", self.netrc_path)
        if creds is not None:
            prepared_request.prepare_auth(creds)


def part_path(dest: Path) -> Path:
    """The partial file a download of ``dest`` writes into."""
    return dest.with_name(dest.name + ".part")


def download(
    session: requests.Session,
    url: str,
    dest: Path,
    *,
    retries: int = 3,
    timeout: float = 60.0,
    backoff: float = 1.0,
    on_bytes: Callable[[int], None] | None = None,
) -> Path:
    """Fetch ``url`` into ``dest``'s part file, resuming a part file left by an earlier try.

    Args:
        session: the HTTP session (:class:`ArchiveSession` for netrc logins).
        url: the file's URL.
        dest: the final path; the data go to ``dest.part`` (returned), which the caller checks
            and moves into place.
        retries: further attempts after a dropped connection, a timeout or an HTTP 5xx; each
            resumes where the last stopped. Waits ``backoff * 2**k`` seconds between them.
        timeout: seconds to wait for the server to connect or send the next bytes.
        on_bytes: called with the number of bytes of each chunk written.

    Returns:
        the complete part file (its size equals the server's Content-Length when given).

    Raises:
        MissingFileError: HTTP 404 or 410.
        DownloadError: any other failure after the retries, or a login refused (401/403),
            naming the URL and the last error.
    """
    part = part_path(dest)
    part.parent.mkdir(parents=True, exist_ok=True)
    last: str = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        offset = part.stat().st_size if part.exists() else 0
        # identity: the bytes as stored on the archive, so ranges and lengths refer to them
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            with session.get(url, stream=True, timeout=timeout, headers=headers) as r:
                if r.status_code in (404, 410):
                    raise MissingFileError(f"{url}: not on the archive (HTTP {r.status_code})")
                if r.status_code in (401, 403):
                    raise DownloadError(
                        f"{url}: access refused (HTTP {r.status_code}); this archive needs a "
                        "login: add its host to your .netrc (for CDDIS: machine "
                        "urs.earthdata.nasa.gov login USER password PASS)"
                    )
                if r.status_code == 416 and offset:
                    part.unlink()  # the part is longer than the file: start again
                    last = "HTTP 416 for the resumed range"
                    continue
                if r.status_code >= 500:
                    last = f"HTTP {r.status_code}"
                    continue
                if r.status_code not in (200, 206):
                    raise DownloadError(f"{url}: unexpected HTTP {r.status_code} {r.reason}")
                if r.status_code == 206 and not _range_starts_at(r, offset):
                    part.unlink()  # a range other than the one asked for: start again
                    last = f"Content-Range {r.headers.get('Content-Range')!r} for offset {offset}"
                    continue
                mode = "ab" if r.status_code == 206 else "wb"
                if r.status_code == 200:
                    offset = 0  # the server sent the whole file
                length = r.headers.get("Content-Length")
                total = offset + int(length) if length is not None else None
                with open(part, mode) as fh:
                    # read1: what has arrived is written before a dropped connection raises
                    while chunk := r.raw.read1(_CHUNK, decode_content=False):
                        fh.write(chunk)
                        if on_bytes is not None:
                            on_bytes(len(chunk))
                    fh.flush()
                    os.fsync(fh.fileno())
                size = part.stat().st_size
                if total is not None and size != total:
                    last = f"connection closed after {size} of {total} bytes"
                    continue
                return part
        except (requests.ConnectionError, requests.Timeout) as err:
            last = f"{type(err).__name__}: {err}"
        except (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.HTTPError) as err:
            last = f"connection broken: {err}"
    raise DownloadError(f"{url}: failed after {retries + 1} attempts: {last}")


def _range_starts_at(r: requests.Response, offset: int) -> bool:
    """True when a 206 answer's ``Content-Range: bytes A-B/N`` starts at ``offset``."""
    value = r.headers.get("Content-Range", "")
    try:
        start = int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return False
    return start == offset
