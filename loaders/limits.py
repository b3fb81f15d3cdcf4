"""Value limits: what every store downstream (pandas, Parquet, Neo4j) holds exactly.

The loader rejects rows whose values break them (with a reason, in ``rejects/``), the
Neo4j writer refuses tables that break them (nothing reaches the server), and the
reader treats stored values that break them as missing and says which node and
property held them (docs/nightly.md, "Value limits").

=========  ==================================================================
value      limit
=========  ==================================================================
timestamp  from 1900-01-01T00:00:00Z up to, not including, 2201-01-01T00:00:00Z
id         at most :data:`MAX_ID_BYTES` bytes of UTF-8, no NUL character
=========  ==================================================================

Examples
--------
>>> ids = pd.Series(["u1", "x" * 2000, "a\\x00b"], dtype="string")
>>> id_problems(ids).to_dict()
{1: 'is 2,000 bytes long; ids may have at most 1,024 bytes (UTF-8)', 2: 'contains a NUL character'}
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "MAX_ID_BYTES",
    "MAX_TIMESTAMP",
    "MIN_TIMESTAMP",
    "TIME_RANGE",
    "id_problems",
    "outside_time_range",
]

#: Earliest timestamp accepted (inclusive). Time arithmetic in nanoseconds, which pandas
#: and numpy use, covers only the years 1677-2262.
MIN_TIMESTAMP = pd.Timestamp("1900-01-01T00:00:00Z")
#: First timestamp no longer accepted: timestamps run to the end of 2200.
MAX_TIMESTAMP = pd.Timestamp("2201-01-01T00:00:00Z")
#: The accepted years, for messages.
TIME_RANGE = f"{MIN_TIMESTAMP.year}-{MAX_TIMESTAMP.year - 1}"
#: Longest id, in bytes of UTF-8. Neo4j indexes every id, and an index refuses a key of
#: more than about 8 KB; an id is a key, not a document, so a much lower bound is kept.
MAX_ID_BYTES = 1024


def outside_time_range(values: pd.Series) -> np.ndarray:
    """``bool`` mask, shape ``(n,)``: timestamps outside the accepted range (NaT is not)."""
    outside = (values < MIN_TIMESTAMP) | (values >= MAX_TIMESTAMP)
    return outside.to_numpy(dtype=bool, na_value=False)


def id_problems(ids: pd.Series | np.ndarray) -> pd.Series:
    """Why ids cannot be stored: one reason per offending row, indexed by position.

    ``ids`` is a Series, or an ``object`` array of ``str``. Empty when every id can be
    stored. The reasons never repeat the id itself: an ``account_id`` is personal data.
    """
    given = ids if isinstance(ids, np.ndarray) else ids.astype("string").array
    arrow = pa.array(given, type=pa.large_string())
    nul = pc.fill_null(pc.match_substring(arrow, "\x00"), False).to_numpy(zero_copy_only=False)
    size = pc.fill_null(pc.binary_length(arrow), 0).to_numpy(zero_copy_only=False)
    long = size > MAX_ID_BYTES
    rows = np.flatnonzero(nul | long)
    reasons = [
        f"is {size[i]:,} bytes long; ids may have at most {MAX_ID_BYTES:,} bytes (UTF-8)"
        if long[i]
        else "contains a NUL character"
        for i in rows
    ]
    return pd.Series(reasons, index=rows, dtype=object)
