"""Write-back of scores and risky links to a real Neo4j: properties, risk labels, links."""

from __future__ import annotations

import neo4j
import pandas as pd
import pytest

from riskgraph.errors import Neo4jAuthError, Neo4jUnavailableError
from riskgraph.graph.features import compute_graph_features
from riskgraph.graph.writeback import RISK_LABELS, write_features, write_scores
from riskgraph.graph.writer import write_graph
from riskgraph.loaders import build_graph_tables

pytestmark = pytest.mark.neo4j

AS_OF = pd.Timestamp("2024-06-01", tz="UTC")
_NO_LINKS = pd.DataFrame(
    {c: pd.Series(dtype="string") for c in ("user_id", "other_user_id", "via_type", "via_id")}
).assign(score=pd.Series(dtype="float64"))


def _tables():
    users = pd.DataFrame({"user_id": ["a", "b", "c"], "registered_at": ["2024-01-01"] * 3})
    return build_graph_tables({"users": users}, hmac_key=b"score-writeback-key-0123").tables


def _scores(decisions):
    return pd.DataFrame(
        {
            "user_id": ["a", "b", "c"],
            "risk_score": [0.02, 0.2, 0.7],
            "credit_score": [800, 600, 400],
            "gnn_risk": [0.01, 0.3, 0.8],
            "decision": decisions,
            "reason_1": ["utilization", None, "shares a device with 2 users who defaulted"],
            "reason_2": [None, None, "applied at 7 lending platforms in the last 30 days"],
            "reason_3": [None, None, None],
        }
    )


def _state(driver):
    users, _, _ = driver.execute_query(
        "MATCH (u:User) RETURN u.user_id AS id, labels(u) AS labels, properties(u) AS p ORDER BY id"
    )
    links, _, _ = driver.execute_query(
        "MATCH (u:User)-[l:RISK_LINK]->(o:User) "
        "RETURN u.user_id AS u, o.user_id AS o, properties(l) AS p ORDER BY u, o"
    )
    return (
        [(r["id"], sorted(r["labels"]), r["p"]) for r in users],
        [(r["u"], r["o"], r["p"]) for r in links],
    )


def test_scores_and_links_land_and_rerun_is_idempotent(neo4j_db):
    write_graph(neo4j_db, _tables())
    links = pd.DataFrame(
        {
            "user_id": ["c", "c"],
            "other_user_id": ["a", "b"],
            "via_type": ["device", "social"],
            "via_id": ["d1", "contact"],
            "score": [0.9, 0.4],
        }
    )
    write_scores(neo4j_db, _scores(["approve", "review", "decline"]), links, AS_OF)
    first = _state(neo4j_db)
    users, written = first
    assert [labels for _, labels, _ in users] == [
        ["RiskLow", "User"],
        ["RiskMedium", "User"],
        ["RiskHigh", "User"],
    ]
    c = users[2][2]
    assert c["credit_score"] == 400 and c["decision"] == "decline"
    assert c["reason_2"] == "applied at 7 lending platforms in the last 30 days"
    assert "reason_3" not in c and "reason_1" not in users[1][2]
    assert [(u, o, p["via_type"], p["score"]) for u, o, p in written] == [
        ("c", "a", "device", 0.9),
        ("c", "b", "social", 0.4),
    ]
    report = write_scores(neo4j_db, _scores(["approve", "review", "decline"]), links, AS_OF)
    assert report.links_deleted == 2 and report.links_written == 2
    assert _state(neo4j_db) == first


def test_a_new_decision_replaces_the_risk_label_and_links(neo4j_db):
    write_graph(neo4j_db, _tables())
    old = pd.DataFrame(
        {
            "user_id": ["c"],
            "other_user_id": ["a"],
            "via_type": ["device"],
            "via_id": ["d1"],
            "score": [0.9],
        }
    )
    write_scores(neo4j_db, _scores(["approve", "review", "decline"]), old, AS_OF)
    write_scores(neo4j_db, _scores(["approve", "decline", "review"]), old.iloc[:0], AS_OF)
    users, links = _state(neo4j_db)
    assert sorted(users[1][1]) == ["RiskHigh", "User"]
    assert sorted(users[2][1]) == ["RiskMedium", "User"]
    assert links == []


def test_unknown_decision_is_refused(neo4j_db):
    with pytest.raises(ValueError, match=r"decision values \['maybe'\]"):
        write_scores(neo4j_db, _scores(["approve", "maybe", "decline"]), pd.DataFrame(), AS_OF)
    assert set(RISK_LABELS) == {"approve", "review", "decline"}


def test_server_gone_during_the_write_back_is_a_temporary_error(neo4j_db, neo4j_proxy):
    # Unavailable, not a plain Neo4jError: the scheduler retries (exit 75), it is no bug.
    write_graph(neo4j_db, _tables())
    proxy, conn = neo4j_proxy
    driver = neo4j.GraphDatabase.driver(
        conn.uri, auth=(conn.user, conn.password), max_transaction_retry_time=1.0
    )
    with driver:
        write_scores(driver, _scores(["approve", "review", "decline"]), _NO_LINKS, AS_OF)
        proxy.cut()
        with pytest.raises(Neo4jUnavailableError, match=r"in database 'neo4j' failed"):
            write_scores(driver, _scores(["approve", "review", "decline"]), _NO_LINKS, AS_OF)
        with pytest.raises(Neo4jUnavailableError, match=r"in database 'neo4j' failed"):
            write_features(driver, compute_graph_features(_tables(), AS_OF))


def test_a_refused_login_during_the_write_back_is_a_configuration_error(neo4j_db, neo4j_connection):
    driver = neo4j.GraphDatabase.driver(neo4j_connection.uri, auth=("neo4j", "not-the-password"))
    with driver, pytest.raises(Neo4jAuthError, match=r"AuthError"):
        write_scores(driver, _scores(["approve", "review", "decline"]), _NO_LINKS, AS_OF)
