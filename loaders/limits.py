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
>>> id_problems(ids).tolist()
[None, 'is 2,000 bytes long; ids may have at most 1,024 bytes (UTF-8)', 'contains a NUL character']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def id_problems(ids: pd.Series) -> pd.Series:
    """Why each id cannot be stored (``None`` where it can), shape ``(n,)``.

    The reasons never repeat the id itself: an ``account_id`` is personal data.
    """
    text = ids.astype("string")
    problems = np.full(len(text), None, dtype=object)
    nul = text.str.contains("\x00", regex=False).to_numpy(dtype=bool, na_value=False)
    problems[nul] = "contains a NUL character"
    # A character takes at most 4 bytes of UTF-8: only longer ids need encoding.
    lengths = text.str.len().to_numpy(dtype=np.int64, na_value=0)
    for i in np.flatnonzero(lengths * 4 > MAX_ID_BYTES):
        size = len(str(text.iloc[i]).encode("utf-8"))
        if size > MAX_ID_BYTES:
            problems[i] = (
                f"is {size:,} bytes long; ids may have at most {MAX_ID_BYTES:,} bytes (UTF-8)"
            )
    return pd.Series(problems, index=ids.index, dtype=object)
