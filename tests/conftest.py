"""Shared fixtures: the real data folder ``shared/data`` beside the repository, when present."""

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


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder; the test is skipped when it is absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"shared data folder not found ({path}); set GEOSTL_SHARED_DATA")
    return path
