"""Upsert :class:`GraphTables` into Neo4j: ``UNWIND`` batches of ``MERGE``, parameters only.

Graph model (docs/neo4j.md)::

    (:User {user_id, registered_at, label, label_at, attr_<name>...})
    (:Device {device_id})  (:Account {account_id, account_type})  (:Platform {platform_id})
    (:Application {application_id, applied_at, amount, status})
    (User)-[:USES {first_seen, last_seen}]->(Device)
    (User)-[:OWNS {linked_at}]->(Account)
    (User)-[:KNOWS {tie_type, created_at, weight}]->(User)
    (User)-[:SUBMITTED]->(Application)-[:TO]->(Platform)
    (Application)-[:FROM_DEVICE]->(Device)
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
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import neo4j
import numpy as np
import pandas as pd
from neo4j.exceptions import DriverError
from neo4j.exceptions import Neo4jError as DriverNeo4jError

from riskgraph.errors import ConfigError, InputError, Neo4jError
from riskgraph.graph import cypher
from riskgraph.graph.connection import server_error
from riskgraph.graph.schema import ensure_schema
from riskgraph.loaders.limits import TIME_RANGE, id_problems, outside_time_range
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
    "timestamp_parameters",
    "write_graph",
]

#: Prefix of the ``User`` properties that hold input attributes.
ATTRIBUTE_PREFIX = "attr_"
#: ``RiskgraphMeta.name`` of the node that lists the attribute columns and kinds.
META_USER_ATTRIBUTES = "user_attributes"
NUMBER = "number"
TEXT = "text"
_KIND_OF_DTYPE = {"float64": NUMBER, "string": TEXT}

_TICKS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
#: The id of each node table: the key Neo4j indexes.
_ID_COLUMNS = {
    "users": "user_id",
    "devices": "device_id",
    "accounts": "account_id",
    "platforms": "platform_id",
    "applications": "application_id",
}


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
    database: str = "neo4j",
    batch_size: int = 5_000,
    workers: int = 2,
    progress: bool | Progress = False,
) -> WriteReport:
    """Upsert ``tables`` into Neo4j (idempotent; see the module docstring for semantics).

    Each batch of ``batch_size`` rows is one transaction; ``workers`` batches run at a
    time (the server applies each on one core). Nodes are written before relationships.
    A write interrupted midway leaves some batches applied; writing the same tables
    again completes it.

    Parameters
    ----------
    driver : neo4j.Driver
    tables : GraphTables
        Validated before anything is written.
    database : str
    batch_size : int
        Rows per transaction.
    workers : int
        Transactions in flight at once.
    progress : bool or rich.progress.Progress
        Show a progress bar on the terminal: True for a bar of its own, a running
        ``Progress`` to add a task to it (a second live display would clash with it).

    Returns
    -------
    WriteReport

    Raises
    ------
    InputError
        When ``tables`` is invalid, holds a value outside the limits of
        :mod:`riskgraph.loaders.limits` (tables not built by the loader), or an
        attribute's kind contradicts what the graph holds (nothing is written then).
    Neo4jError
        When the server fails a batch (naming the table and rows).
    """
    if batch_size < 1 or workers < 1:
        raise ConfigError(
            f"write_graph: batch_size={batch_size}, workers={workers}; both must be >= 1"
        )
    began = time.monotonic()
    tables.validate()
    check_storable(tables)
    kinds = attribute_kinds(tables.users)
    try:
        ensure_schema(driver, database=database)
        _merge_attribute_meta(driver, database, tables.users, kinds)
    except (DriverNeo4jError, DriverError) as exc:
        raise server_error("preparing the schema", database, exc) from exc

    writer = _BatchWriter(driver, database, batch_size, workers)
    total = sum(len(getattr(tables, name)) for name in NODE_TABLES) + tables.num_edges
    with writer.progress(total, progress):
        report = _write(writer, tables, kinds)
    return WriteReport(
        nodes=report.nodes,
        created=report.created,
        relationships=report.relationships,
        seconds=time.monotonic() - began,
    )


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
        id_column = _ID_COLUMNS.get(name)
        if id_column is not None:
            for row, reason in id_problems(table[id_column]).iloc[:5].items():
                # Account ids are pseudonyms here, but an unchecked table may hold them raw.
                shown = "" if name == "accounts" else f" {str(table[id_column].iloc[row])[:40]!r}"
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


# -- the write -----------------------------------------------------------------------------
def _write(writer: _BatchWriter, tables: GraphTables, kinds: Mapping[str, str]) -> WriteReport:
    report = WriteReport()
    users, apps = tables.users, tables.applications
    node_ids: dict[str, np.ndarray] = {}
    created: dict[str, np.ndarray] = {}

    def upsert(
        name: str,
        label: str,
        key: str,
        queries: tuple[str, str, str | None],
        params: dict[str, list[Any]],
    ) -> None:
        node_ids[name], created[name] = writer.upsert_nodes(label, key, queries, params)
        report.nodes[label] = len(node_ids[name])
        report.created[label] = int(created[name].sum())

    attributes = pd.DataFrame(
        {f"{ATTRIBUTE_PREFIX}{c}": _values(users[c]) for c in kinds}, index=users.index
    )
    upsert(
        "users",
        "User",
        "user_id",
        (cypher.FIND_USERS, cypher.CREATE_USERS, cypher.UPDATE_USERS),
        {
            "user_id": _values(users["user_id"]),
            "attributes": attributes.to_dict("records") if kinds else [{}] * len(users),
            **timestamp_parameters(users["registered_at"], "registered_at"),
            "label": _values(users["label"]),
            **timestamp_parameters(users["label_at"], "label_at"),
        },
    )
    upsert(
        "devices",
        "Device",
        "device_id",
        (cypher.FIND_DEVICES, cypher.CREATE_DEVICES, None),
        {"device_id": _values(tables.devices["device_id"])},
    )
    upsert(
        "accounts",
        "Account",
        "account_id",
        (cypher.FIND_ACCOUNTS, cypher.CREATE_ACCOUNTS, cypher.UPDATE_ACCOUNTS),
        {
            "account_id": _values(tables.accounts["account_id"]),
            "account_type": _values(tables.accounts["account_type"]),
        },
    )
    upsert(
        "platforms",
        "Platform",
        "platform_id",
        (cypher.FIND_PLATFORMS, cypher.CREATE_PLATFORMS, None),
        {"platform_id": _values(tables.platforms["platform_id"])},
    )
    upsert(
        "applications",
        "Application",
        "application_id",
        (cypher.FIND_APPLICATIONS, cypher.CREATE_APPLICATIONS, cypher.UPDATE_APPLICATIONS),
        {
            "application_id": _values(apps["application_id"]),
            **timestamp_parameters(apps["applied_at"], "applied_at"),
            "amount": _values(apps["amount"]),
            "status": _values(apps["status"]),
        },
    )

    def link(
        rel_type: str,
        ends: tuple[str, str],
        index: tuple[np.ndarray, np.ndarray],
        queries: tuple[str, str],
        props: dict[str, list[Any]] | None = None,
    ) -> None:
        src, dst = node_ids[ends[0]][index[0]], node_ids[ends[1]][index[1]]
        fresh = created[ends[0]][index[0]] | created[ends[1]][index[1]]
        writer.write_relationships(rel_type, queries, src, dst, fresh, props or {})
        report.relationships[rel_type] = report.relationships.get(rel_type, 0) + len(src)

    app_rows = np.arange(len(apps))
    user_idx, platform_idx = apps["user_idx"].to_numpy(), apps["platform_idx"].to_numpy()
    device_idx = apps["device_idx"].to_numpy()
    has_device = device_idx != NO_INDEX
    _replace_application_links(writer, node_ids, created, user_idx, platform_idx, device_idx)
    link(
        "SUBMITTED",
        ("users", "applications"),
        (user_idx, app_rows),
        (cypher.CREATE_SUBMITTED, cypher.MERGE_SUBMITTED),
    )
    link(
        "TO",
        ("applications", "platforms"),
        (app_rows, platform_idx),
        (cypher.CREATE_TO, cypher.MERGE_TO),
    )
    link(
        "FROM_DEVICE",
        ("applications", "devices"),
        (app_rows[has_device], device_idx[has_device]),
        (cypher.CREATE_FROM_DEVICE, cypher.MERGE_FROM_DEVICE),
    )
    ud = tables.user_devices
    link(
        "USES",
        ("users", "devices"),
        (ud["user_idx"].to_numpy(), ud["device_idx"].to_numpy()),
        (cypher.CREATE_USES, cypher.MERGE_USES),
        {
            **timestamp_parameters(ud["first_seen"], "first_seen"),
            **timestamp_parameters(ud["last_seen"], "last_seen"),
        },
    )
    ua = tables.user_accounts
    link(
        "OWNS",
        ("users", "accounts"),
        (ua["user_idx"].to_numpy(), ua["account_idx"].to_numpy()),
        (cypher.CREATE_OWNS, cypher.MERGE_OWNS),
        timestamp_parameters(ua["linked_at"], "linked_at"),
    )
    so = tables.social
    link(
        "KNOWS",
        ("users", "users"),
        (so["src_idx"].to_numpy(), so["dst_idx"].to_numpy()),
        (cypher.CREATE_KNOWS, cypher.MERGE_KNOWS),
        {
            "tie_type": _values(so["tie_type"]),
            **timestamp_parameters(so["created_at"], "created_at"),
            "weight": _values(so["weight"]),
        },
    )
    return report


def _replace_application_links(
    writer: _BatchWriter,
    node_ids: Mapping[str, np.ndarray],
    created: Mapping[str, np.ndarray],
    user_idx: np.ndarray,
    platform_idx: np.ndarray,
    device_idx: np.ndarray,
) -> None:
    """Drop the user/platform/device links of reloaded applications that changed."""
    old = np.flatnonzero(~created["applications"])
    if len(old) == 0:
        return
    app = node_ids["applications"][old]
    users = node_ids["users"][user_idx[old]]
    platforms = node_ids["platforms"][platform_idx[old]]
    no_device = device_idx[old] == NO_INDEX
    devices = np.zeros(len(old), dtype=np.int64)
    devices[~no_device] = node_ids["devices"][device_idx[old][~no_device]]
    device_list = _with_none(devices, no_device)
    writer.run_batches(
        "SUBMITTED (stale)",
        cypher.DELETE_STALE_SUBMITTED,
        {"src": users.tolist(), "dst": app.tolist()},
        count=False,
    )
    writer.run_batches(
        "TO (stale)",
        cypher.DELETE_STALE_TO,
        {"src": app.tolist(), "dst": platforms.tolist()},
        count=False,
    )
    writer.run_batches(
        "FROM_DEVICE (stale)",
        cypher.DELETE_STALE_FROM_DEVICE,
        {"src": app.tolist(), "dst": device_list},
        count=False,
    )


def _merge_attribute_meta(
    driver: neo4j.Driver, database: str, users: pd.DataFrame, kinds: dict[str, str]
) -> None:
    """Record the attribute columns (union with earlier loads) and check their kinds."""
    records, _, _ = driver.execute_query(
        cypher.READ_META, name=META_USER_ATTRIBUTES, database_=database
    )
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
    driver.execute_query(
        cypher.WRITE_META,
        name=META_USER_ATTRIBUTES,
        columns=columns,
        kinds=[stored[c] for c in columns],
        database_=database,
    )


# -- parameters ------------------------------------------------------------------------------
def _values(series: pd.Series) -> list[Any]:
    """A column as a list of Python values, missing values as None."""
    missing = series.isna().to_numpy()
    if series.dtype == "Int8" or series.dtype == "Int64":
        values = series.to_numpy(dtype=np.int64, na_value=0)
    else:
        values = series.to_numpy()
    return _with_none(values, missing)


def _with_none(values: np.ndarray, missing: np.ndarray) -> list[Any]:
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
    return {f"{name}_s": _with_none(seconds, missing), f"{name}_ns": _with_none(nanos, missing)}


def _take(values: list[Any], rows: np.ndarray) -> list[Any]:
    """``[values[r] for r in rows]``, done by numpy."""
    if len(rows) == len(values) and (rows == np.arange(len(rows))).all():
        return values
    taken = np.empty(len(values), dtype=object)
    taken[:] = values  # element by element: a list of dicts must stay a list of dicts
    return taken[rows].tolist()


# -- batches -------------------------------------------------------------------------------------
class _BatchWriter:
    """Runs a query over batches of parallel parameter lists, ``workers`` at a time."""

    def __init__(self, driver: neo4j.Driver, database: str, batch_size: int, workers: int):
        self.driver = driver
        self.database = database
        self.batch_size = batch_size
        self.workers = workers
        self._advance: Callable[[int, str], None] = lambda _n, _what: None

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
            self._advance = lambda n, what: bar.update(task, advance=n)
            try:
                yield
            finally:
                self._advance = lambda _n, _what: None
                if isinstance(show, Progress):
                    bar.remove_task(task)

    def run_batches(
        self,
        what: str,
        query: str,
        params: Mapping[str, Sequence[Any]],
        *,
        count: bool = True,
    ) -> list[tuple[int, neo4j.Record | None]]:
        """Run ``query`` on every batch; return ``(first row, first record)`` per batch."""
        size = len(next(iter(params.values())))
        starts = range(0, size, self.batch_size)

        def one(start: int) -> tuple[int, neo4j.Record | None]:
            batch = {k: v[start : start + self.batch_size] for k, v in params.items()}
            try:
                records, _, _ = self.driver.execute_query(query, batch, database_=self.database)
            except (DriverNeo4jError, DriverError) as exc:
                end = min(start + self.batch_size, size)
                raise server_error(
                    f"writing {what} rows {start}-{end - 1}", self.database, exc
                ) from exc
            if count:
                self._advance(min(self.batch_size, size - start), what)
            return start, (records[0] if records else None)

        if self.workers == 1 or len(starts) == 1:
            return [one(s) for s in starts]
        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(one, starts))

    def upsert_nodes(
        self,
        label: str,
        key: str,
        queries: tuple[str, str, str | None],
        params: Mapping[str, list[Any]],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Create the missing nodes, update the others; return internal ids and "created"."""
        find, create, update = queries
        size = len(params[key])
        node_ids = np.full(size, -1, dtype=np.int64)
        for start, record in self.run_batches(label, find, {"key": params[key]}, count=False):
            assert record is not None  # an aggregation always returns one record
            node_ids[np.asarray(record["row"], dtype=np.int64) + start] = record["node_id"]
        created = node_ids < 0
        new_rows = np.flatnonzero(created)
        if len(new_rows):
            subset = {k: _take(v, new_rows) for k, v in params.items()}
            for start, record in self.run_batches(label, create, subset):
                assert record is not None
                rows = new_rows[np.asarray(record["row"], dtype=np.int64) + start]
                node_ids[rows] = record["node_id"]
        old_rows = np.flatnonzero(~created)
        if len(old_rows):
            if update is None:  # nothing to set beyond the id
                self._advance(len(old_rows), label)
            else:
                subset = {k: _take(v, old_rows) for k, v in params.items() if k != key}
                subset["node_id"] = node_ids[old_rows].tolist()
                self.run_batches(label, update, subset)
        if (node_ids < 0).any():
            raise Neo4jError(f"creating {label} nodes returned no id for some rows")
        return node_ids, created

    def write_relationships(
        self,
        rel_type: str,
        queries: tuple[str, str],
        src: np.ndarray,
        dst: np.ndarray,
        fresh: np.ndarray,
        props: Mapping[str, list[Any]],
    ) -> None:
        """CREATE the rows with a new endpoint, MERGE the others."""
        # Concurrent transactions lock the endpoints they touch; ordering rows by the
        # endpoint with fewer distinct nodes (e.g. the platforms of TO) keeps each batch
        # on few of them, so that parallel batches rarely wait for or deadlock on each other.
        key = dst if len(np.unique(dst)) < len(np.unique(src)) else src
        for query, mask in ((queries[0], fresh), (queries[1], ~fresh)):
            rows = np.flatnonzero(mask)
            if len(rows) == 0:
                continue
            rows = rows[np.argsort(key[rows], kind="stable")]
            params: dict[str, list[Any]] = {
                "src": src[rows].tolist(),
                "dst": dst[rows].tolist(),
            }
            for name, values in props.items():
                params[name] = _take(values, rows)
            self.run_batches(rel_type, query, params)
