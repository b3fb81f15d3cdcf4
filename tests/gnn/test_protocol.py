"""The training protocol: visible labels, folds, point-in-time views, feature views."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest

from riskgraph.errors import ModelError
from riskgraph.gnn.protocol import (
    FeatureSource,
    LabelSplit,
    assign_folds,
    graph_feature_views,
    iter_feature_views,
    own_view_features,
    reference_times,
    scoring_folds,
    split_labels,
)
from riskgraph.graph.features.labels import visible_labels
from riskgraph.loaders import GraphTables

from .conftest import random_tables


def test_visible_labels_only_before_as_of(tiny: GraphTables) -> None:
    # u1 bad known 03-01, u2 good known 03-05 (hidden at 03-05: strictly before), u5 bad 06-01
    assert np.array_equal(
        visible_labels(tiny.users, pd.Timestamp("2024-03-05", tz="UTC")),
        [1.0, np.nan, np.nan, np.nan, np.nan, np.nan],
        equal_nan=True,
    )
    assert np.array_equal(
        visible_labels(tiny.users, pd.Timestamp("2024-07-01", tz="UTC")),
        [1.0, 0.0, np.nan, np.nan, 1.0, np.nan],
        equal_nan=True,
    )


def test_reference_time_is_first_application_plus_a_day_capped_at_as_of(tiny: GraphTables) -> None:
    ref = reference_times(tiny, "2024-04-03 12:00")
    # u1 applied 01-10, u4 01-12, u6 04-03 00:00 (+1 day capped), u3/u5 never
    expected = ["2024-01-11", "2024-01-12", "2024-04-03 12:00", "2024-01-13",
                "2024-04-03 12:00", "2024-04-03 12:00"]  # fmt: skip
    assert ref.tolist() == [pd.Timestamp(e, tz="UTC") for e in expected]


def test_folds_are_a_stable_hash_of_the_user_id() -> None:
    ids = pd.Series([f"u{i}" for i in range(1000)])
    folds = assign_folds(ids, 5, seed=0)
    assert np.bincount(folds, minlength=5).min() > 150  # roughly balanced
    # a user keeps its fold when the population grows or is reordered
    more = pd.concat([ids.iloc[::-1], pd.Series(["new1", "new2"])], ignore_index=True)
    assert np.array_equal(assign_folds(more, 5, seed=0)[:1000][::-1], folds)
    assert not np.array_equal(assign_folds(ids, 5, seed=1), folds)
    with pytest.raises(ModelError, match="n_folds = 1"):
        assign_folds(ids, 1)


@pytest.mark.parametrize("clock", ["application", "label"])
def test_views_hide_the_fold_and_everything_shown_from_the_bucket_start(clock: str) -> None:
    tables = random_tables(600, seed=2)
    split = LabelSplit(n_folds=3, time_buckets=3, clock=clock, seed=0)
    folds = split_labels(tables, "2024-06-01", split)
    # users who never applied have reference time as_of: quantile edges may merge
    assert folds.n_views == 3 * folds.n_buckets and 2 <= folds.n_buckets <= 3
    cutoffs = np.array([c.value for c in folds.cutoffs])
    assert (np.diff(cutoffs) > 0).all() and folds.cutoffs[-1] < folds.as_of
    # every user's bucket began at or before its own reference time
    starts = pd.Series([folds.cutoffs[b] for b in folds.bucket])
    assert (starts <= folds.reference_time).all()
    label_at = tables.users["label_at"]
    # the application clock shows a label from the labelled user's reference time
    shown_from = label_at if clock == "label" else np.minimum(label_at, folds.reference_time)
    for v in range(folds.n_views):
        k, b = v % 3, v // 3
        view = folds.view(v)
        seen = ~np.isnan(view)
        assert not (seen & (folds.fold == k)).any()
        assert (label_at[seen] < folds.as_of).all()
        # nothing else is hidden
        expected = folds.labelled & (folds.fold != k) & (shown_from < folds.cutoffs[b]).to_numpy()
        assert np.array_equal(seen, expected)
    # a labelled user's own view hides its own label, and every label shown after it applied
    own = folds.own_view()
    for u in np.flatnonzero(folds.labelled)[:50]:
        view = folds.view(int(own[u]))
        assert np.isnan(view[u])
        assert (shown_from[~np.isnan(view)] < folds.reference_time[u]).all()


def test_the_application_clock_shows_earlier_applicants_labels_that_came_later() -> None:
    """A label that arrived after a bucket began is hidden from it by the label clock,
    and shown by the application clock when its user applied before the bucket: a
    training user sees the outcomes of those before it, as tonight's applicants do."""
    tables = random_tables(600, seed=2)
    by = {c: split_labels(tables, "2024-06-01", LabelSplit(n_folds=3, time_buckets=3, clock=c))
          for c in ("application", "label")}  # fmt: skip
    app, lab = by["application"], by["label"]
    assert np.array_equal(app.bucket, lab.bucket) and app.cutoffs == lab.cutoffs
    label_at = tables.users["label_at"]
    last = (app.n_buckets - 1) * app.n_folds
    only_app = ~np.isnan(app.view(last)) & np.isnan(lab.view(last))
    assert only_app.any() and not (~np.isnan(lab.view(last)) & np.isnan(app.view(last))).any()
    assert (label_at[only_app] >= app.cutoffs[-1]).all()
    assert (app.reference_time[only_app] < app.cutoffs[-1]).all()
    assert app.fingerprint() != lab.fingerprint()
    with pytest.raises(ModelError, match="clock = 'arrival'"):
        split_labels(tables, "2024-06-01", LabelSplit(clock="arrival"))


