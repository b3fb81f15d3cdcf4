"""Read one input table (CSV or Parquet) without losing track of source lines.

Every value of a CSV file is read as text, so that validation sees exactly what the
file says and a rejected row can be written back as it was. Each row carries its
``line`` in the source file (header = line 1; for Parquet, the row number from 1).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from riskgraph.errors import InputError
from riskgraph.loaders.schema import INPUT_TABLES

__all__ = ["RawTable", "find_table_file", "read_table"]


@dataclass(frozen=True)
class RawTable:
    """An input table as read: original values, and each row's source line.

    Attributes
    ----------
    name : str
        Contract name of the table (``users``, ``social``, ...).
    path : Path
        The file it was read from.
    frame : pd.DataFrame
        One row per record. CSV columns are text (missing fields are ``""``);
        Parquet columns keep their stored types.
    lines : np.ndarray
        ``int64`` array, ``len(frame)``: the source line (CSV) or row number (Parquet).
    malformed : pd.DataFrame
        CSV records whose field count differs from the header's: ``line``, ``reason``,
        the header's columns filled by position, and ``extra_fields`` (surplus fields).
    """

    name: str
    path: Path
    frame: pd.DataFrame
    lines: np.ndarray
    malformed: pd.DataFrame

    @property
    def is_parquet(self) -> bool:
        return self.path.suffix == ".parquet"


def find_table_file(input_dir: Path, name: str) -> Path | None:
    """The file holding table ``name`` in ``input_dir``: ``name.csv`` or ``name.parquet``.

    Raises
    ------
    InputError
        When both exist (which one is meant is ambiguous), or the file is a symbolic
        link to nothing: an optional table behind a broken link must not be taken for
        an absent one.
    """
    csv_path, parquet_path = input_dir / f"{name}.csv", input_dir / f"{name}.parquet"
    found = [p for p in (csv_path, parquet_path) if p.exists() or p.is_symlink()]
    if len(found) == 2:
        raise InputError(
            f"{input_dir}: both {csv_path.name} and {parquet_path.name} exist; keep one"
        )
    if not found:
        return None
    path = found[0]
    if not path.exists():
        raise InputError(
            f"{path}: a symbolic link to {os.readlink(path)}, which does not exist; "
            "restore its target, or remove the link if the table is meant to be absent"
        )
    return path


def read_table(name: str, path: Path) -> RawTable:
    """Read ``path`` as contract table ``name``.

    Raises
    ------
    InputError
        When the file cannot be read: not UTF-8, not a CSV/Parquet file, no header,
        or a header naming a column twice.
    """
    if path.suffix == ".parquet":
        return _read_parquet(name, path)
    return _read_csv(name, path)


def _read_parquet(name: str, path: Path) -> RawTable:
    try:
        frame = pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot be read as Parquet ({exc})") from exc
    frame = frame.reset_index(drop=True)
    _check_unique_header(path, list(frame.columns))
    lines = np.arange(1, len(frame) + 1, dtype=np.int64)
    return RawTable(name, path, frame, lines, _no_malformed(list(frame.columns)))


def _read_csv(name: str, path: Path) -> RawTable:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from exc
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text_head = data[: 1 << 16].decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        if exc.start < (1 << 16) - 4:  # not just a character cut at the 64 KiB boundary
            raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
        text_head = data[: exc.start].decode("utf-8")
    header = next(csv.reader(io.StringIO(text_head)), None)
    if not header or all(not h.strip() for h in header):
        raise InputError(f"{path}: no header row (expected column names on line 1)")
    _check_header_names_columns(name, path, header)
    _check_unique_header(path, header)
    fast = _read_csv_fast(name, path, data, header)
    return fast if fast is not None else _read_csv_exact(name, path, data, header)


def _read_csv_fast(name: str, path: Path, data: bytes, header: list[str]) -> RawTable | None:
    """Arrow's multithreaded reader; ``None`` when line numbers would be uncertain.

    Arrow does not report source lines, so this path is used only when every record
    splits cleanly; a record's line is then 2 + its position + the newlines embedded in
    the records before it.
    """
    malformed: list[int] = []

    def on_invalid(row: pa_csv.InvalidRow) -> str:
        malformed.append(1)
        return "skip"

    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            parse_options=pa_csv.ParseOptions(
                invalid_row_handler=on_invalid, ignore_empty_lines=False, newlines_in_values=True
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "utf8" in str(exc).lower():
            raise InputError(f"{path}: not UTF-8 text ({exc})") from exc
        return None
    if malformed or table.num_columns != len(header):
        return None
    frame = pd.DataFrame(
        {name: table.column(i).to_numpy(zero_copy_only=False) for i, name in enumerate(header)}
    )
    extra = np.zeros(len(frame), dtype=np.int64)
    if b"\n" in data and data.count(b"\n") > len(frame) + 1:
        for column in frame.columns:
            extra += frame[column].str.count("\n").to_numpy(dtype=np.int64)
    before = np.concatenate([[0], np.cumsum(extra)[:-1]]) if len(extra) else extra
    lines = 2 + np.arange(len(frame), dtype=np.int64) + before
    return _drop_blank_rows(name, path, frame, lines, _no_malformed(header))


def _read_csv_exact(name: str, path: Path, data: bytes, header: list[str]) -> RawTable:
    """Python's csv module: slower, but knows every record's line and field count."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    width = len(header)
    rows: list[list[str]] = []
    lines: list[int] = []
    bad: list[dict[str, object]] = []
    start = reader.line_num + 1
    for record in reader:
        if len(record) == width:
            rows.append(record)
            lines.append(start)
        elif record and any(field.strip() for field in record):
            fields = dict(zip(header, record, strict=False))  # lengths differ: that is the problem
            bad.append(
                {
                    "line": start,
                    "reason": f"expected {width} fields, found {len(record)}",
                    **{h: fields.get(h, "") for h in header},
                    "extra_fields": ",".join(record[width:]),
                }
            )
        start = reader.line_num + 1
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    frame = pd.DataFrame(
        {h: pd.Series(col, dtype="str") for h, col in zip(header, columns, strict=True)}
    )
    malformed = pd.DataFrame(bad, columns=["line", "reason", *header, "extra_fields"])
    malformed = malformed.astype({"line": "int64"})
    return _drop_blank_rows(name, path, frame, np.asarray(lines, dtype=np.int64), malformed)


