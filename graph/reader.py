"""Read the whole graph back from Neo4j into :class:`GraphTables`.

The inverse of :func:`riskgraph.graph.write_graph`: tables read back after a load
``.equals()`` the tables loaded (same columns, dtypes, canonical order and values), and
after several loads they hold the union of everything loaded. Only the input
attributes listed on the ``RiskgraphMeta`` node come back on ``users``; properties the
pipeline writes back (scores, features, rings, risk links) are not part of GraphTables.

All queries run in one read transaction. Each returns one record of parallel lists,
which the driver decodes far faster than one record per row; the lists are turned into
typed columns with numpy.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import neo4j
import numpy as np
import pandas as pd

from riskgraph.errors import Neo4jError
from riskgraph.graph import cypher
from riskgraph.graph.connection import server_error
from riskgraph.graph.writer import ATTRIBUTE_PREFIX, META_USER_ATTRIBUTES, NUMBER, TEXT
from riskgraph.loaders.limits import MAX_TIMESTAMP, MIN_TIMESTAMP, TIME_RANGE
from riskgraph.loaders.schema import NODE_TYPES, RELATIONSHIPS, ColumnSpec, NodeType, Relationship
from riskgraph.loaders.tables import (
    NO_INDEX,
    TABLE_COLUMNS,
    TIMESTAMP,
    GraphTables,
    canonical_order,
)

__all__ = ["read_graph"]

log = logging.getLogger("riskgraph.graph")

_NAT = np.iinfo(np.int64).min
# What the read queries return for stored values the job cannot use (cypher._ticks,
# cypher._number): never a tick or a number a real value could have.
_NOT_DATETIME = _NAT + 1
_OUT_OF_RANGE = _NAT + 2
_NOT_NUMBER = float("-inf")
_NOT_LABEL = -2
#: Unusable stored values listed one by one (the count covers them all).
_SHOW_UNUSABLE = 20
_UNIT = pd.api.types.pandas_dtype(TIMESTAMP).unit
# Timestamps travel as integer ticks of the GraphTables unit (ms, us or ns).
_TICKS_PER_MILLI = {"ms": 1, "us": 1_000, "ns": 1_000_000}[_UNIT]


def read_graph(
    driver: neo4j.Driver,
    *,
    database: str = "neo4j",
    workers: int = 2,
    unusable: list[str] | None = None,
) -> GraphTables:
    """Read every node and relationship of the graph model into :class:`GraphTables`.

    A stored value the job cannot use (a timestamp outside the years of
    :mod:`riskgraph.loaders.limits` or not a ``DateTime``, a number that is not a finite
    number, a label other than 0 or 1), written by hand or by an older version, is
    read as missing and reported naming its node and property: it never fails a night.

    Parameters
    ----------
    driver : neo4j.Driver
    database : str
    workers : int
        Queries in flight at once: while the client decodes one answer, the server
        already computes the next.
    unusable : list of str, optional
        Receives one line per unusable stored value (the first few, then a count);
        they are logged as a warning either way.

    Returns
    -------
    GraphTables
        Validated; nodes sorted by id, edges by their keys; ``users`` carries the input
        attribute columns recorded by the writer, numbers as float64 and text as string.

    Raises
    ------
    Neo4jError
        When the stored graph breaks the model (a node without its id, an application
        without exactly one user and platform, a relationship to an unexpected node),
        naming the node, or when the server fails.

    Notes
    -----
    Each query is its own read transaction. One transaction would not give a snapshot
    either (Neo4j reads at read-committed isolation), so do not read while a load is
    writing: a relationship to a node the read missed is reported as an error.

    Examples
    --------
    >>> with open_driver() as driver:              # doctest: +SKIP
    ...     tables = read_graph(driver)
    """
    common = {
        "nat": _NAT,
        "not_datetime": _NOT_DATETIME,
        "out_of_range": _OUT_OF_RANGE,
        "min_time": MIN_TIMESTAMP.to_pydatetime(),
        "max_time": MAX_TIMESTAMP.to_pydatetime(),
        "nan": float("nan"),
        "inf": float("inf"),
        "not_number": _NOT_NUMBER,
        "ticks_per_milli": _TICKS_PER_MILLI,
        "ns_per_tick": 1_000_000 // _TICKS_PER_MILLI,
    }
    found = _Unusable()

    def run(query: str, params: dict[str, Any]) -> neo4j.Record:
        records, _, _ = driver.execute_query(
            query,
            {**common, **params},
            database_=database,
            routing_=neo4j.RoutingControl.READ,
        )
        return records[0]

    try:
        with ThreadPoolExecutor(max(1, workers)) as pool:

            def fetch(query: str, **params: Any) -> Future[neo4j.Record]:
                return pool.submit(run, query, params)

            tables = _read_all(fetch, ahead=max(1, workers), found=found)
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError) as exc:
        raise server_error("reading the graph", database, exc) from exc
    if found.total:
        lines = found.lines()
        log.warning("stored values read as missing:\n  %s", "\n  ".join(lines))
        if unusable is not None:
            unusable.extend(lines)
    return tables


class _Unusable:
    """Stored values the job cannot use: turned into missing values, and listed."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.total = 0

    def lines(self) -> list[str]:
        more = self.total - len(self.shown)
        return self.shown + ([f"... and {more:,} more"] if more else [])

    def _note(
        self, bad: np.ndarray, prop: str, why: str, names: Callable[[np.ndarray], Sequence[str]]
    ) -> None:
        rows = np.flatnonzero(bad)
        self.total += len(rows)
        room = max(0, _SHOW_UNUSABLE - len(self.shown))
        self.shown += [f"{name}: {prop} {why}" for name in names(rows[:room])]

    def timestamps(
        self, ticks: list[int], prop: str, names: Callable[[np.ndarray], Sequence[str]]
    ) -> pd.Series:
        raw = np.asarray(ticks, dtype=np.int64)
        for sentinel, why in (
            (_NOT_DATETIME, "is not a DateTime"),
            (_OUT_OF_RANGE, f"is outside the years {TIME_RANGE}"),
        ):
            bad = raw == sentinel
            if bad.any():
                self._note(bad, prop, why, names)
                raw[bad] = _NAT
        return _timestamps(raw)

    def numbers(
        self, values: list[float], prop: str, names: Callable[[np.ndarray], Sequence[str]]
    ) -> np.ndarray:
        raw = np.asarray(values, dtype=np.float64)
        bad = raw == _NOT_NUMBER
        if bad.any():
            self._note(bad, prop, "is not a finite number", names)
            raw[bad] = np.nan
        return raw

    def labels(self, values: list[int], names: Callable[[np.ndarray], Sequence[str]]) -> pd.Series:
        raw = np.asarray(values, dtype=np.int64)
        bad = raw == _NOT_LABEL
        if bad.any():
            self._note(bad, "label", "is not 0 or 1", names)
            raw[bad] = -1
        return _labels(raw)


