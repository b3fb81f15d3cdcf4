"""build_score_frame and score_users: alignment, errors, the scores.parquet rows."""

from __future__ import annotations

import functools
import gc
import weakref

import numpy as np
import pandas as pd
import pytest

from riskgraph.errors import ModelError
from riskgraph.score import (
    REASON_DETAIL_COLUMNS,
    SCORE_COLUMNS,
    CreditScorecard,
    build_score_frame,
    score_users,
)
from riskgraph.score.scoring import average_points


class Entry:
    def __init__(self, name, reason, direction="increasing", kind="numeric"):
        self.name, self.description, self.reason = name, name, reason
        self.risk_direction, self.kind = direction, kind


CATALOG = {
    "device_bad_1hop": Entry(
        "device_bad_1hop", "shares a device with {value:.0f} users who defaulted"
    ),
    "ring_id": Entry("ring_id", None, "none", "identifier"),
    "ring_flag": Entry("ring_flag", "belongs to an organised group", "increasing", "flag"),
    "app_device_co_applicants": Entry(
        "app_device_co_applicants", "{value:.0f} others applied from your device"
    ),
    "multi_borrowing": Entry("multi_borrowing", "applied at many platforms", "increasing", "flag"),
}


def _users(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": pd.array([f"U{i:04d}" for i in range(n)], dtype="string"),
            "registered_at": pd.Timestamp("2026-01-01", tz="UTC"),
            "label": pd.array([pd.NA] * n, dtype="Int8"),
            "label_at": pd.NaT,
            "past_dues": rng.poisson(0.6, n).astype(float),
            "region": rng.choice(["tier1", "rural"], n),
        }
    )


