"""The indexed neighbourhood walk against a walk written out with sets, on a synthetic
population: the same users, the same rows in the same order, hubs not crossed."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from riskgraph.loaders import build_graph_tables
from riskgraph.loaders.merge import id_rows
from riskgraph.loaders.neighbourhood import NeighbourhoodIndex, neighbourhood
from riskgraph.loaders.synthetic import generate_population

KEY = "neighbourhood-test-key-0123456789"


@pytest.fixture(scope="module")
def rows():
    population = generate_population(1500, seed=5, days=120)
    return id_rows(build_graph_tables(population.tables, hmac_key=KEY).tables)


def _expected_users(rows, seeds, hops, cap):
    """Breadth-first over shared devices (used or applied from) and accounts with at
    most ``cap`` users, and ties either way."""
    holders = defaultdict(set)
    for table, column, kind in (
        ("user_devices", "device_id", "device"),
        ("applications", "device_id", "device"),
        ("user_accounts", "account_id", "account"),
    ):
        for user, ident in rows[table][["user_id", column]].dropna().itertuples(index=False):
            holders[kind, ident].add(user)
    linked = defaultdict(set)
    for users in holders.values():
        if len(users) <= cap:
            for user in users:
                linked[user] |= users
    for src, dst in rows["social"][["src_user_id", "dst_user_id"]].itertuples(index=False):
        linked[src].add(dst)
        linked[dst].add(src)
    reached, frontier = set(seeds), set(seeds)
    for _ in range(hops):
        frontier = {v for u in frontier for v in linked[u]} - reached
        reached |= frontier
    return reached


@pytest.mark.parametrize(("hops", "cap"), [(1, 50), (2, 50), (3, 50), (2, 2)])
def test_the_walk_reaches_the_users_a_set_walk_reaches_and_keeps_their_rows(rows, hops, cap):
    index = NeighbourhoodIndex(rows, cap)
    rng = np.random.default_rng(hops * 100 + cap)
    ids = rows["users"]["user_id"].astype(str).to_numpy()
    sizes = []
    for _ in range(8):
        seeds = [str(u) for u in rng.choice(ids, 2)] + ["not-in-the-graph"]
        got = index.rows(index.walk(seeds, hops))
        expected = _expected_users(rows, seeds, hops, cap) - {"not-in-the-graph"}
        assert set(got["users"]["user_id"]) == expected
        sizes.append(len(expected))
        social = rows["social"]
        keep = social["src_user_id"].isin(expected) & social["dst_user_id"].isin(expected)
        pd.testing.assert_frame_equal(got["social"], social.loc[keep].reset_index(drop=True))
        for table in ("user_devices", "user_accounts", "applications"):
            frame = rows[table]
            mine = frame.loc[frame["user_id"].isin(expected)].reset_index(drop=True)
            pd.testing.assert_frame_equal(got[table], mine)
        named = set(got["user_devices"]["device_id"]) | set(
            got["applications"]["device_id"].dropna()
        )
        assert set(got["devices"]["device_id"]) == named
        assert set(got["accounts"]["account_id"]) == set(got["user_accounts"]["account_id"])
        # one walk through a fresh index is the same
        again = neighbourhood(rows, seeds, hops=hops, cap=cap)
        for name, frame in got.items():
            pd.testing.assert_frame_equal(again[name], frame)
    assert max(sizes) > 3  # the walks went somewhere


def test_a_walk_from_users_the_rows_do_not_hold_is_empty(rows):
    got = neighbourhood(rows, ["nobody"], hops=2, cap=50)
    assert len(got["users"]) == 0 and len(got["social"]) == 0 and len(got["devices"]) == 0


def test_columns_read_in_chunks_are_indexed_in_one(rows):
    """Rows read in batches (or from Parquet) hold Arrow columns of many chunks, where
    taking a few rows costs the whole column: the index keeps them in one chunk."""
    halves = {
        name: pd.concat([frame.iloc[: len(frame) // 2], frame.iloc[len(frame) // 2 :]])
        for name, frame in rows.items()
    }
    chunked = halves["user_devices"]["device_id"].array.__arrow_array__()
    assert chunked.num_chunks == 2
    index = NeighbourhoodIndex(halves, 50)
    for frame in index.source.values():
        for column in frame.columns:
            values = frame[column].array
            if isinstance(values, pd.arrays.ArrowExtensionArray):
                assert values.__arrow_array__().num_chunks == 1
    seeds = rows["users"]["user_id"].astype(str).iloc[:3].tolist()
    got = index.rows(index.walk(seeds, 2))
    expected = neighbourhood(rows, seeds, hops=2, cap=50)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(
            got[name].reset_index(drop=True), frame.reset_index(drop=True)
        )


def test_the_walk_structures_are_built_by_the_first_walk_not_at_open(rows):
    # The default online scope asks the index only whether an applicant is known: at a
    # million users the walk's matrices would cost it seconds and memory for nothing.
    index = NeighbourhoodIndex(rows, 50)
    assert "_walks" not in vars(index)
    assert index.users.get_indexer([rows["users"]["user_id"].iloc[0]])[0] == 0
    assert "_walks" not in vars(index)
    seeds = rows["users"]["user_id"].astype(str).iloc[:2].tolist()
    first = index.walk(seeds, 2)
    assert "_walks" in vars(index)
    assert np.array_equal(index.walk(seeds, 2), first)
    # or by prepare(), as a service does at start-up, with the same walks
    ready = NeighbourhoodIndex(rows, 50)
    ready.prepare()
    assert "_walks" in vars(ready)
    assert np.array_equal(ready.walk(seeds, 2), first)


def _by_value(ids: list[str], target: list[str]) -> list[int]:
    return [ids.index(t) if t in ids else -1 for t in target]


@pytest.mark.parametrize("hashing", ["pandas", "by length", "all collide"])
def test_identifiers_are_found_by_their_hashes_as_by_their_values(monkeypatch, hashing):
    # The rows' identifiers are looked up by 64-bit hashes; a target whose hash is
    # another id's, and a column whose hashes collide, still get the positions by value.
    from riskgraph.loaders import neighbourhood as module

    ids = ["D1", "D22", "D333", "A-9999", "x"]
    if hashing != "pandas":
        width = {"by length": len, "all collide": lambda _: 7}[hashing]
        monkeypatch.setattr(
            pd.util,
            "hash_array",
            lambda values: np.array([width(str(v)) for v in values], dtype=np.uint64),
        )
    keys = module._HashedIds(pd.Series(ids, dtype="string"))
    assert (keys.hashes is None) == (hashing == "all collide")
    target = ["D333", "nope", "x", "D1", "D22", "Q9", "A-9999", "y"]
    got = keys.get_indexer(np.asarray(target, dtype=object))
    assert got.dtype == np.int64
    # "by length": "Q9" hashes as "D1", "nope" as "D333": absent all the same
    assert got.tolist() == _by_value(ids, target)
    assert keys.get_indexer(np.asarray([], dtype=object)).tolist() == []