def _drop_blank_rows(
    name: str, path: Path, frame: pd.DataFrame, lines: np.ndarray, malformed: pd.DataFrame
) -> RawTable:
    # A blank line carries no data; it is skipped but keeps its place in the numbering.
    if len(frame):
        blank = np.ones(len(frame), dtype=bool)
        for column in frame.columns:
            blank &= frame[column].to_numpy() == ""
        if blank.any():
            frame = frame.loc[~blank].reset_index(drop=True)
            lines = lines[~blank]
    return RawTable(name, path, frame, lines, malformed)


def _check_header_names_columns(name: str, path: Path, header: list[str]) -> None:
    """A first line naming no column of the table is data, not a header."""
    spec = INPUT_TABLES.get(name)
    if spec is None or set(header) & set(spec.column_names):
        return
    line = ",".join(header)
    # Personal data (account numbers, addresses) is never repeated from a line.
    shown = "" if spec.personal_columns else f" ({line[:60]!r})"
    raise InputError(
        f"{path}: line 1{shown} names none of the columns of {name}; the file needs a "
        f"header row naming its columns, at least {', '.join(spec.required_columns)}"
    )


def _check_unique_header(path: Path, header: list[str]) -> None:
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise InputError(f"{path}: column {column!r} appears twice in the header")
        seen.add(column)


def _no_malformed(header: list[str]) -> pd.DataFrame:
    columns = {"line": pd.Series(dtype="int64"), "reason": pd.Series(dtype="str")}
    columns.update({h: pd.Series(dtype="str") for h in [*header, "extra_fields"]})
    return pd.DataFrame(columns)