def _named(label: str, ids: Sequence[str]) -> Callable[[np.ndarray], list[str]]:
    """Names of the nodes at some positions of a read, e.g. ``User 'u1'``."""
    return lambda rows: [f"{label} {ids[i]!r}" for i in rows]


def _named_relationship(
    rel: str, src: np.ndarray, dst: np.ndarray, src_ids: pd.Series, dst_ids: pd.Series
) -> Callable[[np.ndarray], list[str]]:
    """Names of the relationships at some positions of a read, e.g. ``USES 'u1'->'d1'``."""
    return lambda rows: [f"{rel} {src_ids.iloc[src[i]]!r}->{dst_ids.iloc[dst[i]]!r}" for i in rows]


class _Answers:
    """The answers of ``queries``, taken in their order, fetched at most ``ahead`` before.

    Each answer is a record of Python lists, a few hundred MB per relationship type at a
    million users: fetching every query up front held them all at once (8 GB of job
    memory at a million users), fetching just ahead of use keeps two or three.
    """

    def __init__(
        self,
        fetch: Callable[..., Future[neo4j.Record]],
        queries: list[tuple[str, str, dict[str, Any]]],
        ahead: int,
    ) -> None:
        self._fetch = fetch
        self._queue = collections.deque(queries)
        self._pending: collections.deque[tuple[str, Future[neo4j.Record]]] = collections.deque()
        self._ahead = max(1, ahead)
        self._fill()

    def _fill(self) -> None:
        while self._queue and len(self._pending) < self._ahead:
            name, query, params = self._queue.popleft()
            self._pending.append((name, self._fetch(query, **params)))

    def take(self, name: str) -> neo4j.Record:
        """The answer of the next query, which must be ``name``."""
        expected, future = self._pending.popleft()
        if expected != name:  # a programming error: the queries are listed in use order
            raise RuntimeError(f"read_graph: took {name!r}, next answer is {expected!r}")
        self._fill()
        return future.result()


