"""Relation-wise propagation: hand-checked means and counts, exact link decomposition."""

from __future__ import annotations

import numpy as np
import pytest

from riskgraph.errors import ModelError
from riskgraph.gnn.hetero import HeteroGraphBuilder
from riskgraph.gnn.propagation import RELATIONS, user_graph
from riskgraph.loaders import GraphTables

from .conftest import random_tables


@pytest.fixture
def tiny_graph(tiny: GraphTables):
    data = HeteroGraphBuilder(min_category_count=1).fit(tiny).transform(tiny)
    return user_graph(data, max_sharing=2)


def test_device_mean_is_over_the_other_users_of_the_device(tiny_graph) -> None:
    x = np.arange(1.0, 7.0).reshape(-1, 1)  # u1..u6 -> 1..6
    mean = tiny_graph.mean("device", x).ravel()
    # d1 is shared by u1, u2, u3: each sees the mean of the other two
    assert mean[:3].tolist() == [2.5, 2.0, 1.5]
    assert mean[3:].tolist() == [0.0, 0.0, 0.0]  # nobody shares u4-u6's devices


def test_count_leaves_out_hub_identifiers(tiny_graph) -> None:
    # with max_sharing=2, d1 (3 users) is a hub: no device counts at all
    assert tiny_graph.count("device", np.ones(6)).ravel().tolist() == [0.0] * 6
    # card c1 is shared by u3 and u4 only
    assert tiny_graph.count("account", np.arange(1.0, 7.0)).ravel().tolist() == [
        0, 0, 4, 3, 0, 0,
    ]  # fmt: skip


def test_application_device_and_social_relations(tiny_graph) -> None:
    x = np.arange(1.0, 7.0)
    # u1 and u2 filed from d1 (a1, a2); u4 alone from d3
    assert tiny_graph.mean("application_device", x).ravel().tolist() == [2, 1, 0, 0, 0, 0]
    assert tiny_graph.mean("social", x).ravel().tolist() == [0, 0, 0, 0, 6, 5]
    # the union of identifiers links u3 to u1, u2 (device) and u4 (card)
    ident = tiny_graph.mean("identifier", x).ravel()
    assert ident[2] == pytest.approx((1.5 + 4.0) / 2)


def test_a_user_never_sees_its_own_input_at_one_hop() -> None:
    tables = random_tables(200, seed=3)
    data = HeteroGraphBuilder().fit(tables).transform(tables)
    graph = user_graph(data)
    x = np.eye(200, dtype=np.float32)  # column j is user j's own indicator
    for r in RELATIONS:
        assert np.diag(graph.mean(r, x)).max() == 0.0
        assert np.abs(np.diag(graph.count(r, x))).max() < 1e-6


def test_link_weights_decompose_the_mean_and_count_exactly() -> None:
    tables = random_tables(300, seed=1)
    data = HeteroGraphBuilder().fit(tables).transform(tables)
    graph = user_graph(data, max_sharing=5)
    x = np.random.default_rng(0).normal(size=(300, 3)).astype(np.float32)
    for r in ("device", "account", "application_device", "identifier"):
        m, c = graph.link_weights(r)
        b = graph.incidence[r]
        others = b.T @ x  # per identifier: sum over its users
        by_link_mean = m @ others - x * np.asarray(m.sum(axis=1))
        by_link_count = c @ others - x * np.asarray(c.sum(axis=1))
        np.testing.assert_allclose(by_link_mean, graph.mean(r, x), atol=1e-5)
        np.testing.assert_allclose(by_link_count, graph.count(r, x), atol=1e-4)
    with pytest.raises(ModelError, match="social ties have no identifier"):
        graph.link_weights("social")


def test_wrong_input_length_is_named() -> None:
    tables = random_tables(50, seed=0)
    graph = user_graph(HeteroGraphBuilder().fit(tables).transform(tables))
    with pytest.raises(ModelError, match="49 rows, expected 50"):
        graph.mean("device", np.zeros(49))
    with pytest.raises(ModelError, match="max_sharing = 1"):
        user_graph(HeteroGraphBuilder().fit(tables).transform(tables), max_sharing=1)