def test_label_share_counts_the_labels_a_users_own_view_shows_against_tonights() -> None:
    tables = random_tables(600, seed=2)
    folds = split_labels(tables, "2024-06-01", LabelSplit(n_folds=3, time_buckets=3, seed=0))
    users = np.flatnonzero(folds.labelled)
    share = folds.label_share(users)
    own = folds.own_view()
    for u, s in zip(users, share, strict=True):
        shown = np.count_nonzero(~np.isnan(folds.view(int(own[u]))))
        tonight = np.count_nonzero(folds.labelled & (folds.fold != folds.fold[u]))
        assert s == pytest.approx(shown / tonight)
    assert share.min() >= 0.0 and share.max() <= 1.0 and share.min() < share.max()
    # one bucket: every view shows what tonight's does
    flat = split_labels(tables, "2024-06-01", LabelSplit(n_folds=3, time_buckets=1, seed=0))
    assert np.allclose(flat.label_share(users), 1.0)


def test_without_a_label_known_before_the_last_bucket_the_views_hide_the_fold_only() -> None:
    """A young portfolio: every label arrived after the latest bucket began. The
    point-in-time views would show no label at all; they show every label but the
    fold's instead, as tonight's do."""
    tables = random_tables(600, seed=2)
    split = LabelSplit(n_folds=3, time_buckets=3, seed=0)
    assert split_labels(tables, "2024-06-01", split).n_buckets > 1
    users = tables.users.copy()
    users["label_at"] = users["label_at"].where(
        users["label_at"].isna(), pd.Timestamp("2024-05-20", tz="UTC").as_unit("us")
    )
    young = GraphTables(**{**dict(tables.tables()), "users": users})
    folds = split_labels(young, "2024-06-01", split)
    assert folds.n_buckets == 1 and folds.cutoffs == [pd.Timestamp("2024-06-01", tz="UTC")]
    labelled = np.flatnonzero(folds.labelled)
    assert np.allclose(folds.label_share(labelled), 1.0)
    own = folds.own_view()
    for u in labelled[:20]:
        view = folds.view(int(own[u]))
        assert np.isnan(view[u])  # its own label stays hidden
        assert np.array_equal(~np.isnan(view), folds.labelled & (folds.fold != folds.fold[u]))
    # a label dated on or after the run date stays hidden
    assert split_labels(young, "2024-05-20", split).labelled.sum() == 0


def test_scoring_folds_see_every_known_label_but_their_fold() -> None:
    tables = random_tables(300, seed=2)
    folds = scoring_folds(tables, "2024-06-01", LabelSplit(n_folds=4))
    assert folds.n_buckets == 1 and folds.cutoffs == [pd.Timestamp("2024-06-01", tz="UTC")]
    w = folds.view_weights()
    assert np.allclose(w.sum(axis=1), 1.0)
    lab = folds.labelled
    assert np.array_equal(w[lab].argmax(axis=1), folds.fold[lab])  # own fold only
    assert np.allclose(w[~lab], 0.25)
    assert not folds.validation.any()


