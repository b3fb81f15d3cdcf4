"""Validate an input table row by row against the contract.

Each rule is vectorised over the whole table. A row that breaks any rule is
rejected with every reason that applies (joined by ``"; "``); the rest are returned
typed. Problems that make a file unusable (a missing required column) are reported
by :func:`missing_columns` before any row is looked at.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskgraph.loaders.limits import TIME_RANGE, id_problems, outside_time_range
from riskgraph.loaders.read import RawTable
from riskgraph.loaders.schema import ColumnSpec, TableSpec
from riskgraph.loaders.tables import NO_INDEX, TIMESTAMP, index_of

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
    cells = {str(c): _Cells(frame[c]) for c in frame.columns}
    typed = {
        column.name: _parse_column(column, cells.get(column.name), len(frame), reasons)
        for column in spec.columns
    }
    _check_rows(spec, typed, cells, known_users, reasons)
    _check_duplicate_keys(spec, typed, raw.lines, reasons)

    clean = pd.DataFrame(typed)
    warnings: list[InputWarning] = []
    if spec.name == "users":
        extra = [c for c in frame.columns if c not in spec.column_names]
        for column in extra:
            clean[column], note = _attribute(cells[str(column)], raw.lines)
            if note is not None:
                warnings.append(InputWarning(str(raw.path), str(column), *note))
    if reasons.any.any():
        clean = clean.loc[~reasons.any].reset_index(drop=True)
    return ValidatedTable(clean, _rejected_rows(raw, cells, reasons), tuple(warnings))


class _Cells:
    """One input column, and the views of it the rules read, each computed once.

    The rules work on numpy arrays rather than pandas operations: an online call
    validates tables of one row, where a pandas operation's fixed cost is the whole
    cost, and over millions of rows a loop over Python strings keeps pace with them.
    """

    def __init__(self, values: pd.Series) -> None:
        self.values = values
        self.is_datetime = pd.api.types.is_datetime64_any_dtype(values.dtype)
        self.is_numeric = pd.api.types.is_numeric_dtype(values.dtype)

    @functools.cached_property
    def objects(self) -> np.ndarray:
        """The cells as Python objects (``object`` array)."""
        return self.values.to_numpy(dtype=object)

    @functools.cached_property
    def shown(self) -> np.ndarray:
        """The cells as a message quotes them."""
        return self.values.to_numpy()

    @functools.cached_property
    def missing(self) -> np.ndarray:
        """``bool`` mask: missing cells (None, NaN, NA, NaT)."""
        if self.is_datetime or self.is_numeric:
            return self.values.isna().to_numpy(bool)
        return pd.isna(self.objects)

    @functools.cached_property
    def text(self) -> np.ndarray:
        """The cells as the file would show them (``object`` array of ``str``, ``""`` for
        missing); what a column read as text holds."""
        if self.is_datetime:
            return np.array(
                ["" if pd.isna(v) else v.isoformat() for v in self.objects], dtype=object
            )
        missing = self.missing
        if pd.api.types.is_string_dtype(self.values.dtype) and self.values.dtype != object:
            # Every present cell is already a str.
            return np.where(missing, "", self.objects) if missing.any() else self.objects
        return np.array(
            [
                "" if gone else v if v.__class__ is str else str(v)
                for v, gone in zip(self.objects, missing, strict=True)
            ],
            dtype=object,
        )

    @functools.cached_property
    def stripped(self) -> np.ndarray:
        """:attr:`text` without leading and trailing whitespace."""
        return np.array([v.strip() for v in self.text], dtype=object)

    @functools.cached_property
    def blank(self) -> np.ndarray:
        """``bool`` mask: cells that are missing or hold only whitespace."""
        if self.is_datetime or self.is_numeric:
            return self.missing
        # ``str.isspace`` is what ``str.strip`` strips, and allocates nothing.
        return self.missing | np.array([not v or v.isspace() for v in self.text], dtype=bool)

    def numbers(self) -> np.ndarray:
        """The cells as ``float64``: NaN where blank or not a number."""
        if self.is_numeric:
            return self.values.to_numpy(dtype=np.float64, na_value=np.nan)
        given = np.where(self.blank, np.nan, self.objects)
        return pd.to_numeric(given, errors="coerce").astype(np.float64)


def _strings(values: np.ndarray, blank: np.ndarray) -> pd.Series:
    """``string`` Series of ``values`` (``object`` array of ``str``), missing where blank."""
    given = values.copy()
    given[blank] = None
    return pd.Series(given, dtype="string")


def _check_rows(
    spec: TableSpec,
    typed: dict[str, pd.Series],
    cells: dict[str, _Cells],
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
    if not spec.user_references:
        return
    if known_users is None:
        raise ValueError(f"validate_table({spec.name!r}) needs known_users")
    accepted = pd.Series(known_users, dtype="string")
    for column in spec.user_references:
        ids = typed[column]
        unknown = ids.notna().to_numpy(bool) & (index_of(ids, accepted) == NO_INDEX)
        reasons.add_values(unknown, cells[column], f"unknown {column} {{}}")


def _rejected_rows(raw: RawTable, cells: dict[str, _Cells], reasons: _Reasons) -> pd.DataFrame:
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
        rejects[column] = cells[str(column)].text[rejected]
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

    def add_values(self, mask: np.ndarray, cells: _Cells, template: str) -> None:
        """Add ``template`` with the offending value shown at ``{}``."""
        if not mask.any():
            return
        shown = np.array([template.format(_show(v)) for v in cells.shown[mask]], dtype=object)
        self.add(mask, shown)


def _parse_column(column: ColumnSpec, cells: _Cells | None, n: int, reasons: _Reasons) -> pd.Series:
    if cells is None:  # an optional column the file does not have
        return _empty(column, n)
    blank = cells.blank
    if column.required:
        reasons.add(blank, f"empty {column.name}")
    if column.kind == "id":
        return _parse_ids(column, cells, reasons)
    if column.kind == "text":
        return _strings(cells.text, blank)
    if column.kind == "timestamp":
        parsed = _parse_timestamps(cells)
        bad = ~blank & parsed.isna().to_numpy(bool)
        reasons.add_values(
            bad, cells, f"unparsable {column.name} {{}} (expected an ISO-8601 date or date-time)"
        )
        outside = outside_time_range(parsed)
        reasons.add_values(outside, cells, f"{column.name} {{}} is outside the years {TIME_RANGE}")
        return parsed.mask(outside) if outside.any() else parsed
    numbers = cells.numbers()
    if column.kind == "number":
        bad = ~blank & ~np.isfinite(numbers)
        reasons.add_values(bad, cells, f"unparsable {column.name} {{}} (expected a number)")
        return pd.Series(np.where(bad, np.nan, numbers), dtype="float64")
    # label: 0, 1 or empty
    good = (numbers == 0) | (numbers == 1)
    bad = ~blank & ~good
    reasons.add_values(bad, cells, f"{column.name} {{}} is not 0, 1 or empty")
    return pd.Series(pd.array(np.where(good, numbers, np.nan), dtype="Int8"))


def _parse_ids(column: ColumnSpec, cells: _Cells, reasons: _Reasons) -> pd.Series:
    """Ids as text; reject what no store downstream can hold or index.

    A Parquet id column of floating-point numbers (pandas writes an integer column with
    a missing value that way) is read as the integers it holds, so that ``12.0`` names
    the same user as ``12`` in a CSV file.
    """
    name = column.name
    blank = cells.blank
    if pd.api.types.is_float_dtype(cells.values.dtype):
        numbers = cells.numbers()
        whole = np.zeros(len(numbers), dtype=bool)
        finite = np.isfinite(numbers)
        whole[finite] = (np.floor(numbers[finite]) == numbers[finite]) & (
            np.abs(numbers[finite]) <= _EXACT_FLOAT_INT
        )
        reasons.add_values(
            ~blank & ~whole,
            cells,
            f"{name} {'' if column.personal else '{} '}is a floating-point number that is not "
            "a whole number up to 2**53 (expected text or an integer)",
        )
        text = np.where(whole, numbers, 0).astype(np.int64).astype(str).astype(object)
        return _strings(text, ~whole)
    problems = id_problems(cells.text)
    if len(problems):
        bad = np.zeros(len(blank), dtype=bool)
        bad[problems.index.to_numpy()] = True
        reasons.add(bad, np.array([f"{name} {p}" for p in problems], dtype=object))
    return _strings(cells.text, blank)


def _check_label_dates(typed: dict[str, pd.Series], reasons: _Reasons) -> None:
    no_date = typed["label"].notna().to_numpy(bool) & typed["label_at"].isna().to_numpy(bool)
    reasons.add(no_date, "label without label_at")


def _check_duplicate_keys(
    spec: TableSpec, typed: dict[str, pd.Series], lines: np.ndarray, reasons: _Reasons
) -> None:
    """Reject every later occurrence of a key among rows that are otherwise valid."""
    if int((~reasons.any).sum()) < 2:
        return
    keys = pd.DataFrame({k: typed[k] for k in spec.key})
    keys["__line"] = lines
    candidates = keys.loc[~reasons.any]
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


def _parse_timestamps(cells: _Cells) -> pd.Series:
    if cells.is_datetime:
        parsed = pd.to_datetime(cells.values, utc=True)
    else:
        given = cells.stripped.copy()
        given[given == ""] = None
        parsed = pd.Series(pd.to_datetime(given, utc=True, format="ISO8601", errors="coerce"))
    return parsed.astype(TIMESTAMP)


def _attribute(
    cells: _Cells, lines: np.ndarray
) -> tuple[pd.Series, tuple[str, int, tuple[int, ...]] | None]:
    """A user attribute, and a note (message, cells, lines) when some cells do not fit.

    Numbers unless most non-empty values are text: a few typos in a numeric column
    leave those cells missing (noted) instead of turning the column into categories,
    which would change the model's inputs. Infinite numbers count as unparsable.
    """
    if pd.api.types.is_bool_dtype(cells.values.dtype):
        return cells.values.astype("float64"), None
    blank = cells.blank
    numbers = cells.numbers()
    finite = np.isfinite(numbers)
    unparsable = ~blank & ~finite
    filled, bad = int((~blank).sum()), int(unparsable.sum())
    if not bad and (filled or cells.is_numeric):
        return pd.Series(numbers, dtype="float64"), None
    if cells.is_numeric or 0 < 2 * bad <= filled:
        message = (
            f"{bad:,} of {filled:,} values are not finite numbers "
            f"({_cells_at(lines, cells, unparsable)}); read as missing, the column stays numeric"
        )
        return pd.Series(np.where(finite, numbers, np.nan), dtype="float64"), (
            message,
            bad,
            tuple(lines[unparsable][:_SHOW_LINES].tolist()),
        )
    text = _strings(cells.text, blank)
    numeric = int(finite.sum())
    if not numeric:
        return text, None
    message = (
        f"{numeric:,} of {filled:,} values are numbers ({_cells_at(lines, cells, finite)}), "
        "the rest text: read as text (categories), as most values are text"
    )
    return text, (message, numeric, tuple(lines[finite][:_SHOW_LINES].tolist()))


def _cells_at(lines: np.ndarray, cells: _Cells, mask: np.ndarray) -> str:
    """``line 5 'abc', line 9 'n/a', ...``: the first masked cells with their lines."""
    shown = [
        f"line {line} {_show(value)}"
        for line, value in zip(
            lines[mask][:_SHOW_LINES], cells.shown[mask][:_SHOW_LINES], strict=True
        )
    ]
    return ", ".join(shown) + (", ..." if int(mask.sum()) > _SHOW_LINES else "")


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
