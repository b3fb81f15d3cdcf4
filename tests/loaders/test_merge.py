"""Merging graphs by id: round trips, the later part wins, edges to absent users refused."""

from __future__ import annotations

import pandas as pd
import pytest

from riskgraph.errors import InputError
from riskgraph.loaders import build_graph_tables, load_input
from riskgraph.loaders.merge import graph_from_id_rows, id_rows, merge_id_rows
from riskgraph.loaders.synthetic import generate_population

KEY = "merge-test-key-0123456789abcdef"


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    root = tmp_path_factory.mktemp("merge")
    generate_population(300, seed=3, days=120).write(root / "input", truth_path=root / "t.parquet")
    return load_input(root / "input", hmac_key=KEY.encode()).tables


def test_a_graph_rebuilt_from_its_id_rows_equals_it(graph):
    assert graph_from_id_rows(id_rows(graph)).equals(graph)


def test_merging_a_graph_with_a_part_of_itself_changes_nothing(graph):
    rows = id_rows(graph)
    part = {name: frame.iloc[: len(frame) // 3] for name, frame in rows.items()}
    assert graph_from_id_rows(merge_id_rows([part, rows, part])).equals(graph)


def test_a_new_applicant_joins_with_its_device_and_the_later_row_wins(graph):
    rows = id_rows(graph)
    device = rows["user_devices"]["device_id"].iloc[0]
    someone = rows["users"]["user_id"].iloc[5]
    new = build_graph_tables(
        {
            "users": pd.DataFrame(
                {"user_id": ["NEW", someone], "registered_at": ["2030-01-01", "2001-01-01"]}
            ),
            "user_devices": pd.DataFrame({"user_id": ["NEW"], "device_id": [device]}),
        },
        hmac_key=KEY,
    ).tables
    merged = graph_from_id_rows(merge_id_rows([rows, id_rows(new)]))
    assert merged.num_users == graph.num_users + 1
    assert len(merged.devices) == len(graph.devices)
    users = merged.users.set_index("user_id")
    assert users.loc[someone, "registered_at"] == pd.Timestamp("2001-01-01", tz="UTC")
    on_device = merged.user_devices.loc[
        merged.user_devices["device_idx"] == merged.devices["device_id"].tolist().index(device)
    ]
    assert "NEW" in set(merged.users["user_id"].iloc[on_device["user_idx"]])


def test_an_edge_to_a_user_no_part_holds_is_refused(graph):
    rows = id_rows(graph)
    orphan = {"user_devices": rows["user_devices"].iloc[:1].assign(user_id="GHOST")}
    with pytest.raises(InputError, match="user_idx"):
        graph_from_id_rows(merge_id_rows([rows, orphan]))


def test_every_table_of_the_schema_survives_the_round_trip(graph):
    """A table added to the schema (shared addresses) merges like the first ones: none
    is listed by hand here."""
    rows = id_rows(graph)
    users = rows["users"]["user_id"].iloc[:3].tolist()
    added = build_graph_tables(
        {
            "users": pd.DataFrame({"user_id": users, "registered_at": ["2001-01-01"] * 3}),
            "user_addresses": pd.DataFrame(
                {"user_id": users, "address_id": ["12 Elm St", "12 Elm St", "3 Oak Rd"]}
            ),
        },
        hmac_key=KEY,
    ).tables
    with_addresses = graph_from_id_rows(merge_id_rows([rows, id_rows(added)]))
    assert len(with_addresses.addresses) == 2
    assert len(with_addresses.user_addresses) == 3
    assert graph_from_id_rows(id_rows(with_addresses)).equals(with_addresses)
