"""Peak memory of one call: CUDA peak allocated on GPU, peak RSS increase on CPU.

On CPU the process's resident-set high-water mark (``VmHWM``) is reset through
``/proc/self/clear_refs`` (Linux) after releasing free heap pages (``malloc_trim``), so the
result is the peak RSS during the call minus the RSS before it. Where that reset is not
available, the ``resource.getrusage`` ``ru_maxrss`` increase is reported instead, which is a
lower bound (the high-water mark of everything before the call is never reset).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import resource
import sys
from collections.abc import Callable
from pathlib import Path

import torch

__all__ = ["MemoryResult", "peak_memory"]

MemoryResult = tuple[int, str]


def _status_kb(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _trim() -> None:
    gc.collect()
    name = ctypes.util.find_library("c")
    if name and sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(name).malloc_trim(0)
        except (OSError, AttributeError):
            pass


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_memory(fn: Callable[[], object], device: torch.device) -> MemoryResult:
    """Run ``fn`` once and return ``(bytes, method)``.

    CUDA: ``torch.cuda.max_memory_allocated`` during the call (absolute: weights, optimizer
    state and activations held by the caching allocator's tensors). CPU: the increase of the
    resident set during the call (see the module docstring for the method named).
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device)), "cuda max_memory_allocated"
    _trim()
    before = _status_kb("VmRSS")
    if before is not None and _reset_hwm() and _status_kb("VmHWM") is not None:
        fn()
        peak = _status_kb("VmHWM") or before
        return max(peak - before, 0) * 1024, "cpu peak RSS increase (VmHWM reset, Linux)"
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fn()
    end = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (end - start) * scale, "cpu getrusage ru_maxrss increase (lower bound)"
