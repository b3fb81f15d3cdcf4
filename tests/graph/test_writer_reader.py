"""Writing GraphTables to a real Neo4j and reading them back."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from pathlib import Path

import neo4j
import pandas as pd
import pytest
from typer.testing import CliRunner

from riskgraph.cli import app
from riskgraph.errors import InputError
from riskgraph.graph import cypher
from riskgraph.graph.batches import WriteSettings
from riskgraph.graph.reader import read_graph
from riskgraph.graph.writer import write_graph
from riskgraph.loaders import GraphTables, build_graph_tables, empty_graph_tables

pytestmark = pytest.mark.neo4j

KEY = "writer-test-key-0123456789"

USERS = ["user_id", "registered_at", "label", "label_at", "income", "city"]
DEVICES = ["user_id", "device_id", "first_seen", "last_seen"]
ACCOUNTS = ["user_id", "account_id", "account_type", "linked_at"]
SOCIAL = ["src_user_id", "dst_user_id", "tie_type", "created_at", "weight"]
APPS = ["application_id", "user_id", "platform_id", "applied_at", "amount", "device_id", "status"]


def day_one() -> dict[str, list[list[str]]]:
    """Four users: u1-u2 share phone d1 and card c1; u3 applied from an agent's device."""
    return {
        "users": [
            USERS,
            ["u1", "2024-01-01", "1", "2024-03-01T12:30:00.123456Z", "3000.5", "Beijing"],
            ["u2", "2024-01-02", "", "", "", "上海"],
            ["u3", "1965-03-04T05:06:07.654321Z", "0", "2024-02-01", "1000", ""],
            ["u4", "2024-01-04T23:59:59+08:00", "", "", "0", "Chengdu"],
        ],
        "user_devices": [
            DEVICES,
            ["u1", "d1", "2024-01-01", "2024-02-01"],
            ["u2", "d1", "2024-01-02", ""],
            ["u3", "d2", "", ""],
        ],
        "user_accounts": [
            ACCOUNTS,
            ["u1", "c1", "bank_card", "2024-01-01"],
            ["u2", "c1", "", ""],
            ["u4", "p4", "phone", "2024-01-05"],
        ],
        "social": [
            SOCIAL,
            ["u1", "u2", "contact", "2024-01-03", "1.5"],
            ["u1", "u2", "", "", ""],  # the same pair again, tie type unknown
            ["u3", "u1", "family", "2024-01-04", ""],
        ],
        "applications": [
            APPS,
            ["a1", "u1", "p1", "2024-02-01", "1000", "d1", "approved"],
            ["a2", "u2", "p1", "2024-02-02", "", "", ""],
            ["a3", "u3", "p2", "2024-02-03", "500", "agent-9", "rejected"],
        ],
    }


def day_two() -> dict[str, list[list[str]]]:
    """Next night: u2's label is known, u5 is new, a1 was re-filed by u3, new ties.

    Edge rows may only name users of the same night's users file (the loader rejects
    others), so u1 and u3 come again too.
    """
    return {
        "users": [
            [*USERS, "segment"],
            ["u1", "2024-01-01", "1", "2024-03-01T12:30:00.123456Z", "3000.5", "Beijing", ""],
            ["u2", "2024-01-02", "1", "2024-04-01", "2000", "上海", "gold"],
            ["u3", "1965-03-04T05:06:07.654321Z", "0", "2024-02-01", "1000", "", "silver"],
            ["u5", "2024-04-02", "", "", "", "Xi'an", "new"],
        ],
        "user_devices": [
            DEVICES,
            ["u1", "d1", "2024-01-01", "2024-04-02"],  # seen again: last_seen moves
            ["u5", "d1", "2024-04-02", ""],
        ],
        "user_accounts": [ACCOUNTS, ["u5", "c1", "bank_card", "2024-04-02"]],
        "social": [SOCIAL, ["u5", "u2", "transfer", "2024-04-02", "7"]],
        "applications": [
            APPS,
            ["a1", "u3", "p3", "2024-02-01", "1000", "", "approved"],
            ["a4", "u5", "p2", "2024-04-02", "800", "d1", "pending"],
        ],
    }


def frames_of(rows: dict[str, list[list[str]]]) -> dict[str, pd.DataFrame]:
    return {name: pd.DataFrame(body, columns=header) for name, (header, *body) in rows.items()}


def tables_of(frames: dict[str, pd.DataFrame]) -> GraphTables:
    result = build_graph_tables(frames, hmac_key=KEY)
    assert result.rejected_total == 0, result.rejects
    return result.tables


