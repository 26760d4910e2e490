"""Keep freed memory in the process, so that a small-batch CPU step does not pay the kernel for fresh pages.

glibc hands every allocation above its mmap threshold (128 KiB at first) to the kernel and returns it on free,
and trims the heap's free top back to the kernel too. A training step allocates and frees the same few MiB again
and again (gradients, optimizer temporaries, oneDNN workspaces), so a step could page-fault ~1,000-2,000 fresh 4 KiB
pages: on the course recipe (text→text, LSTM 256, batch 8, one thread) stepping with nothing in between, 13.7 ms of
CPU a step instead of 9.8. (glibc raises its own threshold after freeing a large block, so in a run whose per-epoch
evaluations allocate large blocks the loss was smaller: about 1 s of kernel time in 5,000 steps; BENCHMARKS.md.)
With chunks up to :data:`MMAP_THRESHOLD` served from the heap and up to :data:`TRIM_THRESHOLD` of free heap kept,
a step faults no page after the first few.

Only where the allocations land changes, never what is computed: torch aligns every CPU tensor to 64 bytes either
way, so the same seed gives the same weights byte for byte. A process whose environment already sets glibc's
malloc options (``MALLOC_*_`` variables, ``GLIBC_TUNABLES``) keeps them.
"""

from __future__ import annotations

import ctypes
import os
import platform
from typing import Any

MMAP_THRESHOLD = 32 * 2**20  # glibc's largest allowed value; larger tensors still come from (and go back to) mmap
TRIM_THRESHOLD = 128 * 2**20  # free heap kept before any is returned to the kernel
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers (malloc.h)
_USER_KNOBS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")
_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds once per process; whether they are now ours. Does nothing (False)
    outside glibc, or where the environment already chose malloc options."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if any(k in os.environ for k in _USER_KNOBS) or "malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    mallopt = _glibc("mallopt", [ctypes.c_int, ctypes.c_int])
    if mallopt is None:
        return False
    # The mmap threshold first: setting either one switches off glibc's own adjustment of both.
    _applied = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _applied


def give_back_freed_memory() -> bool:
    """Return every free page of the heap to the kernel (glibc's ``malloc_trim``); whether it could. A process
    that trains one run after another calls it between runs, so that the memory one run kept for its steps is
    not held through the next (what it keeps is :data:`TRIM_THRESHOLD` per arena at most, and more when the
    heap is fragmented)."""
    import gc

    gc.collect()
    trim = _glibc("malloc_trim", [ctypes.c_size_t])
    if trim is None:
        return False
    trim(0)
    return True


def _glibc(name: str, argtypes: list[Any]) -> Any:
    """glibc's function ``name`` (returning int), typed; None outside Linux with glibc."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        fn = getattr(ctypes.CDLL("libc.so.6"), name)
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = argtypes, ctypes.c_int
    return fn


__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "give_back_freed_memory", "keep_freed_memory"]
