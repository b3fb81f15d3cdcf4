"""Validate an input table row by row against the contract.

Each rule is vectorised over the whole table. A row that breaks any rule is
rejected with every reason that applies (joined by ``"; "``); the rest are returned
typed. Problems that make a file unusable (a missing required column) are reported
by :func:`missing_columns` before any row is looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskgraph.loaders.contract import ColumnSpec, TableSpec
from riskgraph.loaders.read import RawTable
from riskgraph.loaders.tables import TIMESTAMP

__all__ = ["ValidatedTable", "missing_columns", "validate_table"]

_SHOW_CHARS = 40


@dataclass(frozen=True)
class ValidatedTable:
    """The outcome of validating one table.

    Attributes
    ----------
    clean : pd.DataFrame
        Accepted rows, typed: ids and text as ``string``, timestamps as UTC
        datetimes, ``label`` as ``Int8``, numbers as ``float64``; for ``users`` the
        attribute columns follow (numbers as ``float64``, anything else ``string``).
    rejects : pd.DataFrame
        Rejected rows: ``line``, ``reason``, then the row's own columns as text.
    """

    clean: pd.DataFrame
    rejects: pd.DataFrame


def missing_columns(raw: RawTable, spec: TableSpec) -> list[str]:
    """The required columns of ``spec`` absent from the file's header."""
    return [c for c in spec.required_columns if c not in raw.frame.columns]


def validate_table(
    raw: RawTable, spec: TableSpec, known_users: pd.Index | None = None
) -> ValidatedTable:
    """Check every row of ``raw`` against ``spec``.

    Parameters
    ----------
    raw : RawTable
        The table as read; must hold every required column (see :func:`missing_columns`).
    spec : TableSpec
        The contract for this table.
    known_users : pd.Index, optional
        The accepted ``user_id`` values; rows whose ``spec.user_references`` name any
        other user are rejected. Required when the spec has user references.
    """
    frame = raw.frame
    n = len(frame)
    reasons = _Reasons(n)
    typed: dict[str, pd.Series] = {}
    for column in spec.columns:
        values = frame[column.name] if column.name in frame.columns else None
        typed[column.name] = _parse_column(column, values, n, reasons)

    if spec.name == "users":
        _check_label_dates(typed, reasons)
    if spec.name == "social":
        self_tie = (typed["src_user_id"] == typed["dst_user_id"]).fillna(False).to_numpy(bool)
        reasons.add(self_tie, "src_user_id equals dst_user_id")
    for column in spec.user_references:
        if known_users is None:
            raise ValueError(f"validate_table({spec.name!r}) needs known_users")
        ids = typed[column]
        unknown = ids.notna().to_numpy(bool) & ~ids.isin(known_users).to_numpy(bool)
        reasons.add_values(unknown, frame[column], f"unknown {column} {{}}")
    _check_duplicate_keys(spec, typed, raw.lines, reasons)

    clean = pd.DataFrame(typed)
    if spec.name == "users":
        extra = [c for c in frame.columns if c not in spec.column_names]
        for column in extra:
            clean[column] = _attribute(frame[column])
    ok = ~reasons.any
    clean = clean.loc[ok].reset_index(drop=True)

    rejected = reasons.any
    rejects = pd.DataFrame(
        {
            "line": raw.lines[rejected],
            "reason": reasons.text[rejected].astype(str),
        }
    )
    for column in frame.columns:
        rejects[column] = _as_text(frame[column].loc[rejected]).to_numpy()
    if len(raw.malformed):
        rejects = pd.concat([rejects, raw.malformed], ignore_index=True)
        rejects = rejects.sort_values("line", kind="stable", ignore_index=True)
    return ValidatedTable(clean, rejects)


class _Reasons:
    """Per-row rejection reasons, accumulated rule by rule."""

    def __init__(self, n: int) -> None:
        self.text = np.full(n, "", dtype=object)
        self.any = np.zeros(n, dtype=bool)

    def add(self, mask: np.ndarray, message: str | np.ndarray) -> None:
        """Add ``message`` (one text, or one per masked row) to the masked rows."""
        if not mask.any():
            return
        current = self.text[mask]
        message = message if isinstance(message, str) else message.astype(object)
        joined = np.where(current == "", message, current + "; " + message)
        self.text[mask] = joined
        self.any |= mask

    def add_values(self, mask: np.ndarray, values: pd.Series, template: str) -> None:
        """Add ``template`` with the offending value shown at ``{}``."""
        if not mask.any():
            return
        shown = np.array([template.format(_show(v)) for v in values.to_numpy()[mask]], dtype=object)
        self.add(mask, shown)


