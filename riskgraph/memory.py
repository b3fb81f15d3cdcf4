"""The job's own memory: per-stage peaks, and handing freed memory back to the system.

A nightly run at a million users builds and drops several GB per stage (CSV parsing,
the graph read back, feature views). Freed memory stays with the process unless it is
handed back: Arrow's allocator keeps its pages, and glibc keeps freed heap pages
mapped. Both are released after every stage, so that a stage's peak is its own work
plus what is live, not the high-water mark of the stages before (at 300,000 users,
0.7 of the 1.2 GB the process held after loading the input).

Within a stage, glibc would keep freed pages too: each large block it frees raises the
size from which it maps allocations on their own (up to 32 MB), and below that size a
million users' columns (4-8 MB each) come from the heap, whose freed pages stay with
the process while the stage runs. :func:`map_large_allocations` fixes that size.

A service holds the objects of its start-up for its whole life: the modules, functions
and types of the libraries it imports, and the open run. Python's cyclic garbage
collector would traverse all of them in each full collection, which a request's
allocations trigger now and then, and that request would wait for it;
:func:`frozen_live_objects` leaves them out of the collections.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
from collections.abc import Iterator
from pathlib import Path

__all__ = ["MMAP_THRESHOLD", "frozen_live_objects", "map_large_allocations", "peak_rss_gb",
           "release_free_memory", "reset_peak_rss"]  # fmt: skip

#: Allocations of this many bytes or more are mapped on their own, and given back to
#: the system as soon as they are freed.
MMAP_THRESHOLD = 1 << 20
#: ``mallopt``'s parameter number for the threshold (glibc's ``malloc.h``).
_M_MMAP_THRESHOLD = -3


def reset_peak_rss() -> None:
    """Restart the kernel's peak-RSS mark of this process at its current size.

    Linux only (``/proc/self/clear_refs``, kernel >= 4.0); elsewhere a no-op, and
    :func:`peak_rss_gb` then reports the peak since the process started.
    """
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_gb() -> float | None:
    """Peak resident memory since the last reset (``VmHWM``), in GB; None off Linux."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) * 1024 / 1e9, 2)
    return None


def release_free_memory() -> None:
    """Hand memory that is allocated to the process but unused back to the system."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    trim = _libc_function("malloc_trim")
    if trim is not None:
        trim(0)


def map_large_allocations() -> bool:
    """Have glibc map every allocation of :data:`MMAP_THRESHOLD` bytes or more on its own,
    for the rest of the process (a fixed threshold also stops glibc from raising it).

    Returns False where the C library is not glibc (nothing changes).
    """
    mallopt = _libc_function("mallopt")
    return mallopt is not None and bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


@contextlib.contextmanager
def frozen_live_objects() -> Iterator[int]:
    """While open, every object alive when it opened sits in the collector's permanent
    generation (after a collection, so that no garbage is kept): collections skip them.

    For a long-running process once its start-up is done (``riskgraph serve`` runs
    its server inside it). Objects created later are collected as usual. On the way
    out they are handed back to the collector, so that the interpreter's shutdown
    frees them as it would have. Yields the number of objects frozen.
    """
    gc.collect()
    gc.freeze()
    try:
        yield gc.get_freeze_count()
    finally:
        gc.unfreeze()


def _libc_function(name: str) -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    """The C library's function ``name``, or None where it has none."""
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    try:
        return getattr(ctypes.CDLL(library), name)
    except (OSError, AttributeError):
        return None
