"""``GraphTables``: the one in-memory form of the riskgraph graph.

Every stage downstream of the loaders (Neo4j writer, graph features, GNN, score)
takes a :class:`GraphTables`, so the same code runs on a graph built straight from
input tables or read back from Neo4j.

Layout
------
The tables, their columns and dtypes follow the schema (:mod:`riskgraph.loaders.schema`):
a node table per node type (its id, then the index columns of the relationships its
rows carry, then its properties), an edge table per relationship that has one (the
index columns of its two ends, then its properties).

Node tables are indexed by a ``RangeIndex``: a node's position *is* its integer
index, and edge tables refer to nodes by those positions. Nodes are sorted by their
string id so that the same graph always gets the same indices, whichever way it
was built.

==============  ===============================================================
table           columns (dtype)
==============  ===============================================================
users           user_id (string), registered_at (datetime UTC), label (Int8,
                <NA> = unknown), label_at (datetime UTC, NaT = unknown), then
                the user attribute columns: numbers as float64, text as string
devices         device_id (string)
accounts        account_id (string, pseudonymized), account_type (string)
platforms       platform_id (string)
applications    application_id (string), user_idx, platform_idx (int64),
                device_idx (int64, -1 = no device), applied_at (datetime UTC),
                amount (float64), status (string)
addresses       address_id (string, pseudonymized)
user_devices    user_idx, device_idx (int64), first_seen, last_seen (datetime UTC)
user_accounts   user_idx, account_idx (int64), linked_at (datetime UTC)
social          src_idx, dst_idx (int64, users), tie_type (string),
                created_at (datetime UTC), weight (float64)
user_addresses  user_idx, address_idx (int64), declared_at (datetime UTC)
==============  ===============================================================

Edge tables are sorted by their key columns. Missing optional values are
``<NA>`` / ``NaT`` / ``NaN``, never empty strings.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskgraph.errors import InputError
from riskgraph.loaders.schema import (
    NO_INDEX,
    NODE_TYPES,
    OPTIONAL_TABLES,
    RELATIONSHIPS,
    TIMESTAMP,
)

__all__ = [
    "EDGE_TABLES",
    "NODE_TABLES",
    "NO_INDEX",
    "TABLE_COLUMNS",
    "TIMESTAMP",
    "GraphTables",
    "empty_graph_tables",
]


def _layout() -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]], dict[str, list[str]]]:
    """Columns and dtypes, index columns and their node tables, and sort keys per table."""
    columns: dict[str, dict[str, str]] = {}
    references: dict[str, dict[str, str]] = {}
    sort_keys: dict[str, list[str]] = {}
    for node in NODE_TYPES.values():
        columns[node.table] = {node.key.name: node.key.dtype}
        sort_keys[node.table] = [node.key.name]
    edge_tables = [r for r in RELATIONSHIPS.values() if not r.is_reference]
    for rel in edge_tables:
        columns[rel.table] = {}
        sort_keys[rel.table] = [str(rel.start.column), str(rel.end.column), *rel.key]
    for rel in RELATIONSHIPS.values():
        for end in (rel.start, rel.end):
            if end.column is not None:
                columns[rel.table][end.column] = "int64"
                references.setdefault(rel.table, {})[end.column] = end.node
    for node in NODE_TYPES.values():
        columns[node.table].update({c.name: c.dtype for c in node.properties})
    for rel in edge_tables:
        columns[rel.table].update({c.name: c.dtype for c in rel.properties})
    return columns, references, sort_keys


#: Fixed columns of each table and their dtypes; ``users`` may carry more (attributes).
TABLE_COLUMNS: dict[str, dict[str, str]]
# Which node table every index column points into, per table.
_REFERENCES: dict[str, dict[str, str]]
# Sort keys that make a table's row order canonical.
_SORT_KEYS: dict[str, list[str]]
TABLE_COLUMNS, _REFERENCES, _SORT_KEYS = _layout()
NODE_TABLES = tuple(NODE_TYPES)
EDGE_TABLES = tuple(name for name in TABLE_COLUMNS if name not in NODE_TYPES)
_NULLABLE_REFERENCES = {
    (r.table, str(end.column))
    for r in RELATIONSHIPS.values()
    if r.optional
    for end in (r.start, r.end)
    if end.column is not None
}


class GraphTables:
    """Typed node and edge tables of the lending graph, with integer node indices.

    One attribute per table of :data:`TABLE_COLUMNS` (``tables.users``,
    ``tables.user_devices``, ...), as the schema (:mod:`riskgraph.loaders.schema`)
    declares them. Immutable: build a new one to change a table.

    Build one with :func:`riskgraph.loaders.load_input` (from input files),
    :func:`riskgraph.graph.read_graph` (from Neo4j) or :meth:`from_parquet`.
    Call :meth:`validate` after building one by hand.

    Parameters
    ----------
    **tables : pd.DataFrame
        Every table by name; tables of optional input tables (the schema's
        ``OPTIONAL_TABLES``) may be left out and are then empty.

    Raises
    ------
    InputError
        When a table is unknown, or one that is not optional is missing.

    Examples
    --------
    >>> g = empty_graph_tables()
    >>> g.num_users, g.num_edges
    (0, 0)
    """

    # __weakref__: a caller may watch whether a graph is still held (the nightly job
    # lets tonight's tables go once the graph is read back from Neo4j).
    __slots__ = ("__weakref__", "_tables")
    _tables: dict[str, pd.DataFrame]

    def __init__(self, **tables: pd.DataFrame) -> None:
        unknown = sorted(set(tables) - set(TABLE_COLUMNS))
        missing = [n for n in TABLE_COLUMNS if n not in tables and n not in OPTIONAL_TABLES]
        if unknown or missing:
            raise InputError(
                f"GraphTables: unknown tables {unknown}, missing tables {missing}; "
                f"expected {list(TABLE_COLUMNS)} ({sorted(OPTIONAL_TABLES)} optional)"
            )
        ordered = {n: tables[n] if n in tables else _empty_table(n) for n in TABLE_COLUMNS}
        object.__setattr__(self, "_tables", ordered)

    def __getattr__(self, name: str) -> pd.DataFrame:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._tables[name]
        except KeyError:
            raise AttributeError(f"GraphTables has no table {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"GraphTables is immutable: cannot set {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._tables,))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(t)}" for name, t in self.tables())
        return f"GraphTables({sizes})"

    # -- sizes -----------------------------------------------------------------
    @property
    def num_users(self) -> int:
        return len(self.users)

    @property
    def num_edges(self) -> int:
        """Relationships as stored in Neo4j: a row of every edge table, and per row of a
        node table each reference it holds (an application's SUBMITTED, TO and, when it
        has a device, FROM_DEVICE)."""
        total = 0
        for rel in RELATIONSHIPS.values():
            table = self._tables[rel.table]
            column = rel.end.column if rel.end.column is not None else rel.start.column
            if rel.optional and column is not None:
                total += int((table[column].to_numpy() != NO_INDEX).sum())
            else:
                total += len(table)
        return total

    @property
    def attribute_columns(self) -> list[str]:
        """User attribute columns (everything in ``users`` beyond the fixed columns)."""
        fixed = TABLE_COLUMNS["users"]
        return [c for c in self.users.columns if c not in fixed]

    def tables(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """``(name, table)`` for every table, nodes first; a table of an optional input
        table (the schema's ``OPTIONAL_TABLES``) only when it has rows, so that a graph
        without one reads, counts and hashes as it did before the table existed."""
        for name, table in self._tables.items():
            if len(table) or name not in OPTIONAL_TABLES:
                yield name, table

    def replace(self, **tables: pd.DataFrame) -> GraphTables:
        """A new GraphTables with ``tables`` in place of those of the same name.

        Raises
        ------
        InputError
            When a name is not a table of GraphTables.

        Examples
        --------
        >>> g = empty_graph_tables()
        >>> g.replace(users=g.users.drop(columns="label_at")).users.columns.tolist()
        ['user_id', 'registered_at', 'label']
        """
        return GraphTables(**{**self._tables, **tables})

    # -- checks ----------------------------------------------------------------
    def validate(self) -> GraphTables:
        """Check columns, dtypes, index ranges and references; return ``self``.

        Raises
        ------
        InputError
            Naming the table, column and first offending value.
        """
        sizes = {name: len(self._tables[name]) for name in NODE_TABLES}
        for name, table in self._tables.items():
            if not isinstance(table.index, pd.RangeIndex) or table.index.start != 0:
                raise InputError(f"GraphTables.{name}: index must be a RangeIndex from 0")
            _check_columns(name, table)
            for column, target in _REFERENCES.get(name, {}).items():
                values = table[column].to_numpy()
                low = NO_INDEX if (name, column) in _NULLABLE_REFERENCES else 0
                bad = (values < low) | (values >= sizes[target])
                if bad.any():
                    raise InputError(
                        f"GraphTables.{name}.{column}: value {values[bad][0]} is not an index "
                        f"into {target} (size {sizes[target]})"
                    )
            id_column = _SORT_KEYS[name][0] if name in NODE_TABLES else None
            if id_column is not None and table[id_column].duplicated().any():
                dup = table.loc[table[id_column].duplicated(), id_column].iloc[0]
                raise InputError(f"GraphTables.{name}.{id_column}: duplicate id {dup!r}")
        return self

    def equals(self, other: GraphTables) -> bool:
        """True when every table has the same columns, dtypes and values."""
        for name, table in self._tables.items():
            theirs = getattr(other, name)
            if list(table.columns) != list(theirs.columns) or not table.equals(theirs):
                return False
        return True

    # -- persistence -----------------------------------------------------------
    def to_parquet(self, directory: str | Path) -> None:
        """Write every table to ``directory/<name>.parquet``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, table in self.tables():
            table.to_parquet(directory / f"{name}.parquet", index=False)

    @classmethod
    def from_parquet(cls, directory: str | Path) -> GraphTables:
        """Read tables written by :meth:`to_parquet`, then :meth:`validate`.

        A missing file of an optional table (one written before that table existed)
        is an empty table.
        """
        directory = Path(directory)
        tables = {}
        for name in TABLE_COLUMNS:
            path = directory / f"{name}.parquet"
            if not path.exists():
                if name in OPTIONAL_TABLES:
                    continue
                raise InputError(f"{path}: missing GraphTables table {name!r}")
            tables[name] = pd.read_parquet(path).reset_index(drop=True)
        return cls(**tables).validate()


def _check_columns(name: str, table: pd.DataFrame) -> None:
    for column, dtype in TABLE_COLUMNS[name].items():
        if column not in table.columns:
            raise InputError(f"GraphTables.{name}: missing column {column!r}")
        if str(table[column].dtype) != dtype:
            raise InputError(
                f"GraphTables.{name}.{column}: dtype {table[column].dtype}, expected {dtype}"
            )


def _rebuild(tables: dict[str, pd.DataFrame]) -> GraphTables:
    return GraphTables(**tables)


def _empty_table(name: str, extra: dict[str, str] | None = None) -> pd.DataFrame:
    columns = {**TABLE_COLUMNS[name], **(extra or {})}
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in columns.items()}, index=pd.RangeIndex(0))


