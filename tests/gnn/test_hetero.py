"""HeteroData building: node and edge types, time cut, encodings, persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from riskgraph.errors import ModelError
from riskgraph.gnn.hetero import ALWAYS, EDGE_TYPES, HeteroGraphBuilder, to_epoch_seconds
from riskgraph.loaders import GraphTables, build_graph_tables

from .conftest import KEY, tiny_frames, tiny_tables


def global_pairs(data, edge_type, tables: GraphTables) -> set[tuple[str, str]]:
    """Edges of ``edge_type`` as (source id, target id) pairs."""
    names = {
        "user": tables.users["user_id"],
        "device": tables.devices["device_id"],
        "account": tables.accounts["account_id"],
        "platform": tables.platforms["platform_id"],
        "application": tables.applications["application_id"],
        "address": tables.addresses["address_id"],
    }
    src, _, dst = edge_type
    ei = data[edge_type].edge_index
    return {
        (str(names[src].iloc[int(a)]), str(names[dst].iloc[int(b)]))
        for a, b in zip(ei[0], ei[1], strict=True)
    }


def test_every_relation_in_both_directions(tiny: GraphTables) -> None:
    data = HeteroGraphBuilder(min_category_count=1).fit(tiny).transform(tiny)
    # tiny has no addresses (an optional table): no address node or edge type then
    assert set(data.edge_types) == {et for et in EDGE_TYPES if "address" not in (et[0], et[2])}
    assert "address" not in data.node_types
    assert global_pairs(data, ("user", "uses", "device"), tiny) == {
        ("u1", "d1"), ("u2", "d1"), ("u3", "d1"), ("u6", "d2"),
    }  # fmt: skip
    for fwd, rev in [(EDGE_TYPES[i], EDGE_TYPES[i + 1]) for i in (0, 2, 5, 7, 9)]:
        flipped = {(b, a) for a, b in global_pairs(data, fwd, tiny)}
        assert global_pairs(data, rev, tiny) == flipped
    # the social tie u5-u6 appears once per direction
    assert global_pairs(data, ("user", "knows", "user"), tiny) == {("u5", "u6"), ("u6", "u5")}
    # a3 was filed from d3, which no user uses; a4 from no device
    assert global_pairs(data, ("application", "from_device", "device"), tiny) == {
        ("a1", "d1"), ("a2", "d1"), ("a3", "d3"),
    }  # fmt: skip
    assert data["user"].num_nodes == 6 and data["application"].num_nodes == 4


def test_as_of_drops_later_links_and_users_not_yet_registered(tiny: GraphTables) -> None:
    builder = HeteroGraphBuilder(min_category_count=1).fit(tiny)
    data = builder.transform(tiny, as_of="2024-03-01")
    # u6 registers on 2024-04-01: none of its links exist on 2024-03-01
    assert ("u6", "d2") not in global_pairs(data, ("user", "uses", "device"), tiny)
    assert global_pairs(data, ("user", "knows", "user"), tiny) == set()
    assert ("u6", "a4") not in global_pairs(data, ("user", "submitted", "application"), tiny)
    # nodes keep their positions: user row i is tables.users row i
    assert data["user"].num_nodes == tiny.num_users


def test_edge_time_is_epoch_seconds_and_missing_times_are_always_visible() -> None:
    times = pd.Series(pd.to_datetime(["1970-01-02", None], utc=True))
    assert to_epoch_seconds(times).tolist() == [86_400, ALWAYS]


def test_numeric_encoding_with_missing_indicator(tiny: GraphTables) -> None:
    builder = HeteroGraphBuilder(min_category_count=1, clip_quantile=0.0).fit(tiny)
    assert builder.attribute_names_ == ["income", "income:missing"]
    x, x_cat = builder.attribute_inputs(tiny)
    # income is heavy-tailed (100000 among a few thousands): log-compressed
    assert builder.numeric_["income"]["log"]
    assert x[2, 1] == 1.0 and x[2, 0] == 0.0  # u3 has no income: indicator, mean value
    assert np.isclose(x[[0, 1, 3, 4, 5], 0].mean(), 0.0, atol=1e-6)
    # age_band codes: 0 missing (u4), then by frequency: 18-24 and 25-34 twice each
    vocab = builder.categorical_["age_band"]
    assert vocab == ["18-24", "25-34", "35-44"]
    assert x_cat[:, 0].tolist() == [2, 3, 3, 0, 4, 2]


def test_rare_and_unseen_categories_share_the_other_code(tiny: GraphTables) -> None:
    builder = HeteroGraphBuilder(min_category_count=2).fit(tiny)
    _, x_cat = builder.attribute_inputs(tiny)
    assert x_cat[4, 0] == 1  # 35-44 seen once: "other"


def test_state_dict_round_trip_encodes_identically(tiny: GraphTables) -> None:
    builder = HeteroGraphBuilder(min_category_count=1).fit(tiny, as_of="2024-05-01")
    again = HeteroGraphBuilder.from_state_dict(builder.state_dict())
    a, b = builder.transform(tiny), again.transform(tiny)
    for t in a.node_types:
        assert torch.equal(a[t].x, b[t].x)
    assert torch.equal(a["user"].x_cat, b["user"].x_cat)


def test_graph_features_are_appended_and_checked(tiny: GraphTables) -> None:
    feats = pd.DataFrame(
        {
            "user_id": tiny.users["user_id"],
            "ring_id": pd.array([None] * 6, dtype="string"),
            "exposure": [0.0, 1.0, 2.0, np.nan, 0.0, 1.0],
            "flag": [True, False, False, False, True, False],
        }
    )
    builder = HeteroGraphBuilder(min_category_count=1).fit(tiny, feats)
    assert builder.feature_columns_ == ["exposure", "flag"]
    x = builder.feature_inputs(tiny, feats)
    assert x.shape == (6, 3)  # two features, one missing indicator
    assert builder.transform(tiny, feats)["user"].x.shape[1] == 2 + 3
    with pytest.raises(ModelError, match="graph features have 5 rows, expected one per user"):
        builder.feature_inputs(tiny, feats.iloc[:5])
    shuffled = feats.iloc[::-1].reset_index(drop=True)
    with pytest.raises(ModelError, match="row 0 has user_id 'u6', expected 'u1'"):
        builder.feature_inputs(tiny, shuffled)
    with pytest.raises(ModelError, match="lack column 'flag'"):
        builder.feature_inputs(tiny, feats.drop(columns="flag"))
    with pytest.raises(ModelError, match="not fitted"):
        HeteroGraphBuilder().transform(tiny)


def test_addresses_are_an_identifier_node_type_when_the_graph_has_some() -> None:
    frames = tiny_frames()
    frames["user_addresses"] = pd.DataFrame(
        {
            "user_id": ["u1", "u4", "u6"],
            "address_id": ["12 Elm St", "12 Elm St", "3 Oak Rd"],
            "declared_at": ["2024-01-05", "2024-01-06", "2024-04-02"],
        }
    )
    tables = build_graph_tables(frames, hmac_key=KEY).tables
    builder = HeteroGraphBuilder(min_category_count=1).fit(tables)
    data = builder.transform(tables)
    assert set(data.edge_types) == set(EDGE_TYPES)
    ids = dict(
        zip(tables.user_addresses["user_idx"], tables.user_addresses["address_idx"], strict=True)
    )
    elm = tables.addresses["address_id"].iloc[ids[0]]  # u1's address, pseudonymized
    assert elm != "12 Elm St"
    assert global_pairs(data, ("user", "lives_at", "address"), tables) == {
        ("u1", elm), ("u4", elm), ("u6", tables.addresses["address_id"].iloc[ids[5]]),
    }  # fmt: skip
    flipped = {(b, a) for a, b in global_pairs(data, ("user", "lives_at", "address"), tables)}
    assert global_pairs(data, ("address", "rev_lives_at", "user"), tables) == flipped
    # x: log1p of the users living there; u6 registers (and moves in) after 2024-03-01
    elm_at, oak_at = ids[0], ids[5]  # positions of the two addresses
    assert data["address"].x[[elm_at, oak_at], 0].tolist() == pytest.approx(np.log1p([2, 1]))
    before = builder.transform(tables, as_of="2024-03-01")
    assert ("u6", tables.addresses["address_id"].iloc[ids[5]]) not in global_pairs(
        before, ("user", "lives_at", "address"), tables
    )
    assert before["address"].x[[elm_at, oak_at], 0].tolist() == pytest.approx(np.log1p([2, 0]))
    # every other store is the one of the graph without addresses
    plain = HeteroGraphBuilder(min_category_count=1).fit(tiny_tables())
    without = plain.transform(tiny_tables())
    for et in without.edge_types:
        assert torch.equal(data[et].edge_index, without[et].edge_index)
