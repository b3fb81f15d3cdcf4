"""The job's memory helpers: per-stage peaks and handing freed memory back."""

from __future__ import annotations

import sys

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from riskgraph.memory import peak_rss_gb, release_free_memory, reset_peak_rss

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")


@linux
def test_peak_is_reset_to_the_current_size():
    big = np.ones(300_000_000 // 8)  # 300 MB touched
    del big
    before = peak_rss_gb()
    reset_peak_rss()
    after = peak_rss_gb()
    assert before is not None and after is not None
    assert after < before - 0.2  # the 300 MB spike no longer counts


@linux
def test_freed_arrow_memory_goes_back_to_the_system():
    process = psutil.Process()
    base = pa.array(np.arange(1_000_000, dtype=np.int64))
    columns = [pc.add(base, i) for i in range(60)]  # 480 MB from Arrow's pool
    del columns
    held = process.memory_info().rss  # freed, but still held by the pool
    release_free_memory()
    assert process.memory_info().rss < held - 300_000_000


_MAPPED_AFTER_A_LARGE_FREE = """
import ctypes, sys
import numpy as np
from riskgraph.memory import map_large_allocations
if sys.argv[1] == "fixed":
    assert map_large_allocations()
class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]
mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = Mallinfo2
def mapped():  # the bytes mapped on their own
    return mallinfo2().hblkhd
big = np.ones(16_000_000 // 8)
del big  # glibc's own rule now raises its threshold above 16 MB
before = mapped()
column = np.ones(8_000_000 // 8)  # a million users' float64 column
print(mapped() - before)
"""


@linux
@pytest.mark.parametrize("threshold", ["fixed", "glibc"])
def test_a_freed_column_goes_back_to_the_system_at_once(threshold):
    # Mapped on its own, a column's pages go back when it is freed; from the heap they
    # stay with the process until the stage ends.
    import ctypes
    import subprocess

    if not hasattr(ctypes.CDLL(None), "mallinfo2"):
        pytest.skip("not glibc 2.33 or later")
    got = subprocess.run(
        [sys.executable, "-c", _MAPPED_AFTER_A_LARGE_FREE, threshold],
        capture_output=True,
        text=True,
        check=True,
    )
    mapped = int(got.stdout.strip())
    if threshold == "fixed":
        assert mapped >= 8_000_000
    else:  # what the job would get without map_large_allocations
        assert mapped == 0


_FROZEN_AFTER_START_UP = """
import gc, weakref
from riskgraph.memory import frozen_live_objects
class Node:
    pass
start_up = [[i] for i in range(1_000)]  # what a service keeps for its whole life
cycle = Node()
cycle.me = cycle  # garbage only a collection frees
dead = weakref.ref(cycle)
del cycle
def seen(*objects):
    tracked = {id(o) for o in gc.get_objects()}
    return any(id(o) in tracked for o in objects)
with frozen_live_objects() as frozen:
    later = [0]
    print(frozen >= len(start_up), dead() is None, seen(start_up, *start_up), seen(later))
print(gc.get_freeze_count(), seen(start_up))
"""


def test_the_objects_alive_at_start_up_are_left_out_of_collections_while_it_serves():
    # A subprocess: freezing is for the whole process.
    import subprocess

    got = subprocess.run(
        [sys.executable, "-c", _FROZEN_AFTER_START_UP], capture_output=True, text=True, check=True
    )
    inside, after = got.stdout.splitlines()
    counted, collected, start_up_seen, later_seen = inside.split()
    assert counted == "True"
    assert collected == "True"  # the garbage was collected first, not frozen
    assert start_up_seen == "False"
    assert later_seen == "True"  # objects made after start-up are collected as usual
    # on the way out, handed back to the collector for the interpreter's shutdown
    assert after.split() == ["0", "True"]
