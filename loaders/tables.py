"""``GraphTables``: the one in-memory form of the riskgraph graph.

Every stage downstream of the loaders (Neo4j writer, graph features, GNN, score)
takes a :class:`GraphTables`, so the same code runs on a graph built straight from
input tables or read back from Neo4j.

Layout
------
Node tables are indexed by a ``RangeIndex``: a node's position *is* its integer
index, and edge tables refer to nodes by those positions. Nodes are sorted by their
string id so that the same graph always gets the same indices, whichever way it
was built.

=============  ===============================================================
table          columns (dtype)
=============  ===============================================================
users          user_id (string), registered_at (datetime UTC), label (Int8,
               <NA> = unknown), label_at (datetime UTC, NaT = unknown), then
               the user attribute columns: numbers as float64, text as string
devices        device_id (string)
accounts       account_id (string, pseudonymized), account_type (string)
platforms      platform_id (string)
applications   application_id (string), user_idx, platform_idx (int64),
               device_idx (int64, -1 = no device), applied_at (datetime UTC),
               amount (float64), status (string)
user_devices   user_idx, device_idx (int64), first_seen, last_seen (datetime UTC)
user_accounts  user_idx, account_idx (int64), linked_at (datetime UTC)
social         src_idx, dst_idx (int64, users), tie_type (string),
               created_at (datetime UTC), weight (float64)
=============  ===============================================================

Edge tables are sorted by their key columns. Missing optional values are
``<NA>`` / ``NaT`` / ``NaN``, never empty strings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from riskgraph.errors import InputError

__all__ = [
    "EDGE_TABLES",
    "NODE_TABLES",
    "NO_INDEX",
    "TABLE_COLUMNS",
    "GraphTables",
    "empty_graph_tables",
]

#: Marks a missing node reference in an index column (``applications.device_idx``).
NO_INDEX = -1

TIMESTAMP = "datetime64[us, UTC]"

#: Fixed columns of each table and their dtypes; ``users`` may carry more (attributes).
TABLE_COLUMNS: dict[str, dict[str, str]] = {
    "users": {
        "user_id": "string",
        "registered_at": TIMESTAMP,
        "label": "Int8",
        "label_at": TIMESTAMP,
    },
    "devices": {"device_id": "string"},
    "accounts": {"account_id": "string", "account_type": "string"},
    "platforms": {"platform_id": "string"},
    "applications": {
        "application_id": "string",
        "user_idx": "int64",
        "platform_idx": "int64",
        "device_idx": "int64",
        "applied_at": TIMESTAMP,
        "amount": "float64",
        "status": "string",
    },
    "user_devices": {
        "user_idx": "int64",
        "device_idx": "int64",
        "first_seen": TIMESTAMP,
        "last_seen": TIMESTAMP,
    },
    "user_accounts": {"user_idx": "int64", "account_idx": "int64", "linked_at": TIMESTAMP},
    "social": {
        "src_idx": "int64",
        "dst_idx": "int64",
        "tie_type": "string",
        "created_at": TIMESTAMP,
        "weight": "float64",
    },
}

NODE_TABLES = ("users", "devices", "accounts", "platforms", "applications")
EDGE_TABLES = ("user_devices", "user_accounts", "social")

# Which node table every index column points into, per table.
_REFERENCES: dict[str, dict[str, str]] = {
    "applications": {"user_idx": "users", "platform_idx": "platforms", "device_idx": "devices"},
    "user_devices": {"user_idx": "users", "device_idx": "devices"},
    "user_accounts": {"user_idx": "users", "account_idx": "accounts"},
    "social": {"src_idx": "users", "dst_idx": "users"},
}
_NULLABLE_REFERENCES = {("applications", "device_idx")}

# Sort keys that make a table's row order canonical.
_SORT_KEYS: dict[str, list[str]] = {
    "users": ["user_id"],
    "devices": ["device_id"],
    "accounts": ["account_id"],
    "platforms": ["platform_id"],
    "applications": ["application_id"],
    "user_devices": ["user_idx", "device_idx"],
    "user_accounts": ["user_idx", "account_idx"],
    "social": ["src_idx", "dst_idx", "tie_type"],
}


@dataclass(frozen=True)
class GraphTables:
    """Typed node and edge tables of the lending graph, with integer node indices.

    Build one with :func:`riskgraph.loaders.load_input` (from input files),
    :func:`riskgraph.graph.read_graph` (from Neo4j) or :meth:`from_parquet`.
    Call :meth:`validate` after building one by hand.

    Examples
    --------
    >>> g = empty_graph_tables()
    >>> g.num_users, g.num_edges
    (0, 0)
    """

    users: pd.DataFrame
    devices: pd.DataFrame
    accounts: pd.DataFrame
    platforms: pd.DataFrame
    applications: pd.DataFrame
    user_devices: pd.DataFrame
    user_accounts: pd.DataFrame
    social: pd.DataFrame

    # -- sizes -----------------------------------------------------------------
    @property
    def num_users(self) -> int:
        return len(self.users)

    @property
    def num_edges(self) -> int:
        """Relationships as stored in Neo4j: USES, OWNS, KNOWS, and per application
        SUBMITTED, TO and (when it has a device) FROM_DEVICE."""
        apps = self.applications
        return (
            len(self.user_devices)
            + len(self.user_accounts)
            + len(self.social)
            + 2 * len(apps)
            + int((apps["device_idx"].to_numpy() != NO_INDEX).sum())
        )

    @property
    def attribute_columns(self) -> list[str]:
        """User attribute columns (everything in ``users`` beyond the fixed columns)."""
        fixed = TABLE_COLUMNS["users"]
        return [c for c in self.users.columns if c not in fixed]

    def tables(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """``(name, table)`` for every table, nodes first."""
        for f in fields(self):
            yield f.name, getattr(self, f.name)

    # -- checks ----------------------------------------------------------------
    def validate(self) -> GraphTables:
        """Check columns, dtypes, index ranges and references; return ``self``.

        Raises
        ------
        InputError
            Naming the table, column and first offending value.
        """
        sizes = {name: len(getattr(self, name)) for name in NODE_TABLES}
        for name, table in self.tables():
            if not isinstance(table.index, pd.RangeIndex) or table.index.start != 0:
                raise InputError(f"GraphTables.{name}: index must be a RangeIndex from 0")
            for column, dtype in TABLE_COLUMNS[name].items():
                if column not in table.columns:
                    raise InputError(f"GraphTables.{name}: missing column {column!r}")
                if str(table[column].dtype) != dtype:
                    raise InputError(
                        f"GraphTables.{name}.{column}: dtype {table[column].dtype}, "
                        f"expected {dtype}"
                    )
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
        for name, table in self.tables():
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
        """Read tables written by :meth:`to_parquet`, then :meth:`validate`."""
        directory = Path(directory)
        tables = {}
        for f in fields(cls):
            path = directory / f"{f.name}.parquet"
            if not path.exists():
                raise InputError(f"{path}: missing GraphTables table {f.name!r}")
            tables[f.name] = pd.read_parquet(path).reset_index(drop=True)
        return cls(**tables).validate()


def empty_graph_tables(attribute_dtypes: dict[str, str] | None = None) -> GraphTables:
    """A graph with no nodes, every table typed (attribute columns as given)."""
    tables = {}
    for name, columns in TABLE_COLUMNS.items():
        if name == "users" and attribute_dtypes:
            columns = {**columns, **attribute_dtypes}
        tables[name] = pd.DataFrame(
            {c: pd.Series(dtype=d) for c, d in columns.items()}, index=pd.RangeIndex(0)
        )
    return GraphTables(**tables)


def canonical_order(name: str, table: pd.DataFrame) -> pd.DataFrame:
    """Sort ``table`` by its key columns and reset to a ``RangeIndex``."""
    keys = _SORT_KEYS[name]
    return table.sort_values(keys, kind="stable", ignore_index=True)


def index_of(ids: pd.Series, universe: pd.Series) -> np.ndarray:
    """Positions of ``ids`` in ``universe`` (a node id column); -1 where absent."""
    lookup = pd.Index(universe.to_numpy())
    return lookup.get_indexer(ids.to_numpy()).astype(np.int64)
