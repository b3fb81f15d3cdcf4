"""The one way riskgraph writes to Neo4j: batches of parallel lists, retried, timed.

Both the load (:mod:`riskgraph.graph.writer`) and the write-back of a night's results
(:mod:`riskgraph.graph.writeback`) go through :class:`BatchWriter`:

* a query runs over consecutive batches of ``batch_size`` rows (``UNWIND`` over
  parallel parameter lists, see :mod:`riskgraph.graph.cypher`), ``workers`` batches in
  flight at once, each batch its own transaction;
* a statement that manages its own transactions (``CALL ... IN TRANSACTIONS``) runs in
  an auto-commit transaction;
* a failure the server calls transient (a deadlock between parallel batches, a leader
  switch) is retried: managed transactions by the driver itself, auto-commit
  statements (all of them idempotent) here, a few times with a growing pause;
* whatever still fails becomes the riskgraph error a scheduler can act on
  (:func:`riskgraph.graph.connection.server_error`: an unreachable server is
  :class:`~riskgraph.errors.Neo4jUnavailableError`), naming the step and the rows;
* the writer knows how long it has been writing (:attr:`BatchWriter.seconds`), and can
  report the rows it wrote to a progress bar.

Values travel as Python scalars, a missing value as None (:func:`column_values`), and
timestamps as whole seconds and nanoseconds (:func:`timestamp_parameters`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import neo4j
import numpy as np
import pandas as pd
from neo4j.exceptions import DriverError
from neo4j.exceptions import Neo4jError as DriverNeo4jError

from riskgraph.errors import ConfigError
from riskgraph.graph import cypher
from riskgraph.graph.connection import server_error

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = [
    "BatchWriter",
    "WriteSettings",
    "column_values",
    "timestamp_parameters",
    "with_none",
]

_TICKS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_T = TypeVar("_T")


@dataclass(frozen=True)
class WriteSettings:
    """Where and how much at a time to write.

    Parameters
    ----------
    database : str, default "neo4j"
    batch_size : int, default 5_000
        Rows per transaction.
    workers : int, default 2
        Transactions in flight at once (the server applies each on one core).
    retries : int, default 3
        Further attempts of an auto-commit statement the server failed transiently.
    """

    database: str = "neo4j"
    batch_size: int = 5_000
    workers: int = 2
    retries: int = 3

    def validate(self) -> WriteSettings:
        """Return ``self``; raise :class:`ConfigError` naming a value below its minimum."""
        if self.batch_size < 1 or self.workers < 1 or self.retries < 0:
            raise ConfigError(
                f"batch_size={self.batch_size}, workers={self.workers}, "
                f"retries={self.retries}: need batch_size >= 1, workers >= 1, retries >= 0"
            )
        return self


class BatchWriter:
    """Runs writes against one database, the same way for every caller.

    Parameters
    ----------
    driver : neo4j.Driver
    settings : WriteSettings
        Validated here.

    Raises
    ------
    ConfigError
        On a setting below its minimum.
    """

    def __init__(self, driver: neo4j.Driver, settings: WriteSettings) -> None:
        self.driver = driver
        self.settings = settings.validate()
        self._began = time.monotonic()
        self._advance: Callable[[int], None] = lambda _n: None

    @property
    def database(self) -> str:
        return self.settings.database

    @property
    def seconds(self) -> float:
        """Wall time since the writer was made."""
        return time.monotonic() - self._began

    def query(self, what: str, query: str, **params: Any) -> list[neo4j.Record]:
        """Run one query in a managed transaction; its records.

        Raises
        ------
        Neo4jError
            (or a subclass) naming ``what``, when the server or the connection fails.
        """
        records, _, _ = self._guarded(
            what, lambda: self.driver.execute_query(query, params, database_=self.database)
        )
        return records

    def batches(
        self,
        what: str,
        query: str,
        params: Mapping[str, Sequence[Any]],
        *,
        workers: int | None = None,
        count: bool = True,
    ) -> list[tuple[int, neo4j.Record | None]]:
        """Run ``query`` on consecutive batches of the parallel lists ``params``.

        Parameters
        ----------
        what : str
            The step, for error messages (``"USES"``, ``"user scores"``).
        query : str
        params : mapping of str to sequence
            Equally long lists, one per query parameter.
        workers : int, optional
            Batches in flight at once (default: the settings'); 1 where parallel
            batches would lock the same nodes.
        count : bool, default True
            Report the rows to the progress bar.

        Returns
        -------
        list of (first row, first record or None)
            One per batch, in row order.
        """
        size = len(next(iter(params.values())))
        step = self.settings.batch_size
        starts = range(0, size, step)

        def one(start: int) -> tuple[int, neo4j.Record | None]:
            batch = {k: v[start : start + step] for k, v in params.items()}
            rows = f"{what} rows {start}-{min(start + step, size) - 1}"
            records = self.query(f"writing {rows}", query, **batch)
            if count:
                self._advance(min(step, size - start))
            return start, (records[0] if records else None)

        workers = self.settings.workers if workers is None else workers
        if workers == 1 or len(starts) <= 1:
            return [one(s) for s in starts]
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, starts))

    def total(
        self, what: str, query: str, params: Mapping[str, Sequence[Any]], *, workers: int = 0
    ) -> int:
        """:meth:`batches` (``workers`` 0: the settings'), summing the single column of
        each batch's first record (``RETURN count(...) AS n``)."""
        answers = self.batches(what, query, params, workers=workers or None)
        return sum(int(record[0]) for _, record in answers if record is not None)

    def ensure_constraints(self, timeout_seconds: int = 300) -> None:
        """Create the uniqueness constraints that are missing (one on every id of the
        schema, see :data:`riskgraph.graph.cypher.CONSTRAINTS`) and wait until their
        indexes are online. ``MERGE`` on those ids is an index seek, and two loads can
        never create the same node twice. Idempotent."""
        for statement in cypher.CONSTRAINTS:
            self.query("preparing the schema", statement)
        self.query("preparing the schema", cypher.AWAIT_INDEXES, timeout_seconds=timeout_seconds)

    def auto_commit(self, what: str, query: str, **params: Any) -> neo4j.SummaryCounters:
        """Run a statement that needs an auto-commit transaction (``CALL ... IN
        TRANSACTIONS``), with ``$batch_size`` set; retried when the server fails it
        transiently. The statement must be idempotent."""

        def run() -> neo4j.SummaryCounters:
            with self.driver.session(database=self.database) as session:
                result = session.run(query, batch_size=self.settings.batch_size, **params)
                return result.consume().counters

        for attempt in range(self.settings.retries + 1):
            try:
                return run()
            except (DriverNeo4jError, DriverError) as exc:
                if attempt == self.settings.retries or not _retryable(exc):
                    raise server_error(what, self.database, exc) from exc
                time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _guarded(self, what: str, call: Callable[[], _T]) -> _T:
        try:
            return call()
        except (DriverNeo4jError, DriverError) as exc:
            raise server_error(what, self.database, exc) from exc

    @contextlib.contextmanager
    def progress(self, total: int, show: bool | Progress) -> Iterator[None]:
        """Report written rows to a progress bar: ``show``'s, a new one, or none."""
        if show is False:
            yield
            return
        from rich.errors import LiveError
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with contextlib.ExitStack() as stack:
            bar = show if isinstance(show, Progress) else None
            if bar is None:
                bar = Progress(
                    TextColumn("[bold]writing to Neo4j[/] {task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.elapsed:.0f}s"),
                    transient=True,
                )
                try:
                    stack.enter_context(bar)
                except LiveError:  # another live display owns the terminal: no bar then
                    yield
                    return
            task = bar.add_task("writing to Neo4j", total=total)
            self._advance = lambda n: bar.update(task, advance=n)
            try:
                yield
            finally:
                self._advance = lambda _n: None
                if isinstance(show, Progress):
                    bar.remove_task(task)

    def advance(self, rows: int) -> None:
        """Count ``rows`` as written without a query (nothing to set on them)."""
        self._advance(rows)


def _retryable(exc: Exception) -> bool:
    is_retryable = getattr(exc, "is_retryable", None)
    return bool(is_retryable()) if callable(is_retryable) else False


# -- parameters ------------------------------------------------------------------------------
def column_values(series: pd.Series) -> list[Any]:
    """A column as a list of Python scalars (bool, int, float, str), None where missing."""
    missing = series.isna().to_numpy()
    dtype = str(series.dtype)
    if dtype == "bool":
        values: np.ndarray = series.to_numpy(dtype=bool)
    elif dtype.startswith(("int", "Int")):
        values = series.to_numpy(dtype=np.int64, na_value=0)
    elif dtype.startswith("float"):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = series.astype(object).to_numpy()
    return with_none(values, missing)


def with_none(values: np.ndarray, missing: np.ndarray) -> list[Any]:
    """``values`` as a list of Python scalars, None where ``missing``."""
    if not missing.any():
        return values.tolist()
    out = values.astype(object)
    out[missing] = None
    return out.tolist()


def timestamp_parameters(series: pd.Series, name: str) -> dict[str, list[Any]]:
    """``{name_s: seconds, name_ns: nanoseconds}`` of a UTC timestamp column (None = NaT).

    Integer arithmetic in the column's own unit: no conversion to nanoseconds, whose
    int64 range (1677-2262) a stored value need not fit.
    """
    unit = series.dt.unit
    per_second = _TICKS_PER_SECOND[unit]
    ticks = series.array.asi8  # int64 in the column's unit; NaT is the minimum int64
    seconds, rest = np.divmod(ticks, per_second)  # floor division: rest is never negative
    nanos = rest * (1_000_000_000 // per_second)
    missing = series.isna().to_numpy()
    return {f"{name}_s": with_none(seconds, missing), f"{name}_ns": with_none(nanos, missing)}
