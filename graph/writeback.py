"""Write the graph features back to Neo4j: features on ``User``, rings as ``Ring`` nodes.

What an investigator sees in Neo4j Browser after a run::

    (:User {user_id, ..., features_as_of, ring_id, ring_size, ..., multi_borrowing})
    (:User)-[:MEMBER_OF]->(:Ring {ring_id, size, known_count, bad_count, bad_rate,
                                  platforms, applications, applicants,
                                  registration_span_days, registration_burst_share,
                                  application_burst_share, shared_identifiers, flagged,
                                  first_registered_at, last_registered_at, as_of})

for example ``MATCH (r:Ring {flagged: true})<-[:MEMBER_OF]-(u) RETURN r, u``. Scores
add a risk label per decision (``RiskLow``, ``RiskMedium``, ``RiskHigh``), and labels
that only serve Browser's style file (``RingFlagged``, ``RingMedium``, ``RingLarge``,
``KnownBad``) follow the rings and the labels the run could see (docs/browser.md).

Idempotent: a rerun replaces every feature property (a missing value, NaN or
``<NA>``, removes the property), and rings and memberships of an earlier run that no
longer exist are removed (mark, upsert, sweep: see :mod:`riskgraph.graph.cypher`). The
same features written twice leave the same state. All Cypher lives in
:mod:`riskgraph.graph.cypher`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import neo4j
import neo4j.time
import numpy as np
import pandas as pd
from neo4j.exceptions import DriverError
from neo4j.exceptions import Neo4jError as DriverNeo4jError

from riskgraph.graph import cypher
from riskgraph.graph.connection import server_error
from riskgraph.graph.features.catalog import FEATURE_CATALOG
from riskgraph.graph.features.compute import GraphFeatures
from riskgraph.graph.features.rings import RING_COLUMNS
from riskgraph.graph.schema import ensure_schema
from riskgraph.graph.writer import timestamp_parameters

__all__ = [
    "BROWSER_LABELS",
    "RING_LARGE_SIZE",
    "RING_MEDIUM_SIZE",
    "RISK_LABELS",
    "ScoreWriteReport",
    "WriteBackReport",
    "write_browser_labels",
    "write_features",
    "write_scores",
]

_RING_TIMES = ("first_registered_at", "last_registered_at")

#: The label each decision gives a User node (Neo4j Browser colours by it).
RISK_LABELS = {"approve": "RiskLow", "review": "RiskMedium", "decline": "RiskHigh"}
#: Labels that exist only so that Neo4j Browser can style by them (its style file
#: selects by label, never by property): a flagged ring, a ring's size class, a user
#: whose bad label the run could see.
BROWSER_LABELS = ("RingFlagged", "RingMedium", "RingLarge", "KnownBad")
#: Ring sizes from which a Ring node is ``RingMedium`` / ``RingLarge``. Households have
#: 2-4 members; fraud rings are larger (docs/synthetic.md: 3-60, median 10).
RING_MEDIUM_SIZE = 5
RING_LARGE_SIZE = 10


@dataclass(frozen=True)
class WriteBackReport:
    """What :func:`write_features` wrote.

    Attributes
    ----------
    users : int
        Rows of ``GraphFeatures.features`` written.
    users_matched : int
        Of those, users found in Neo4j (a user absent from the graph gets nothing).
    rings : int
        ``Ring`` nodes upserted.
    memberships : int
        ``MEMBER_OF`` relationships upserted.
    rings_removed, memberships_removed : int
        Rings and memberships of an earlier run that no longer exist, deleted.
    labels_added, labels_removed : int
        Browser labels (:data:`BROWSER_LABELS`) set and removed by
        :func:`write_browser_labels`.
    seconds : float
    """

    users: int
    users_matched: int
    rings: int
    memberships: int
    rings_removed: int
    memberships_removed: int
    labels_added: int
    labels_removed: int
    seconds: float


def write_features(
    driver: neo4j.Driver,
    features: GraphFeatures,
    *,
    users: Sequence[str] | None = None,
    database: str = "neo4j",
    batch_size: int = 10_000,
    workers: int = 2,
) -> WriteBackReport:
    """Write ``features`` onto ``User`` nodes and replace the ``Ring`` nodes.

    Parameters
    ----------
    driver : neo4j.Driver
    features : GraphFeatures
        From :func:`riskgraph.graph.features.compute_graph_features`.
    users : sequence of str, optional
        Write the feature properties of these users only (default: every row of
        ``features``). The nightly job passes the users it scores, so that a ``User``
        node's features and scores always come from the same night. Rings and their
        memberships describe the whole graph and are written in full either way.
    database : str
    batch_size : int
        Rows per transaction.
    workers : int
        User-feature transactions in flight at once (rings and memberships are written
        one batch at a time: their transactions would lock the same Ring nodes).

    Returns
    -------
    WriteBackReport

    Raises
    ------
    Neo4jError
        When the server fails a batch (naming the step and rows).
    ValueError
        On a ``batch_size`` or ``workers`` below 1.

    Examples
    --------
    >>> gf = compute_graph_features(tables, as_of)  # doctest: +SKIP
    >>> write_features(driver, gf).rings  # doctest: +SKIP
    3661
    """
    if batch_size < 1 or workers < 1:
        raise ValueError(f"batch_size={batch_size}, workers={workers}: both must be >= 1")
    began = time.monotonic()
    _ensure_schema(driver, database)
    f = features.features
    written = f if users is None else f.loc[f["user_id"].isin(pd.Index(users))]
    as_of = timestamp_parameters(
        pd.Series([features.as_of] * len(written), dtype="datetime64[us, UTC]"), "as_of"
    )

    user_params: dict[str, list[Any]] = {
        "user_id": written["user_id"].astype(str).tolist(),
        **as_of,
    }
    for name in FEATURE_CATALOG:
        user_params[name] = _values(written[name])
    matched = sum(
        record["matched"]
        for record in _run_batches(
            driver, database, "user features", cypher.SET_USER_FEATURES, user_params,
            batch_size, workers,
        )
    )  # fmt: skip

    _auto_commit(driver, database, cypher.MARK_RINGS_STALE, batch_size)
    _auto_commit(driver, database, cypher.MARK_MEMBERSHIPS_STALE, batch_size)
    rings = features.rings
    ring_params: dict[str, list[Any]] = {
        "ring_id": rings["ring_id"].astype(str).tolist(),
        **timestamp_parameters(
            pd.Series([features.as_of] * len(rings), dtype="datetime64[us, UTC]"), "as_of"
        ),
    }
    for column in RING_COLUMNS:
        if column == "ring_id":
            continue
        if column in _RING_TIMES:
            ring_params.update(timestamp_parameters(rings[column], column))
        else:
            ring_params[column] = _values(rings[column])
    written_rings = sum(
        r["written"]
        for r in _run_batches(
            driver, database, "rings", cypher.UPSERT_RINGS, ring_params, batch_size, 1
        )
    )
    members = f.loc[f["ring_id"].notna(), ["user_id", "ring_id"]]
    # Ordered by ring, so that one batch touches few Ring nodes.
    members = members.sort_values(["ring_id", "user_id"])
    written_members = sum(
        r["written"]
        for r in _run_batches(
            driver,
            database,
            "ring memberships",
            cypher.MERGE_MEMBERSHIPS,
            {
                "user_id": members["user_id"].astype(str).tolist(),
                "ring_id": members["ring_id"].astype(str).tolist(),
            },
            batch_size,
            1,
        )
    )
    try:
        stale, _, _ = driver.execute_query(cypher.COUNT_STALE_WRITE_BACK, database_=database)
    except (DriverNeo4jError, DriverError) as exc:
        raise server_error("counting stale rings", database, exc) from exc
    _auto_commit(driver, database, cypher.DELETE_STALE_MEMBERSHIPS, batch_size)
    _auto_commit(driver, database, cypher.DELETE_STALE_RINGS, batch_size)
    added, removed = write_browser_labels(
        driver, features.as_of, database=database, batch_size=batch_size
    )
    return WriteBackReport(
        users=len(written),
        users_matched=int(matched),
        rings=int(written_rings),
        memberships=int(written_members),
        rings_removed=int(stale[0]["rings"]),
        memberships_removed=int(stale[0]["memberships"]),
        labels_added=added,
        labels_removed=removed,
        seconds=time.monotonic() - began,
    )


def write_browser_labels(
    driver: neo4j.Driver,
    as_of: pd.Timestamp,
    *,
    database: str = "neo4j",
    batch_size: int = 10_000,
    medium_size: int = RING_MEDIUM_SIZE,
    large_size: int = RING_LARGE_SIZE,
) -> tuple[int, int]:
    """Bring the :data:`BROWSER_LABELS` in line with the graph, adding and removing.

    ``RingFlagged`` goes on flagged ``Ring`` nodes, ``RingMedium`` on rings of
    ``medium_size`` to ``large_size - 1`` members, ``RingLarge`` from ``large_size``;
    ``KnownBad`` on the users whose label is 1 and was known before ``as_of`` (what the
    run could see). A label that stopped being true is removed; nodes already right are
    not touched, so a rerun writes nothing. :func:`write_features` calls this last.

    Returns
    -------
    (labels_added, labels_removed) : tuple of int

    Raises
    ------
    Neo4jError
        When the server fails a batch.
    ValueError
        Unless ``1 <= medium_size < large_size`` and ``batch_size >= 1``.
    """
    if not 1 <= medium_size < large_size or batch_size < 1:
        raise ValueError(
            f"medium_size={medium_size}, large_size={large_size}, batch_size={batch_size}: "
            "need 1 <= medium_size < large_size and batch_size >= 1"
        )
    cut_off = pd.Timestamp(as_of)
    cut_off = cut_off.tz_localize("UTC") if cut_off.tzinfo is None else cut_off.tz_convert("UTC")
    rings = _auto_commit(
        driver, database, cypher.SET_RING_LABELS, batch_size,
        medium_size=medium_size, large_size=large_size,
    )  # fmt: skip
    users = _auto_commit(
        driver, database, cypher.SET_KNOWN_BAD_LABELS, batch_size,
        as_of=neo4j.time.DateTime.from_native(cut_off.to_pydatetime()),
    )  # fmt: skip
    return (
        rings.labels_added + users.labels_added,
        rings.labels_removed + users.labels_removed,
    )


@dataclass(frozen=True)
class ScoreWriteReport:
    """What :func:`write_scores` wrote: users matched, risky links replaced."""

    users_matched: int
    links_deleted: int
    links_written: int
    seconds: float


def write_scores(
    driver: neo4j.Driver,
    scores: pd.DataFrame,
    associations: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    database: str = "neo4j",
    batch_size: int = 10_000,
    workers: int = 2,
) -> ScoreWriteReport:
    """Write tonight's scores onto ``User`` nodes and replace their ``RISK_LINK``s.

    Parameters
    ----------
    scores : pd.DataFrame
        scores.parquet rows (``user_id``, ``risk_score``, ``credit_score``,
        ``gnn_risk``, ``decision``, ``reason_1..3``).
    associations : pd.DataFrame
        associations.parquet rows (``user_id``, ``other_user_id``, ``via_type``,
        ``via_id``, ``score``).
    as_of : Timestamp
        The run's cut-off, stored as ``scored_at`` / ``as_of``.

    Notes
    -----
    Idempotent: every scored user's outgoing risky links are deleted before tonight's
    are created, and properties are overwritten; a missing reason removes the property.
    The decision also sets one of the labels :data:`RISK_LABELS`.
    """
    if batch_size < 1 or workers < 1:
        raise ValueError(f"batch_size={batch_size}, workers={workers}: both must be >= 1")
    unknown = sorted(set(scores["decision"].dropna()) - set(RISK_LABELS))
    if unknown:
        raise ValueError(f"decision values {unknown}: expected {sorted(RISK_LABELS)}")
    began = time.monotonic()
    _ensure_schema(driver, database)
    params: dict[str, list[Any]] = {
        "user_id": scores["user_id"].astype(str).tolist(),
        "risk_label": scores["decision"].map(RISK_LABELS).tolist(),
        **timestamp_parameters(
            pd.Series([as_of] * len(scores), dtype="datetime64[us, UTC]"), "as_of"
        ),
    }
    for column in (
        "risk_score",
        "credit_score",
        "gnn_risk",
        "decision",
        "reason_1",
        "reason_2",
        "reason_3",
    ):
        params[column] = _values(scores[column])
    matched = sum(
        r["matched"]
        for r in _run_batches(
            driver, database, "user scores", cypher.SET_USER_SCORES, params, batch_size, workers
        )
    )
    deleted = sum(
        r["deleted"]
        for r in _run_batches(
            driver, database, "old risky links", cypher.DELETE_RISK_LINKS,
            {"user_id": params["user_id"]}, batch_size, workers,
        )
    )  # fmt: skip
    links: dict[str, list[Any]] = {
        column: _values(associations[column])
        for column in ("user_id", "other_user_id", "via_type", "via_id", "score")
    }
    links.update(
        timestamp_parameters(
            pd.Series([as_of] * len(associations), dtype="datetime64[us, UTC]"), "as_of"
        )
    )
    # One worker: links of different users may share end nodes, and parallel creates
    # would wait on each other's locks.
    written = sum(
        r["written"]
        for r in _run_batches(
            driver, database, "risky links", cypher.CREATE_RISK_LINKS, links, batch_size, 1
        )
    )
    return ScoreWriteReport(
        users_matched=int(matched),
        links_deleted=int(deleted),
        links_written=int(written),
        seconds=time.monotonic() - began,
    )


def _values(series: pd.Series) -> list[Any]:
    """A column as Python scalars (bool, int, float, str), missing values as None."""
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
    if not missing.any():
        return values.tolist()
    out = values.astype(object)
    out[missing] = None
    return out.tolist()


def _run_batches(
    driver: neo4j.Driver,
    database: str,
    what: str,
    query: str,
    params: Mapping[str, Sequence[Any]],
    batch_size: int,
    workers: int,
) -> list[neo4j.Record]:
    """Run ``query`` on consecutive batches of parallel lists; first record of each."""
    size = len(next(iter(params.values())))

    def one(start: int) -> neo4j.Record:
        batch = {k: v[start : start + batch_size] for k, v in params.items()}
        try:
            records, _, _ = driver.execute_query(query, batch, database_=database)
        except (DriverNeo4jError, DriverError) as exc:
            end = min(start + batch_size, size)
            raise server_error(f"writing {what} rows {start}-{end - 1}", database, exc) from exc
        return records[0]

    starts = range(0, size, batch_size)
    if workers == 1 or len(starts) <= 1:
        return [one(s) for s in starts]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, starts))


def _auto_commit(
    driver: neo4j.Driver, database: str, query: str, batch_size: int, **params: Any
) -> neo4j.SummaryCounters:
    """Run a ``CALL ... IN TRANSACTIONS`` statement (it needs an auto-commit transaction)."""
    try:
        with driver.session(database=database) as session:
            return session.run(query, batch_size=batch_size, **params).consume().counters
    except (DriverNeo4jError, DriverError) as exc:
        raise server_error("a write-back step", database, exc) from exc


def _ensure_schema(driver: neo4j.Driver, database: str) -> None:
    try:
        ensure_schema(driver, database=database)
    except (DriverNeo4jError, DriverError) as exc:
        raise server_error("preparing the schema", database, exc) from exc
