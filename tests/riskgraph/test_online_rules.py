"""Online scorer parts without Neo4j: velocity counts, the rules, the neighbourhood."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskgraph.loaders import build_graph_tables
from riskgraph.loaders.merge import id_rows, merge_id_rows
from riskgraph.online import (
    VELOCITY_COLUMNS,
    VelocityRules,
    apply_online_rules,
    neighbourhood,
    velocity_signals,
)

KEY = "rules-test-key-0123456789abcdef"
NOW = pd.Timestamp("2026-07-01T12:00:00", tz="UTC")


def _graph():
    """``n1..n4`` apply from phone ``P`` this morning; ``old`` applied from it last week;
    ``n1`` and ``n2`` share card ``C``; ``friend`` knows ``n1`` and applied twice today."""
    at = ["2026-07-01T09:00", "2026-07-01T11:10", "2026-07-01T11:30", "2026-07-01T11:50"]
    users = ["n1", "n2", "n3", "n4"]
    frames = {
        "users": pd.DataFrame(
            {
                "user_id": [*users, "old", "friend"],
                "registered_at": [*at, "2026-01-01", "2025-01-01"],
            }
        ),
        "user_devices": pd.DataFrame({"user_id": users, "device_id": ["P"] * 4}),
        "user_accounts": pd.DataFrame({"user_id": ["n1", "n2"], "account_id": ["C", "C"]}),
        "social": pd.DataFrame({"src_user_id": ["friend"], "dst_user_id": ["n1"]}),
        "applications": pd.DataFrame(
            {
                "application_id": ["a1", "a2", "a3", "a4", "a0", "f1", "f2"],
                "user_id": [*users, "old", "friend", "friend"],
                "platform_id": ["p"] * 7,
                "applied_at": [*at, "2026-06-24", "2026-07-01T08:00", "2026-07-01T10:00"],
                "device_id": ["P"] * 5 + ["", ""],
            }
        ),
    }
    return build_graph_tables(frames, hmac_key=KEY).tables


def test_velocity_counts_the_live_window_and_the_applicant_itself():
    graph = _graph()
    ids = graph.users["user_id"].tolist()
    positions = np.array([ids.index("n4"), ids.index("n1"), ids.index("old")])
    got = velocity_signals(graph, positions, NOW)
    assert list(got.columns) == list(VELOCITY_COLUMNS)
    n4, n1, old = got.to_dict(orient="records")
    assert (n4["device_applications_1h"], n4["device_applications_1d"]) == (3, 4)
    assert (n1["account_applications_1d"], n1["account_new_users_1d"]) == (2, 2)
    assert n1["contact_applications_1d"] == 2
    assert n4["account_new_users_1d"] == 0  # no account: nobody shares one with it
    assert old["device_applications_1d"] == 4  # its device, not its own application


def _scores(decisions):
    n = len(decisions)
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "decision": pd.array(decisions, dtype="string"),
            "reason_1": pd.array(["stated monthly income below 3k"] * n, dtype="string"),
            "reason_2": pd.array(["no credit history yet"] * n, dtype="string"),
            "reason_3": pd.array([None] * n, dtype="string"),
            "reason_code_1": pd.array(["A05"] * n, dtype="string"),
            "reason_code_2": pd.array(["C01"] * n, dtype="string"),
            "reason_code_3": pd.array([None] * n, dtype="string"),
            "points_lost_1": [20.0] * n,
            "points_lost_2": [10.0] * n,
            "points_lost_3": [np.nan] * n,
        }
    )


def _velocity(device_1h):
    frame = pd.DataFrame({c: np.zeros(len(device_1h), dtype=np.int64) for c in VELOCITY_COLUMNS})
    frame["device_applications_1h"] = device_1h
    return frame


def _no_links(n):
    return pd.DataFrame(
        {c: np.zeros(n) for c in ("device_bad_1hop", "account_bad_1hop",
                                  "app_device_bad_1hop", "social_bad_1hop")}
    )  # fmt: skip


def test_the_fourth_application_from_a_device_in_an_hour_is_declined_and_says_so():
    got = apply_online_rules(
        _scores(["approve", "approve", "review"]),
        _velocity([3, 4, 5]),
        _no_links(3),
        VelocityRules(),
    )
    assert got["decision"].tolist() == ["approve", "decline", "decline"]
    assert got["reason_1"].tolist()[1:] == [
        "4th application from this device in the last hour",
        "5th application from this device in the last hour",
    ]
    # The model's reasons follow, with their codes and points.
    assert got.loc[1, ["reason_2", "reason_3"]].tolist() == [
        "stated monthly income below 3k",
        "no credit history yet",
    ]
    assert got.loc[1, ["reason_code_1", "reason_code_2"]].tolist() == ["V01", "A05"]
    assert np.isnan(got.loc[1, "points_lost_1"]) and got.loc[1, "points_lost_2"] == 20.0
    assert got.loc[0, "reason_1"] == "stated monthly income below 3k"
    off = apply_online_rules(
        _scores(["approve"]), _velocity([9]), _no_links(1), VelocityRules(device_hour_decline=0)
    )
    assert off["decision"].tolist() == ["approve"]


def test_a_link_to_a_known_bad_user_sends_to_review_with_that_reason_first():
    links = _no_links(2)
    links.loc[1, "device_bad_1hop"] = 1
    got = apply_online_rules(
        _scores(["approve", "decline"]), _velocity([0, 0]), links, VelocityRules()
    )
    assert got["decision"].tolist() == ["approve", "decline"]  # never softer
    assert got.loc[1, "reason_1"] == "shares a device with 1 user who defaulted"
    links.loc[0, "device_bad_1hop"] = 2
    got = apply_online_rules(_scores(["approve"]), _velocity([0]), links.iloc[:1], VelocityRules())
    assert got["decision"].tolist() == ["review"]
    assert got.loc[0, "reason_1"] == "shares a device with 2 users who defaulted"


def test_a_negative_threshold_is_refused():
    from riskgraph.errors import ConfigError

    with pytest.raises(ConfigError, match="device_hour_decline"):
        VelocityRules(device_hour_decline=-1).validate()


def test_the_neighbourhood_stops_at_hops_and_at_hubs():
    graph = _graph()
    rows = id_rows(graph)
    one = neighbourhood(rows, ["friend"], hops=1, cap=50)
    assert set(one["users"]["user_id"]) == {"friend", "n1"}
    two = neighbourhood(rows, ["friend"], hops=2, cap=50)
    assert set(two["users"]["user_id"]) == {"friend", "n1", "n2", "n3", "n4", "old"}
    assert set(two["social"]["src_user_id"]) == {"friend"}
    hub = neighbourhood(rows, ["friend"], hops=2, cap=3)  # phone P has 5 users: a hub
    assert set(hub["users"]["user_id"]) == {"friend", "n1", "n2"}


def test_the_neighbourhood_crosses_every_identifier_of_the_schema():
    """A shared address links users as a shared phone does: no table is listed by hand."""
    base = id_rows(_graph())
    extra = id_rows(
        build_graph_tables(
            {
                "users": pd.DataFrame(
                    {"user_id": ["friend", "flatmate"], "registered_at": ["2025-01-01"] * 2}
                ),
                "user_addresses": pd.DataFrame(
                    {"user_id": ["friend", "flatmate"], "address_id": ["1 Mill Rd"] * 2}
                ),
            },
            hmac_key=KEY,
        ).tables
    )
    rows = merge_id_rows([base, extra])
    got = neighbourhood(rows, ["flatmate"], hops=2, cap=50)
    assert set(got["users"]["user_id"]) == {"flatmate", "friend", "n1"}
    assert len(got["user_addresses"]) == 2 and len(got["addresses"]) == 1


def test_a_requests_attribute_columns_take_the_graphs_types():
    """One row cannot tell a number column from a text one (an empty cell types as
    text): the models would read text where they were trained on numbers."""
    from riskgraph.online import _typed_like

    request = build_graph_tables(
        {
            "users": pd.DataFrame(
                {"user_id": ["a"], "registered_at": ["2026-01-01"], "utilization": [""],
                 "region": ["x"]}
            )
        },
        hmac_key=KEY,
    ).tables.users  # fmt: skip
    assert str(request["utilization"].dtype) == "string"
    graph = pd.DataFrame({"utilization": [0.5], "region": pd.array(["y"], dtype="string")})
    typed = _typed_like(request, graph)
    assert typed["utilization"].dtype == np.float64 and np.isnan(typed["utilization"].iloc[0])
    assert str(typed["region"].dtype) == "string"