def test_views_showing_the_same_labels_are_one_set_under_their_summed_weight() -> None:
    """A small graph (an online call's neighbourhood) whose labelled users are all in
    one fold: the views hiding the other folds show the same labels, so their
    features are the same and are computed once, weighed as the views together."""
    tables = random_tables(300, seed=2)
    split = LabelSplit(n_folds=4)
    outside = scoring_folds(tables, "2024-06-01", split).fold != 0
    users = tables.users.copy()
    users["label"] = users["label"].mask(outside)
    users["label_at"] = users["label_at"].mask(outside)
    one_fold = GraphTables(**{**dict(tables.tables()), "users": users})
    folds = scoring_folds(one_fold, "2024-06-01", split)
    assert folds.labelled.any() and not folds.labelled[outside].any()
    first, weights = folds.distinct_views()
    assert first.tolist() == [0, 1]  # view 0 hides every label, views 1-3 none
    full = folds.view_weights()
    assert np.allclose(weights[:, 0], full[:, 0])
    assert np.allclose(weights[:, 1], full[:, 1:].sum(axis=1))
    assert np.allclose(weights.sum(axis=1), 1.0)
    frames = list(iter_feature_views(one_fold, folds))
    assert not frames[0].equals(frames[1])
    for v in (2, 3):
        pd.testing.assert_frame_equal(frames[v], frames[1])
    # labels in every fold: every view is a set of its own
    folds = scoring_folds(tables, "2024-06-01", split)
    first, weights = folds.distinct_views()
    assert first.tolist() == [0, 1, 2, 3]
    assert np.array_equal(weights, folds.view_weights().astype(np.float64))


def test_validation_window_is_the_latest_bad_and_the_latest_good_users() -> None:
    tables = random_tables(500, seed=4)
    folds = split_labels(tables, "2024-06-01", LabelSplit(validation_fraction=0.25))
    ref = folds.reference_time.to_numpy()
    for outcome in (0.0, 1.0):
        of = folds.labels == outcome
        assert (folds.validation & of).sum() == round(0.25 * of.sum())
        assert ref[folds.validation & of].min() >= ref[folds.train & of].max()
    assert not (folds.validation & folds.train).any()


def test_an_explicit_validation_set_replaces_the_time_window() -> None:
    tables = random_tables(200, seed=4)
    folds = split_labels(tables, "2024-06-01", LabelSplit(validation_fraction=0.0))
    assert not folds.validation.any()
    chosen = np.zeros(tables.num_users, dtype=bool)
    chosen[::3] = True
    explicit = folds.with_validation(chosen)
    # only labelled users can validate; the folds and labels are those of the split
    assert np.array_equal(explicit.validation, chosen & folds.labelled)
    assert explicit.validation.any() and not (explicit.validation & explicit.train).any()
    assert np.array_equal(explicit.fold, folds.fold)
    with pytest.raises(ModelError, match=r"validation has shape \(3,\); expected \(200,\)"):
        folds.with_validation(np.ones(3, dtype=bool))


def test_a_rare_outcome_is_in_the_validation_window_too() -> None:
    """Three bad users among hundreds, the latest labelled users all good: the
    window still holds one bad user (its latest), so early stopping and calibration
    see both outcomes."""
    tables = random_tables(500, seed=4)
    labels = tables.users["label"].to_numpy(dtype=float, na_value=np.nan)
    folds = split_labels(tables, "2024-06-01")
    bad = np.flatnonzero(folds.labels == 1.0)
    ref = folds.reference_time.to_numpy()
    keep = bad[np.argsort(ref[bad])][:3]  # the three earliest bad users stay bad
    labels[np.setdiff1d(bad, keep)] = 0.0
    folds = split_labels(tables, "2024-06-01", labels=labels)
    assert (folds.validation & (folds.labels == 1.0)).sum() == 1
    assert folds.validation[keep[-1]]


def test_without_applications_the_reference_is_the_registration(tiny: GraphTables) -> None:
    no_apps = GraphTables(**{**dict(tiny.tables()), "applications": tiny.applications.iloc[:0]})
    ref = reference_times(no_apps, "2024-03-05")
    registered = tiny.users["registered_at"] + pd.Timedelta("1D")
    expected = registered.clip(upper=pd.Timestamp("2024-03-05", tz="UTC"))
    assert (ref.to_numpy() == expected.to_numpy()).all()


