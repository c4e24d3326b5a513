"""``geostl.fetch``: the files of named products over a date range, into the data folder.

The data folder is ``data_dir`` when given, else ``$GEOSTL_DATA``, else the platform's cache
(``pooch.os_cache("geostl")``: ``~/.cache/geostl`` on Linux). Files land at
``DATA/<product>/<year>/<archive name>`` for daily products and ``DATA/<product>/<name>``
otherwise, under the archive's own file names, so every reader of ``geostl.io`` recognises them.

A file already there is kept (its magic bytes checked); ``refresh=True`` fetches again. New
files are downloaded by up to ``jobs`` threads, each resumable (:mod:`.download`), checked
(:mod:`.checks`: the archive's checksum list when it has one, the format always) and moved
into place atomically. A file the archive does not have (HTTP 404) is a *missing* item, any
other failure a *failed* one; both are listed in the :class:`FetchReport`, never skipped.

Nothing else in geostl touches the network.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import requests

from geostl.archives.checks import BadFileError, check_content, check_hash, parse_sums, quick_check
from geostl.archives.download import (
    ArchiveSession,
    DownloadError,
    MissingFileError,
    download,
    part_path,
)
from geostl.archives.products import Item, product

__all__ = ["FetchReport", "fetch", "plan", "resolve_data_dir"]


def resolve_data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data folder: ``path``, else ``$GEOSTL_DATA``, else the platform's cache folder."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get("GEOSTL_DATA")
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("geostl"))


def plan(
    products: Sequence[str],
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    *,
    base_url: str | None = None,
    variables: Sequence[str] | None = None,
) -> list[Item]:
    """The files ``fetch`` would get, in product then date order (touches no network)."""
    start, end = _as_date(start, "start"), _as_date(end, "end")
    if not products:
        raise ValueError("no product named; geostl fetch --list shows them")
    items: list[Item] = []
    for name in products:
        p = product(name)
        wanted = variables if p.cadence == "variable" else None
        items.extend(p.items(start, end, base_url=base_url, variables=wanted))
    return items


@dataclass
class FetchReport:
    """What :func:`fetch` did, item by item.

    Attributes:
        root: the data folder.
        items: every planned file.
        downloaded / cached: the items now on disk (fetched in this call / already there).
        missing: ``(item, reason)`` for files the archive does not have.
        failed: ``(item, reason)`` for every other failure (network, login, checksum, format).
        nbytes: bytes downloaded.
    """

    root: Path
    items: list[Item]
    downloaded: list[Item] = field(default_factory=list)
    cached: list[Item] = field(default_factory=list)
    missing: list[tuple[Item, str]] = field(default_factory=list)
    failed: list[tuple[Item, str]] = field(default_factory=list)
    nbytes: int = 0

    def path(self, item: Item) -> Path:
        """Where ``item`` is (or would be) on disk."""
        return self.root / item.path

    @property
    def files(self) -> list[Path]:
        """The files on disk (downloaded or cached), in plan order."""
        have = {id(i) for i in self.downloaded + self.cached}
        return [self.path(i) for i in self.items if id(i) in have]

    def ok(self, allow_missing: bool = False) -> bool:
        """No failure, and no missing file unless ``allow_missing``."""
        return not self.failed and (allow_missing or not self.missing)

    def summary(self) -> str:
        """The closing lines of ``geostl fetch``: counts, then each missing/failed file."""
        mb = self.nbytes / 1e6
        lines = [
            f"{len(self.items)} files: {len(self.downloaded)} downloaded ({mb:.1f} MB), "
            f"{len(self.cached)} already in {self.root}, {len(self.missing)} missing, "
            f"{len(self.failed)} failed"
        ]
        for item, reason in sorted(self.missing, key=lambda x: (x[0].product, x[0].key)):
            lines.append(f"missing {item.product} {item.key}: {reason}")
        for item, reason in sorted(self.failed, key=lambda x: (x[0].product, x[0].key)):
            lines.append(f"failed  {item.product} {item.key}: {reason}")
        return "\n".join(lines)


class _Sums:
    """Checksum lists fetched once per URL and shared by the threads."""

    def __init__(self) -> None:
        self._lists: dict[str, dict[str, str] | None] = {}
        self._lock = threading.Lock()

    def expected(self, session: requests.Session, item: Item, timeout: float) -> str | None:
        """The listed digest of ``item``, or ``None`` (no list, or the list lacks the file)."""
        url = item.sums_url
        if url is None:
            return None
        with self._lock:
            if url not in self._lists:
                self._lists[url] = self._get(session, url, timeout)
            listing = self._lists[url]
        return None if listing is None else listing.get(item.name)

    @staticmethod
    def _get(session: requests.Session, url: str, timeout: float) -> dict[str, str] | None:
        try:
            r = session.get(url, timeout=timeout)
        except requests.RequestException:
            return None
        if r.status_code != 200:
            return None
        return parse_sums(r.text, url)


def fetch(
    products: Sequence[str],
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    jobs: int = 4,
    base_url: str | None = None,
    variables: Sequence[str] | None = None,
    netrc: str | os.PathLike | None = None,
    retries: int = 3,
    timeout: float = 60.0,
    refresh: bool = False,
    progress: bool | None = None,
) -> FetchReport:
    """Download the files of ``products`` for ``start .. end`` (inclusive) into the data folder.

    Args:
        products: product names (``geostl.archives.PRODUCTS``: ``code-final``, ``omni2`` ...).
        start, end: the first and last day (``date`` or ``YYYY-MM-DD``); yearly and monthly
            products take the years / months the range touches; single-file products ignore it.
        data_dir: the data folder (see :func:`resolve_data_dir`).
        jobs: downloads at once (threads), at least 1.
        base_url: a mirror of the archive with the same layout (replaces the product's base).
        variables: the variables of per-variable products (WeatherBench short names).
        netrc: the netrc file with archive logins (default ``$NETRC`` or ``~/.netrc``).
        retries: further attempts per file after a network error, each resuming.
        timeout: seconds to wait for a server.
        refresh: fetch files again even when they are on disk.
        progress: a progress bar on stderr (default: when stderr is a terminal).

    Returns:
        the :class:`FetchReport`; missing and failed files are in it, not raised.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    items = plan(products, start, end, base_url=base_url, variables=variables)
    root = resolve_data_dir(data_dir)
    report = FetchReport(root=root, items=items)
    sums = _Sums()
    local = threading.local()
    lock = threading.Lock()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = ArchiveSession(netrc)
        return local.session

    def add_bytes(n: int) -> None:
        with lock:
            report.nbytes += n

    def one(item: Item) -> tuple[str, str]:
        dest = root / item.path
        if dest.exists() and not refresh:
            try:
                quick_check(dest, item.content)
            except BadFileError as err:
                return "failed", f"{err} (delete it or pass --refresh)"
            _unpack(item, dest, root)
            return "cached", ""
        try:
            part = download(session(), item.url, dest, retries=retries, timeout=timeout,
                            on_bytes=add_bytes)  # fmt: skip
            _verify(part, item, sums.expected(session(), item, timeout))
        except MissingFileError as err:
            return "missing", str(err)
        except BadFileError as err:
            part_path(dest).unlink(missing_ok=True)
            return "failed", str(err)
        except (DownloadError, OSError) as err:
            return "failed", str(err)
        os.replace(part, dest)
        _unpack(item, dest, root)
        return "downloaded", ""

    show = sys.stderr.isatty() if progress is None else progress
    from tqdm import tqdm

    bar = tqdm(total=len(items), unit="file", disable=not show, desc="fetch", file=sys.stderr)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(one, item): item for item in items}
        for fut in as_completed(futures):
            item = futures[fut]
            state, reason = fut.result()
            if state == "downloaded":
                report.downloaded.append(item)
            elif state == "cached":
                report.cached.append(item)
            elif state == "missing":
                report.missing.append((item, reason))
            else:
                report.failed.append((item, reason))
            bar.update(1)
            bar.set_postfix_str(f"{report.nbytes / 1e6:.1f} MB")
    bar.close()
    return report


def _verify(part: Path, item: Item, expected: str | None) -> None:
    """The listed checksum (when there is one), then the format check."""
    if expected is not None:
        check_hash(part, expected, item.sums_alg, item.sums_url or "the checksum list")
    check_content(part, item.content)


def _unpack(item: Item, archive: Path, root: Path) -> None:
    """Extract a zip item's members (flat, by base name) into its folder, each atomically."""
    if item.unpack_to is None:
        return
    folder = root / item.unpack_to
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            target = folder / Path(info.filename).name
            if target.exists() and target.stat().st_size == info.file_size:
                continue
            tmp = target.with_name(target.name + ".part")
            with zf.open(info) as src, open(tmp, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            os.replace(tmp, target)


def _as_date(value: dt.date | str | None, what: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as err:
        raise ValueError(f"{what}: expected a date YYYY-MM-DD, got {value!r}") from err