def empty_graph_tables(attribute_dtypes: dict[str, str] | None = None) -> GraphTables:
    """A graph with no nodes, every table typed (attribute columns as given)."""
    tables = {
        name: _empty_table(name, attribute_dtypes if name == "users" else None)
        for name in TABLE_COLUMNS
    }
    return GraphTables(**tables)


def canonical_order(name: str, table: pd.DataFrame) -> pd.DataFrame:
    """Sort ``table`` by its key columns and reset to a ``RangeIndex``."""
    if len(table) < 2:  # already in order; an online call's tables are mostly so
        return table.reset_index(drop=True)
    keys = _SORT_KEYS[name]
    return table.sort_values(keys, kind="stable", ignore_index=True)


def index_of(ids: pd.Series, universe: pd.Series) -> np.ndarray:
    """Positions of ``ids`` in ``universe`` (a node id column, no id twice); -1 where
    absent or missing."""
    # Arrow's hash lookup, rather than a pandas Index over Python strings: it costs a
    # fraction as much over millions of ids and over one.
    positions = pc.index_in(
        _arrow_strings(ids), value_set=_arrow_strings(universe), skip_nulls=True
    )
    return pc.fill_null(positions, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def first_given(ids: pd.Series, given: pd.DataFrame, key: str, column: str) -> pd.Series:
    """For each of ``ids``, ``column`` of the first row of ``given`` whose ``key`` it is
    and whose ``column`` is not missing; missing where no row gives one. Indexed like
    ``ids``: a node table's property from the rows that name its nodes."""
    first = given.dropna(subset=[column]).drop_duplicates(key)
    at = index_of(ids, first[key])
    return first[column].reset_index(drop=True).reindex(at).set_axis(ids.index)


def _arrow_strings(values: pd.Series) -> pa.Array:
    dtype = values.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        values = values.astype("string")
    return pa.array(values.array, type=pa.large_string())