def _read_all(
    fetch: Callable[..., Future[neo4j.Record]], ahead: int, found: _Unusable
) -> GraphTables:
    meta = fetch(cypher.READ_META, name=META_USER_ATTRIBUTES).result()
    attributes = list(zip(meta["columns"] or [], meta["kinds"] or [], strict=True))
    # Listed in the order the code below takes them: nodes before the relationships
    # that point at them.
    answers = _Answers(
        fetch,
        [
            ("users", cypher.READ_NODES["users"], {}),
            *(
                (
                    f"attribute {column}",
                    cypher.READ_USER_NUMBER_ATTRIBUTE
                    if kind == NUMBER
                    else cypher.READ_USER_TEXT_ATTRIBUTE,
                    {"key": f"{ATTRIBUTE_PREFIX}{column}"},
                )
                for column, kind in attributes
            ),
            *((name, cypher.READ_NODES[name], {}) for name in NODE_TYPES if name != "users"),
            *((rel_type, query, {}) for rel_type, query in cypher.READ_RELATIONSHIPS.items()),
        ],
        ahead,
    )
    tables: dict[str, pd.DataFrame] = {}
    orders: dict[str, pd.Index] = {}
    for name, node in NODE_TYPES.items():
        rec = answers.take(name)
        node_ids = np.asarray(rec["node_id"], dtype=np.int64)
        columns = _node_columns(node, rec, found)
        if node.attributes:
            columns.update(_attributes(answers, attributes, rec, node_ids, found))
        tables[name], orders[name] = _sorted_nodes(name, columns, node_ids)
    for rel_type, rel in RELATIONSHIPS.items():
        rec = answers.take(rel_type)
        src = _positions(rec["src"], orders[rel.start.node], rel_type, "start")
        dst = _positions(rec["dst"], orders[rel.end.node], rel_type, "end")
        if rel.is_reference:
            tables[rel.table] = _with_reference(tables[rel.table], rel, src, dst)
            continue
        names = _named_relationship(
            rel_type,
            src,
            dst,
            tables[rel.start.node][NODE_TYPES[rel.start.node].key.name],
            tables[rel.end.node][NODE_TYPES[rel.end.node].key.name],
        )
        columns = {str(rel.start.column): src, str(rel.end.column): dst}
        columns.update(_decoded(rel.properties, rec, found, names))
        tables[rel.table] = _edge_table(rel.table, columns)
    return GraphTables(**tables).validate()


def _node_columns(node: NodeType, rec: neo4j.Record, found: _Unusable) -> dict[str, Any]:
    """The id and properties of every node of one read, in read order."""
    key = node.key.name
    columns: dict[str, Any] = {key: _ids(rec[key], node.label, key)}
    columns.update(_decoded(node.properties, rec, found, _named(node.label, rec[key])))
    return columns


def _decoded(
    columns: tuple[ColumnSpec, ...],
    rec: neo4j.Record,
    found: _Unusable,
    names: Callable[[np.ndarray], Sequence[str]],
) -> dict[str, Any]:
    """The property lists of a read as typed columns, unusable values as missing."""
    out: dict[str, Any] = {}
    for column in columns:
        values = rec[column.name]
        if column.kind == "timestamp":
            out[column.name] = found.timestamps(values, column.name, names)
        elif column.kind == "number":
            out[column.name] = found.numbers(values, column.name, names)
        elif column.kind == "label":
            out[column.name] = found.labels(values, names)
        else:
            out[column.name] = _strings(values, rec[f"{column.name}_missing"])
    return out


def _attributes(
    answers: _Answers,
    attributes: list[tuple[str, str]],
    users: neo4j.Record,
    user_nodes: np.ndarray,
    found: _Unusable,
) -> dict[str, pd.Series]:
    """The user attribute columns, in the order of the users read."""
    out = {}
    for column, kind in attributes:
        rec = answers.take(f"attribute {column}")
        if kind == NUMBER:
            at = pd.Index(user_nodes).get_indexer(np.asarray(rec["node_id"], dtype=np.int64))
            values = found.numbers(
                rec["value"],
                f"{ATTRIBUTE_PREFIX}{column}",
                lambda rows, at=at: [f"User {users['user_id'][at[i]]!r}" for i in rows],
            )
            out[column] = pd.Series(_align(values, rec["node_id"], user_nodes), dtype="float64")
        elif kind == TEXT:
            values = _strings(rec["value"], rec["missing"])
            out[column] = pd.Series(_align(values, rec["node_id"], user_nodes), dtype="string")
        else:
            raise Neo4jError(f"RiskgraphMeta: attribute {column!r} has unknown kind {kind!r}")
    return out


