"""CreditScorecard: range, monotonicity, trends, thin files, persistence, errors."""

from __future__ import annotations

import functools
import pickle
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskgraph.errors import ModelError, StaleModelError
from riskgraph.score import NO_CREDIT_HISTORY, CreditScorecard, score_users


@dataclass(frozen=True)
class Entry:
    """A hand-made graph feature catalogue entry."""

    name: str
    description: str
    reason: str
    risk_direction: str


CATALOG = {
    "device_bad_1hop": Entry(
        "device_bad_1hop",
        "Users with a known bad label sharing a device with the user.",
        "shares a device with {value:.0f} users who defaulted",
        "increasing",
    )
}
INCOMES = ["<3k", "3k-6k", "6k-10k"]


def toy_frame(n: int = 6000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Users whose risk rises with past dues, utilization, no history, low income,
    bad device neighbours and the GNN probability."""
    rng = np.random.default_rng(seed)
    thin = rng.random(n) < 0.2
    dues = rng.poisson(0.6, n).astype(float)
    util = rng.uniform(0.0, 1.1, n).round(3)
    months = rng.gamma(2.0, 40.0, n).round().clip(1, 400)
    dues[thin], util[thin], months[thin] = np.nan, np.nan, 0.0
    income = rng.choice(INCOMES, n, p=[0.3, 0.4, 0.3])
    device_bad = rng.poisson(0.15, n).astype(float)
    gnn = rng.beta(1.0, 15.0, n)
    logit = (
        -3.4
        + 0.7 * np.nan_to_num(dues)
        + 2.0 * thin
        + 1.5 * np.nan_to_num(util)
        - 0.004 * months
        + 0.9 * device_bad
        + 6.0 * gnn
        + np.select([income == "<3k", income == "3k-6k"], [0.8, 0.4], 0.0)
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {
            "age_band": rng.choice(["18-24", "25-34"], n),
            "credit_history_months": months,
            "past_dues": dues,
            "utilization": util,
            "income_band": pd.array(income, dtype="string"),
            "device_bad_1hop": device_bad,
            "gnn_risk": gnn,
        },
        index=pd.Index([f"U{i:05d}" for i in range(n)], name="user_id"),
    )
    return frame, y


@functools.cache
def fitted() -> tuple[CreditScorecard, pd.DataFrame, np.ndarray]:
    frame, y = toy_frame()
    return CreditScorecard(catalog=CATALOG, C=1.0).fit(frame, y), frame, y


def test_fit_returns_self_and_learned_state():
    frame, y = toy_frame(3000, seed=1)
    model = CreditScorecard(catalog=CATALOG, C=1.0)
    assert model.fit(frame, y) is model
    names = [v.name for v in model.variables_]
    assert NO_CREDIT_HISTORY in names and "gnn_risk" in names
    assert "age_band" not in names  # excluded by default
    assert (model.coef_ <= 0).all()


def test_directionless_graph_features_are_left_out_unless_asked():
    frame, y = toy_frame(3000, seed=1)
    frame["social_users_1hop"] = np.random.default_rng(0).poisson(3.0, len(frame)).astype(float)
    catalog = {
        **CATALOG,
        "social_users_1hop": Entry(
            "social_users_1hop", "contacts", "has {value:.0f} contacts", "none"
        ),
    }
    names = [v.name for v in CreditScorecard(catalog=catalog, C=1.0).fit(frame, y).variables_]
    assert "social_users_1hop" not in names
    model = CreditScorecard(catalog=catalog, C=1.0, directionless_features=True).fit(frame, y)
    assert model.variable_specs["social_users_1hop"].monotonic_trend == "auto_asc_desc"


def test_scores_in_range_and_never_higher_for_higher_risk():
    model, frame, _ = fitted()
    risk = model.predict_proba(frame)[:, 1]
    score = model.credit_score(frame)
    assert score.dtype == np.int64
    assert ((score >= 350) & (score <= 950)).all()
    order = np.argsort(risk, kind="stable")
    assert (np.diff(score[order]) <= 0).all()


def test_probability_is_the_regression_on_the_woe_and_points_add_up_to_the_score():
    model, frame, _ = fitted()
    ours = model.predict_proba(frame)[:, 1]
    prepared = model.prepare(frame)
    bins = model.bin_indices(prepared)

    def woe(name: str) -> np.ndarray:  # the score's own log-odds, every other's bin
        if name == model.score_column:
            return model.score_cells_.woe_of(prepared[name].to_numpy())
        return model.bin_woe(name)[bins[name].to_numpy()]

    logit = model.intercept_ + sum(model.coef_[name] * woe(name) for name in model.coef_.index)
    np.testing.assert_allclose(ours, 1.0 / (1.0 + np.exp(-logit)), atol=1e-10)
    total = model.points(frame).sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, model.scaling_.raw_score(ours), atol=1e-6)


def test_the_graph_models_score_keeps_its_ranking_with_few_bad_users():
    """1,000 users, 25 bad, the graph model's probability the only input: six
    empirical bins would tie hundreds of users; its own log-odds keep the order (ties
    only between the outermost cells' medians and the ends) and weigh it without
    counting bad users per cell; the table shows it in 50 cells."""
    rng = np.random.default_rng(3)
    p = rng.beta(1, 30, 1000)
    y = (rng.random(1000) < p).astype(int)
    y[:25] = 1
    frame = pd.DataFrame({"gnn_risk": p}, index=pd.Index([f"U{i}" for i in range(1000)]))
    model = CreditScorecard(catalog={}, C=1.0).fit(frame, y)
    risk = model.predict_proba(frame)[:, 1]
    order = np.argsort(p)
    assert (np.diff(risk[order]) >= 0).all()  # never lower for a higher probability
    cells = model.score_cells_
    inside = (cells.woe_of(p) < cells.woe[0]) & (cells.woe_of(p) > cells.woe[49])
    assert inside.sum() > 0.95 * 1000 - 2 * 20  # all but the outer halves of the end cells
    assert len(np.unique(risk[inside])) == inside.sum()  # no ties among them
    assert model.coef_["gnn_risk"] < 0
    table = model.characteristic_table()
    assert (table["characteristic"] == "gnn_risk").sum() == 50
    assert table["count"].sum() == 1000


def test_a_retrain_that_moves_the_cells_moves_no_user_a_cells_worth_of_points():
    """The cells are quantiles of the training users: a retrain on a few more users
    moves their edges. A user's points follow its own log-odds, not its cell, so the
    same probability scores the same under both fits' cells."""
    rng = np.random.default_rng(4)
    p = rng.beta(1, 20, 2000)
    y = (rng.random(2000) < p).astype(int)
    frame = pd.DataFrame({"gnn_risk": p}, index=pd.Index([f"U{i}" for i in range(2000)]))
    first = CreditScorecard(catalog={}, C=1.0).fit(frame.iloc[:1990], y[:1990])
    second = CreditScorecard(catalog={}, C=1.0).fit(frame, y)
    assert not np.array_equal(first.score_cells_.edges, second.score_cells_.edges)
    moved = first.score_cells_.indices(p) != second.score_cells_.indices(p)
    assert moved.sum() > 20  # users whose cell changed between the fits
    one_cell = np.median(-np.diff(first.bin_points_["gnn_risk"][:50]))
    change = np.abs(second.points(frame)["gnn_risk"] - first.points(frame)["gnn_risk"])
    assert change[moved].max() < 0.5 * one_cell


def test_ranks_the_toy_risk():
    from sklearn.metrics import roc_auc_score

    model, _, _ = fitted()
    test, y = toy_frame(4000, seed=7)
    assert roc_auc_score(y, model.predict_proba(test)[:, 1]) > 0.75


def _bin_points(model: CreditScorecard, name: str) -> np.ndarray:
    table = model.table()
    rows = table[(table["Variable"] == name) & ~table["Bin"].isin(["Special", "Missing"])]
    return rows["Points"].to_numpy()


def test_bins_follow_the_business_trend():
    model, _, _ = fitted()
    # More past dues, more utilization, more bad device neighbours: fewer points.
    for name in ("past_dues", "utilization", "device_bad_1hop", "gnn_risk"):
        points = _bin_points(model, name)
        assert len(points) >= 2, name
        assert (np.diff(points) <= 1e-9).all(), name
    # A longer credit history: more points.
    assert (np.diff(_bin_points(model, "credit_history_months")) >= -1e-9).all()


def test_thin_file_history_is_neutral_and_the_indicator_carries_it():
    model, frame, _ = fitted()
    points = model.points(frame)
    thin = model.prepare(frame)[NO_CREDIT_HISTORY].to_numpy() == 1
    neutral = (model.scaling_.offset - model.scaling_.factor * model.intercept_) / len(
        model.variables_
    )
    for name in ("past_dues", "utilization", "credit_history_months"):
        np.testing.assert_allclose(points.loc[thin, name], neutral)
    assert model.coef_[NO_CREDIT_HISTORY] < 0
    assert points.loc[thin, NO_CREDIT_HISTORY].max() < points.loc[~thin, NO_CREDIT_HISTORY].min()


def test_save_and_load_give_the_same_scores(tmp_path):
    model, frame, _ = fitted()
    path = tmp_path / "model" / "scorecard.pkl"
    model.save(path)
    loaded = CreditScorecard.load(path)
    np.testing.assert_array_equal(loaded.credit_score(frame), model.credit_score(frame))


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ModelError, match="no scorecard model file"):
        CreditScorecard.load(tmp_path / "absent.pkl")
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"not a pickle")
    with pytest.raises(ModelError, match=r"garbage.pkl: cannot read"):
        CreditScorecard.load(garbage)
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps({"format": 99}))
    # another format of the scorecard: the nightly job retrains rather than fails
    with pytest.raises(StaleModelError, match="format 99, this version reads 3"):
        CreditScorecard.load(other)


