"""Values outside the limits never reach Neo4j, and none already there fails a read.

What an older version, a hand edit in Neo4j Browser or another tool may have stored
(a year-1 registration, a date as a string, a label of "1", an amount of "n/a") is
read as missing and reported naming the node and the property.
"""

from __future__ import annotations

import pandas as pd
import pytest

from riskgraph.errors import InputError
from riskgraph.graph.reader import read_graph
from riskgraph.graph.writer import write_graph
from riskgraph.loaders import build_graph_tables

pytestmark = pytest.mark.neo4j

KEY = "stored-values-key-0123456789"


def small_graph():
    frames = {
        "users": pd.DataFrame(
            {
                "user_id": ["u1", "u2", "u3"],
                "registered_at": ["2024-01-01", "2024-01-02", "2024-01-03"],
                "label": ["1", "0", ""],
                "label_at": ["2024-03-01", "2024-03-02", ""],
                "income": ["1000", "2000", ""],  # a missing number is stored as NaN
            }
        ),
        "user_devices": pd.DataFrame(
            {"user_id": ["u1", "u2"], "device_id": ["d1", "d1"], "first_seen": ["2024-01-05"] * 2}
        ),
        "social": pd.DataFrame(
            {
                "src_user_id": ["u1"],
                "dst_user_id": ["u3"],
                "tie_type": ["contact"],
                "weight": ["1.5"],
            }
        ),
        "applications": pd.DataFrame(
            {
                "application_id": ["a1"],
                "user_id": ["u3"],
                "platform_id": ["p1"],
                "applied_at": ["2024-02-01"],
                "amount": ["500"],
            }
        ),
    }
    return build_graph_tables(frames, hmac_key=KEY).tables


def node_count(driver) -> int:
    records, _, _ = driver.execute_query(
        "MATCH (n) WHERE NOT n:RiskgraphTestMarker RETURN count(n) AS n"
    )
    return records[0]["n"]


def test_tables_built_by_hand_with_values_out_of_limits_are_not_written(neo4j_db):
    tables = small_graph()
    users = tables.users.copy()
    users.loc[0, "registered_at"] = pd.Timestamp("0001-01-01", tz="UTC")
    with pytest.raises(
        InputError, match=r"users\.registered_at row 0: 0001-01-01T00:00:00\+00:00 is outside"
    ):
        write_graph(neo4j_db, tables.__class__(**{**dict(tables.tables()), "users": users}))
    devices = tables.devices.copy()
    devices.loc[0, "device_id"] = "d" * 9000
    with pytest.raises(InputError, match=r"devices\.device_id row 0 'd{40}' is 9,000 bytes long"):
        write_graph(neo4j_db, tables.__class__(**{**dict(tables.tables()), "devices": devices}))
    assert node_count(neo4j_db) == 0


def test_unusable_stored_values_are_read_as_missing_and_named(neo4j_db):
    write_graph(neo4j_db, small_graph())
    neo4j_db.execute_query(
        """
        MATCH (u1:User {user_id: 'u1'}), (u2:User {user_id: 'u2'}), (u3:User {user_id: 'u3'})
        SET u1.registered_at = datetime('0001-01-01T00:00:00Z'),
            u2.label = '1', u2.label_at = '2024-03-02',
            u3.attr_income = 'n/a'
        WITH u1
        MATCH (u1)-[r:USES]->(:Device), (u1)-[k:KNOWS]->(:User), (a:Application)
        SET r.first_seen = datetime('+3000-01-01T00:00:00Z'), k.weight = 'heavy',
            a.amount = 1.0 / 0.0
        """
    )
    unusable: list[str] = []
    tables = read_graph(neo4j_db, unusable=unusable)
    assert sorted(unusable) == sorted(
        [
            "User 'u1': registered_at is outside the years 1900-2200",
            "User 'u2': label is not 0 or 1",
            "User 'u2': label_at is not a DateTime",
            "User 'u3': attr_income is not a finite number",
            "Application 'a1': amount is not a finite number",
            "USES 'u1'->'d1': first_seen is outside the years 1900-2200",
            "KNOWS 'u1'->'u3': weight is not a finite number",
        ]
    )
    users = tables.users.set_index("user_id")
    assert pd.isna(users.loc["u1", "registered_at"]) and pd.isna(users.loc["u2", "label"])
    assert pd.isna(users.loc["u2", "label_at"]) and pd.isna(users.loc["u3", "income"])
    assert users.loc["u1", "label"] == 1 and users.loc["u2", "income"] == 2000
    assert users.loc["u1", "income"] == 1000
    assert tables.applications["amount"].isna().all()
    assert tables.user_devices["first_seen"].isna().tolist() == [True, False]
    assert tables.social["weight"].isna().all()
    # what was fine is read as it was stored
    assert read_graph(neo4j_db).user_devices["first_seen"].iloc[1] == pd.Timestamp(
        "2024-01-05", tz="UTC"
    )


def test_a_clean_graph_reports_nothing(neo4j_db):
    write_graph(neo4j_db, small_graph())
    unusable: list[str] = []
    assert read_graph(neo4j_db, unusable=unusable).equals(small_graph())
    assert unusable == []
