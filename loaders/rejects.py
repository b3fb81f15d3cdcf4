"""Rejected input rows, written as ``rejects/<table>.csv`` for a person to open.

A risk analyst opens these files in a spreadsheet, and a cell that begins like a
formula would run as one there (CSV injection: ``=HYPERLINK(...)``, ``=cmd|...``).
As OWASP recommends, every text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return is written with a single quote in front (``'=1+2``), which a
spreadsheet shows as text; the rest of the value is unchanged. A reader that wants the
original value drops that first quote. Files are ``0640``, the directory ``0750``
(:mod:`riskgraph.loaders.permissions`).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from riskgraph.loaders.permissions import make_private_dir, open_private
from riskgraph.loaders.schema import INPUT_TABLES

__all__ = ["FORMULA_PREFIXES", "spreadsheet_safe", "write_rejects"]

#: First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with a ``'`` before every text cell that begins with :data:`FORMULA_PREFIXES`.

    Examples
    --------
    >>> spreadsheet_safe(pd.DataFrame({"a": ["=1+2", "ok", "-3"]}))["a"].tolist()
    ["'=1+2", 'ok', "'-3"]
    """
    safe = table.copy()
    for column in safe.columns:
        values = safe[column]
        if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
            continue
        text = values.astype("string")
        risky = text.str.startswith(FORMULA_PREFIXES).to_numpy(dtype=bool, na_value=False)
        if risky.any():
            safe[column] = values.astype(object).where(~risky, "'" + text.astype(object))
    return safe


def write_rejects(rejects: Mapping[str, pd.DataFrame], rejects_dir: str | Path) -> None:
    """Write ``<table>.csv`` for each table with rejected rows; remove stale ones.

    Each file is written to a temporary name and renamed, so a reader never sees half
    a file. Cells are escaped for spreadsheets (:func:`spreadsheet_safe`).
    """
    rejects_dir = make_private_dir(rejects_dir)
    for name in INPUT_TABLES:
        target = rejects_dir / f"{name}.csv"
        table = rejects.get(name)
        if table is None or table.empty:
            target.unlink(missing_ok=True)
            continue
        tmp = target.with_suffix(".csv.tmp")
        with os.fdopen(open_private(tmp), "w", encoding="utf-8", newline="") as handle:
            # Every text cell quoted: a carriage return inside a value is no line break.
            spreadsheet_safe(table).to_csv(handle, index=False, quoting=csv.QUOTE_NONNUMERIC)
        os.replace(tmp, target)