def test_fit_errors():
    frame, y = toy_frame(500)
    with pytest.raises(ModelError, match="both classes"):
        CreditScorecard(catalog=CATALOG).fit(frame, np.zeros(len(y)))
    with pytest.raises(ModelError, match="y has 3 values for 500 rows"):
        CreditScorecard(catalog=CATALOG).fit(frame, [0, 1, 0])
    with pytest.raises(ModelError, match="X must be a DataFrame"):
        CreditScorecard(catalog=CATALOG).fit(frame.to_numpy(), y)


def test_scoring_frame_without_a_model_column_is_named():
    model, frame, _ = fitted()
    with pytest.raises(ModelError, match=r"lacks the model's columns \['device_bad_1hop'\]"):
        model.credit_score(frame.drop(columns="device_bad_1hop"))


def test_a_scoring_frame_without_any_credit_history_column_is_named():
    model, frame, _ = fitted()
    history = ["credit_history_months", "past_dues", "utilization"]
    with pytest.raises(ModelError, match=r"lacks the model's columns .*no_credit_history \(from"):
        model.credit_score(frame.drop(columns=history))


def test_bin_indices_are_optbinnings_own_at_the_splits_and_beyond():
    model, frame, _ = fitted()
    prepared = model.prepare(frame.iloc[:8])
    edges = {}
    for spec in model.variables_:
        if spec.name == "gnn_risk" or spec.dtype != "numerical":
            continue
        splits = model.bin_splits(spec.name)
        values = np.concatenate(
            [splits, np.nextafter(splits, -np.inf), [np.nan, -np.inf, np.inf, -1e9, 1e9, 0.0]]
        )
        edges[spec.name] = values
    assert edges, "the toy model has numerically binned variables"
    n = max(len(v) for v in edges.values())
    probe = pd.concat([prepared] * (n // len(prepared) + 1), ignore_index=True).iloc[:n]
    for name, values in edges.items():
        probe[name] = np.resize(values, n)
    bins = model.bin_indices(probe)
    for name in edges:
        expected = model.binning_process_.get_binned_variable(name).transform(
            probe[name].to_numpy(),
            metric="indices",
            metric_special="empirical",
            metric_missing="empirical",
        )
        np.testing.assert_array_equal(bins[name].to_numpy(), expected, err_msg=name)


def test_preparing_nullable_and_integer_columns_gives_what_floats_give():
    model, frame, _ = fitted()
    rows = frame.iloc[:50].copy()
    as_floats = model.points(rows)
    rows["past_dues"] = rows["past_dues"].astype("Float64")
    rows["device_bad_1hop"] = rows["device_bad_1hop"].astype("int64")
    pd.testing.assert_frame_equal(model.points(rows), as_floats)
    assert model.prepare(rows)["past_dues"].dtype == np.float64


users = st.fixed_dictionaries(
    {
        "credit_history_months": st.sampled_from([0.0, 3.0, 24.0, 120.0, 400.0]),
        "past_dues": st.one_of(st.none(), st.integers(0, 8)),
        "utilization": st.one_of(st.none(), st.floats(0.0, 1.5)),
        "income_band": st.sampled_from(INCOMES),
        "device_bad_1hop": st.integers(0, 6),
        "gnn_risk": st.floats(0.0, 1.0),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(users, min_size=1, max_size=30))
def test_any_users_get_a_score_in_range_monotone_in_risk_and_up_to_three_reasons(rows):
    model, _, _ = fitted()
    frame = pd.DataFrame(rows).astype({"past_dues": float, "utilization": float})
    frame["income_band"] = frame["income_band"].astype("string")
    frame.index = pd.Index([f"H{i}" for i in range(len(frame))], name="user_id")
    result = score_users(model, frame)
    scores = result.scores
    assert len(scores) == len(frame)
    assert scores["credit_score"].between(350, 950).all()
    order = np.argsort(scores["risk_score"].to_numpy(), kind="stable")
    assert (np.diff(scores["credit_score"].to_numpy()[order]) <= 0).all()

    lost = result.reasons[["points_lost_1", "points_lost_2", "points_lost_3"]].to_numpy()
    text = scores[["reason_1", "reason_2", "reason_3"]]
    # Reasons fill from the front, most points lost first, and exist exactly where
    # a factor loses points.
    has = text.notna().to_numpy()
    assert (has[:, 1:] <= has[:, :-1]).all()
    assert (np.isnan(lost) == ~has).all()
    assert (np.nan_to_num(np.diff(lost, axis=1), nan=-1.0) <= 1e-9).all()
    from riskgraph.score import points_lost
    from riskgraph.score.reasons import MIN_POINTS_LOST

    all_lost = points_lost(model, model.points(frame), model.prepare(frame)).to_numpy()
    losing = (all_lost > MIN_POINTS_LOST).sum(axis=1)
    # A user losing points has a reason; the network model's points may be told as
    # up to three graph facts, so a user may read more reasons than variables lost.
    assert (has[:, 0] == (losing > 0)).all()
    assert (lost[has] > MIN_POINTS_LOST).all()


def test_auto_regularization_is_chosen_by_cross_validation():
    model = CreditScorecard(catalog=CATALOG, cv=3).fit(*toy_frame(3000, seed=4))
    Cs, scales = {0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0}, {0.3, 1.0}
    assert set(model.cv_log_loss_) == {(C, v) for C in Cs for v in scales}
    best = min(model.cv_log_loss_, key=model.cv_log_loss_.get)
    assert best == (model.C_, model.variable_scale_)
    fixed = CreditScorecard(catalog=CATALOG, C=0.5).fit(*toy_frame(2000, seed=2))
    assert fixed.C_ == 0.5 and fixed.variable_scale_ == 1.0 and fixed.cv_log_loss_ == {}
    with pytest.raises(ModelError, match="C = 'best'; expected a number > 0 or 'auto'"):
        CreditScorecard(catalog=CATALOG, C="best").fit(*toy_frame(500))


def test_a_column_too_sparse_to_bin_is_left_out_even_under_cross_validation():
    # 15 values in 1,500 rows: fewer than one bin needs (10 bad + 10 good). On small
    # populations such a column can have no value at all in a cross-validation fold,
    # which optbinning refuses (seen on a 5,000-user run), so it must not be an input.
    frame, y = toy_frame(1500, seed=3)
    frame["ring_bad_rate"] = np.nan
    frame.iloc[:15, frame.columns.get_loc("ring_bad_rate")] = 0.5
    model = CreditScorecard(catalog=CATALOG).fit(frame, y)  # C="auto": cross-validates
    assert "ring_bad_rate" not in model.points(frame).columns
    assert "past_dues" in model.points(frame).columns


def test_fold_woe_equals_a_fitted_binning_process():
    # Cross-validation bins each fold with fold_woe (no selection statistics): it must
    # give exactly the weight of evidence a BinningProcess with the same settings gives.
    from sklearn.base import clone

    from riskgraph.score._optbinning import BinningProcess
    from riskgraph.score.scorecard import fold_woe

    frame, y = toy_frame(4000, seed=3)
    frame = frame[["past_dues", "utilization", "income_band", "device_bad_1hop"]].copy()
    names = list(frame.columns)
    process = BinningProcess(
        variable_names=names,
        categorical_variables=["income_band"],
        max_n_prebins=15,
        min_prebin_size=0.02,
        min_bin_size=0.03,
        max_n_bins=6,
        binning_fit_params={
            "past_dues": {"monotonic_trend": "ascending", "min_bin_n_event": 10},
            "device_bad_1hop": {"min_bin_n_nonevent": 10},
        },
        binning_transform_params={"utilization": {"metric_missing": "empirical"}},
    )
    rows = np.random.default_rng(0).permutation(len(y))
    train, test = np.sort(rows[:3000]), np.sort(rows[3000:])
    woe_train, woe_test = fold_woe(process, frame, y, train, test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optbinning's pandas deprecations
        reference = clone(process).fit(frame.iloc[train], y[train])
        expected_train = reference.transform(frame.iloc[train], metric="woe")[names].to_numpy()
        expected_test = reference.transform(frame.iloc[test], metric="woe")[names].to_numpy()
    np.testing.assert_allclose(woe_train, expected_train, rtol=0, atol=1e-12)
    np.testing.assert_allclose(woe_test, expected_test, rtol=0, atol=1e-12)
    assert np.isnan(frame["utilization"].to_numpy()[test]).any()  # missing bins exercised
    assert np.ptp(woe_test, axis=0).min() > 0  # every variable was actually binned


def test_the_development_sample_is_kept_with_the_model():
    frame, y = toy_frame(4000, seed=2)
    model = CreditScorecard(catalog=CATALOG, cv=3).fit(frame, y)
    dev = model.development_
    assert dev.users == len(frame) == dev.score_counts.sum()
    scores = model.credit_score(frame)
    assert dev.score_counts[scores.min() - 350] > 0 and dev.score_counts[scores.max() - 350] > 0
    bins = model.bin_indices(model.prepare(frame))
    for name, counts in dev.bin_counts.items():
        assert counts.sum() == len(frame)
        assert (counts == np.bincount(bins[name], minlength=len(counts))).all(), name
    # Out-of-fold scores with their outcomes: every training user, bad ones as bad.
    assert dev.validation_good.sum() + dev.validation_bad.sum() == len(frame)
    assert dev.validation_bad.sum() == y.sum()
    # Validation ranks worse than in sample, but still ranks.
    grid = np.arange(350, 951)
    oof_bad_mean = (grid * dev.validation_bad).sum() / dev.validation_bad.sum()
    oof_good_mean = (grid * dev.validation_good).sum() / dev.validation_good.sum()
    assert oof_good_mean > oof_bad_mean + 20
    assert fitted()[0].development_.validation_good is None  # a fixed C: no folds


def test_the_characteristic_table_reads_as_the_scorecard():
    model, frame, _ = fitted()
    table = model.characteristic_table()
    assert list(table.columns) == [
        "characteristic", "bin", "count", "event_rate", "woe", "iv", "points", "reason_code",
    ]  # fmt: skip
    assert list(dict.fromkeys(table["characteristic"])) == [v.name for v in model.variables_]
    for name, rows in table.groupby("characteristic", sort=False):
        points = model.bin_points_[name]
        assert set(np.round(rows["points"], 9)) <= set(np.round(points, 9)), name
        assert rows["count"].sum() == len(frame), name
    assert "Special" not in set(table["bin"])
    # An ordinal attribute's bins name its categories.
    income = table.loc[table["characteristic"] == "income_band", "bin"].tolist()
    assert ", ".join(income).replace(", ", ",").split(",")[:3] == INCOMES
    assert set(table.loc[table["characteristic"] == "past_dues", "reason_code"]) == {"A01"}


def noise_beside_the_graph_model(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Outcomes drawn from the graph model's probability alone, beside eight columns
    of noise that the binning can still cut by chance."""
    rng = np.random.default_rng(seed)
    gnn = rng.beta(0.6, 25.0, n)
    y = (rng.random(n) < gnn).astype(int)
    frame = pd.DataFrame(
        {f"noise_{i}": rng.normal(size=n).round(2) for i in range(8)} | {"gnn_risk": gnn},
        index=pd.Index([f"U{i:05d}" for i in range(n)], name="user_id"),
    )
    return frame, y


def test_with_few_bad_users_the_other_variables_give_way_to_the_graph_models_score():
    """About 50 bad users, and nothing beside the graph model's score but noise: the
    cross-validation shrinks the others harder than the score, and the fitted weights
    are what the chosen candidate's are."""
    frame, y = noise_beside_the_graph_model(2000, seed=5)
    assert 30 <= y.sum() <= 80
    model = CreditScorecard(catalog={}).fit(frame, y)
    assert model.variable_scale_ == 0.3
    best = min(model.cv_log_loss_, key=model.cv_log_loss_.get)
    assert best == (model.C_, model.variable_scale_)
    # At scale 1 (every variable penalised alike) the folds fit worse.
    assert model.cv_log_loss_[model.C_, 0.3] < min(
        loss for (_, scale), loss in model.cv_log_loss_.items() if scale == 1.0
    )
    assert model.coef_["gnn_risk"] < 0
    # The others keep their bins, which the reasons read.
    assert {v.name for v in model.variables_} == set(frame.columns)
    # Scale 0 leaves the graph model's score alone in the fit.
    alone = CreditScorecard(catalog={}, variable_scales=(0.0,)).fit(frame, y)
    assert alone.variable_scale_ == 0.0 and (alone.coef_.drop("gnn_risk") == 0.0).all()


def test_with_many_bad_users_and_real_signal_every_variable_weighs_alike():
    """Thousands of users, a few hundred bad, whose past dues and utilization tell
    more than the graph model's score: no extra shrinkage."""
    model = CreditScorecard(catalog=CATALOG, cv=3).fit(*toy_frame(6000, seed=4))
    assert model.variable_scale_ == 1.0
    assert model.coef_["past_dues"] < 0 and model.coef_["utilization"] < 0


def test_variable_scales_outside_0_to_1_are_refused():
    with pytest.raises(ModelError, match=r"variable_scales = \(1\.0, 2\.0\)"):
        CreditScorecard(catalog=CATALOG, variable_scales=(1.0, 2.0)).fit(*toy_frame(2000))


def test_an_incumbent_fitted_at_another_scale_is_not_kept():
    """The same users and outcomes, but the incumbent was fitted under another
    penalty: its weights were never optimal under tonight's, and are not kept."""
    frame, y = noise_beside_the_graph_model(2000, seed=5)
    last = CreditScorecard(catalog={}).fit(frame, y)
    same = CreditScorecard(catalog={}).fit(frame, y, incumbent=last)
    assert same.kept_weights_
    last.variable_scale_ = 1.0 if last.variable_scale_ != 1.0 else 0.0
    tonight = CreditScorecard(catalog={}).fit(frame, y, incumbent=last)
    assert not tonight.kept_weights_


def test_a_retrain_on_the_same_outcomes_keeps_the_incumbents_weights_while_they_fit():
    """Tonight's users and outcomes are last night's, a few users' inputs moved: the
    weights stay, since tonight's fit is no better beyond the noise."""
    frame, y = toy_frame(3000, seed=1)
    last = CreditScorecard(catalog=CATALOG, C=1.0).fit(frame, y)
    assert not last.kept_weights_ and np.isnan(last.incumbent_margin_se_)
    moved = frame.copy()
    moved.iloc[:5, moved.columns.get_loc("device_bad_1hop")] += 1.0
    tonight = CreditScorecard(catalog=CATALOG, C=1.0).fit(moved, y, incumbent=last)
    fresh = CreditScorecard(catalog=CATALOG, C=1.0).fit(moved, y)
    assert not np.array_equal(fresh.coef_, last.coef_)  # a refit would move them
    assert tonight.kept_weights_ and abs(tonight.incumbent_margin_se_) < 2.0
    pd.testing.assert_series_equal(tonight.coef_, last.coef_)
    assert tonight.intercept_ == last.intercept_ and tonight.C_ == last.C_


def test_a_retrain_with_new_outcomes_refits_the_weights():
    """Ten more users with their outcomes: new outcomes are what a retrain is for,
    and the weights are refit on them."""
    frame, y = toy_frame(3000, seed=1)
    last = CreditScorecard(catalog=CATALOG, C=1.0).fit(frame.iloc[:2990], y[:2990])
    tonight = CreditScorecard(catalog=CATALOG, C=1.0).fit(frame, y, incumbent=last)
    fresh = CreditScorecard(catalog=CATALOG, C=1.0).fit(frame, y)
    assert not tonight.kept_weights_ and np.isnan(tonight.incumbent_margin_se_)
    pd.testing.assert_series_equal(tonight.coef_, fresh.coef_)


def test_a_retrain_refits_the_weights_when_tonights_inputs_no_longer_fit_them():
    """The same users and outcomes, but tonight's graph model separates them far
    better: last night's weights, which trusted it less, lose beyond the noise, and
    tonight's coefficients are those of a fit without an incumbent."""
    frame, y = toy_frame(3000, seed=1)
    last = CreditScorecard(catalog=CATALOG, C=1.0).fit(frame, y)
    rng = np.random.default_rng(5)
    sharper = frame.assign(
        gnn_risk=np.clip(
            0.2 * frame["gnn_risk"] + 0.5 * y * rng.uniform(0.5, 1.0, len(y)), 1e-4, 0.999
        )
    )
    tonight = CreditScorecard(catalog=CATALOG, C=1.0).fit(sharper, y, incumbent=last)
    fresh = CreditScorecard(catalog=CATALOG, C=1.0).fit(sharper, y)
    assert not tonight.kept_weights_ and tonight.incumbent_margin_se_ > 2.0
    np.testing.assert_allclose(tonight.coef_, fresh.coef_)
    assert tonight.intercept_ == fresh.intercept_
