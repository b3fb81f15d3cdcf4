"""Exposure to known-bad users: hop counts and personalized PageRank, checked by eye and
against networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from riskgraph.errors import ConfigError, FeatureError
from riskgraph.graph.features import ExposureConfig, FeatureConfig, compute_graph_features
from riskgraph.graph.features.adjacency import binary_matrix, graph_snapshot
from riskgraph.graph.features.exposure import hop_counts, label_folds, ppr_exposure
from riskgraph.graph.features.labels import visible_labels
from riskgraph.graph.features.pagerank import PowerIteration, personalized_pagerank
from riskgraph.graph.features.timeline import to_micros

AS_OF = pd.Timestamp("2024-06-01", tz="UTC")


def by_user(tables, **kwargs) -> pd.DataFrame:
    return compute_graph_features(tables, AS_OF, **kwargs).features.set_index("user_id")


def test_town_one_hop_counts_per_relation(town):
    f = by_user(town)
    # Visible bad users: r4 and c1 (r2's label comes after as_of, z1 does not exist yet).
    assert f.loc[
        "r3", ["device_users_1hop", "device_bad_1hop", "device_bad_share_1hop"]
    ].tolist() == [1, 1, 1.0]
    assert f.loc["r4", ["device_bad_1hop", "device_bad_share_1hop"]].tolist() == [0, 0.0]
    assert np.isnan(f.loc["r1", "device_bad_share_1hop"])  # r2 has no visible label
    assert f.loc["c2", ["device_users_1hop", "device_bad_1hop"]].tolist() == [3, 1]
    assert f.loc["c1", "device_bad_1hop"] == 0  # its own label never counts
    assert f.loc["r2", ["account_users_1hop", "account_bad_share_1hop"]].tolist() == [1, 0.0]
    assert f.loc["h1", "social_users_1hop"] == 1 and f.loc["r1", "social_users_1hop"] == 1
    assert f.loc["a1", "app_device_users_1hop"] == 2  # a2, a3 on the agent's device
    assert f.loc["c2", "any_users_1hop"] == 4  # c1, c3, c4 by the PC, h2 by a family tie
    assert f.loc["z1"].filter(like="_1hop").fillna(0).eq(0).all()


def test_town_two_hop_counts_cross_relations_in_any(town):
    f = by_user(town)
    # h2 - c2 (social) - c1 (PC, bad): two hops only over the union of relations.
    assert f.loc["h2", "any_bad_1hop"] == 0 and f.loc["h2", "any_bad_2hop"] == 1
    assert f.loc["h2", "any_bad_share_2hop"] == 1.0
    assert f.loc["h2", "device_bad_2hop"] == 0
    # r2 - r3 (card) - r4 (phone, bad); r1 - h1 within two hops too, both unlabelled.
    assert f.loc["r2", ["any_bad_2hop", "any_bad_share_2hop"]].tolist() == [1, 0.5]
    assert f.loc["r4", "any_bad_2hop"] == 0  # r4 - r3 - r2: r2 invisible; itself excluded


def test_exposure_max_sharing_drops_busy_identifiers(town):
    f = by_user(town, config=FeatureConfig(exposure=ExposureConfig(max_sharing=3)))
    assert f.loc["c2", "device_users_1hop"] == 0  # the PC has 4 users
    assert f.loc["c2", "any_users_1hop"] == 1  # only the family tie is left


def random_graph(seed: int, n: int = 40, p: float = 0.08) -> tuple[sp.csr_array, np.ndarray]:
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.random((n, n)) < p, k=1)
    rows, cols = np.nonzero(upper | upper.T)
    labels = rng.choice([np.nan, 0.0, 1.0], size=n, p=[0.4, 0.4, 0.2])
    return binary_matrix(rows, cols, (n, n)), labels


def test_two_hops_go_through_users_of_few_links_only():
    """A star: the centre has 30 contacts, one of them bad. Through the centre every
    leaf would see the bad leaf two hops away; with at most 10 links per middle user,
    none does, and the centre still sees it one hop away."""
    leaves = np.arange(1, 31)
    a = binary_matrix(
        np.concatenate([np.zeros(30, np.int64), leaves]),
        np.concatenate([leaves, np.zeros(30, np.int64)]),
        (31, 31),
    )
    labels = np.full(31, np.nan)
    labels[1] = 1.0
    labels[2:6] = 0.0
    open_ = hop_counts(a, labels)
    capped = hop_counts(a, labels, max_links=10)
    assert open_["bad_2hop"][7] == 1 and capped["bad_2hop"][7] == 0
    assert open_["bad_share_2hop"][7] == 0.2 and np.isnan(capped["bad_share_2hop"][7])
    assert capped["bad_1hop"][0] == 1 and capped["bad_2hop"][0] == 1


@pytest.mark.parametrize("seed", range(6))
def test_hop_counts_match_networkx_shortest_paths(seed):
    adjacency, labels = random_graph(seed)
    got = hop_counts(adjacency, labels)
    g = nx.from_scipy_sparse_array(adjacency)
    for u in g.nodes:
        for hops in (1, 2):
            near = [
                v
                for v, d in nx.single_source_shortest_path_length(g, u, cutoff=hops).items()
                if v != u
            ]
            bad = sum(labels[v] == 1.0 for v in near)
            known = sum(not np.isnan(labels[v]) for v in near)
            assert got[f"bad_{hops}hop"][u] == bad
            share = got[f"bad_share_{hops}hop"][u]
            assert (np.isnan(share) and known == 0) or share == pytest.approx(bad / known)
        assert got["users_1hop"][u] == g.degree[u]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("damping", [0.5, 0.85])
def test_personalized_pagerank_matches_networkx(seed, damping):
    rng = np.random.default_rng(seed)
    n = 30
    g = nx.gnp_random_graph(n, 0.1, seed=seed, directed=True)
    g.add_nodes_from(range(n))  # isolated and dangling nodes included
    for u, v in g.edges:
        g.edges[u, v]["weight"] = float(rng.integers(1, 4))
    adjacency = nx.to_scipy_sparse_array(g, nodelist=range(n), weight="weight", format="csr")
    seeds = np.zeros((n, 2))
    seeds[rng.choice(n, 4, replace=False), 0] = 1.0
    seeds[rng.choice(n, 2, replace=False), 1] = rng.random(2) + 0.5
    got = personalized_pagerank(
        adjacency, seeds, PowerIteration(damping=damping, tol=1e-13, max_iter=2000)
    )
    for k in range(2):
        mass = seeds[:, k].sum()
        expected = nx.pagerank(
            g,
            alpha=damping,
            personalization={i: seeds[i, k] for i in range(n)},
            weight="weight",
            tol=1e-14,
            max_iter=5000,
        )
        np.testing.assert_allclose(got[:, k], [expected[i] * mass for i in range(n)], atol=1e-9)


def test_personalized_pagerank_rejects_a_damping_of_one():
    a = sp.csr_array(np.eye(2))
    with pytest.raises(FeatureError, match=r"damping = 1.0: expected 0 <= damping < 1"):
        personalized_pagerank(a, np.ones(2), PowerIteration(damping=1.0))


def test_float32_pagerank_stops_at_its_precision_floor_on_a_hub():
    """A hub with tens of thousands of in-edges: its float32 sum rounds by more than
    ``tol``, so the change never falls below it. The iteration stops where the change
    stops shrinking, close to the float64 answer, instead of raising."""
    n = 30_000
    rng = np.random.default_rng(0)
    leaves = np.arange(1, n)
    w = rng.random(n - 1) * 10 + 0.1
    rows = np.concatenate([np.zeros(n - 1, dtype=int), leaves])
    cols = np.concatenate([leaves, np.zeros(n - 1, dtype=int)])
    a = sp.csr_array((np.concatenate([w, w]), (rows, cols)), shape=(n, n))
    seeds = np.zeros(n)
    seeds[1:] = 1.0
    got = personalized_pagerank(a, seeds, PowerIteration(tol=1e-6, dtype=np.float32))
    exact = personalized_pagerank(a, seeds, PowerIteration(tol=1e-12, dtype=np.float64))
    assert np.abs(got - exact).sum() < 1e-5 * seeds.sum()


def test_ppr_feature_is_seeded_on_the_other_folds_bad_users(make_tables, town_frames):
    """Rebuild the PageRank graph in networkx and run one personalization per fold."""
    frames = town_frames()
    frames["user_devices"].append(["r1", "dOwn", ""])  # a phone nobody else uses: no node
    tables = make_tables(frames)
    config = ExposureConfig(ppr_folds=2)
    labels = visible_labels(tables.users, AS_OF)
    snapshot = graph_snapshot(tables, int(to_micros(pd.DatetimeIndex([AS_OF]))[0]))
    labels[~snapshot.active] = np.nan
    user_ids = tables.users["user_id"]
    got = ppr_exposure(snapshot, user_ids, labels, config)

    g = nx.Graph()
    g.add_nodes_from(user_ids)
    identifiers = snapshot.identifiers()
    shared = np.bincount(identifiers.indices, minlength=identifiers.shape[1]) >= 2
    for matrix, prefix in ((identifiers, "id"), (snapshot.social, None)):
        coo = matrix.tocoo()
        for u, j in zip(coo.row, coo.col, strict=True):
            if prefix is None:
                g.add_edge(user_ids.iloc[u], user_ids.iloc[j])
            elif shared[j]:
                g.add_edge(user_ids.iloc[u], f"{prefix}{j}")
    assert not any(str(node).startswith("id") and g.degree[node] < 2 for node in g.nodes)
    fold = label_folds(user_ids, 2)
    bad = labels == 1.0
    assert len(set(fold[bad])) == 2, "test graph should have bad users in both folds"
    for f in range(2):
        seeds = {user_ids.iloc[i]: 1.0 for i in np.flatnonzero(bad & (fold != f))}
        expected = nx.pagerank(g, alpha=0.85, personalization=seeds, tol=1e-14, max_iter=5000)
        for i in np.flatnonzero(fold == f):
            # Single precision, stopped at an L1 change of 1e-6 of the seed mass.
            want = expected[user_ids.iloc[i]] * len(seeds)
            assert got[i] == pytest.approx(want, rel=1e-5, abs=1e-5 * len(seeds))


def test_label_folds_follow_the_user_id_not_the_position():
    ids = pd.Series(["u1", "u2", "u3", "u4", "u5", "u6"])
    forward = label_folds(ids, 3)
    backward = label_folds(ids[::-1].reset_index(drop=True), 3)
    assert forward.tolist() == backward[::-1].tolist()
    assert set(forward) <= {0, 1, 2}


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("max_sharing", 1, r"ExposureConfig.max_sharing = 1: expected an integer >= 2"),
        ("ppr_damping", 1.0, r"ExposureConfig.ppr_damping = 1.0: expected 0..<1"),
        ("ppr_folds", 1, r"ExposureConfig.ppr_folds = 1: expected an integer >= 2"),
        ("ppr_tol", 1e-7, r"ExposureConfig.ppr_tol = 1e-07: expected >= 1e-6 \(the iteration"),
    ],
)
def test_exposure_config_errors_name_the_setting(town, setting, value, message):
    with pytest.raises(ConfigError, match=message):
        compute_graph_features(
            town, AS_OF, config=FeatureConfig(exposure=ExposureConfig(**{setting: value}))
        )


def test_feature_views_equal_one_computation_per_view():
    # The training protocol computes 30 label views at once: the label-free work is
    # shared and the PageRank runs of a batch share an iteration. Every view must come
    # out exactly as its own compute_graph_features call, batches of uneven size included.
    from riskgraph.graph.features import compute_graph_feature_views
    from riskgraph.loaders import build_graph_tables
    from riskgraph.loaders.synthetic import generate_population

    population = generate_population(1_500, seed=5, days=365)
    tables = build_graph_tables(population.tables, hmac_key="views-test-key-0123456789").tables
    as_of = pd.Timestamp(population.end) - pd.Timedelta(days=30)
    rng = np.random.default_rng(0)
    visible = visible_labels(tables.users, as_of)
    views = [np.where(rng.random(len(visible)) < 0.8, visible, np.nan) for _ in range(5)]
    views.append(None)  # the visible labels themselves
    reference = (tables.users["registered_at"] + pd.Timedelta(days=3)).clip(upper=as_of)
    batched = list(
        compute_graph_feature_views(tables, as_of, views, reference_time=reference, batch_size=4)
    )
    assert len(batched) == len(views)
    for labels, got in zip(views, batched, strict=True):
        expected = compute_graph_features(tables, as_of, labels=labels, reference_time=reference)
        pd.testing.assert_frame_equal(got.features, expected.features, check_exact=True)
        pd.testing.assert_frame_equal(got.rings, expected.rings, check_exact=True)
    assert batched[0].features["bad_ppr"].gt(0).any()  # the PageRank had bad seeds
    assert not batched[0].features["bad_ppr"].equals(batched[1].features["bad_ppr"])
    # the two-hop pairs are shared across views: their counts still differ per view
    assert not batched[0].features["any_bad_2hop"].equals(batched[1].features["any_bad_2hop"])
    with pytest.raises(ConfigError, match="batch_size = 0"):
        next(compute_graph_feature_views(tables, as_of, views, batch_size=0))


def test_the_two_hop_pairs_kept_between_calls_give_the_counts_of_a_fresh_walk():
    # A night computes the features of one snapshot in several calls, and the two-hop
    # pairs of its labelled users are kept from one call to the next: only users no
    # earlier call labelled are walked. Every call must equal a walk from nothing, in
    # whatever order the labels grow or shrink, and from two threads at once.
    from concurrent.futures import ThreadPoolExecutor

    from riskgraph.graph.features import exposure
    from riskgraph.loaders import build_graph_tables
    from riskgraph.loaders.synthetic import generate_population

    population = generate_population(1_500, seed=7, days=365)
    tables = build_graph_tables(population.tables, hmac_key="pairs-test-key-0123456789").tables
    as_of = pd.Timestamp(population.end) - pd.Timedelta(days=30)
    visible = visible_labels(tables.users, as_of)
    rng = np.random.default_rng(1)
    few = np.where(rng.random(len(visible)) < 0.3, visible, np.nan)
    more = np.where(rng.random(len(visible)) < 0.7, visible, np.nan)
    order = [few, more, visible, few]  # grows, then a subset of what is held

    def features(labels):
        return compute_graph_features(tables, as_of, labels=labels).features

    def fresh(labels):
        exposure._LATEST_PAIRS.clear()
        return features(labels)

    expected = [fresh(labels) for labels in order]
    exposure._LATEST_PAIRS.clear()
    kept = [features(labels) for labels in order]
    for got, want in zip(kept, expected, strict=True):
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert not kept[0]["any_bad_2hop"].equals(kept[2]["any_bad_2hop"])  # the views differ
    (held,) = exposure._LATEST_PAIRS.values()
    n_pairs = len(held.pairs["any"][0])
    features(visible)  # nothing new: nothing walked, nothing added
    assert len(held.pairs["any"][0]) == n_pairs

    exposure._LATEST_PAIRS.clear()
    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(features, [visible, visible]))
    for got in both:
        pd.testing.assert_frame_equal(got, expected[2], check_exact=True)


def test_the_key_of_kept_pairs_sees_which_user_holds_which_link():
    # Two graphs with the same degrees and the same column ids in other rows (ties 0-1,
    # 2-3 against 0-3, 1-2) have different two-hop pairs: the key that finds the pairs
    # kept between calls must tell them apart, or one graph gets the other's counts.
    from riskgraph.graph.features.adjacency import sparse_digest

    def ties(edges):
        rows = [a for a, _ in edges] + [b for _, b in edges]
        cols = [b for _, b in edges] + [a for a, _ in edges]
        return binary_matrix(np.array(rows), np.array(cols), (4, 4))

    a, b = ties([(0, 1), (2, 3)]), ties([(0, 3), (1, 2)])
    assert np.array_equal(a.indptr, b.indptr)
    assert sorted(a.indices) == sorted(b.indices)
    assert sparse_digest([a]) != sparse_digest([b])
    assert sparse_digest([a]) == sparse_digest([ties([(2, 3), (0, 1)])])
