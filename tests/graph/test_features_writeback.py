"""Write-back of the graph features to a real Neo4j: User properties, Ring nodes, MEMBER_OF."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from riskgraph.errors import ConfigError
from riskgraph.graph import cypher
from riskgraph.graph.batches import WriteSettings
from riskgraph.graph.features import FeatureConfig, RingConfig, compute_graph_features
from riskgraph.graph.features.rings import ring_id_of
from riskgraph.graph.writeback import write_browser_labels, write_features
from riskgraph.graph.writer import write_graph

pytestmark = pytest.mark.neo4j

AS_OF = pd.Timestamp("2024-06-01", tz="UTC")


def users(driver) -> dict[str, dict]:
    records, _, _ = driver.execute_query(
        "MATCH (u:User) RETURN u.user_id AS id, properties(u) AS p"
    )
    return {r["id"]: r["p"] for r in records}


def rings(driver) -> dict[str, dict]:
    records, _, _ = driver.execute_query(
        "MATCH (r:Ring) RETURN r.ring_id AS id, properties(r) AS p"
    )
    return {r["id"]: r["p"] for r in records}


def memberships(driver) -> set[tuple[str, str]]:
    records, _, _ = driver.execute_query(
        "MATCH (u:User)-[:MEMBER_OF]->(r:Ring) RETURN u.user_id AS u, r.ring_id AS r"
    )
    return {(r["u"], r["r"]) for r in records}


def dump(driver) -> tuple[list, list]:
    nodes, _, _ = driver.execute_query(cypher.DUMP_NODES)
    rels, _, _ = driver.execute_query(cypher.DUMP_RELATIONSHIPS)
    return sorted(repr(r.data()) for r in nodes), sorted(repr(r.data()) for r in rels)


def test_features_rings_and_memberships_land_in_neo4j(neo4j_db, town):
    write_graph(neo4j_db, town)
    gf = compute_graph_features(town, AS_OF)
    report = write_features(neo4j_db, gf, settings=WriteSettings(batch_size=5))
    assert report.users == report.users_matched == 14
    assert (report.rings, report.memberships) == (4, 13)
    assert (report.rings_removed, report.memberships_removed) == (0, 0)

    u = users(neo4j_db)
    assert u["r1"]["ring_id"] == ring_id_of("r1") and u["r1"]["ring_size"] == 4
    assert u["r1"]["ring_flag"] is True and u["a1"]["multi_borrowing"] is True
    assert u["r1"]["ring_bad_rate"] == 0.5
    assert "device_bad_share_1hop" not in u["r1"]  # NaN: no property
    assert "ring_id" not in u["z1"] and u["z1"]["ring_size"] == 0
    assert u["r1"]["features_as_of"].to_native() == AS_OF.to_pydatetime()

    r = rings(neo4j_db)[ring_id_of("r1")]
    assert (r["size"], r["bad_count"], r["platforms"], r["flagged"]) == (4, 1, 3, True)
    assert (
        r["first_registered_at"].to_native() == pd.Timestamp("2024-05-01", tz="UTC").to_pydatetime()
    )
    assert "stale" not in r
    assert ("c2", ring_id_of("c1")) in memberships(neo4j_db)
    assert ("z1", ring_id_of("r1")) not in memberships(neo4j_db)


def test_writing_twice_leaves_the_same_state(neo4j_db, town):
    write_graph(neo4j_db, town)
    gf = compute_graph_features(town, AS_OF)
    write_features(neo4j_db, gf)
    first = dump(neo4j_db)
    write_features(neo4j_db, gf, settings=WriteSettings(batch_size=3, workers=1))
    assert dump(neo4j_db) == first


def test_a_rerun_removes_rings_and_memberships_that_no_longer_exist(neo4j_db, town):
    write_graph(neo4j_db, town)
    write_features(neo4j_db, compute_graph_features(town, AS_OF))
    # With max_sharing 3 the cafe PC (4 users) is a hub: the cafe ring is gone.
    hubs = compute_graph_features(
        town, AS_OF, config=FeatureConfig(rings=RingConfig(max_sharing=3))
    )
    # And r4 leaves its ring, which stays (a hand edit of the features).
    f = hubs.features.copy()
    f.loc[f["user_id"] == "r4", "ring_id"] = pd.NA
    report = write_features(neo4j_db, replace(hubs, features=f))
    assert (report.rings_removed, report.memberships_removed) == (1, 5)
    assert set(rings(neo4j_db)) == {ring_id_of("r1"), ring_id_of("h1"), ring_id_of("a1")}
    members = memberships(neo4j_db)
    assert not {m for m in members if m[0].startswith("c")}
    assert ("r4", ring_id_of("r1")) not in members and ("r3", ring_id_of("r1")) in members
    u = users(neo4j_db)
    assert "ring_id" not in u["c1"] and u["c1"]["hub_identifiers"] == 1
    stale, _, _ = neo4j_db.execute_query(cypher.COUNT_STALE_WRITE_BACK)
    assert (stale[0]["rings"], stale[0]["memberships"]) == (0, 0)


def test_only_the_users_named_get_features_rings_cover_the_graph(neo4j_db, town):
    # The nightly job names tonight's users: a User node's features and scores then
    # always come from the same night.
    write_graph(neo4j_db, town)
    report = write_features(neo4j_db, compute_graph_features(town, AS_OF), users=["r1", "c2"])
    assert report.users == report.users_matched == 2
    u = users(neo4j_db)
    assert {k for k, p in u.items() if "features_as_of" in p} == {"r1", "c2"}
    assert "ring_size" not in u["r2"]
    assert (report.rings, report.memberships) == (4, 13)
    assert ("r2", ring_id_of("r1")) in memberships(neo4j_db)


def test_batch_settings_are_checked(neo4j_db, town):
    with pytest.raises(
        ConfigError, match=r"batch_size=0, workers=1, retries=3: need batch_size >= 1"
    ):
        settings = WriteSettings(batch_size=0, workers=1)
        write_features(neo4j_db, compute_graph_features(town, AS_OF), settings=settings)


def labelled(driver, label: str) -> set[str]:
    records, _, _ = driver.execute_query(
        "MATCH (n) WHERE $label IN labels(n) "
        "RETURN CASE WHEN n:Ring THEN n.ring_id ELSE n.user_id END AS id",
        label=label,
    )
    return {r["id"] for r in records}


def test_browser_labels_follow_rings_and_visible_bad_labels(neo4j_db, town):
    write_graph(neo4j_db, town)
    gf = compute_graph_features(town, AS_OF)
    report = write_features(neo4j_db, gf)
    ring, cafe, home, agent = (ring_id_of(u) for u in ("r1", "c1", "h1", "a1"))
    flagged = set(gf.rings.loc[gf.rings["flagged"], "ring_id"])
    assert ring in flagged and home not in flagged
    assert labelled(neo4j_db, "RingFlagged") == flagged
    # Sizes 4, 4, 2, 3: no ring reaches RING_MEDIUM_SIZE (5).
    assert labelled(neo4j_db, "RingMedium") == labelled(neo4j_db, "RingLarge") == set()
    # r4 and c1 were known bad before AS_OF; r2's label came later, r3 is good.
    assert labelled(neo4j_db, "KnownBad") == {"r4", "c1"}
    assert (report.labels_added, report.labels_removed) == (len(flagged) + 2, 0)

    # Smaller thresholds: the two 4-member rings are large, the agent's 3 medium.
    added, removed = write_browser_labels(neo4j_db, AS_OF, medium_size=3, large_size=4)
    assert labelled(neo4j_db, "RingLarge") == {ring, cafe}
    assert labelled(neo4j_db, "RingMedium") == {agent}
    assert (added, removed) == (3, 0)
    # Back to the defaults: the size labels go; a later cut-off sees r2's label.
    added, removed = write_browser_labels(neo4j_db, AS_OF + pd.Timedelta(days=30))
    assert labelled(neo4j_db, "RingLarge") == labelled(neo4j_db, "RingMedium") == set()
    assert labelled(neo4j_db, "KnownBad") == {"r2", "r4", "c1"}
    assert (added, removed) == (1, 3)
    # Nothing to change: nothing written.
    assert write_browser_labels(neo4j_db, AS_OF + pd.Timedelta(days=30)) == (0, 0)

    # A rerun where the ring is no longer flagged and r4's label was corrected to good.
    neo4j_db.execute_query("MATCH (u:User {user_id: 'r4'}) SET u.label = 0")
    rings_now = gf.rings.copy()
    rings_now.loc[rings_now["ring_id"] == ring, "flagged"] = False
    report = write_features(neo4j_db, replace(gf, rings=rings_now))
    assert labelled(neo4j_db, "RingFlagged") == flagged - {ring}
    assert labelled(neo4j_db, "KnownBad") == {"c1"}  # r2 again unseen at AS_OF
    assert (report.labels_added, report.labels_removed) == (0, 3)
    # Removing a Browser label leaves the node's other labels alone.
    records, _, _ = neo4j_db.execute_query(
        "MATCH (n) WHERE (n:User AND n.user_id IN ['r4', 'r2']) OR (n:Ring AND n.ring_id = $ring) "
        "RETURN labels(n) AS labels",
        ring=ring,
    )
    assert sorted(sorted(r["labels"]) for r in records) == [["Ring"], ["User"], ["User"]]


def test_browser_label_thresholds_are_checked(neo4j_db):
    with pytest.raises(ValueError, match=r"medium_size=5, large_size=5"):
        write_browser_labels(neo4j_db, AS_OF, medium_size=5, large_size=5)