def _with_reference(
    table: pd.DataFrame, rel: Relationship, src: np.ndarray, dst: np.ndarray
) -> pd.DataFrame:
    """``table`` (a node table) with the index column ``rel`` fills: each row must have
    exactly one such relationship, or at most one when ``rel`` is optional."""
    rows, other, end = (
        (dst, src, rel.start) if rel.start.column is not None else (src, dst, rel.end)
    )
    node = NODE_TYPES[rel.table]
    ids = table[node.key.name].rename(node.label)  # names the node in a message
    what = f"{rel.rel_type} (its {NODE_TYPES[end.node].hetero})"
    _exactly(np.bincount(rows, minlength=len(table)), int(not rel.optional), 1, ids, what)
    column = np.full(len(table), NO_INDEX, dtype=np.int64)
    column[rows] = other
    out = table.copy()
    out[str(end.column)] = column
    placed = [c for c in TABLE_COLUMNS[rel.table] if c in out.columns]
    return out[placed + [c for c in out.columns if c not in placed]]


# -- columns ------------------------------------------------------------------------------
def _ids(values: list[str], label: str, key: str) -> pd.Series:
    ids = pd.Series(values, dtype="string")
    if (ids == "").any():
        raise Neo4jError(f"a {label} node has no {key} property; it is not part of the model")
    return ids


def _strings(values: list[str], missing: list[bool]) -> pd.Series:
    series = pd.Series(values, dtype="string")
    series[np.asarray(missing, dtype=bool)] = pd.NA
    return series


def _labels(values: np.ndarray) -> pd.Series:
    labels = np.asarray(values, dtype=np.int64)
    return pd.Series(pd.array(labels, dtype="Int8")).mask(labels == -1)


def _timestamps(ticks: np.ndarray) -> pd.Series:
    raw = np.asarray(ticks, dtype=np.int64).view(f"datetime64[{_UNIT}]")  # the sentinel is NaT
    return pd.Series(raw).dt.tz_localize("UTC").astype(TIMESTAMP)


def _align(values: Any, node_ids: list[int], order: np.ndarray) -> Any:
    """``values`` (one per node of ``node_ids``) reordered to follow ``order``."""
    where = pd.Index(np.asarray(node_ids, dtype=np.int64)).get_indexer(order)
    if (where < 0).any():
        raise Neo4jError("User nodes changed during the read; read the graph again")
    return values[where] if isinstance(values, np.ndarray) else values.iloc[where].to_numpy()


def _sorted_nodes(
    name: str, columns: dict[str, Any], node_ids: np.ndarray
) -> tuple[pd.DataFrame, pd.Index]:
    """The node table in canonical order, and its internal node ids in that order."""
    frame = pd.DataFrame(columns)  # every Series here has a RangeIndex: rows line up
    frame["__node_id"] = node_ids
    frame = canonical_order(name, _typed(name, frame))
    order = pd.Index(frame.pop("__node_id").to_numpy())
    return frame, order


def _typed(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    dtypes = TABLE_COLUMNS[name]
    for column, dtype in dtypes.items():
        if column in frame.columns and str(frame[column].dtype) != dtype:
            frame[column] = frame[column].astype(dtype)
    return frame.reset_index(drop=True)


def _edge_table(name: str, columns: dict[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    return canonical_order(name, _typed(name, frame))


def _positions(node_ids: list[int], order: pd.Index, rel: str, side: str) -> np.ndarray:
    where = order.get_indexer(np.asarray(node_ids, dtype=np.int64))
    if (where < 0).any():
        raise Neo4jError(
            f"a {rel} relationship has a {side} node outside the graph model "
            "(or the graph changed during the read; read it again)"
        )
    return where.astype(np.int64)


def _exactly(counts: np.ndarray, low: int, high: int, ids: pd.Series, what: str) -> None:
    bad = (counts < low) | (counts > high)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise Neo4jError(
            f"{ids.name} {ids.iloc[first]!r} has {counts[first]} {what} relationships; "
            f"expected {low if low == high else f'{low} to {high}'}"
        )
