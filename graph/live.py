"""The live neighbourhood of online applicants, read from Neo4j at application time.

The nightly job reads the whole graph once a night; an applicant scored during the
day needs what the graph holds around it *now*: the users of its devices and
accounts, its contacts' ties, and the applications filed from those devices and by
those users, including everything recorded since last night (other applicants of
today, late arrivals). :func:`live_neighbourhood` answers that with a few
parameterized queries that each start from an indexed id (``graph/cypher.py``,
``LIVE_*``), and returns the rows as id-keyed tables
(:func:`riskgraph.loaders.merge.id_rows` form) that the online scorer unions with
last night's graph.

A shared identifier contributes at most ``cap`` users (the hub threshold of the
batch features): a hub's links carry no exposure there either, and reading a
thousand users of a shared Wi-Fi router would cost more than it tells.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import neo4j
import numpy as np
import pandas as pd

from riskgraph.graph import cypher
from riskgraph.graph.connection import server_error
from riskgraph.loaders.merge import IdRows
from riskgraph.loaders.schema import IDENTIFIER_TABLES, INPUT_TABLES
from riskgraph.loaders.tables import TABLE_COLUMNS

__all__ = ["LiveLookup", "known_users", "live_neighbourhood"]

_TIMESTAMP = "datetime64[us, UTC]"


@dataclass(frozen=True)
class LiveLookup:
    """Bounds of one live lookup.

    Parameters
    ----------
    cap : int, default 50
        Users read per shared identifier (device, account) and ties per user.
    max_applications : int, default 200
        Applications read per device and per user, the most recent first.
    """

    cap: int = 50
    max_applications: int = 200


def live_neighbourhood(
    driver: neo4j.Driver,
    *,
    user_ids: Iterable[str],
    identifier_ids: Mapping[str, Iterable[str]],
    lookup: LiveLookup | None = None,
    database: str = "neo4j",
) -> IdRows:
    """What Neo4j holds around the given ids now, as id-keyed tables.

    Parameters
    ----------
    driver : neo4j.Driver
    user_ids : iterable of str
        The applicants and the users their ties name.
    identifier_ids : mapping of str to iterable of str
        Per identifier node table of the schema (``devices``, ``accounts``,
        ``addresses``), the applicants' ids of it as stored (devices used and applied
        from; personal ids pseudonymized). A table not given is not looked up.
    lookup : LiveLookup, optional
    database : str

    Returns
    -------
    dict of str to DataFrame
        ``users`` (fixed columns only), every identifier table of the schema
        (``user_devices``, ``user_accounts``, ...), ``social`` and ``applications``,
        with string ids; every user an edge or an application names is in ``users``.

    Raises
    ------
    Neo4jUnavailableError
        When the server does not answer.
    Neo4jError
        When a query fails otherwise.
    """
    lookup = lookup or LiveLookup()
    users = _unique(user_ids)
    bounds = {"cap": lookup.cap, "max_applications": lookup.max_applications}

    def rows(query: str, ids: list[str]) -> pd.DataFrame:
        if not ids:
            return pd.DataFrame()
        try:
            records, _, _ = driver.execute_query(
                query,
                {"ids": ids, **bounds},
                database_=database,
                routing_=neo4j.RoutingControl.READ,
            )
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as exc:
            raise server_error("the live neighbourhood lookup", database, exc) from exc
        return pd.DataFrame([r.data() for r in records])

    devices = _unique(identifier_ids.get("devices", ()))
    first = {
        **{
            t.input: (
                cypher.LIVE_IDENTIFIER_USERS[t.input],
                _unique(identifier_ids.get(t.node.table, ())),
            )
            for t in IDENTIFIER_TABLES
        },
        "social": (cypher.LIVE_SOCIAL, users),
        "device_applications": (cypher.LIVE_DEVICE_APPLICATIONS, devices),
    }
    # These start from the request's own ids and need nothing from each other: sent at
    # once, a call waits for the slowest of them instead of for their sum.
    with ThreadPoolExecutor(max_workers=len(first)) as pool:
        futures = {name: pool.submit(rows, *query) for name, query in first.items()}
        answers = {name: future.result() for name, future in futures.items()}
    holders = {t.input: answers[t.input] for t in IDENTIFIER_TABLES}
    social = answers["social"]
    around = _unique(
        [
            *users,
            *(u for frame in holders.values() for u in _column(frame, "user_id")),
            *_column(social, "src_user_id"),
            *_column(social, "dst_user_id"),
        ]
    )
    applications = pd.concat(
        [answers["device_applications"], rows(cypher.LIVE_USER_APPLICATIONS, around)],
        ignore_index=True,
    )
    everyone = _unique([*around, *_column(applications, "user_id")])
    found = rows(cypher.LIVE_USERS, everyone)
    return {
        "users": _typed(found, dict(TABLE_COLUMNS["users"]), dedupe=["user_id"]),
        **{
            name: _typed(frame, _input_dtypes(name), dedupe=list(INPUT_TABLES[name].key))
            for name, frame in holders.items()
        },
        "social": _typed(social, _input_dtypes("social"), dedupe=list(INPUT_TABLES["social"].key)),
        "applications": _typed(
            applications,
            _input_dtypes("applications"),
            dedupe=list(INPUT_TABLES["applications"].key),
        ),
    }


def _input_dtypes(table: str) -> dict[str, str]:
    """The columns of input table ``table`` and the types the graph tables give them."""
    return {c.name: c.dtype for c in INPUT_TABLES[table].columns}


def known_users(
    driver: neo4j.Driver, user_ids: Iterable[str], database: str = "neo4j"
) -> pd.DataFrame:
    """The users among ``user_ids`` that Neo4j holds: ``user_id``, ``registered_at``.

    Raises
    ------
    Neo4jUnavailableError, Neo4jError
        As :func:`live_neighbourhood`.
    """
    ids = _unique(user_ids)
    frame = pd.DataFrame()
    if ids:
        try:
            records, _, _ = driver.execute_query(
                cypher.LIVE_KNOWN_USERS,
                {"ids": ids},
                database_=database,
                routing_=neo4j.RoutingControl.READ,
            )
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as exc:
            raise server_error("looking up the users the ties name", database, exc) from exc
        frame = pd.DataFrame([r.data() for r in records])
    return _typed(frame, {"user_id": "string", "registered_at": _TIMESTAMP}, dedupe=["user_id"])


def _unique(values: Iterable[Any]) -> list[str]:
    return sorted({str(v) for v in values if v is not None and not pd.isna(v)})


def _column(frame: pd.DataFrame, column: str) -> list[Any]:
    return frame[column].tolist() if column in frame.columns else []


def _typed(frame: pd.DataFrame, dtypes: dict[str, str], dedupe: list[str]) -> pd.DataFrame:
    """``frame`` with exactly the columns of ``dtypes``, typed as the graph tables type
    them (Neo4j's DateTime values as UTC timestamps, nulls as missing values)."""
    out = {}
    for column, dtype in dtypes.items():
        values = frame[column] if column in frame.columns else pd.Series([None] * len(frame))
        if dtype == _TIMESTAMP:
            native = [None if v is None else v.to_native() for v in values]
            out[column] = pd.to_datetime(pd.Series(native, dtype=object), utc=True).astype(dtype)
        elif dtype == "float64":
            out[column] = pd.to_numeric(
                pd.Series(values.tolist(), dtype=object), errors="coerce"
            ).astype(dtype)
        elif dtype == "Int8":
            out[column] = pd.array(
                [None if v is None or v not in (0, 1) else int(v) for v in values], dtype="Int8"
            )
        else:
            out[column] = pd.array([None if v is None else str(v) for v in values], dtype=dtype)
    typed = pd.DataFrame(out, index=pd.RangeIndex(len(frame)))
    if len(typed):
        keep = ~typed.duplicated(subset=dedupe).to_numpy(dtype=bool)
        typed = typed.loc[np.asarray(keep)].reset_index(drop=True)
    return typed
