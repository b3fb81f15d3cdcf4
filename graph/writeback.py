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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import neo4j
import neo4j.time
import pandas as pd

from riskgraph.graph import cypher
from riskgraph.graph.batches import BatchWriter, WriteSettings, column_values, timestamp_parameters
from riskgraph.graph.features.catalog import FEATURE_CATALOG
from riskgraph.graph.features.compute import GraphFeatures

__all__ = [
    "BROWSER_LABELS",
    "RING_LARGE_SIZE",
    "RING_MEDIUM_SIZE",
    "RISK_LABELS",
    "WRITE_BACK_SETTINGS",
    "ScoreWriteReport",
    "WriteBackReport",
    "write_browser_labels",
    "write_features",
    "write_scores",
]

#: The label each decision gives a User node (Neo4j Browser colours by it).
RISK_LABELS = {"approve": "RiskLow", "review": "RiskMedium", "decline": "RiskHigh"}
#: Labels that exist only so that Neo4j Browser can style by them (its style file
#: selects by label, never by property): a flagged ring, a ring's size class, a user
#: whose bad label the run could see.
BROWSER_LABELS = ("RingFlagged", "RingMedium", "RingLarge", "KnownBad")
#: Ring sizes from which a Ring node is ``RingMedium`` / ``RingLarge``. Households have
#: 2-4 members; fraud rings are larger (docs/synthetic.md).
RING_MEDIUM_SIZE = 5
RING_LARGE_SIZE = 10
#: The write-back's default: rows of a few properties each, so larger batches than a load.
WRITE_BACK_SETTINGS = WriteSettings(batch_size=10_000)


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
    settings: WriteSettings = WRITE_BACK_SETTINGS,
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
    settings : WriteSettings, optional
        Database, rows per transaction, and user-feature transactions in flight at once
        (rings and memberships are written one batch at a time: their transactions
        would lock the same Ring nodes).

    Returns
    -------
    WriteBackReport

    Raises
    ------
    ConfigError
        On a setting below its minimum.
    Neo4jError
        When the server fails a batch (naming the step and rows);
        ``Neo4jUnavailableError`` when it cannot be reached.

    Examples
    --------
    >>> gf = compute_graph_features(tables, as_of)  # doctest: +SKIP
    >>> write_features(driver, gf).rings  # doctest: +SKIP
    3661
    """
    writer = BatchWriter(driver, settings)
    writer.ensure_constraints()
    f = features.features
    written = f if users is None else f.loc[f["user_id"].isin(pd.Index(users))]
    user_params: dict[str, list[Any]] = {
        "user_id": written["user_id"].astype(str).tolist(),
        **_as_of(features.as_of, len(written)),
    }
    for name in FEATURE_CATALOG:
        user_params[name] = column_values(written[name])
    matched = writer.total("user features", cypher.SET_USER_FEATURES, user_params)

    writer.auto_commit("marking rings stale", cypher.MARK_RINGS_STALE)
    writer.auto_commit("marking ring memberships stale", cypher.MARK_MEMBERSHIPS_STALE)
    written_rings = writer.total(
        "rings", cypher.UPSERT_RINGS, _ring_parameters(features), workers=1
    )
    # Ordered by ring, so that one batch touches few Ring nodes.
    members = f.loc[f["ring_id"].notna(), ["user_id", "ring_id"]].sort_values(
        ["ring_id", "user_id"]
    )
    written_members = writer.total(
        "ring memberships",
        cypher.MERGE_MEMBERSHIPS,
        {
            "user_id": members["user_id"].astype(str).tolist(),
            "ring_id": members["ring_id"].astype(str).tolist(),
        },
        workers=1,
    )
    stale = writer.query("counting stale rings", cypher.COUNT_STALE_WRITE_BACK)[0]
    writer.auto_commit("deleting stale ring memberships", cypher.DELETE_STALE_MEMBERSHIPS)
    writer.auto_commit("deleting stale rings", cypher.DELETE_STALE_RINGS)
    added, removed = write_browser_labels(driver, features.as_of, settings=settings)
    return WriteBackReport(
        users=len(written),
        users_matched=matched,
        rings=written_rings,
        memberships=written_members,
        rings_removed=int(stale["rings"]),
        memberships_removed=int(stale["memberships"]),
        labels_added=added,
        labels_removed=removed,
        seconds=writer.seconds,
    )


def _ring_parameters(features: GraphFeatures) -> dict[str, list[Any]]:
    rings = features.rings
    params: dict[str, list[Any]] = {
        "ring_id": rings["ring_id"].astype(str).tolist(),
        **_as_of(features.as_of, len(rings)),
    }
    for column in cypher.RING_PROPERTIES:
        params[column] = column_values(rings[column])
    for column in cypher.RING_TIMES:
        params.update(timestamp_parameters(rings[column], column))
    return params


def write_browser_labels(
    driver: neo4j.Driver,
    as_of: pd.Timestamp,
    *,
    settings: WriteSettings = WRITE_BACK_SETTINGS,
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
        Unless ``1 <= medium_size < large_size``.
    """
    if not 1 <= medium_size < large_size:
        raise ValueError(
            f"medium_size={medium_size}, large_size={large_size}: "
            "need 1 <= medium_size < large_size"
        )
    writer = BatchWriter(driver, settings)
    cut_off = pd.Timestamp(as_of)
    cut_off = cut_off.tz_localize("UTC") if cut_off.tzinfo is None else cut_off.tz_convert("UTC")
    rings = writer.auto_commit(
        "labelling rings",
        cypher.SET_RING_LABELS,
        medium_size=medium_size,
        large_size=large_size,
    )
    users = writer.auto_commit(
        "labelling known-bad users",
        cypher.SET_KNOWN_BAD_LABELS,
        as_of=neo4j.time.DateTime.from_native(cut_off.to_pydatetime()),
    )
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
    settings: WriteSettings = WRITE_BACK_SETTINGS,
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
    settings : WriteSettings, optional

    Notes
    -----
    Idempotent: every scored user's outgoing risky links are deleted before tonight's
    are created, and properties are overwritten; a missing reason removes the property.
    The decision also sets one of the labels :data:`RISK_LABELS`.
    """
    unknown = sorted(set(scores["decision"].dropna()) - set(RISK_LABELS))
    if unknown:
        raise ValueError(f"decision values {unknown}: expected {sorted(RISK_LABELS)}")
    writer = BatchWriter(driver, settings)
    writer.ensure_constraints()
    params: dict[str, list[Any]] = {
        "user_id": scores["user_id"].astype(str).tolist(),
        "risk_label": scores["decision"].map(RISK_LABELS).tolist(),
        **_as_of(as_of, len(scores)),
    }
    for column in cypher.USER_SCORE_PROPERTIES:
        params[column] = column_values(scores[column])
    matched = writer.total("user scores", cypher.SET_USER_SCORES, params)
    deleted = writer.total(
        "old risky links", cypher.DELETE_RISK_LINKS, {"user_id": params["user_id"]}
    )
    links: dict[str, list[Any]] = {
        column: column_values(associations[column])
        for column in ("user_id", "other_user_id", *cypher.RISK_LINK_PROPERTIES)
    }
    links.update(_as_of(as_of, len(associations)))
    # One worker: links of different users may share end nodes, and parallel creates
    # would wait on each other's locks.
    written = writer.total("risky links", cypher.CREATE_RISK_LINKS, links, workers=1)
    return ScoreWriteReport(
        users_matched=matched,
        links_deleted=deleted,
        links_written=written,
        seconds=writer.seconds,
    )


def _as_of(as_of: pd.Timestamp, rows: int) -> dict[str, list[Any]]:
    """The ``as_of`` parameter lists of ``rows`` rows."""
    return timestamp_parameters(pd.Series([as_of] * rows, dtype="datetime64[us, UTC]"), "as_of")
