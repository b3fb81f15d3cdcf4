"""Write a synthetic population: contract tables as CSV or Parquet, truth as Parquet.

CSV goes through Arrow's writer (several times faster than ``DataFrame.to_csv`` at
ten million rows), with timestamps formatted beforehand by
:func:`~riskgraph.loaders.synthetic.text.iso_timestamps` (Arrow's own timestamp
formatting is the slowest part otherwise): ISO-8601 to the second with a ``Z``,
``2026-03-01T08:15:02Z``. Missing values are empty fields; text is not quoted (no
generated value holds a comma, quote or newline, and Arrow refuses to write one
that does).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from riskgraph.errors import ConfigError
from riskgraph.loaders.synthetic.text import iso_timestamps

__all__ = ["FORMATS", "default_truth_path", "write_population"]

#: Table file formats ``write_population`` accepts.
FORMATS = ("csv", "parquet")


def default_truth_path(out_dir: str | Path) -> Path:
    """``out_dir/../truth.parquet``: next to the input directory, never inside it."""
    return Path(out_dir).absolute().parent / "truth.parquet"


def write_population(
    tables: Mapping[str, pd.DataFrame],
    truth: pd.DataFrame,
    out_dir: str | Path,
    truth_path: str | Path | None = None,
    format: Literal["csv", "parquet"] = "csv",
) -> dict[str, Path]:
    """Write ``tables`` to ``out_dir/<name>.<format>`` and ``truth`` to ``truth_path``.

    Parameters
    ----------
    tables : Mapping[str, pd.DataFrame]
        Contract tables by name.
    truth : pd.DataFrame
        The ground truth; always written as Parquet.
    out_dir : str or Path
        Created if missing. A file of the other format with the same stem is removed,
        so the directory never holds both ``users.csv`` and ``users.parquet``.
    truth_path : str or Path, optional
        Default :func:`default_truth_path`. Must lie outside ``out_dir``.
    format : {"csv", "parquet"}

    Returns
    -------
    dict[str, Path]
        The file written for each table, and ``"truth"``.

    Raises
    ------
    ConfigError
        For an unknown ``format``, or a ``truth_path`` inside ``out_dir`` (the
        pipeline would read it as input).
    """
    if format not in FORMATS:
        raise ConfigError(f"format = {format!r}: expected one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    truth_file = Path(truth_path) if truth_path is not None else default_truth_path(out)
    if truth_file.absolute().parent == out.absolute():
        raise ConfigError(
            f"truth_path = {str(truth_file)!r} is inside the input directory {str(out)!r}; "
            "the pipeline must never see the ground truth"
        )
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, frame in tables.items():
        table = pa.Table.from_pandas(frame, preserve_index=False)
        path = out / f"{name}.{format}"
        other = out / f"{name}.{'parquet' if format == 'csv' else 'csv'}"
        other.unlink(missing_ok=True)
        if format == "csv":
            pa_csv.write_csv(
                _timestamps_as_text(table),
                path,
                pa_csv.WriteOptions(quoting_style="none"),
            )
        else:
            pq.write_table(table, path)
        written[name] = path
    truth_file.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(truth, preserve_index=False), truth_file)
    written["truth"] = truth_file
    return written


def _timestamps_as_text(table: pa.Table) -> pa.Table:
    """Timestamp columns replaced by their ISO-8601 text, to the second."""
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            column = table.column(i).combine_chunks()
            seconds = column.cast(pa.timestamp("s", tz="UTC")).cast(pa.int64()).fill_null(0)
            valid = column.is_valid().to_numpy(zero_copy_only=False)
            text = iso_timestamps(seconds.to_numpy(), valid)
            table = table.set_column(i, field.name, text)
    return table
