"""Upsert :class:`GraphTables` into Neo4j: ``UNWIND`` batches of ``MERGE``, parameters only.

The graph model is the schema's (:mod:`riskgraph.loaders.schema`, docs/neo4j.md): a node
per row of every node table, a relationship per row of every edge table and per index
column of a node table (an application's SUBMITTED, TO, FROM_DEVICE), and::

    (:RiskgraphMeta {name: "user_attributes", columns, kinds})

Timestamps are stored as ``DateTime`` in UTC; a missing value is a missing property.

User attributes are stored as ``attr_<column>`` properties, so that they can never
collide with the properties the pipeline writes back on ``User`` (scores, flags,
features); the ``RiskgraphMeta`` node records their columns in order and their kind
(``number`` or ``text``), which is how :func:`riskgraph.graph.read_graph` restores
exactly the input attributes with their dtypes.

Semantics of a load: a node or relationship of the input is created or updated (the
latest load wins for every property it carries; a missing value removes the property);
nothing absent from the input is touched, so loads of different days accumulate. An
application keeps exactly one user, one platform and at most one device: reloading it
with other ones replaces them. The same tables loaded twice leave the same state.
Batching, retries and errors are those of :class:`riskgraph.graph.batches.BatchWriter`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import neo4j
import numpy as np
import pandas as pd

from riskgraph.errors import InputError, Neo4jError
from riskgraph.graph import cypher
from riskgraph.graph.batches import (
    BatchWriter,
    WriteSettings,
    column_values,
    timestamp_parameters,
    with_none,
)
from riskgraph.loaders.limits import TIME_RANGE, id_problems, outside_time_range
from riskgraph.loaders.schema import NODE_TYPES, RELATIONSHIPS, NodeType, Relationship
from riskgraph.loaders.tables import NO_INDEX, NODE_TABLES, TABLE_COLUMNS, TIMESTAMP, GraphTables

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = [
    "ATTRIBUTE_PREFIX",
    "META_USER_ATTRIBUTES",
    "NUMBER",
    "TEXT",
    "WriteReport",
    "attribute_kinds",
    "check_storable",
    "write_graph",
]

#: Prefix of the ``User`` properties that hold input attributes.
ATTRIBUTE_PREFIX = "attr_"
#: ``RiskgraphMeta.name`` of the node that lists the attribute columns and kinds.
META_USER_ATTRIBUTES = "user_attributes"
NUMBER = "number"
TEXT = "text"
_KIND_OF_DTYPE = {"float64": NUMBER, "string": TEXT}


@dataclass(frozen=True)
class WriteReport:
    """What :func:`write_graph` wrote.

    Attributes
    ----------
    nodes : dict[str, int]
        Rows upserted per node label.
    created : dict[str, int]
        Nodes per label that did not exist before.
    relationships : dict[str, int]
        Rows upserted per relationship type.
    seconds : float
        Wall time of the whole write.
    """

    nodes: dict[str, int] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)
    relationships: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def relationships_total(self) -> int:
        return sum(self.relationships.values())


def attribute_kinds(users: pd.DataFrame) -> dict[str, str]:
    """Kind (``"number"`` or ``"text"``) of every attribute column of ``users``, in order.

    Raises
    ------
    InputError
        When an attribute column is neither float64 nor string.
    """
    fixed = TABLE_COLUMNS["users"]
    kinds = {}
    for column in users.columns:
        if column in fixed:
            continue
        kind = _KIND_OF_DTYPE.get(str(users[column].dtype))
        if kind is None or not isinstance(column, str):
            raise InputError(
                f"GraphTables.users.{column}: dtype {users[column].dtype}; user attributes "
                "must be float64 (numbers) or string (text)"
            )
        kinds[column] = kind
    return kinds


def write_graph(
    driver: neo4j.Driver,
    tables: GraphTables,
    *,
    settings: WriteSettings | None = None,
    progress: bool | Progress = False,
) -> WriteReport:
    """Upsert ``tables`` into Neo4j (idempotent; see the module docstring for semantics).

    Each batch of ``settings.batch_size`` rows is one transaction; ``settings.workers``
    batches run at a time. Nodes are written before relationships. A write interrupted
    midway leaves some batches applied; writing the same tables again completes it.

    Parameters
    ----------
    driver : neo4j.Driver
    tables : GraphTables
        Validated before anything is written.
    settings : WriteSettings, optional
        Database, batch size and workers (default ``WriteSettings()``).
    progress : bool or rich.progress.Progress
        Show a progress bar on the terminal: True for a bar of its own, a running
        ``Progress`` to add a task to it (a second live display would clash with it).

    Returns
    -------
    WriteReport

    Raises
    ------
    ConfigError
        On a setting below its minimum.
    InputError
        When ``tables`` is invalid, holds a value outside the limits of
        :mod:`riskgraph.loaders.limits` (tables not built by the loader), or an
        attribute's kind contradicts what the graph holds (nothing is written then).
    Neo4jError
        When the server fails a batch (naming the table and rows);
        ``Neo4jUnavailableError`` when it cannot be reached.
    """
    writer = BatchWriter(driver, settings or WriteSettings())
    tables.validate()
    check_storable(tables)
    kinds = attribute_kinds(tables.users)
    writer.ensure_constraints()
    _merge_attribute_meta(writer, tables.users, kinds)

    total = sum(len(getattr(tables, name)) for name in NODE_TABLES) + tables.num_edges
    report = WriteReport()
    with writer.progress(total, progress):
        nodes = {
            name: _upsert_nodes(writer, node, _node_parameters(tables, node, kinds))
            for name, node in NODE_TYPES.items()
        }
        for name, node in NODE_TYPES.items():
            report.nodes[node.label] = len(nodes[name].ids)
            report.created[node.label] = int(nodes[name].created.sum())
        references = [r for r in RELATIONSHIPS.values() if r.is_reference]
        for rel in references:
            _delete_stale(writer, rel, _ends(tables, rel, nodes, existing_rows_only=True))
        for rel in RELATIONSHIPS.values():
            report.relationships[rel.rel_type] = _write_relationships(
                writer, rel, _ends(tables, rel, nodes), _relationship_parameters(tables, rel)
            )
    return WriteReport(report.nodes, report.created, report.relationships, writer.seconds)


def check_storable(tables: GraphTables) -> None:
    """Refuse values Neo4j cannot index, or the job cannot read back and compute with.

    The loader rejects such rows already; this guards tables built another way (by
    hand, from Parquet, by the online path), so that no such value is ever stored
    where every later night would meet it.

    Raises
    ------
    InputError
        Naming the table, column, row and what is wrong, for up to five values.
    """
    problems: list[str] = []
    for name, table in tables.tables():
        node = NODE_TYPES.get(name)
        if node is not None:
            id_column = node.key.name
            for row, reason in id_problems(table[id_column]).iloc[:5].items():
                # Personal ids are pseudonyms here, but an unchecked table may hold them raw.
                value = str(table[id_column].iloc[row])[:40]
                shown = "" if node.key.personal else f" {value!r}"
                problems.append(f"{name}.{id_column} row {row}{shown} {reason}")
        for column in table.columns:
            if str(table[column].dtype) != TIMESTAMP:
                continue
            for row in np.flatnonzero(outside_time_range(table[column]))[:5]:
                problems.append(
                    f"{name}.{column} row {row}: {table[column].iloc[row].isoformat()} is "
                    f"outside the years {TIME_RANGE}"
                )
    if problems:
        raise InputError(
            "GraphTables hold values that are not written to Neo4j (see "
            "riskgraph.loaders.limits):\n  " + "\n  ".join(problems[:5])
        )


# -- nodes ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Nodes:
    """The internal ids of a node table's rows, and which ones this write created."""

    ids: np.ndarray
    created: np.ndarray


