"""The score on a small synthetic population with the real graph features."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from riskgraph.graph.features import FEATURE_CATALOG, compute_graph_features
from riskgraph.loaders import build_graph_tables
from riskgraph.loaders.synthetic import generate_population
from riskgraph.score import (
    REASON_DETAIL_COLUMNS,
    SCORE_COLUMNS,
    CreditScorecard,
    build_score_frame,
    score_users,
)

KEY = b"test-key-0123456789abcdef"


@functools.cache
def scored():
    pop = generate_population(3000, seed=11)
    tables = build_graph_tables(pop.tables, hmac_key=KEY).tables
    gf = compute_graph_features(tables, pop.end)
    gnn = np.random.default_rng(0).beta(1.0, 20.0, tables.num_users)
    frame = build_score_frame(tables.users, gf.features, gnn)
    labels = tables.users["label"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    known = ~np.isnan(labels)
    model = CreditScorecard(C=0.1).fit(frame[known], labels[known].astype(int))
    return tables, gf, frame, model, score_users(model, frame, gf.features)


def test_every_catalogue_feature_but_identifiers_is_a_model_input():
    _, _, frame, model, _ = scored()
    identifiers = {n for n, s in FEATURE_CATALOG.items() if s.kind == "identifier"}
    features = set(FEATURE_CATALOG) - identifiers
    assert features <= set(frame.columns)
    assert not identifiers & set(frame.columns)
    names = {v.name for v in model.variables_}
    directionless = {n for n, s in FEATURE_CATALOG.items() if s.risk_direction == "none"}
    assert directionless - identifiers  # e.g. social_users_1hop
    assert not directionless & names
    # Columns without a single value (e.g. no ring in a small sample) are dropped.
    assert {c for c in features - directionless if frame[c].notna().any()} <= names
    trends = {v.name: v.monotonic_trend for v in model.variables_}
    assert trends["device_bad_1hop"] == "ascending"
    assert trends["ring_registration_span_days"] == "descending"


def test_every_user_scored_once_with_readable_reasons():
    tables, _, _, _, result = scored()
    scores = result.scores
    assert tuple(scores.columns) == (*SCORE_COLUMNS, *REASON_DETAIL_COLUMNS)
    assert scores["user_id"].tolist() == tables.users["user_id"].tolist()
    assert scores["credit_score"].between(350, 950).all()
    text = pd.concat([scores[c].dropna() for c in ("reason_1", "reason_2", "reason_3")])
    assert len(text) > len(scores)
    assert not text.str.contains(r"\{|\}|nan", regex=True).any()
    # Reasons fill from the front.
    has = scores[["reason_1", "reason_2", "reason_3"]].notna().to_numpy()
    assert (has[:, 1:] <= has[:, :-1]).all()


def test_flagged_ring_members_are_never_approved():
    _, gf, _, _, result = scored()
    ring = gf.features["ring_flag"].to_numpy(dtype=bool)
    assert ring.any()
    assert (result.scores.loc[ring, "decision"] != "approve").all()
    assert result.scores.loc[ring, "ring_id"].notna().all()


def test_every_reason_code_a_night_gives_is_documented():
    from riskgraph.score.codes import code_table

    _, _, frame, _, result = scored()
    documented = set(code_table()["code"])
    given = set(pd.concat([result.scores[f"reason_code_{i}"] for i in (1, 2, 3)]).dropna())
    assert given, "the users have reasons"
    attributes = {c for c in given if c.startswith("A:")}
    assert given - attributes <= documented
    # An attribute without a code of its own is named by its column.
    assert {c.removeprefix("A:") for c in attributes} <= set(frame.columns)
    # Each code has one meaning: the same code never quotes two variables.
    pairs = pd.concat(
        [
            result.reasons[[f"reason_code_{i}", f"reason_variable_{i}"]].set_axis(
                ["code", "variable"], axis=1
            )
            for i in (1, 2, 3)
        ]
    ).dropna()
    assert (pairs.groupby("code")["variable"].nunique() == 1).all()
