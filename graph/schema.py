"""The uniqueness constraints of the graph model.

One constraint (and with it an index) on every id: ``User.user_id``,
``Device.device_id``, ``Account.account_id``, ``Platform.platform_id``,
``Application.application_id``, ``Ring.ring_id`` (written back by the pipeline) and
``RiskgraphMeta.name`` (see :mod:`riskgraph.graph.writer`). ``MERGE`` on those ids is an
index seek, and two loads can never create the same node twice.
"""

from __future__ import annotations

import neo4j

from riskgraph.graph import cypher

__all__ = ["ensure_schema"]


def ensure_schema(
    driver: neo4j.Driver, *, database: str = "neo4j", timeout_seconds: int = 300
) -> None:
    """Create the constraints that are missing and wait until their indexes are online.

    Idempotent: constraints that exist already are left alone.

    Parameters
    ----------
    driver : neo4j.Driver
    database : str
    timeout_seconds : int
        How long to wait for the indexes to come online.
    """
    for statement in cypher.CONSTRAINTS:
        driver.execute_query(statement, database_=database)
    driver.execute_query(cypher.AWAIT_INDEXES, timeout_seconds=timeout_seconds, database_=database)
