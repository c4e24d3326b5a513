"""Keep freed memory in the process instead of handing it back to the kernel at once.

PyTorch's CPU tensors come from the C library's ``malloc``. glibc serves large blocks
(above a threshold that starts at 128 KiB) with fresh ``mmap`` calls and returns them to the
kernel on ``free``, so a training loop that allocates and frees the same activation buffers at
every step pays for mapping and zero-filling new pages each time. On some machines, virtual
machines and sandboxes in particular, that page-fault cost dominates a small model's step time
(measured in ``docs/benchmarks.md``).

:func:`tune_allocator` raises glibc's mmap and trim thresholds with ``mallopt`` so freed
blocks are reused from the heap. The price is a resident-memory high-water mark that is not
returned to the system until the process ends. The ``geostl`` command calls it at start-up,
and so do :class:`geostl.engine.Trainer` and :func:`geostl.benchmark.benchmark_model`, so a
script that trains through the library gets the same step times as the command line (most of
the 1.46x of SimVP-gSTA's training step on one thread, ``docs/benchmarks.md``). It is
idempotent. Set ``GEOSTL_MALLOC_TUNING=0`` to leave the allocator alone. It does nothing on
systems without glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 2_000_000_000
TRIM_THRESHOLD_BYTES = 2_000_000_000


def tune_allocator() -> bool:
    """Raise glibc's mmap/trim thresholds; True when applied (see the module docstring)."""
    if os.environ.get("GEOSTL_MALLOC_TUNING", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok_mmap = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    ok_trim = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    return ok_mmap and ok_trim