KEYS = {
    "users": ["user_id"],
    "user_devices": ["user_id", "device_id"],
    "user_accounts": ["user_id", "account_id"],
    "social": ["src_user_id", "dst_user_id", "tie_type"],
    "applications": ["application_id"],
}


def union_of(*days: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """What the graph should hold after loading ``days`` in order: later rows win."""
    return {
        name: pd.concat([d[name] for d in days if name in d], ignore_index=True)
        .drop_duplicates(KEYS[name], keep="last")
        .reset_index(drop=True)
        for name in KEYS
    }


def counts(driver: neo4j.Driver) -> tuple[dict[str, int], dict[str, int]]:
    labels, _, _ = driver.execute_query(cypher.COUNT_NODES_BY_LABEL)
    types, _, _ = driver.execute_query(cypher.COUNT_RELATIONSHIPS_BY_TYPE)
    return (
        {r["label"]: r["count"] for r in labels},
        {r["type"]: r["count"] for r in types},
    )


# -- round trip ---------------------------------------------------------------------------------
def test_round_trip_equals_the_loaded_tables(neo4j_db):
    tables = tables_of(frames_of(day_one()))
    report = write_graph(neo4j_db, tables, settings=WriteSettings(batch_size=2))
    back = read_graph(neo4j_db)
    assert back.equals(tables)
    assert list(back.users.columns) == [*USERS[:4], "income", "city"]
    assert str(back.users["income"].dtype) == "float64"
    assert str(back.users["city"].dtype) == "string"
    assert report.relationships == {
        "SUBMITTED": 3,
        "TO": 3,
        "FROM_DEVICE": 2,
        "USES": 3,
        "OWNS": 3,
        "KNOWS": 3,
        "LIVES_AT": 0,  # an optional table this night lacks
    }
    assert report.relationships_total == tables.num_edges
    assert report.created["User"] == 4 and report.created["Device"] == 3  # d1, d2, agent-9


def test_addresses_round_trip_as_shared_identifiers(neo4j_db):
    frames = frames_of(day_one())
    frames["user_addresses"] = pd.DataFrame(
        [["u1", "12 Elm St", "2024-01-05"], ["u2", "12 Elm St", ""], ["u4", "3 Oak Rd", ""]],
        columns=["user_id", "address_id", "declared_at"],
    )
    tables = tables_of(frames)
    report = write_graph(neo4j_db, tables)
    assert report.relationships["LIVES_AT"] == 3
    assert report.created["Address"] == 2
    back = read_graph(neo4j_db)
    assert back.equals(tables)
    labels, types = counts(neo4j_db)
    assert (labels["Address"], types["LIVES_AT"]) == (2, 3)
    # pseudonymized like account numbers: the address itself never reaches Neo4j
    stored, _, _ = neo4j_db.execute_query("MATCH (a:Address) RETURN a.address_id AS id")
    assert not {r["id"] for r in stored} & {"12 Elm St", "3 Oak Rd"}
    shared, _, _ = neo4j_db.execute_query(
        "MATCH (u:User)-[:LIVES_AT]->(:Address)<-[:LIVES_AT]-(v:User) "
        "WHERE u.user_id < v.user_id RETURN u.user_id AS u, v.user_id AS v"
    )
    assert [(r["u"], r["v"]) for r in shared] == [("u1", "u2")]


def test_graph_model_in_neo4j(neo4j_db):
    write_graph(neo4j_db, tables_of(frames_of(day_one())))
    nodes, rels = counts(neo4j_db)
    assert nodes == {
        "Account": 2,
        "Application": 3,
        "Device": 3,
        "Platform": 2,
        "RiskgraphMeta": 1,
        "RiskgraphTestMarker": 1,
        "User": 4,
    }
    assert rels == {"FROM_DEVICE": 2, "KNOWS": 3, "OWNS": 3, "SUBMITTED": 3, "TO": 3, "USES": 3}
    records, _, _ = neo4j_db.execute_query(
        "MATCH (u:User {user_id: 'u1'})-[:SUBMITTED]->(a:Application)-[:TO]->(p:Platform) "
        "MATCH (a)-[:FROM_DEVICE]->(d:Device)<-[s:USES]-(u) "
        "RETURN u, a.amount AS amount, p.platform_id AS platform, s.last_seen AS last_seen"
    )
    user = records[0]["u"]
    assert user["attr_income"] == 3000.5 and user["attr_city"] == "Beijing"
    assert user["label"] == 1
    assert "income" not in user  # attributes live under attr_ only
    assert records[0]["amount"] == 1000.0 and records[0]["platform"] == "p1"
    # timestamps are DateTime in UTC, to the microsecond
    label_at = user["label_at"]
    assert isinstance(label_at, neo4j.time.DateTime)
    assert label_at.utcoffset() == dt.timedelta(0)
    assert label_at.to_native() == dt.datetime(2024, 3, 1, 12, 30, 0, 123456, tzinfo=dt.UTC)
    assert records[0]["last_seen"].to_native() == dt.datetime(2024, 2, 1, tzinfo=dt.UTC)


def test_timestamps_before_1970_and_with_offsets_round_trip(neo4j_db):
    tables = tables_of(frames_of(day_one()))
    write_graph(neo4j_db, tables)
    records, _, _ = neo4j_db.execute_query(
        "MATCH (u:User) WHERE u.user_id IN ['u3', 'u4'] "
        "RETURN u.user_id AS id, u.registered_at AS t ORDER BY id"
    )
    assert records[0]["t"].to_native() == dt.datetime(1965, 3, 4, 5, 6, 7, 654321, tzinfo=dt.UTC)
    assert records[1]["t"].to_native() == dt.datetime(2024, 1, 4, 15, 59, 59, tzinfo=dt.UTC)
    assert read_graph(neo4j_db).users["registered_at"].equals(tables.users["registered_at"])


def test_empty_graph_round_trips(neo4j_db):
    empty = empty_graph_tables()
    write_graph(neo4j_db, empty)
    assert read_graph(neo4j_db).equals(empty)


# -- idempotence --------------------------------------------------------------------------------
def test_loading_twice_changes_nothing(neo4j_db, neo4j_dump):
    tables = tables_of(frames_of(day_one()))
    write_graph(neo4j_db, tables, settings=WriteSettings(batch_size=2, workers=2))
    first_counts, first_dump = counts(neo4j_db), neo4j_dump(neo4j_db)
    report = write_graph(neo4j_db, tables, settings=WriteSettings(batch_size=2, workers=2))
    assert report.created == {k: 0 for k in report.created}
    assert counts(neo4j_db) == first_counts
    assert neo4j_dump(neo4j_db) == first_dump
    assert read_graph(neo4j_db).equals(tables)


# -- hostile text -----------------------------------------------------------------------------
HOSTILE = [
    "o'brien",
    'say "hi"',
    "back`tick`",
    "'}) MATCH (n) DETACH DELETE n //",
    '"}) DETACH DELETE n RETURN 1 //',
    "${user_id}",
    "用户一",
    "Ünïcødé 🙂",
    "back\\slash",
]


def test_hostile_ids_and_text_round_trip_unchanged(neo4j_db):
    users = [[*USERS[:4], "note", "weird`col'name"]]
    users += [[uid, "2024-01-01", "", "", uid, "1"] for uid in HOSTILE]
    frames = frames_of(
        {
            "users": users,
            "user_devices": [DEVICES] + [[u, f"dev {u}", "", ""] for u in HOSTILE],
            "user_accounts": [ACCOUNTS] + [[u, f"acct {u}", u, ""] for u in HOSTILE],
            "social": [SOCIAL]
            + [[a, b, HOSTILE[3], "", ""] for a, b in itertools.pairwise(HOSTILE)],
            "applications": [APPS]
            + [[f"app {u}", u, f"plat {u}", "2024-02-01", "", "", u] for u in HOSTILE],
        }
    )
    tables = tables_of(frames)
    write_graph(neo4j_db, tables)
    back = read_graph(neo4j_db)
    assert back.equals(tables)
    assert set(back.users["user_id"]) == set(HOSTILE)
    assert back.users["note"].tolist() == tables.users["note"].tolist()
    nodes, _ = counts(neo4j_db)
    assert nodes["User"] == len(HOSTILE) and nodes["Device"] == len(HOSTILE)


# -- accumulation and write-back ------------------------------------------------------------------
def test_two_nights_accumulate_and_later_rows_win(neo4j_db):
    one, two = frames_of(day_one()), frames_of(day_two())
    write_graph(neo4j_db, tables_of(one))
    write_graph(neo4j_db, tables_of(two))
    back = read_graph(neo4j_db)
    expected = tables_of(union_of(one, two))
    assert back.equals(expected)
    # spelled out: the union of users, u2 updated, the new attribute column appended
    assert back.users["user_id"].tolist() == ["u1", "u2", "u3", "u4", "u5"]
    assert list(back.users.columns)[-3:] == ["income", "city", "segment"]
    u2 = back.users.set_index("user_id").loc["u2"]
    assert u2["label"] == 1 and u2["income"] == 2000.0 and u2["segment"] == "gold"
    assert pd.isna(back.users.set_index("user_id").loc["u1", "segment"])
    # a1 now belongs to u3 at p3 with no device: the old links were replaced
    apps = back.applications.set_index("application_id")
    a1 = apps.loc["a1"]
    assert back.users["user_id"][a1["user_idx"]] == "u3"
    assert back.platforms["platform_id"][a1["platform_idx"]] == "p3"
    assert a1["device_idx"] == -1
    _, rels = counts(neo4j_db)
    assert rels["SUBMITTED"] == 4 and rels["TO"] == 4 and rels["FROM_DEVICE"] == 2


def test_write_back_properties_are_not_read_as_attributes(neo4j_db):
    tables = tables_of(frames_of(day_one()))
    write_graph(neo4j_db, tables)
    neo4j_db.execute_query(
        "MATCH (u:User) SET u.risk_score = 0.5, u.credit_score = 700, u.income = -1 "
        "MERGE (r:Ring {ring_id: 'r1'}) WITH u, r WHERE u.user_id IN ['u1', 'u2'] "
        "MERGE (u)-[:MEMBER_OF]->(r)"
    )
    assert read_graph(neo4j_db).equals(tables)
    # and reloading the input leaves the written-back properties alone
    write_graph(neo4j_db, tables)
    records, _, _ = neo4j_db.execute_query(
        "MATCH (u:User {user_id: 'u1'}) RETURN u.risk_score AS s, u.attr_income AS i"
    )
    assert (records[0]["s"], records[0]["i"]) == (0.5, 3000.5)


def test_attribute_kind_conflict_stops_before_writing(neo4j_db, neo4j_dump):
    write_graph(neo4j_db, tables_of(frames_of(day_one())))
    before = neo4j_dump(neo4j_db)
    rows = {"users": [USERS, ["u9", "2024-05-01", "", "", "high", "Beijing"]]}
    with pytest.raises(InputError, match=r"users\.income: text values, but the graph holds"):
        write_graph(neo4j_db, tables_of(frames_of(rows)))
    assert neo4j_dump(neo4j_db) == before


def test_invalid_tables_are_refused(neo4j_db):
    tables = tables_of(frames_of(day_one()))
    broken = tables.users.assign(income=tables.users["income"].astype("object"))
    with pytest.raises(InputError, match=r"users\.income: dtype object"):
        write_graph(neo4j_db, GraphTables(**{**dict(tables.tables()), "users": broken}))
    nodes, _ = counts(neo4j_db)
    assert "User" not in nodes


# -- riskgraph load ---------------------------------------------------------------------------
def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def test_load_command_validates_pseudonymizes_and_upserts(
    neo4j_db, neo4j_connection, neo4j_dump, tmp_path, monkeypatch
):
    monkeypatch.setenv("RISKGRAPH_NEO4J_URI", neo4j_connection.uri)
    monkeypatch.setenv("RISKGRAPH_NEO4J_USER", neo4j_connection.user)
    monkeypatch.setenv("RISKGRAPH_NEO4J_PASSWORD", neo4j_connection.password)
    monkeypatch.setenv("RISKGRAPH_NEO4J_DATABASE", neo4j_connection.database)
    monkeypatch.setenv("RISKGRAPH_HMAC_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    card = "6222020200001234567"
    source = tmp_path / "in"
    source.mkdir()
    write_csv(source / "users.csv", [USERS, ["u1", "2024-01-01", "", "", "1", "x"]])
    write_csv(
        source / "user_accounts.csv",
        [ACCOUNTS, ["u1", card, "bank_card", ""], ["ghost", "123", "phone", ""]],
    )
    args = ["load", "--input", str(source), "--rejects", str(tmp_path / "rej")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "upserted" in result.output and card not in result.output
    rejected = (tmp_path / "rej" / "user_accounts.csv").read_text(encoding="utf-8")
    assert "ghost" in rejected and "line" in rejected.splitlines()[0]
    nodes, rels = neo4j_dump(neo4j_db)
    assert not any(card in text for text in nodes + rels)
    assert any("Account" in text for text in nodes)
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert neo4j_dump(neo4j_db) == (nodes, rels)


def test_load_command_without_key_is_refused(neo4j_db, tmp_path, monkeypatch):
    monkeypatch.delenv("RISKGRAPH_HMAC_KEY", raising=False)
    monkeypatch.delenv("RISKGRAPH_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in").mkdir()
    write_csv(tmp_path / "in" / "users.csv", [USERS[:2], ["u1", "2024-01-01"]])
    result = CliRunner().invoke(app, ["load", "--input", str(tmp_path / "in")])
    assert result.exit_code == 78  # a configuration problem, as for the nightly job
    assert "no pseudonymization key" in result.output
    nodes, _ = counts(neo4j_db)
    assert "User" not in nodes
