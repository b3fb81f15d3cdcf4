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
    columns = list(meta["columns"] or [])
    kinds = list(meta["kinds"] or [])
    attribute_queries = [
        (
            f"attribute {column}",
            cypher.READ_USER_NUMBER_ATTRIBUTE
            if kind == NUMBER
            else cypher.READ_USER_TEXT_ATTRIBUTE,
            {"key": f"{ATTRIBUTE_PREFIX}{column}"},
        )
        for column, kind in zip(columns, kinds, strict=True)
    ]
    # Listed in the order the code below takes them: nodes before the relationships
    # that point at them.
    answers = _Answers(
        fetch,
        [
            ("users", cypher.READ_USERS, {}),
            *attribute_queries,
            ("devices", cypher.READ_DEVICES, {}),
            ("accounts", cypher.READ_ACCOUNTS, {}),
            ("platforms", cypher.READ_PLATFORMS, {}),
            ("applications", cypher.READ_APPLICATIONS, {}),
            ("SUBMITTED", cypher.READ_SUBMITTED, {}),
            ("TO", cypher.READ_TO, {}),
            ("FROM_DEVICE", cypher.READ_FROM_DEVICE, {}),
            ("USES", cypher.READ_USES, {}),
            ("OWNS", cypher.READ_OWNS, {}),
            ("KNOWS", cypher.READ_KNOWS, {}),
        ],
        ahead,
    )

    # -- nodes ------------------------------------------------------------------------
    rec = answers.take("users")
    user_nodes = np.asarray(rec["node_id"], dtype=np.int64)
    user_names = _named("User", rec["user_id"])
    users: dict[str, Any] = {
        "user_id": _ids(rec["user_id"], "User", "user_id"),
        "registered_at": found.timestamps(rec["registered_at"], "registered_at", user_names),
        "label": found.labels(rec["label"], user_names),
        "label_at": found.timestamps(rec["label_at"], "label_at", user_names),
    }
    read_user_ids = rec["user_id"]
    for column, kind in zip(columns, kinds, strict=True):
        rec = answers.take(f"attribute {column}")
        if kind == NUMBER:
            at = pd.Index(user_nodes).get_indexer(np.asarray(rec["node_id"], dtype=np.int64))
            values = found.numbers(
                rec["value"],
                f"{ATTRIBUTE_PREFIX}{column}",
                lambda rows, at=at: [f"User {read_user_ids[at[i]]!r}" for i in rows],
            )
            users[column] = pd.Series(_align(values, rec["node_id"], user_nodes), dtype="float64")
        elif kind == TEXT:
            values = _strings(rec["value"], rec["missing"])
            users[column] = pd.Series(_align(values, rec["node_id"], user_nodes), dtype="string")
        else:
            raise Neo4jError(f"RiskgraphMeta: attribute {column!r} has unknown kind {kind!r}")
    users_frame, user_order = _sorted_nodes("users", users, user_nodes)

    rec = answers.take("devices")
    devices, device_order = _sorted_nodes(
        "devices",
        {"device_id": _ids(rec["device_id"], "Device", "device_id")},
        np.asarray(rec["node_id"], dtype=np.int64),
    )
    rec = answers.take("accounts")
    accounts, account_order = _sorted_nodes(
        "accounts",
        {
            "account_id": _ids(rec["account_id"], "Account", "account_id"),
            "account_type": _strings(rec["account_type"], rec["account_type_missing"]),
        },
        np.asarray(rec["node_id"], dtype=np.int64),
    )
    rec = answers.take("platforms")
    platforms, platform_order = _sorted_nodes(
        "platforms",
        {"platform_id": _ids(rec["platform_id"], "Platform", "platform_id")},
        np.asarray(rec["node_id"], dtype=np.int64),
    )
    rec = answers.take("applications")
    app_frame, app_order = _sorted_nodes(
        "applications",
        {
            "application_id": _ids(rec["application_id"], "Application", "application_id"),
            "applied_at": found.timestamps(
                rec["applied_at"], "applied_at", _named("Application", rec["application_id"])
            ),
            "amount": found.numbers(
                rec["amount"], "amount", _named("Application", rec["application_id"])
            ),
            "status": _strings(rec["status"], rec["status_missing"]),
        },
        np.asarray(rec["node_id"], dtype=np.int64),
    )

    # -- relationships --------------------------------------------------------------------
    def ends(
        record: neo4j.Record, rel: str, src_order: pd.Index, dst_order: pd.Index
    ) -> tuple[np.ndarray, np.ndarray]:
        src = _positions(record["src"], src_order, rel, "start")
        dst = _positions(record["dst"], dst_order, rel, "end")
        return src, dst

    n_apps = len(app_frame)
    rec = answers.take("SUBMITTED")
    sub_user, sub_app = ends(rec, "SUBMITTED", user_order, app_order)
    rec = answers.take("TO")
    to_app, to_platform = ends(rec, "TO", app_order, platform_order)
    rec = answers.take("FROM_DEVICE")
    fd_app, fd_device = ends(rec, "FROM_DEVICE", app_order, device_order)
    ids = app_frame["application_id"]
    _exactly(np.bincount(sub_app, minlength=n_apps), 1, 1, ids, "SUBMITTED (its user)")
    _exactly(np.bincount(to_app, minlength=n_apps), 1, 1, ids, "TO (its platform)")
    _exactly(np.bincount(fd_app, minlength=n_apps), 0, 1, ids, "FROM_DEVICE")
    user_idx = np.empty(n_apps, dtype=np.int64)
    user_idx[sub_app] = sub_user
    platform_idx = np.empty(n_apps, dtype=np.int64)
    platform_idx[to_app] = to_platform
    device_idx = np.full(n_apps, NO_INDEX, dtype=np.int64)
    device_idx[fd_app] = fd_device
    applications = pd.DataFrame(
        {
            "application_id": app_frame["application_id"],
            "user_idx": user_idx,
            "platform_idx": platform_idx,
            "device_idx": device_idx,
            "applied_at": app_frame["applied_at"],
            "amount": app_frame["amount"],
            "status": app_frame["status"],
        }
    )

    user_ids = users_frame["user_id"]
    rec = answers.take("USES")
    src, dst = ends(rec, "USES", user_order, device_order)
    names = _named_relationship("USES", src, dst, user_ids, devices["device_id"])
    user_devices = _edge_table(
        "user_devices",
        {
            "user_idx": src,
            "device_idx": dst,
            "first_seen": found.timestamps(rec["first_seen"], "first_seen", names),
            "last_seen": found.timestamps(rec["last_seen"], "last_seen", names),
        },
    )
    rec = answers.take("OWNS")
    src, dst = ends(rec, "OWNS", user_order, account_order)
    names = _named_relationship("OWNS", src, dst, user_ids, accounts["account_id"])
    user_accounts = _edge_table(
        "user_accounts",
        {
            "user_idx": src,
            "account_idx": dst,
            "linked_at": found.timestamps(rec["linked_at"], "linked_at", names),
        },
    )
    rec = answers.take("KNOWS")
    src, dst = ends(rec, "KNOWS", user_order, user_order)
    names = _named_relationship("KNOWS", src, dst, user_ids, user_ids)
    social = _edge_table(
        "social",
        {
            "src_idx": src,
            "dst_idx": dst,
            "tie_type": _strings(rec["tie_type"], rec["tie_type_missing"]),
            "created_at": found.timestamps(rec["created_at"], "created_at", names),
            "weight": found.numbers(rec["weight"], "weight", names),
        },
    )
    return GraphTables(
        users=users_frame,
        devices=devices,
        accounts=accounts,
        platforms=platforms,
        applications=_typed("applications", applications),
        user_devices=user_devices,
        user_accounts=user_accounts,
        social=social,
    ).validate()


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
            f"Application {ids.iloc[first]!r} has {counts[first]} {what} relationships; "
            f"expected {low if low == high else f'{low} to {high}'}"
        )
