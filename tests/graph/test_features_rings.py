"""Shared-identifier rings and hub features on the hand-made town and random graphs."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from riskgraph.errors import ConfigError
from riskgraph.graph.features import FeatureConfig, RingConfig, compute_graph_features
from riskgraph.graph.features.rings import _random_groups, ring_id_of

AS_OF = pd.Timestamp("2024-06-01", tz="UTC")


def by_user(tables, **kwargs) -> pd.DataFrame:
    return compute_graph_features(tables, AS_OF, **kwargs).features.set_index("user_id")


def test_town_rings_are_the_components_over_shared_identifiers(town):
    f = by_user(town)
    ring = f["ring_id"]
    assert ring["r1"] == ring["r2"] == ring["r3"] == ring["r4"]  # dA, cA, dB chain them
    assert ring["h1"] == ring["h2"] != ring["r1"]
    assert ring["a1"] == ring["a2"] == ring["a3"]  # agent device dAg, applications only
    assert len({ring["r1"], ring["h1"], ring["c1"], ring["a1"]}) == 4
    assert pd.isna(ring["z1"])  # registered after as_of: not in the graph
    assert f.loc["r1", "ring_size"] == 4 and f.loc["h1", "ring_size"] == 2
    assert f.loc["z1", "ring_size"] == 0
    # The id comes from the smallest member id.
    assert ring["r1"] == ring_id_of("r1") and ring["c2"] == ring_id_of("c1")


def test_ring_bad_rate_is_leave_one_out_over_visible_labels(town):
    f = by_user(town)
    # Ring r1..r4: r4 bad, r3 good, r2 bad only after as_of (invisible).
    assert f.loc["r1", ["ring_bad_count", "ring_bad_rate"]].tolist() == [1.0, 0.5]
    assert f.loc["r3", ["ring_bad_count", "ring_bad_rate"]].tolist() == [1.0, 1.0]
    assert f.loc["r4", ["ring_bad_count", "ring_bad_rate"]].tolist() == [0.0, 0.0]
    # c1 is the only labelled cafe user: the others see it, c1 sees nobody labelled.
    assert f.loc["c2", "ring_bad_rate"] == 1.0
    assert np.isnan(f.loc["c1", "ring_bad_rate"]) and f.loc["c1", "ring_bad_count"] == 0


def test_ring_activity_and_timing(town):
    gf = compute_graph_features(town, AS_OF)
    f = gf.features.set_index("user_id")
    # Platforms p1 (r1, r2), p2 (r3), p3 (r4); ap12 is at as_of exactly: excluded.
    assert f.loc["r1", "ring_platforms"] == 3
    assert f.loc["r1", "ring_registration_span_days"] == 2.0
    assert f.loc["r1", "ring_registration_burst_share"] == 1.0
    # Applications 05-10, 05-12, 05-12, 05-20: three within a week of 05-10.
    assert f.loc["r1", "ring_application_burst_share"] == 0.75
    assert f.loc["r1", "ring_shared_identifiers"] == 3  # dA, cA, dB
    assert np.isnan(f.loc["c1", "ring_application_burst_share"])  # cafe never applied
    rings = gf.rings.set_index("ring_id")
    r = rings.loc[ring_id_of("r1")]
    assert (r["size"], r["known_count"], r["bad_count"], r["bad_rate"]) == (4, 2, 1, 0.5)
    assert r["first_registered_at"] == pd.Timestamp("2024-05-01", tz="UTC")
    assert list(gf.rings["ring_id"]) == sorted(gf.rings["ring_id"])


def test_ring_flag_separates_burst_rings_from_households_and_cafes(town):
    f = by_user(town)
    # 4 of 4 registered within 2 days: in this town of 13 users, random groups of 4
    # do that in 1 draw of 715 (the four ring members themselves)
    assert f.loc["r1", "ring_flag"]
    assert not f.loc["h1", "ring_flag"]  # a couple, registered 3 years apart
    assert not f.loc["c1", "ring_flag"]  # 4 cafe users registered months apart
    assert not f.loc["z1", "ring_flag"]
    # 3 agent clients within 3 days: random triples of this town do that 5 times in
    # 286 (1.7%): flagged at a 5% significance, not at 0.5%
    loose = FeatureConfig(rings=RingConfig(flag_significance=0.05))
    strict = FeatureConfig(rings=RingConfig(flag_significance=0.005))
    assert by_user(town, config=loose).loc["a1", "ring_flag"]
    assert not by_user(town, config=strict).loc["a1", "ring_flag"]
    assert not by_user(town, config=loose).loc["c1", "ring_flag"]


def test_a_population_registered_on_one_day_shows_no_burst(make_tables):
    """Data without dates (everyone registered on one day): a shared-card group is no
    burst; it is flagged only when its other members' known bad labels exceed what the
    population's bad rate explains, and a member's own label never decides its flag."""
    users = [["user_id", "registered_at", "label", "label_at"]]
    cards = [["user_id", "account_id", "account_type", "linked_at"]]
    for g in range(40):  # 40 couples sharing a card, 1 bad in 20 labelled users
        for m in range(2):
            uid = f"u{g:02d}{m}"
            users.append([uid, "2024-01-01", "1" if (g % 20 == 0 and m) else "0", "2024-02-01"])
            cards.append([uid, f"card{g:02d}", "bank_card", ""])
    for m in range(6):  # one group of six on one card: five known bad, one unknown
        uid = f"ring{m}"
        users.append([uid, "2024-01-01", "1" if m < 5 else "", "2024-02-01" if m < 5 else ""])
        cards.append([uid, "cardR", "bank_card", ""])
    for m in range(4):  # a group of four, nothing known against it
        uid = f"quiet{m}"
        users.append([uid, "2024-01-01", "0", "2024-02-01"])
        cards.append([uid, "cardQ", "bank_card", ""])
    tables = make_tables({"users": users, "user_accounts": cards})
    f = by_user(tables)
    assert f.loc["ring5", "ring_flag"]  # the unknown member: five known bad mates
    assert f.loc["ring0", "ring_flag"]  # a bad member: four other bad mates suffice
    assert not f.loc["quiet0", "ring_flag"]  # four together on one day: no burst here
    assert f.loc["ring0", "ring_registration_burst_share"] == 1.0
    # with only its own label against it, a member is not flagged by its own label
    users2 = [row if not row[0].startswith("ring") or row[0] in ("ring0", "ring5")
              else [row[0], "2024-01-01", "0", "2024-02-01"] for row in users]  # fmt: skip
    f2 = by_user(make_tables({"users": users2, "user_accounts": cards}))
    assert not f2.loc["ring0", "ring_flag"]


def test_ring_flag_also_catches_rings_that_apply_together(make_tables):
    """Everyone registered over a year and applies over a year; one group of four on a
    shared card registered months apart but applies within two days: flagged. A group
    applying weeks apart is not, nor a pair (too few to call a burst)."""
    rng = np.random.default_rng(0)
    start = pd.Timestamp("2023-01-01")
    users = [["user_id", "registered_at", "label", "label_at"]]
    cards = [["user_id", "account_id", "account_type", "linked_at"]]
    apps = [["application_id", "user_id", "platform_id", "applied_at", "amount", "device_id"]]

    def add(uid: str, registered: pd.Timestamp, applied: pd.Timestamp, card: str) -> None:
        users.append([uid, str(registered.date()), "", ""])
        cards.append([uid, card, "bank_card", ""])
        apps.append([f"a-{uid}", uid, "p1", str(applied), "", ""])

    for i in range(200):
        registered = start + pd.Timedelta(days=int(rng.integers(0, 365)))
        add(f"n{i:03d}", registered, registered + pd.Timedelta(days=int(rng.integers(1, 100))),
            f"own{i:03d}")  # fmt: skip
    for m in range(4):
        add(f"g{m}", start + pd.Timedelta(days=90 * m), pd.Timestamp("2024-03-10") +
            pd.Timedelta(hours=12 * m), "cardG")  # fmt: skip
        add(f"s{m}", start + pd.Timedelta(days=90 * m), pd.Timestamp("2024-01-10") +
            pd.Timedelta(days=20 * m), "cardS")  # fmt: skip
    for m in range(2):
        add(f"p{m}", start + pd.Timedelta(days=150 * m), pd.Timestamp("2024-02-01"), "cardP")
    f = by_user(make_tables({"users": users, "user_accounts": cards, "applications": apps}))
    assert f.loc["g0", "ring_flag"] and f.loc["g0", "ring_application_burst_share"] == 1.0
    assert f.loc["g0", "ring_registration_burst_share"] == 0.25
    assert not f.loc["s0", "ring_flag"]
    assert not f.loc["p0", "ring_flag"]


def test_one_multi_borrower_does_not_make_a_household_a_ring(make_tables, town_frames):
    frames = town_frames()
    frames["users"].append(["h3", "2015-01-01", "", ""])
    frames["user_devices"].append(["h3", "dT", ""])
    frames["applications"] += [
        [f"hb{i}", "h1", f"p{i}", f"2024-05-2{i}", "100", "dT"] for i in range(1, 6)
    ]
    f = by_user(make_tables(frames))
    assert f.loc["h3", "ring_size"] == 3
    # 5 of the household's 6 applications fall in one week, but all are h1's: a single
    # applicant is no burst of applicants.
    assert np.isnan(f.loc["h3", "ring_application_burst_share"])
    assert not f.loc["h3", "ring_flag"]


def test_identifiers_above_max_sharing_are_hubs_not_ring_links(town):
    f = by_user(town, config=FeatureConfig(rings=RingConfig(max_sharing=3)))
    assert pd.isna(f.loc["c1", "ring_id"])  # dPub has 4 users > 3
    assert f.loc["c1", "hub_identifiers"] == 1 and f.loc["c1", "max_identifier_users"] == 4
    assert f.loc["a1", "ring_size"] == 3  # dAg has exactly 3: still a link
    default = by_user(town)
    assert default.loc["c1", "hub_identifiers"] == 0
    assert default.loc["r2", "shared_identifiers"] == 2  # dA and cA
    assert default.loc["z1", "max_identifier_users"] == 0


def test_ring_ids_do_not_depend_on_input_row_order(town, town_frames, make_tables):
    frames = town_frames()
    shuffled = {}
    rng = np.random.default_rng(0)
    for name, (header, *rows) in frames.items():
        order = rng.permutation(len(rows))
        shuffled[name] = [header, *[rows[i] for i in order]]
    a = by_user(town)["ring_id"]
    b = by_user(make_tables(shuffled))["ring_id"]
    pd.testing.assert_series_equal(a, b.loc[a.index])


def test_a_link_after_as_of_does_not_join_a_ring(make_tables, town_frames):
    frames = town_frames()
    frames["user_devices"].append(["h1", "dA", "2024-06-01"])  # at as_of: not yet
    f = by_user(make_tables(frames))
    assert f.loc["h1", "ring_id"] != f.loc["r1", "ring_id"]
    frames["user_devices"][-1] = ["h1", "dA", "2024-05-31"]
    f = by_user(make_tables(frames))
    assert f.loc["h1", "ring_id"] == f.loc["r1", "ring_id"]
    assert f.loc["h1", "ring_size"] == 6  # ring + household


def test_a_shared_address_joins_users_like_a_shared_device(make_tables, town_frames):
    frames = town_frames()
    without = by_user(make_tables(frames))
    frames["user_addresses"] = [
        ["user_id", "address_id", "declared_at"],
        ["h1", "1 Main St", "2024-05-01"],
        ["c1", "1 Main St", "2024-05-30"],
        ["r1", "9 Side St", "2024-06-02"],  # declared after as_of: not yet shared
        ["a1", "9 Side St", "2024-05-01"],
    ]
    f = by_user(make_tables(frames))
    assert f.loc["h1", "ring_id"] == f.loc["c1", "ring_id"]  # household + c1, c2
    assert (
        f.loc["h1", "ring_size"] == without.loc["h1", "ring_size"] + without.loc["c1", "ring_size"]
    )
    assert f.loc["r1", "ring_id"] != f.loc["a1", "ring_id"]
    assert f.loc["r1", "ring_size"] == without.loc["r1", "ring_size"]
    # the ring of users no address touches stays as it was
    ring = ["ring_id", "ring_size", "ring_bad_count", "ring_bad_rate"]
    rest = ["r2", "r3", "r4"]
    pd.testing.assert_frame_equal(f.loc[rest, ring], without.loc[rest, ring])


def random_identifier_frames(seed: int, n_users: int = 60, n_ids: int = 40, n_links: int = 90):
    rng = np.random.default_rng(seed)
    users = [["user_id", "registered_at"]] + [
        [f"u{i:03d}", f"2024-0{1 + i % 5}-01"] for i in range(n_users)
    ]
    links = {(int(rng.integers(n_users)), int(rng.integers(n_ids))) for _ in range(n_links)}
    devices = [["user_id", "device_id"]] + [
        [f"u{u:03d}", f"d{d}"] for u, d in sorted(links) if d % 2 == 0
    ]
    accounts = [["user_id", "account_id"]] + [
        [f"u{u:03d}", f"c{d}"] for u, d in sorted(links) if d % 2 == 1
    ]
    return {"users": users, "user_devices": devices, "user_accounts": accounts}, links


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("max_sharing", [2, 3, 20])
def test_rings_match_networkx_components(seed, max_sharing, make_tables):
    frames, links = random_identifier_frames(seed)
    f = by_user(
        make_tables(frames), config=FeatureConfig(rings=RingConfig(max_sharing=max_sharing))
    )
    degree: dict[int, int] = {}
    for _, d in links:
        degree[d] = degree.get(d, 0) + 1
    g = nx.Graph()
    g.add_nodes_from(f"u{u:03d}" for u in range(60))
    g.add_edges_from((f"u{u:03d}", f"id{d}") for u, d in links if 2 <= degree[d] <= max_sharing)
    expected = {}
    for component in nx.connected_components(g):
        members = sorted(m for m in component if m.startswith("u"))
        if len(members) >= 2:
            for m in members:
                expected[m] = (ring_id_of(members[0]), len(members))
    for user, row in f.iterrows():
        if user in expected:
            assert (row["ring_id"], row["ring_size"]) == expected[user]
        else:
            assert pd.isna(row["ring_id"]) and row["ring_size"] == 0


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("max_sharing", 1, r"RingConfig.max_sharing = 1: expected an integer >= 2"),
        ("burst_days", 0, r"RingConfig.burst_days = 0: expected > 0"),
        ("flag_significance", 0.7, r"RingConfig.flag_significance = 0.7: expected in \(0, 0.5\)"),
    ],
)
def test_ring_config_errors_name_the_setting(town, setting, value, message):
    with pytest.raises(ConfigError, match=message):
        compute_graph_features(
            town, AS_OF, config=FeatureConfig(rings=RingConfig(**{setting: value}))
        )


def test_the_label_views_of_one_snapshot_share_its_rings(town, monkeypatch):
    """The rings and their burst tests read no label: computed once for every view,
    with each view's label counts and flags its own."""
    from riskgraph.graph.features import compute as compute_module
    from riskgraph.graph.features import compute_graph_feature_views

    calls = []
    real = compute_module.ring_structure

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(compute_module, "ring_structure", counted)
    visible = compute_graph_features(town, AS_OF).features["ring_bad_count"].to_numpy()
    labels = town.users["label"].astype("float64").to_numpy()
    no_labels = np.full(len(labels), np.nan)
    views = list(compute_graph_feature_views(town, AS_OF, [None, no_labels, None]))
    assert len(calls) == 2  # one for compute_graph_features, one for the three views
    assert np.array_equal(views[0].features["ring_bad_count"].to_numpy(), visible, equal_nan=True)
    assert (views[1].features["ring_bad_count"].fillna(0) == 0).all()
    assert (views[1].rings["known_count"] == 0).all()
    pd.testing.assert_frame_equal(views[0].features, views[2].features)
    assert views[0].rings.columns.tolist() == list(views[1].rings.columns)


@pytest.mark.parametrize("n, size", [(6, 2), (10, 8), (400, 3)])
def test_the_burst_tests_random_groups_are_uniform_draws_without_replacement(n, size):
    # Both ways of drawing (redraw rows with a repeat; smallest of n keys) are used.
    groups = _random_groups(np.random.default_rng(3), n, size, 30_000)
    assert groups.shape == (30_000, size) and groups.min() >= 0 and groups.max() < n
    ordered = np.sort(groups, axis=1)
    assert (ordered[:, 1:] != ordered[:, :-1]).all()
    # Every position is as likely as any other to be in a group.
    share = np.bincount(groups.ravel(), minlength=n) / len(groups)
    np.testing.assert_allclose(share, size / n, atol=5 * np.sqrt(size / n / len(groups)))
    again = _random_groups(np.random.default_rng(3), n, size, 30_000)
    assert np.array_equal(groups, again)