def _parameters(table: pd.DataFrame, columns: Any) -> dict[str, list[Any]]:
    """The batch parameters of ``columns`` of ``table`` (timestamps as two lists)."""
    params: dict[str, list[Any]] = {}
    for column in columns:
        if column.kind == "timestamp":
            params.update(timestamp_parameters(table[column.name], column.name))
        else:
            params[column.name] = column_values(table[column.name])
    return params


def _node_parameters(
    tables: GraphTables, node: NodeType, kinds: Mapping[str, str]
) -> dict[str, list[Any]]:
    table = getattr(tables, node.table)
    params = _parameters(table, (node.key, *node.properties))
    if node.attributes:
        attributes = pd.DataFrame(
            {f"{ATTRIBUTE_PREFIX}{c}": column_values(table[c]) for c in kinds}, index=table.index
        )
        params["attributes"] = attributes.to_dict("records") if kinds else [{}] * len(table)
    return params


def _upsert_nodes(writer: BatchWriter, node: NodeType, params: Mapping[str, list[Any]]) -> _Nodes:
    """Create the missing nodes, update the others; their internal ids and "created"."""
    key, label = node.key.name, node.label
    size = len(params[key])
    node_ids = np.full(size, -1, dtype=np.int64)
    find = cypher.FIND_NODES[node.table]
    for start, record in writer.batches(label, find, {"key": params[key]}, count=False):
        assert record is not None  # an aggregation always returns one record
        node_ids[np.asarray(record["row"], dtype=np.int64) + start] = record["node_id"]
    created = node_ids < 0
    new_rows = np.flatnonzero(created)
    if len(new_rows):
        subset = {k: _take(v, new_rows) for k, v in params.items()}
        for start, record in writer.batches(label, cypher.CREATE_NODES[node.table], subset):
            assert record is not None
            node_ids[new_rows[np.asarray(record["row"], dtype=np.int64) + start]] = record[
                "node_id"
            ]
    old_rows = np.flatnonzero(~created)
    update = cypher.UPDATE_NODES[node.table]
    if len(old_rows) and update is None:  # nothing to set beyond the id
        writer.advance(len(old_rows))
    elif len(old_rows):
        subset = {k: _take(v, old_rows) for k, v in params.items() if k != key}
        subset["node_id"] = node_ids[old_rows].tolist()
        writer.batches(label, update, subset)
    if (node_ids < 0).any():
        raise Neo4jError(f"creating {label} nodes returned no id for some rows")
    return _Nodes(node_ids, created)


