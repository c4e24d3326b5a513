"""The allocator tuning the geostl command applies at start-up."""

import ctypes.util
import sys

import pytest

from geostl.allocator import tune_allocator


def test_opt_out_leaves_the_allocator_alone(monkeypatch):
    monkeypatch.setenv("GEOSTL_MALLOC_TUNING", "0")
    assert tune_allocator() is False


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or ctypes.util.find_library("c") is None,
    reason="glibc only",
)
def test_applies_on_glibc(monkeypatch):
    monkeypatch.delenv("GEOSTL_MALLOC_TUNING", raising=False)
    assert tune_allocator() is True
