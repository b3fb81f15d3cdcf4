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
