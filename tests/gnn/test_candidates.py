"""The candidates of a fit and the choice between them; what communities may see."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from riskgraph.errors import ModelError
from riskgraph.gnn.boosting import Boosting
from riskgraph.gnn.communities import community_block, user_communities
from riskgraph.gnn.head import TreeHead
from riskgraph.gnn.hetero import HeteroGraphBuilder
from riskgraph.gnn.protocol import LabelSplit, split_labels
from riskgraph.gnn.runners import SignRunner
from riskgraph.gnn.train import GraphRiskConfig, GraphRiskModel
from riskgraph.loaders import GraphTables, build_graph_tables

from .conftest import KEY

D = "2024-07-01"
HEADS_ONLY = {"candidates": ("tabular", "graph", "blend"), "n_folds": 3, "time_buckets": 2}


def community_world(shuffle_ties: bool, seed: int = 0) -> GraphTables:
    """1,500 users in 30 communities of 50; 6 communities are risky (30% bad against
    2%), one attribute says a little, and each user has 4 social ties: inside its
    community, or, with ``shuffle_ties``, to anybody (the ties then say nothing)."""
    rng = np.random.default_rng(seed)
    n, size = 1500, 50
    community = np.arange(n) // size
    risky = np.isin(community, rng.choice(n // size, 6, replace=False))
    x = rng.normal(size=n)
    logit = np.where(risky, np.log(0.3 / 0.7), np.log(0.02 / 0.98)) + 0.5 * x
    bad = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    registered = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 150, n), unit="D")
    labelled = rng.random(n) < 0.6
    ids = np.array([f"u{i:04d}" for i in range(n)])
    users = pd.DataFrame(
        {
            "user_id": ids,
            "registered_at": registered.astype(str),
            "label": np.where(labelled, bad.astype(int).astype(str), ""),
            "label_at": np.where(labelled, (registered + pd.Timedelta("20D")).astype(str), ""),
            "score_x": x.round(3),
        }
    )
    src = np.repeat(np.arange(n), 4)
    if shuffle_ties:
        dst = rng.integers(0, n, len(src))
    else:
        dst = community[src] * size + rng.integers(0, size, len(src))
    keep = src != dst
    social = pd.DataFrame(
        {"src_user_id": ids[src[keep]], "dst_user_id": ids[dst[keep]], "tie_type": "contact"}
    ).drop_duplicates(["src_user_id", "dst_user_id"])
    return build_graph_tables({"users": users, "social": social}, hmac_key=KEY).tables


def test_selection_takes_the_graph_when_the_ties_carry_the_risk() -> None:
    model = GraphRiskModel(GraphRiskConfig(seed=0, **HEADS_ONLY)).fit(
        community_world(shuffle_ties=False), D
    )
    assert model.selected_ in ("graph", "blend")
    scores = model.candidates_
    assert scores["graph"]["auc_pr"] > scores["tabular"]["auc_pr"] + 0.1
    assert scores["tabular"]["auc_pr_margin_se"] < -1.0  # beaten beyond one standard error
    assert scores["graph"]["auc_roc_margin_se"] >= scores["tabular"]["auc_roc_margin_se"]


def test_selection_keeps_the_tabular_head_when_the_ties_say_nothing() -> None:
    """Three worlds whose ties say nothing: the rule keeps the tabular head in most.

    One world cannot test a rule meant to hold most of the time: where the graph
    head's noise columns happen to help its judges, it may come out ahead by about
    one standard error (in world 0 it is 0.96 ahead, and with other seeds per model
    it was 1.04 to 1.07). A selection that favours the model with the most columns
    keeps it in none.
    """
    selected = []
    for seed in range(3):
        model = GraphRiskModel(GraphRiskConfig(seed=0, **HEADS_ONLY)).fit(
            community_world(shuffle_ties=True, seed=seed), D
        )
        assert model.record_.selected == model.selected_
        assert set(model.record_.candidates) == {"tabular", "graph", "blend"}
        selected.append(model.selected_)
    assert selected.count("tabular") >= 2, selected


def test_last_nights_candidate_stays_unless_another_beats_it_beyond_twice_the_noise() -> None:
    """A retrain on nearly the same data must not switch candidates by chance: the
    incumbent stays within two standard errors of the best, and goes beyond them."""
    from riskgraph.gnn.train import INCUMBENT_MARGIN_SE, _select

    rng = np.random.default_rng(0)
    y = (rng.random(1500) < 0.1).astype(float)
    signal = 1.5 * y + rng.normal(size=len(y))
    noise = rng.normal(size=(2, len(y)))
    logits = {
        "graph": signal,
        "tabular": signal + 0.12 * noise[0],
        "blend": signal + 0.45 * noise[1],
    }
    chosen, margins = _select(logits, y, seed=0)
    assert chosen == "graph"
    behind = {c: min(m.values()) for c, m in margins.items()}  # its worse metric
    assert -INCUMBENT_MARGIN_SE < behind["tabular"] < -1.0  # lost tonight, not by much
    assert behind["blend"] < -INCUMBENT_MARGIN_SE  # lost beyond the band
    assert _select(logits, y, seed=0, incumbent="tabular") == ("tabular", margins)
    assert _select(logits, y, seed=0, incumbent="blend") == ("graph", margins)
    assert _select(logits, y, seed=0, incumbent="gnn") == ("graph", margins)  # not fitted


def test_a_candidate_is_as_far_behind_as_its_worse_metric() -> None:
    # The top of the ranking (AUC-PR) and all of it (AUC-ROC): a simpler candidate
    # level on one and clearly behind on the other is not kept.
    from riskgraph.gnn.train import INCUMBENT_MARGIN_SE, _keep

    even = {"auc_roc": 0.0, "auc_pr": 0.0}
    margins = {
        "tabular": {"auc_roc": -1.6, "auc_pr": -0.3},
        "graph": {"auc_roc": -0.4, "auc_pr": -0.9},
        "blend": even,
    }
    assert _keep(margins) == "graph"
    assert _keep({**margins, "tabular": {"auc_roc": -0.3, "auc_pr": -0.9}}) == "tabular"
    # last night's candidate stays within twice the noise on both metrics, not beyond
    assert _keep(margins, incumbent="tabular") == "tabular"
    behind = {"auc_roc": -INCUMBENT_MARGIN_SE - 0.1, "auc_pr": 0.0}
    assert _keep({**margins, "tabular": behind}, incumbent="tabular") == "graph"
    # none within one standard error on both: the smallest shortfall
    split = {"tabular": {"auc_roc": -3.0, "auc_pr": 0.0}, "graph": {"auc_roc": 0.0, "auc_pr": -1.5}}
    assert _keep(split) == "graph"


@pytest.mark.parametrize("decimals", [None, 1])
def test_the_selections_resamples_score_as_scikit_learn_scores_them(decimals) -> None:
    # The one-standard-error rule resamples the validation window 200 times per
    # candidate; each resample is scored from one sort, as counts of draws per user.
    # It must give scikit-learn's AUC-PR and AUC-ROC of the resampled rows, tied
    # scores included.
    from sklearn.metrics import average_precision_score, roc_auc_score

    from riskgraph.gnn.train import _weighted_auc_roc, _weighted_average_precision

    rng = np.random.default_rng(3)
    y = (rng.random(2_000) < 0.05).astype(float)
    score = rng.normal(size=len(y)) + 1.5 * y
    if decimals is not None:
        score = np.round(score, decimals)  # many users share a threshold
    draws = [rng.integers(0, len(y), len(y)) for _ in range(60)]
    counts = np.stack([np.bincount(d, minlength=len(y)) for d in draws]).astype(np.int32)
    expected = [average_precision_score(y[d], score[d]) for d in draws]
    got = _weighted_average_precision(y, score, counts, chunk=7)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    expected = [roc_auc_score(y[d], score[d]) for d in draws]
    np.testing.assert_allclose(_weighted_auc_roc(y, score, counts, chunk=7), expected, atol=1e-12)


def test_the_choice_is_saved_and_scores_come_from_it(tmp_path) -> None:
    tables = community_world(shuffle_ties=False)
    model = GraphRiskModel(GraphRiskConfig(seed=0, **HEADS_ONLY)).fit(tables, D)
    loaded = GraphRiskModel.load(model.save(tmp_path / "gnn.pt"))
    assert loaded.selected_ == model.selected_
    assert np.array_equal(loaded.predict_proba(tables, D), model.predict_proba(tables, D))
    # the validation window's calibrated risk is the selected candidate's
    val = model.validation_
    assert np.allclose(val["proba"], model.calibrate(val["logit"].to_numpy()))


def test_training_users_are_scored_out_of_fold_by_models_that_never_saw_them() -> None:
    """Heads not cross-fitted: each training user's out-of-fold logit is the one of a
    model fitted on the other group of folds, not the model of every training user."""
    tables = community_world(shuffle_ties=False)
    config = GraphRiskConfig(
        seed=0, candidates=("tabular",), n_folds=3, time_buckets=2, cross_fit_below=1
    )
    model = GraphRiskModel(config).fit(tables, D)
    assert not model.cross_fitted_
    assert model.record_.out_of_fold_models == config.out_of_fold_models == 2
    folds = split_labels(tables, pd.Timestamp(D, tz="UTC"), config.label_split)
    train, val, y = np.flatnonzero(folds.train), np.flatnonzero(folds.validation), folds.labels
    oof = model.out_of_fold_.set_index("user_idx")
    assert np.array_equal(np.sort(oof.index.to_numpy()), train)
    assert np.allclose(oof["proba"], model.calibrate(oof["logit"].to_numpy()))
    runner = model._runner(tables, folds.as_of, folds, None)
    runner.attach_scorer(None)
    x, x_val = (model.head_inputs(runner, rows, None, "tabular") for rows in (train, val))
    categorical = model._head_categorical(runner, "tabular")
    group = folds.fold[train] % 2
    for g in (0, 1):
        apart = TreeHead(Boosting(seed=1 + g)).fit(
            x[group != g], y[train][group != g], x_val, y[val], categorical
        )
        np.testing.assert_allclose(
            oof.loc[train[group == g], "logit"], apart.predict_logit(x[group == g]), rtol=1e-9
        )
    assert not np.allclose(oof.loc[train, "logit"], model.heads_["tabular"].predict_logit(x))


def test_the_blend_is_scored_out_of_fold_as_the_blend_of_its_heads_out_of_fold() -> None:
    tables = community_world(shuffle_ties=False)
    config = GraphRiskConfig(seed=0, cross_fit_below=1, **HEADS_ONLY)
    model = GraphRiskModel(config).fit(tables, D)
    folds = split_labels(tables, pd.Timestamp(D, tz="UTC"), config.label_split)
    runner = model._runner(tables, folds.as_of, folds, None)
    runner.attach_scorer(None)
    heads = {}
    for name in ("tabular", "graph", "blend"):
        model.selected_ = name
        heads[name] = model._out_of_fold(runner)
        assert model.out_of_fold_models_ == (4 if name == "blend" else 2)
    expected = model._blended({h: heads[h]["logit"].to_numpy() for h in ("tabular", "graph")})
    np.testing.assert_allclose(heads["blend"]["logit"], expected, rtol=1e-12)
    assert np.allclose(heads["blend"]["proba"], model.calibrate(expected))


def test_without_fold_models_only_the_window_is_scored_out_of_sample() -> None:
    tables = community_world(shuffle_ties=False)
    config = GraphRiskConfig(
        seed=0, candidates=("tabular",), n_folds=3, time_buckets=2, cross_fit_below=1,
        out_of_fold_models=0,
    )  # fmt: skip
    model = GraphRiskModel(config).fit(tables, D)
    assert model.out_of_fold_.empty and model.record_.out_of_fold_models == 0
    with pytest.raises(ModelError, match=r"out_of_fold_models = 1: expected 0 or an integer"):
        GraphRiskModel(replace(config, out_of_fold_models=1)).fit(tables, D)


def test_candidate_settings_are_checked() -> None:
    tables = community_world(shuffle_ties=True)
    with pytest.raises(ModelError, match=r"candidates = \('forest',\): expected a non-empty"):
        GraphRiskModel(GraphRiskConfig(candidates=("forest",))).fit(tables, D)
    with pytest.raises(ModelError, match=r"'blend' averages the tree heads"):
        GraphRiskModel(GraphRiskConfig(candidates=("tabular", "blend"))).fit(tables, D)
    with pytest.raises(ModelError, match=r"architecture 'sage' trains 'gnn' only"):
        GraphRiskModel(GraphRiskConfig(architecture="sage", candidates=("tabular",))).fit(tables, D)


def test_communities_are_found_without_labels_and_counted_per_view() -> None:
    tables = community_world(shuffle_ties=False)
    model = GraphRiskModel(GraphRiskConfig(seed=0, **HEADS_ONLY))
    folds = split_labels(tables, D, LabelSplit(n_folds=3, time_buckets=2))
    model.builder_ = HeteroGraphBuilder().fit(tables, as_of=D)
    runner = SignRunner(model, tables, pd.Timestamp(D, tz="UTC"), folds, None)
    membership = runner.communities
    assert membership is not None
    truth = np.arange(tables.num_users) // 50
    # most of each planted community ends up in one found community
    agree = [np.bincount(membership[truth == c]).max() / 50 for c in range(30)]
    assert np.median(agree) >= 0.8
    # the same graph without labels gives the same communities
    assert np.array_equal(user_communities(runner.inputs.graph, seed=0), membership)


def test_a_users_own_fold_never_reaches_its_community_or_label_inputs() -> None:
    """Flip every label of one fold (the user's own among them): the user's own-view
    inputs (label block, community block and all) stay identical. Flip labels of
    another fold: its community inputs change (so the test can fail)."""
    tables = community_world(shuffle_ties=False)
    folds = split_labels(tables, D, LabelSplit(n_folds=3, time_buckets=1))
    u = int(np.flatnonzero(folds.train & (folds.fold == 0))[0])

    def own_inputs(labels: np.ndarray) -> np.ndarray:
        users = tables.users.copy()
        users["label"] = pd.array(np.where(np.isnan(labels), pd.NA, labels).tolist(), dtype="Int8")
        t = GraphTables(**{**dict(tables.tables()), "users": users})
        model = GraphRiskModel(GraphRiskConfig(seed=0, **HEADS_ONLY))
        model.builder_ = HeteroGraphBuilder().fit(t, as_of=D)
        f = split_labels(t, D, LabelSplit(n_folds=3, time_buckets=1))
        runner = SignRunner(model, t, pd.Timestamp(D, tz="UTC"), f, None)
        runner.attach_scorer(None)
        return runner.own_inputs(np.array([u]))[0]

    labels = folds.labels.copy()
    base = own_inputs(labels)
    same_fold = labels.copy()
    flip = (folds.fold == 0) & ~np.isnan(labels)
    same_fold[flip] = 1.0 - same_fold[flip]
    assert np.array_equal(own_inputs(same_fold), base)
    other_fold = labels.copy()
    flip = (folds.fold == 1) & ~np.isnan(labels)
    other_fold[flip] = 1.0 - other_fold[flip]
    assert not np.array_equal(own_inputs(other_fold), base)


def test_community_block_counts_only_the_labels_it_is_given() -> None:
    membership = np.array([0, 0, 0, 1, 1])
    labels = np.array([1.0, np.nan, 0.0, np.nan, np.nan])
    block = community_block(membership, labels)
    # community 0: 3 users, 1 known bad, 1 known good; community 1: nothing known
    assert np.allclose(np.expm1(block[0, :3]), [3, 1, 1])
    assert np.allclose(np.expm1(block[3, :3]), [2, 0, 0])
    assert block[3, 3] == pytest.approx(0.5)  # the view's base rate: nothing known there
    assert block[0, 3] == pytest.approx((1 + 10 * 0.5) / (2 + 10))