# -- relationships ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Ends:
    """Internal ids of the start and end node of every row, and whether either is new."""

    src: np.ndarray
    dst: np.ndarray
    fresh: np.ndarray
    rows: np.ndarray


def _ends(
    tables: GraphTables,
    rel: Relationship,
    nodes: Mapping[str, _Nodes],
    *,
    existing_rows_only: bool = False,
) -> _Ends:
    """The ends of ``rel`` for the rows of its table that have one (all rows, or with
    ``existing_rows_only`` the rows of a node table whose node existed before)."""
    table = getattr(tables, rel.table)
    rows = np.arange(len(table))
    if existing_rows_only:
        rows = np.flatnonzero(~nodes[rel.table].created)
    positions = [
        rows if end.column is None else table[end.column].to_numpy()[rows]
        for end in (rel.start, rel.end)
    ]
    present = np.ones(len(rows), dtype=bool)
    if rel.optional and not existing_rows_only:
        present = (positions[0] != NO_INDEX) & (positions[1] != NO_INDEX)
    src, dst = (
        _ids_at(nodes[end.node].ids, p, rel.optional)
        for end, p in zip((rel.start, rel.end), positions, strict=True)
    )
    fresh = np.zeros(len(rows), dtype=bool)
    for end, p in zip((rel.start, rel.end), positions, strict=True):
        fresh |= _ids_at(nodes[end.node].created.astype(np.int64), p, rel.optional) == 1
    return _Ends(src[present], dst[present], fresh[present], rows[present])


