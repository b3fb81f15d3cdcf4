"""Risky links: contract columns, the right links on a planted ring, evidence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskgraph.errors import ModelError
from riskgraph.gnn.explain import ASSOCIATION_COLUMNS, evidence_agreement, risky_links
from riskgraph.gnn.train import GraphRiskConfig, GraphRiskModel
from riskgraph.loaders import build_graph_tables

from .conftest import KEY

D = "2024-06-01"


def ring_world(n_rings: int = 12, ring_size: int = 6, n_good: int = 400, seed: int = 0):
    """Rings of bad users sharing one phone each; ordinary users with their own."""
    rng = np.random.default_rng(seed)
    rows, devices, labels, label_at, reg, applied = [], [], [], [], [], []
    for r in range(n_rings):
        for m in range(ring_size):
            rows.append(f"r{r:02d}m{m}")
            devices.append(f"phone{r:02d}")
            # the last member of each ring is not labelled yet: the one to explain
            known = m < ring_size - 1
            labels.append("1" if known else "")
            label_at.append("2024-05-01" if known else "")
            reg.append("2024-03-01")
            applied.append(f"2024-03-{2 + r * 29 // (n_rings - 1):02d}")
    for g in range(n_good):
        rows.append(f"g{g:03d}")
        devices.append(f"own{g:03d}" if g % 10 else f"family{g // 20:03d}")
        labels.append("0" if g % 3 else "")
        label_at.append("2024-05-01" if g % 3 else "")
        reg.append("2024-03-01")
        applied.append(
            str(pd.Timestamp("2024-03-02") + pd.Timedelta(days=int(rng.integers(0, 30))))
        )
    n = len(rows)
    users = pd.DataFrame({"user_id": rows, "registered_at": reg, "label": labels,
                          "label_at": label_at, "income": rng.normal(5, 1, n).round(2)})  # fmt: skip
    ud = pd.DataFrame({"user_id": rows, "device_id": devices, "first_seen": reg})
    apps = pd.DataFrame({"application_id": [f"a{i}" for i in range(n)], "user_id": rows,
                         "platform_id": "p1", "applied_at": applied})  # fmt: skip
    frames = {"users": users, "user_devices": ud, "applications": apps}
    return build_graph_tables(frames, hmac_key=KEY).tables


def test_ring_member_is_explained_by_its_known_bad_ring_mates() -> None:
    tables = ring_world()
    model = GraphRiskModel(
        GraphRiskConfig(max_epochs=30, n_folds=3, time_buckets=1, hidden=16, seed=0)
    )
    model.fit(tables, D)
    targets = [f"r{r:02d}m5" for r in range(12)]
    links = risky_links(model, tables, D, users=targets, top_k=3)
    assert list(links.columns) == ASSOCIATION_COLUMNS
    assert str(links["score"].dtype) == "float64"
    assert set(links["user_id"]) == set(targets)
    for user, group in links.groupby("user_id"):
        ring = user[:3]
        # the top links are ring-mates, via the shared phone, and known bad
        assert (group["other_user_id"].str[:3] == ring).all()
        assert set(group["via_type"]) <= {"device"}
        assert (group["via_id"] == f"phone{ring[1:]}").all()
        assert (group["evidence"] == "known_bad").all()
        assert (group["score"] > 0).all()


def test_threshold_selects_users_and_agreement_is_measured() -> None:
    tables = ring_world(seed=1)
    model = GraphRiskModel(
        GraphRiskConfig(max_epochs=30, n_folds=3, time_buckets=1, hidden=16)
    ).fit(tables, D)
    risk = model.predict_proba(tables, D)[:, 1]
    links = risky_links(model, tables, D, risk=risk, threshold=0.5)
    assert set(links["user_id"]) <= set(tables.users["user_id"][risk >= 0.5])
    everything = risky_links(
        model, tables, D, risk=risk, threshold=0.5, top_k=10**6, min_score=None
    )
    assert len(everything) >= len(links)
    # in this world every high-risk user is a ring member: its links lead to known bad
    assert (links["evidence"] != "").mean() > 0.95
    top = pd.DataFrame({"evidence": ["known_bad", "known_bad", ""]})
    every = pd.DataFrame({"evidence": ["known_bad", "", "", "bad_within_2", "", ""]})
    assert evidence_agreement(top, every) == pytest.approx(
        {"top_share": 2 / 3, "all_share": 1 / 3, "lift": 2.0}
    )
    none = risky_links(model, tables, D, risk=np.zeros(tables.num_users), threshold=0.5)
    assert none.empty and list(none.columns) == ASSOCIATION_COLUMNS


def test_unknown_user_and_wrong_model_are_refused() -> None:
    tables = ring_world(n_rings=4, n_good=100)
    model = GraphRiskModel(GraphRiskConfig(max_epochs=2, n_folds=3, time_buckets=1, hidden=8)).fit(
        tables, D
    )
    with pytest.raises(ModelError, match=r"unknown user ids, e\.g\. 'zz'"):
        risky_links(model, tables, D, users=["zz"])
    with pytest.raises(ModelError, match="top_k = 0"):
        risky_links(model, tables, D, users=["g001"], top_k=0)


def test_users_without_any_link_get_an_empty_table() -> None:
    # g001 uses a phone of its own and has no card or tie: nothing links it to anyone.
    tables = ring_world(n_rings=4, n_good=100)
    model = GraphRiskModel(GraphRiskConfig(max_epochs=2, n_folds=3, time_buckets=1, hidden=8)).fit(
        tables, D
    )
    links = risky_links(model, tables, D, users=["g001", "g002"])
    assert links.empty
    assert list(links.columns) == ASSOCIATION_COLUMNS
    assert links.dtypes.astype(str).tolist() == ["string"] * 4 + ["float64", "string"]


def test_the_links_are_explained_a_chunk_of_users_at_a_time(monkeypatch) -> None:
    # The gradients are as wide as the model's inputs for every explained user: a
    # million-user night holds them a chunk of users at a time, with the same links.
    from riskgraph.gnn import explain

    tables = ring_world(seed=2)
    model = GraphRiskModel(
        GraphRiskConfig(max_epochs=10, n_folds=3, time_buckets=1, hidden=8, seed=0)
    ).fit(tables, D)
    everyone = dict(risk=np.ones(tables.num_users), threshold=0.5, top_k=10**6, min_score=None)
    whole = risky_links(model, tables, D, **everyone)
    held: list[int] = []
    gradients = explain._gradients

    def spy(runner, v, users):
        held.append(len(users))
        return gradients(runner, v, users)

    monkeypatch.setattr(explain, "_GRADIENT_CHUNK", 4)
    monkeypatch.setattr(explain, "_USER_CHUNK", 8)
    monkeypatch.setattr(explain, "_LINK_CHUNK", 5)
    monkeypatch.setattr(explain, "_gradients", spy)
    chunked = risky_links(model, tables, D, **everyone)
    assert len(held) > 10 and max(held) <= 8
    assert len(whole) > 100
    pd.testing.assert_frame_equal(
        chunked.drop(columns="score"), whole.drop(columns="score"), check_exact=True
    )
    np.testing.assert_allclose(chunked["score"], whole["score"], rtol=1e-9, atol=1e-12)


def test_every_neighbour_mean_is_split_exactly_over_the_links_it_averages(monkeypatch) -> None:
    # With a unit gradient on every column of neighbour means (each relation's mean,
    # the two-hop means, the spread block), a link's score is the part of those
    # columns it carries: a user's links must add up to the columns themselves, or a
    # part (a contact's contacts, say) would be credited to nobody or twice. The
    # links split the exact means; the columns hold them rounded to half precision.
    from riskgraph.gnn import explain
    from riskgraph.gnn.blocks import STATIC_DTYPE
    from riskgraph.loaders.synthetic import generate_population

    pop = generate_population(600, seed=3)
    tables = build_graph_tables(dict(pop.tables), hmac_key=KEY).tables
    as_of = str(pop.end.date())
    model = GraphRiskModel(
        GraphRiskConfig(n_folds=3, time_buckets=1, candidates=("graph",), seed=0)
    ).fit(tables, as_of)
    expected: dict[int, float] = {}
    magnitude: dict[int, float] = {}

    def unit(runner, v, users):
        blocks = [f"mean:{r}" for r in explain.RELATIONS] + ["hop2", "spread"]
        off = explain._column_offsets(runner)
        g = np.zeros((len(users), sum(runner.block_dims)), dtype=np.float32)
        for name in blocks:
            width = runner.inputs.block(name).shape[1]
            g[:, off[name] : off[name] + width] = 1.0
            held = runner.inputs.block(name)[users].astype(np.float64)
            for u, total, size in zip(
                users, held.sum(axis=1), np.abs(held).sum(axis=1), strict=True
            ):
                expected[int(u)] = expected.get(int(u), 0.0) + float(total)
                magnitude[int(u)] = magnitude.get(int(u), 0.0) + float(size)
        return g

    monkeypatch.setattr(explain, "_gradients", unit)
    links = risky_links(
        model, tables, as_of, risk=np.ones(tables.num_users), threshold=0.5, top_k=10**6,
        min_score=None,
    )  # fmt: skip
    ids = tables.users["user_id"].astype(str).to_numpy()
    got = links.groupby("user_id")["score"].sum()
    want = pd.Series({ids[u]: total for u, total in expected.items()})
    rounding = pd.Series({ids[u]: size for u, size in magnitude.items()})
    rounding *= float(np.finfo(STATIC_DTYPE).eps)
    assert (links["via_type"] == "social").sum() > 100
    assert want.abs().gt(1.0).sum() > 100
    gap = (got.reindex(want.index, fill_value=0.0) - want).abs()
    assert (gap <= rounding + 1e-3).all(), gap.sub(rounding).nlargest(5)
