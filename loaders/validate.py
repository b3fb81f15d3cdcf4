"""Validate an input table row by row against the contract.

Each rule is vectorised over the whole table. A row that breaks any rule is
rejected with every reason that applies (joined by ``"; "``); the rest are returned
typed. Problems that make a file unusable (a missing required column) are reported
by :func:`missing_columns` before any row is looked at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskgraph.loaders.limits import TIME_RANGE, id_problems, outside_time_range
from riskgraph.loaders.read import RawTable
from riskgraph.loaders.schema import ColumnSpec, TableSpec
from riskgraph.loaders.tables import TIMESTAMP

__all__ = ["InputWarning", "ValidatedTable", "missing_columns", "validate_table"]

_SHOW_CHARS = 40
#: Source lines a warning lists (the count covers them all).
_SHOW_LINES = 10
#: The largest integer a float64 holds exactly: an id stored as a float above it may
#: not be the id that was meant.
_EXACT_FLOAT_INT = 2**53


@dataclass(frozen=True)
class InputWarning:
    """A problem in a column that rejects no row but that a person should know about.

    Attributes
    ----------
    file : str
        The input file.
    column : str
    message : str
        What was found and what was done about it.
    count : int
        Cells concerned.
    lines : tuple of int
        The first of their source lines (header = line 1).
    """

    file: str
    column: str
    message: str
    count: int = 0
    lines: tuple[int, ...] = ()

    def __str__(self) -> str:
        return f"{self.file}: column {self.column!r}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (run.json ``input_warnings``)."""
        return {
            "file": self.file,
            "column": self.column,
            "message": self.message,
            "count": self.count,
            "lines": list(self.lines),
        }


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
    warnings : tuple of InputWarning
        Columns read with cells left missing, or read as text though some cells are
        numbers.
    """

    clean: pd.DataFrame
    rejects: pd.DataFrame
    warnings: tuple[InputWarning, ...] = field(default=())


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
    reasons = _Reasons(len(frame))
    typed = {
        column.name: _parse_column(column, frame.get(column.name), len(frame), reasons)
        for column in spec.columns
    }
    _check_rows(spec, typed, frame, known_users, reasons)
    _check_duplicate_keys(spec, typed, raw.lines, reasons)

    clean = pd.DataFrame(typed)
    warnings: list[InputWarning] = []
    if spec.name == "users":
        extra = [c for c in frame.columns if c not in spec.column_names]
        for column in extra:
            clean[column], note = _attribute(frame[column], raw.lines)
            if note is not None:
                warnings.append(InputWarning(str(raw.path), str(column), *note))
    clean = clean.loc[~reasons.any].reset_index(drop=True)
    return ValidatedTable(clean, _rejected_rows(raw, reasons), tuple(warnings))


def _check_rows(
    spec: TableSpec,
    typed: dict[str, pd.Series],
    frame: pd.DataFrame,
    known_users: pd.Index | None,
    reasons: _Reasons,
) -> None:
    """The rules between the columns of a row, and against the users accepted."""
    if spec.name == "users":
        _check_label_dates(typed, reasons)
    if spec.distinct:
        first, second = spec.distinct
        same = (typed[first] == typed[second]).fillna(False).to_numpy(bool)
        reasons.add(same, f"{first} equals {second}")
    for column in spec.user_references:
        if known_users is None:
            raise ValueError(f"validate_table({spec.name!r}) needs known_users")
        ids = typed[column]
        unknown = ids.notna().to_numpy(bool) & ~ids.isin(known_users).to_numpy(bool)
        reasons.add_values(unknown, frame[column], f"unknown {column} {{}}")


def _rejected_rows(raw: RawTable, reasons: _Reasons) -> pd.DataFrame:
    """``line``, ``reason``, then the row's own columns as text; malformed records too."""
    rejected = reasons.any
    if not rejected.any() and not len(raw.malformed):
        # The usual case, built without a text conversion per column (the fixed cost
        # of which is an online call's).
        empty = np.array([], dtype=object)
        return pd.DataFrame(
            {
                "line": raw.lines[:0],
                "reason": np.array([], dtype=str),
                **dict.fromkeys(raw.frame.columns, empty),
            }
        )
    rejects = pd.DataFrame(
        {
            "line": raw.lines[rejected],
            "reason": reasons.text[rejected].astype(str),
        }
    )
    for column in raw.frame.columns:
        rejects[column] = _as_text(raw.frame[column].loc[rejected]).to_numpy()
    if len(raw.malformed):
        rejects = pd.concat([rejects, raw.malformed], ignore_index=True)
        rejects = rejects.sort_values("line", kind="stable", ignore_index=True)
    return rejects


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
    if column.kind == "id":
        return _parse_ids(column, values, blank, reasons)
    if column.kind == "text":
        return _as_text(values).astype("string").mask(blank)
    if column.kind == "timestamp":
        parsed = _parse_timestamps(values)
        bad = ~blank & parsed.isna().to_numpy(bool)
        reasons.add_values(
            bad, values, f"unparsable {column.name} {{}} (expected an ISO-8601 date or date-time)"
        )
        outside = outside_time_range(parsed)
        reasons.add_values(outside, values, f"{column.name} {{}} is outside the years {TIME_RANGE}")
        return parsed.mask(outside)
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


