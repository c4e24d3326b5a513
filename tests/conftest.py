"""Shared fixtures: the real-data folder ``../shared/data`` beside the repository, when present.

See tests/README.md for the files the real-data tests read.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from geostl.allocator import tune_allocator

# the test process allocates like the geostl command does (see geostl.allocator)
tune_allocator()


def shared_data_dir() -> Path:
    """``<repo>/../shared/data`` or ``$GEOSTL_SHARED_DATA``; may not exist."""
    env = os.environ.get("GEOSTL_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def _present(root: Path, rel: str) -> bool:
    return any(root.glob(rel)) if any(ch in rel for ch in "*?[") else (root / rel).exists()


def skip_reason(files: tuple[str, ...], what: str, root: Path | None = None) -> str | None:
    """Why a test needing ``files`` (relative to the data folder) cannot run, or None if it can."""
    root = shared_data_dir() if root is None else root
    missing = [f for f in files if not _present(root, f)] if root.is_dir() else list(files)
    if not root.is_dir() and not files:
        missing = ["."]
    if not missing:
        return None
    named = ", ".join(f"../shared/data/{f}" for f in missing)
    return (
        f"needs {named} ({what or 'real-data sample'}; folder looked up: {root}, "
        "or set GEOSTL_SHARED_DATA; see tests/README.md)"
    )


@pytest.fixture
def shared_data(request: pytest.FixtureRequest) -> Path:
    """The real-data folder; the test is skipped, naming what it needs, when that is absent.

    A test states the files it reads (relative to the folder; glob patterns allowed) with
    ``@pytest.mark.shared_files("tec/ionex/uqrg1150.19i.gz", what="UQRG IONEX file")``.
    """
    marker = request.node.get_closest_marker("shared_files")
    files = tuple(marker.args) if marker else ()
    what = marker.kwargs.get("what", "") if marker else ""
    reason = skip_reason(files, what)
    if reason:
        pytest.skip(reason)
    return shared_data_dir()
