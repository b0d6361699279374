"""Keeping freed memory in the process for reuse, so that 4K tensors do not page-fault on every allocation.

glibc's ``malloc`` serves every request above its mmap threshold (at most 32 MB) with a fresh ``mmap`` and
hands it back with ``munmap`` on ``free``. A 4K feature map is far above that (one chunk of GLSGN's first
local pathway, 4 x 16 x 544 x 960 bf16, is 67 MB), so each new tensor costs the kernel a page fault and a
zeroed page for every 4 KB of it, and a forward pass allocates hundreds of them. Telling ``malloc`` never
to use ``mmap`` for blocks and not to trim its heap keeps freed tensors' memory mapped and reused: GLSGN's
fp32 forward at 3840 x 2160 went from 24-28 s to 14-15 s on this project's 2-core CPU (docs/benchmarks.md,
speed). The cost is that the process keeps its peak heap until it exits, and fragmentation raises the
peak (3.7 -> 5.3 GB for that forward), which suits a command that runs one job and ends. Measurements of
peak memory call :func:`release_free_memory` first.

The ``uhr4k`` command calls :func:`reuse_freed_memory` before every command; Python users call it
themselves (it changes the whole process). ``UHR4K_SYSTEM_MALLOC=1`` in the environment leaves ``malloc``
as it is. Other C libraries (macOS, musl) and allocators preloaded in its place are left alone.
"""
from __future__ import annotations

import ctypes
import os

# mallopt(3) parameters of glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_TRIM_NEVER = 2**31 - 1          # the largest value mallopt takes: trim only beyond 2 GB free at the top
OPT_OUT = "UHR4K_SYSTEM_MALLOC"

_applied = False


def _glibc() -> bool:
    """True when this process runs on GNU libc (the only malloc these settings are for)."""
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (AttributeError, ValueError, OSError):
        return False


def reuse_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse (no mmap for large blocks, no heap trimming).

    Returns True when the setting is in effect (now or from an earlier call), False where it does not
    apply: not glibc, ``$UHR4K_SYSTEM_MALLOC`` set, or mallopt refused. Affects allocations made after
    the call, in this process and in the worker processes it forks afterwards.
    """
    global _applied
    if _applied:
        return True
    if os.environ.get(OPT_OUT) or not _glibc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt          # the symbols of this process, libc's among them
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # Both or neither: without mmap but with trimming, freed tensors at the top of the heap still go back.
    _applied = mallopt(_M_TRIM_THRESHOLD, _TRIM_NEVER) == 1 and mallopt(_M_MMAP_MAX, 0) == 1
    return _applied


def release_free_memory() -> None:
    """Hand the heap's free memory back to the kernel now (glibc ``malloc_trim``; elsewhere nothing).

    With :func:`reuse_freed_memory` in effect the resident set never shrinks on its own, so a peak-memory
    measurement would include what earlier work left free; ``uhr4k.benchmark.profiling`` calls this
    before it starts a new peak.
    """
    if not _glibc():
        return
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