def _parse_ids(
    column: ColumnSpec, values: pd.Series, blank: np.ndarray, reasons: _Reasons
) -> pd.Series:
    """Ids as text; reject what no store downstream can hold or index.

    A Parquet id column of floating-point numbers (pandas writes an integer column with
    a missing value that way) is read as the integers it holds, so that ``12.0`` names
    the same user as ``12`` in a CSV file.
    """
    name = column.name
    if pd.api.types.is_float_dtype(values.dtype):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = np.zeros(len(numbers), dtype=bool)
        finite = np.isfinite(numbers)
        whole[finite] = (np.floor(numbers[finite]) == numbers[finite]) & (
            np.abs(numbers[finite]) <= _EXACT_FLOAT_INT
        )
        reasons.add_values(
            ~blank & ~whole,
            values,
            f"{name} {'' if column.personal else '{} '}is a floating-point number that is not "
            "a whole number up to 2**53 (expected text or an integer)",
        )
        text = pd.Series(np.where(whole, numbers, 0).astype(np.int64).astype(str), dtype="string")
        return text.mask(~whole)
    text = _as_text(values).astype("string")
    problems = id_problems(text)
    if len(problems):
        bad = np.zeros(len(text), dtype=bool)
        bad[problems.index.to_numpy()] = True
        reasons.add(bad, np.array([f"{name} {p}" for p in problems], dtype=object))
    return text.mask(blank)


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
    personal = {c.name for c in spec.columns if c.personal}
    messages = np.array(
        [
            "duplicate key ("
            + ", ".join(
                f"{k} as in this row" if k in personal else f"{k}={_show(v)}"
                for k, v in zip(spec.key, key_values, strict=True)
            )
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


def _attribute(
    values: pd.Series, lines: np.ndarray
) -> tuple[pd.Series, tuple[str, int, tuple[int, ...]] | None]:
    """A user attribute, and a note (message, cells, lines) when some cells do not fit.

    Numbers unless most non-empty values are text: a few typos in a numeric column
    leave those cells missing (noted) instead of turning the column into categories,
    which would change the model's inputs. Infinite numbers count as unparsable.
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64"), None
    blank = _blank(values)
    is_number = pd.api.types.is_numeric_dtype(values.dtype)
    if is_number:
        numbers = values.astype("float64")
    else:
        numbers = pd.to_numeric(values.where(~blank), errors="coerce").astype("float64")
    finite = np.isfinite(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
    unparsable = ~blank & ~finite
    filled, bad = int((~blank).sum()), int(unparsable.sum())
    if not bad and (filled or is_number):
        return numbers, None
    if is_number or 0 < 2 * bad <= filled:
        message = (
            f"{bad:,} of {filled:,} values are not finite numbers "
            f"({_cells(lines, values, unparsable)}); read as missing, the column stays numeric"
        )
        return numbers.where(finite), (
            message,
            bad,
            tuple(lines[unparsable][:_SHOW_LINES].tolist()),
        )
    text = _as_text(values).astype("string").mask(blank)
    numeric = int(finite.sum())
    if not numeric:
        return text, None
    message = (
        f"{numeric:,} of {filled:,} values are numbers ({_cells(lines, values, finite)}), "
        "the rest text: read as text (categories), as most values are text"
    )
    return text, (message, numeric, tuple(lines[finite][:_SHOW_LINES].tolist()))


def _cells(lines: np.ndarray, values: pd.Series, mask: np.ndarray) -> str:
    """``line 5 'abc', line 9 'n/a', ...``: the first masked cells with their lines."""
    shown = [
        f"line {line} {_show(value)}"
        for line, value in zip(
            lines[mask][:_SHOW_LINES], values[mask].iloc[:_SHOW_LINES], strict=True
        )
    ]
    return ", ".join(shown) + (", ..." if int(mask.sum()) > _SHOW_LINES else "")


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
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= _SHOW_CHARS else text[: _SHOW_CHARS - 3] + "..."