def _features(users: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    n = len(users)
    ring = rng.random(n) < 0.05
    return pd.DataFrame(
        {
            "user_id": users["user_id"],
            "ring_id": pd.array(np.where(ring, "ring-1", None), dtype="string"),
            "ring_flag": ring,
            "device_bad_1hop": rng.poisson(0.2, n).astype(np.int64),
            "app_device_co_applicants": rng.poisson(0.5, n).astype(np.int64),
            "multi_borrowing": rng.random(n) < 0.05,
        }
    )


@functools.cache
def setup() -> tuple[CreditScorecard, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(5)
    users = _users(4000, rng)
    features = _features(users, rng)
    gnn = rng.beta(1, 15, len(users))
    frame = build_score_frame(users, features, gnn, catalog=CATALOG)
    logit = -3.0 + 0.7 * users["past_dues"].to_numpy() + 0.9 * features["device_bad_1hop"] + 5 * gnn
    y = (rng.random(len(users)) < 1 / (1 + np.exp(-logit))).astype(int)
    model = CreditScorecard(catalog=CATALOG, C=1.0).fit(frame, y)
    return model, users, features, frame


def test_frame_takes_attributes_features_and_gnn_in_user_order():
    _, users, features, frame = setup()
    assert list(frame.index[:3]) == ["U0000", "U0001", "U0002"]
    assert frame.index.name == "user_id"
    assert "ring_id" not in frame.columns  # an identifier, never a model input
    assert {"past_dues", "region", "device_bad_1hop", "gnn_risk"} <= set(frame.columns)
    assert not {"user_id", "label", "label_at", "registered_at"} & set(frame.columns)
    # Features in another order are aligned by user_id.
    shuffled = features.sample(frac=1.0, random_state=0)
    again = build_score_frame(users, shuffled, frame["gnn_risk"].to_numpy(), catalog=CATALOG)
    pd.testing.assert_frame_equal(again, frame)


def test_users_missing_from_features_are_named():
    _, users, features, _ = setup()
    with pytest.raises(ModelError, match=r"2 users have no row, e\.g\. \['U0001', 'U0003'\]"):
        build_score_frame(users, features.drop(index=[1, 3]), catalog=CATALOG)


def test_gnn_risk_errors():
    _, users, features, _ = setup()
    with pytest.raises(ModelError, match="gnn_risk: 3 values for 4000 users"):
        build_score_frame(users, features, np.zeros(3), catalog=CATALOG)
    bad = np.zeros(len(users))
    bad[2] = 1.5
    with pytest.raises(ModelError, match=r"outside \[0, 1\], first 1.5 for user 'U0002'"):
        build_score_frame(users, features, bad, catalog=CATALOG)


def test_scores_rows_are_the_contract_columns_one_per_user():
    model, users, features, frame = setup()
    result = score_users(model, frame, features)
    scores = result.scores
    assert tuple(scores.columns) == (*SCORE_COLUMNS, *REASON_DETAIL_COLUMNS)
    assert scores["user_id"].tolist() == users["user_id"].tolist()
    assert scores["credit_score"].between(350, 950).all()
    assert set(scores["decision"]) <= {"approve", "review", "decline"}
    assert scores["reason_1"].notna().mean() > 0.5


def test_flags_drive_decisions_and_ring_id_only_for_flagged_rings():
    model, _, features, frame = setup()
    result = score_users(model, frame, features)
    scores, flags = result.scores, result.flags
    ring = features["ring_flag"].to_numpy()
    assert (scores.loc[ring, "decision"] != "approve").all()
    assert (scores.loc[ring, "ring_id"] == "ring-1").all()
    assert scores.loc[~ring, "ring_id"].isna().all()
    client = features["app_device_co_applicants"].to_numpy() >= 5
    assert (flags["intermediary_client"].to_numpy() == client).all()
    assert (scores["multi_borrowing"].to_numpy() == features["multi_borrowing"].to_numpy()).all()


def test_a_household_component_is_not_a_ring():
    model, _, features, frame = setup()
    household = features.copy()
    household["ring_flag"] = False
    scores = score_users(model, frame, household).scores
    assert scores["ring_id"].isna().all()


def test_views_average_points_by_weight():
    model, _, features, frame = setup()
    worse = frame.copy()
    worse["device_bad_1hop"] = 9.0
    n = len(frame)
    # First half: only view 0 (itself); second half: half and half.
    weights = np.zeros((n, 2))
    weights[: n // 2, 0] = 1.0
    weights[n // 2 :] = 0.5
    result = score_users(model, frame, features, views=[frame, worse], view_weights=weights)
    lazy = score_users(model, frame, features, views=iter([frame, worse]), view_weights=weights)
    pd.testing.assert_frame_equal(lazy.scores, result.scores)  # a generator of views works too
    direct = model.points(frame)
    bad = model.points(worse)
    expected = np.vstack(
        [direct.to_numpy()[: n // 2], 0.5 * (direct.to_numpy() + bad.to_numpy())[n // 2 :]]
    )
    risk = model.risk_from_points(expected)
    np.testing.assert_allclose(result.scores["risk_score"], risk)
    # Reasons quote the frame's own values, not the views'.
    assert not result.scores["reason_1"].str.contains("shares a device with 9 ").any()


def test_view_weights_must_match():
    model, _, features, frame = setup()
    with pytest.raises(ModelError, match=r"view_weights has shape \(3, 1\); expected \(4000, K\)"):
        score_users(model, frame, features, views=[frame], view_weights=np.ones((3, 1)))
    with pytest.raises(ModelError, match="view_weights has 1 columns for 2 views"):
        score_users(
            model, frame, features, views=iter([frame, frame]), view_weights=np.ones((4000, 1))
        )
    with pytest.raises(ModelError, match="without view_weights"):
        score_users(model, frame, features, views=[frame])


def test_precomputed_points_score_as_the_views_do():
    model, _, features, frame = setup()
    worse = frame.copy()
    worse["device_bad_1hop"] = 9.0
    weights = np.full((len(frame), 2), 0.5)
    from_views = score_users(model, frame, features, views=[frame, worse], view_weights=weights)
    points = average_points(model, [frame, worse], weights, frame.index)
    from_points = score_users(model, frame, features, points=points)
    pd.testing.assert_frame_equal(from_points.scores, from_views.scores)
    pd.testing.assert_frame_equal(from_points.reasons, from_views.reasons)
    with pytest.raises(ModelError, match="views or their averaged points, not both"):
        score_users(model, frame, features, views=[frame], view_weights=weights, points=points)
    with pytest.raises(ModelError, match="points must have the frame's users"):
        score_users(model, frame, features, points=points.iloc[1:])


def test_average_points_lets_each_view_go_before_the_next():
    # A view is 0.5 GB at a million users: the one before must be gone while the
    # next is computed (a generator computes it on demand).
    model, _, _, frame = setup()
    weights = np.full((len(frame), 3), 1 / 3)
    refs: list[weakref.ref] = []
    earlier_alive: list[bool] = []

    def fresh_view() -> pd.DataFrame:
        gc.collect()
        earlier_alive.append(any(ref() is not None for ref in refs))
        view = frame.copy()
        refs.append(weakref.ref(view))
        return view

    # map: the generator itself keeps no reference to what it yielded
    views = map(lambda _: fresh_view(), range(3))
    points = average_points(model, views, weights, frame.index)
    assert earlier_alive == [False, False, False]
    np.testing.assert_allclose(points.to_numpy(), model.points(frame)[points.columns].to_numpy())