def _parse_column(
    column: ColumnSpec, values: pd.Series | None, n: int, reasons: _Reasons
) -> pd.Series:
    if values is None:  # an optional column the file does not have
        return _empty(column, n)
    blank = _blank(values)
    if column.required:
        reasons.add(blank, f"empty {column.name}")
    if column.kind in ("id", "text"):
        text = _as_text(values).astype("string")
        return text.mask(blank)
    if column.kind == "timestamp":
        parsed = _parse_timestamps(values)
        bad = ~blank & parsed.isna().to_numpy(bool)
        reasons.add_values(
            bad, values, f"unparsable {column.name} {{}} (expected an ISO-8601 date or date-time)"
        )
        return parsed
    if column.kind == "number":
        parsed = pd.to_numeric(values.where(~blank), errors="coerce").astype("float64")
        bad = ~blank & ~np.isfinite(parsed.to_numpy())
        reasons.add_values(bad, values, f"unparsable {column.name} {{}} (expected a number)")
        return parsed.where(~bad)
    # label: 0, 1 or empty
    numbers = pd.to_numeric(values.where(~blank), errors="coerce")
    good = numbers.isin([0, 1]).to_numpy(bool)
    bad = ~blank & ~good
    reasons.add_values(bad, values, f"{column.name} {{}} is not 0, 1 or empty")
    return numbers.where(good).astype("Int8")


def _check_label_dates(typed: dict[str, pd.Series], reasons: _Reasons) -> None:
    no_date = typed["label"].notna().to_numpy(bool) & typed["label_at"].isna().to_numpy(bool)
    reasons.add(no_date, "label without label_at")


def _check_duplicate_keys(
    spec: TableSpec, typed: dict[str, pd.Series], lines: np.ndarray, reasons: _Reasons
) -> None:
    """Reject every later occurrence of a key among rows that are otherwise valid."""
    keys = pd.DataFrame({k: typed[k] for k in spec.key})
    keys["__line"] = lines
    candidates = keys.loc[~reasons.any]
    if candidates.empty:
        return
    dup = candidates.duplicated(subset=list(spec.key), keep="first").to_numpy(bool)
    if not dup.any():
        return
    first = candidates.groupby(list(spec.key), dropna=False, sort=False)["__line"].transform(
        "first"
    )
    rows = candidates.index.to_numpy()[dup]
    mask = np.zeros(len(keys), dtype=bool)
    mask[rows] = True
    described = candidates.loc[dup, list(spec.key)].astype(object)
    messages = np.array(
        [
            "duplicate key ("
            + ", ".join(f"{k}={_show(v)}" for k, v in zip(spec.key, key_values, strict=True))
            + f"), first on line {line}"
            for key_values, line in zip(
                described.itertuples(index=False), first.to_numpy()[dup], strict=True
            )
        ],
        dtype=object,
    )
    reasons.add(mask, messages)


def _blank(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(values.dtype) or pd.api.types.is_numeric_dtype(
        values.dtype
    ):
        return values.isna().to_numpy(bool)
    text = values.astype("string")
    return (text.isna() | (text.str.strip() == "")).to_numpy(bool)


def _parse_timestamps(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = pd.to_datetime(values, utc=True)
    else:
        text = values.astype("string").str.strip().mask(lambda s: s == "")
        parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    return parsed.astype(TIMESTAMP)


def _attribute(values: pd.Series) -> pd.Series:
    """A user attribute: numbers when every non-empty value is one, else text."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64")
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype("float64")
    blank = _blank(values)
    numbers = pd.to_numeric(values.where(~blank), errors="coerce")
    if (numbers.notna().to_numpy() | blank).all() and (~blank).any():
        return numbers.astype("float64")
    return _as_text(values).astype("string").mask(blank)


def _as_text(values: pd.Series) -> pd.Series:
    """Values as the file would show them: text, empty for missing."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.map(lambda v: "" if pd.isna(v) else v.isoformat()).astype("str")
    return values.astype("string").fillna("").astype("str")


def _empty(column: ColumnSpec, n: int) -> pd.Series:
    dtype = {
        "id": "string",
        "text": "string",
        "timestamp": TIMESTAMP,
        "number": "float64",
        "label": "Int8",
    }[column.kind]
    return pd.Series(pd.array([None] * n, dtype=dtype) if n else [], dtype=dtype)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOW_CHARS else text[: _SHOW_CHARS - 3] + "..."