def test_ties_in_time_are_broken_at_random_not_by_id() -> None:
    """Data without dates: every reference time equal. The window is then a keyed-hash
    sample of the users, not the users with the largest ids."""
    tables = random_tables(500, seed=4)
    users = tables.users.copy()
    users["registered_at"] = pd.Timestamp("2024-01-01", tz="UTC").as_unit("us")
    users["label_at"] = pd.Timestamp("2024-01-02", tz="UTC").as_unit("us")
    same_day = GraphTables(
        **{**dict(tables.tables()), "users": users,
           "applications": tables.applications.iloc[:0]}
    )  # fmt: skip
    folds = split_labels(same_day, "2024-06-01", LabelSplit(validation_fraction=0.2))
    ids = same_day.users["user_id"].astype(str).to_numpy()
    good = folds.labels == 0.0
    chosen = np.sort(ids[folds.validation & good])
    assert len(chosen) > 10
    # not the largest ids, and spread over the whole range of ids
    assert not np.array_equal(chosen, np.sort(ids[good])[-len(chosen) :])
    ordered = np.sort(ids[good])
    assert chosen[0] < ordered[len(ordered) // 2] < chosen[-1]
    # and the same again: a keyed hash, not a random draw
    again = split_labels(same_day, "2024-06-01", LabelSplit(validation_fraction=0.2))
    assert np.array_equal(again.validation, folds.validation)


def test_passed_labels_cannot_unhide_a_future_label(tiny: GraphTables) -> None:
    folds = split_labels(tiny, "2024-03-05", LabelSplit(n_folds=2), labels=[1, 0, 1, 1, 1, 0])
    # only u1's label is known before 03-05, whatever the caller passed
    assert np.array_equal(folds.labels, [1.0] + [np.nan] * 5, equal_nan=True)
    with pytest.raises(ModelError, match=r"labels\[0\] = 2.0 \(user 'u1'\)"):
        split_labels(tiny, "2024-07-01", labels=[2, 0, 1, 1, 1, 0])
    with pytest.raises(ModelError, match="shape"):
        split_labels(tiny, "2024-07-01", labels=[1, 0])


def test_feature_views_get_each_views_labels_and_are_checked() -> None:
    tables = random_tables(200, seed=5)
    folds = split_labels(tables, "2024-06-01", LabelSplit(n_folds=3, time_buckets=2))
    seen = []

    def compute(t, as_of, labels, reference_time):
        seen.append(labels.copy())
        return pd.DataFrame(
            {
                "user_id": t.users["user_id"],
                "n_known": np.full(t.num_users, np.sum(~np.isnan(labels)), dtype=float),
            }
        )

    views = graph_feature_views(tables, folds, FeatureSource(compute=compute))
    assert len(views.frames) == folds.n_views == len(seen)
    for v, labels in enumerate(seen):
        assert np.array_equal(labels, folds.view(v), equal_nan=True)
    own = views.own_view(folds)
    counts = [float(np.sum(~np.isnan(folds.view(v)))) for v in range(folds.n_views)]
    lab = np.flatnonzero(folds.labelled)
    assert np.array_equal(own["n_known"].to_numpy()[lab], np.array(counts)[folds.own_view()[lab]])
    other = split_labels(tables, "2024-06-01", LabelSplit(n_folds=3, time_buckets=2, seed=9))
    with pytest.raises(ModelError, match="computed for other folds"):
        views.check(other)


def test_own_view_features_equal_the_own_view_of_all_views() -> None:
    tables = random_tables(200, seed=6)
    folds = split_labels(tables, "2024-06-01", LabelSplit(n_folds=3, time_buckets=2))

    def compute(t, as_of, labels, reference_time):
        known = np.sum(~np.isnan(labels))
        return pd.DataFrame(
            {"user_id": t.users["user_id"], "n_known": np.arange(t.num_users) + 1000.0 * known}
        )

    expected = graph_feature_views(tables, folds, FeatureSource(compute=compute)).own_view(folds)
    got = own_view_features(tables, folds, FeatureSource(compute=compute))
    pd.testing.assert_frame_equal(got, expected)
    # the rows come from several views (the thousands count each view's known labels)
    assert len(np.unique(got["n_known"].to_numpy() // 1000)) > 1


def _live_feature_frames() -> int:
    """Feature frames (graph risk features of every user) still referenced anywhere."""
    gc.collect()
    return sum(
        1
        for obj in gc.get_objects()
        if type(obj) is pd.DataFrame and "bad_ppr" in obj.columns and "ring_flag" in obj.columns
    )


def test_feature_views_are_not_kept_once_the_consumer_lets_them_go() -> None:
    # Each view is 0.5 GB at a million users: scoring computes them lazily and holds
    # one at a time, so nothing in the chain may keep a view it has handed over.
    tables = random_tables(300, seed=8)
    folds = scoring_folds(tables, "2024-06-01", LabelSplit(n_folds=3))
    before = _live_feature_frames()
    views = iter_feature_views(tables, folds)
    frames = []
    for frame in views:
        frames.append(frame.copy())
        del frame
        assert _live_feature_frames() == before + len(frames)  # only the copies
    expected = graph_feature_views(tables, folds).frames
    assert len(frames) == folds.n_views == len(expected)
    for got, want in zip(frames, expected, strict=True):
        pd.testing.assert_frame_equal(got, want)