def _ids_at(ids: np.ndarray, positions: np.ndarray, optional: bool) -> np.ndarray:
    """``ids[positions]``, with -1 where a position is :data:`NO_INDEX`."""
    if not optional:
        return ids[positions]
    missing = positions == NO_INDEX
    out = np.full(len(positions), -1, dtype=np.int64)
    out[~missing] = ids[positions[~missing]]
    return out


def _relationship_parameters(tables: GraphTables, rel: Relationship) -> dict[str, list[Any]]:
    return _parameters(getattr(tables, rel.table), rel.properties)


def _delete_stale(writer: BatchWriter, rel: Relationship, ends: _Ends) -> None:
    """Drop the relationships of reloaded rows that now name another node (or none)."""
    if len(ends.rows) == 0:
        return
    params = {
        "src": with_none(ends.src, ends.src < 0),
        "dst": with_none(ends.dst, ends.dst < 0),
    }
    writer.batches(
        f"{rel.rel_type} (stale)",
        cypher.DELETE_STALE_RELATIONSHIPS[rel.rel_type],
        params,
        count=False,
    )


def _write_relationships(
    writer: BatchWriter, rel: Relationship, ends: _Ends, props: Mapping[str, list[Any]]
) -> int:
    """CREATE the rows with a new endpoint, MERGE the others; the rows written."""
    # Concurrent transactions lock the endpoints they touch; ordering rows by the
    # endpoint with fewer distinct nodes (e.g. the platforms of TO) keeps each batch
    # on few of them, so that parallel batches rarely wait for or deadlock on each other.
    src, dst = ends.src, ends.dst
    key = dst if len(np.unique(dst)) < len(np.unique(src)) else src
    queries = (
        (cypher.CREATE_RELATIONSHIPS[rel.rel_type], ends.fresh),
        (cypher.MERGE_RELATIONSHIPS[rel.rel_type], ~ends.fresh),
    )
    for query, mask in queries:
        rows = np.flatnonzero(mask)
        if len(rows) == 0:
            continue
        rows = rows[np.argsort(key[rows], kind="stable")]
        params: dict[str, list[Any]] = {"src": src[rows].tolist(), "dst": dst[rows].tolist()}
        for name, values in props.items():
            params[name] = _take(values, ends.rows[rows])
        writer.batches(rel.rel_type, query, params)
    return len(src)


def _merge_attribute_meta(writer: BatchWriter, users: pd.DataFrame, kinds: dict[str, str]) -> None:
    """Record the attribute columns (union with earlier loads) and check their kinds."""
    what = "preparing the schema"
    records = writer.query(what, cypher.READ_META, name=META_USER_ATTRIBUTES)
    columns = list(records[0]["columns"] or [])
    stored = dict(zip(columns, records[0]["kinds"] or [], strict=True))
    for column, kind in kinds.items():
        if column not in stored:
            columns.append(column)
            stored[column] = kind
        elif stored[column] != kind and users[column].notna().any():
            raise InputError(
                f"users.{column}: {kind} values, but the graph holds this attribute as "
                f"{stored[column]} from earlier loads; rename the column or convert it"
            )
    writer.query(
        what,
        cypher.WRITE_META,
        name=META_USER_ATTRIBUTES,
        columns=columns,
        kinds=[stored[c] for c in columns],
    )


def _take(values: list[Any], rows: np.ndarray) -> list[Any]:
    """``[values[r] for r in rows]``, done by numpy."""
    if len(rows) == len(values) and (rows == np.arange(len(rows))).all():
        return values
    taken = np.empty(len(values), dtype=object)
    taken[:] = values  # element by element: a list of dicts must stay a list of dicts
    return taken[rows].tolist()
