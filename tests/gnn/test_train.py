"""GraphRiskModel: determinism, leakage, persistence, errors."""

from __future__ import annotations

import gc
import tracemalloc
import weakref
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskgraph.errors import ModelError
from riskgraph.gnn.blocks import ACTIVITY_CORE, STATIC_DTYPE, SignInputs
from riskgraph.gnn.hetero import HeteroGraphBuilder
from riskgraph.gnn.inference import score_users
from riskgraph.gnn.propagation import RELATIONS
from riskgraph.gnn.protocol import FeatureSource, LabelSplit, graph_feature_views, split_labels
from riskgraph.gnn.runners import SignRunner
from riskgraph.gnn.train import GraphRiskConfig, GraphRiskModel
from riskgraph.loaders import GraphTables

from .conftest import random_tables

D = "2024-04-15"
FAST = {"max_epochs": 3, "n_folds": 3, "time_buckets": 2, "hidden": 16, "batch_size": 128}


@pytest.fixture(scope="module")
def tables() -> GraphTables:
    return random_tables(500, seed=11, bad_rate=0.12)


def with_labels(tables: GraphTables, label: np.ndarray) -> GraphTables:
    users = tables.users.copy()
    users["label"] = pd.array(label, dtype="Int8")
    return GraphTables(**{**dict(tables.tables()), "users": users})


def test_training_is_deterministic_under_a_seed(tables: GraphTables) -> None:
    a = GraphRiskModel(GraphRiskConfig(seed=3, **FAST)).fit(tables, D).predict_proba(tables, D)
    b = GraphRiskModel(GraphRiskConfig(seed=3, **FAST)).fit(tables, D).predict_proba(tables, D)
    c = GraphRiskModel(GraphRiskConfig(seed=4, **FAST)).fit(tables, D).predict_proba(tables, D)
    assert a.shape == (tables.num_users, 2)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_the_network_candidate_trains_saves_and_explains_when_asked_for(
    tables: GraphTables, tmp_path: Path
) -> None:
    # Not a default candidate (docs/model.md, section 2): a lender adds it. Alone, it is
    # trained even on a window too small to compare candidates on.
    from riskgraph.gnn.explain import ASSOCIATION_COLUMNS, risky_links

    params = {**FAST, "candidates": ("gnn",)}
    model = GraphRiskModel(GraphRiskConfig(seed=2, **params)).fit(tables, D)
    assert model.selected_ == "gnn" and list(model.candidates_) == ["gnn"]
    assert model.boosters_ is not None and len(model.history_) >= 1
    again = GraphRiskModel(GraphRiskConfig(seed=2, **params)).fit(tables, D)
    proba = model.predict_proba(tables, D)
    assert np.array_equal(proba, again.predict_proba(tables, D))
    loaded = GraphRiskModel.load(model.save(tmp_path / "gnn.pt"))
    assert np.array_equal(loaded.predict_proba(tables, D), proba)
    risk = proba[:, 1]
    links = risky_links(model, tables, D, risk=risk, threshold=float(np.quantile(risk, 0.8)))
    assert list(links.columns) == ASSOCIATION_COLUMNS and len(links) > 0


@pytest.mark.parametrize("architecture", ["sage", "rgcn", "hgt"])
def test_message_passing_architectures_train_and_are_deterministic(
    tables: GraphTables, architecture: str
) -> None:
    params = {**FAST, "max_epochs": 1, "architecture": architecture, "fanout": (4, 2)}
    a = (
        GraphRiskModel(GraphRiskConfig(seed=1, **params))
        .fit(tables, D)
        .predict_proba(tables, D)[:, 1]
    )
    b = (
        GraphRiskModel(GraphRiskConfig(seed=1, **params))
        .fit(tables, D)
        .predict_proba(tables, D)[:, 1]
    )
    assert np.array_equal(a, b)
    assert ((a >= 0) & (a <= 1)).all()


def test_no_label_from_after_d_or_of_a_test_user_reaches_training(tables: GraphTables) -> None:
    """Leakage test: flip every label dated at or after D, and the labels of the test
    users (hidden from training by ``labels=``) even where dated before D; the fitted
    model, its graph features and its predictions must not change at all."""
    users = tables.users
    label = users["label"].to_numpy(dtype=float, na_value=np.nan)
    after_d = (users["label_at"] >= pd.Timestamp(D, tz="UTC")).fillna(False).to_numpy()
    assert after_d.sum() > 10 and (label[after_d] == 1).any()
    rng = np.random.default_rng(0)
    test_users = rng.random(len(label)) < 0.2
    flipped = label.copy()
    change = (after_d | test_users) & ~np.isnan(label)
    flipped[change] = 1.0 - flipped[change]

    def run(t: GraphTables) -> tuple[np.ndarray, pd.DataFrame]:
        from riskgraph.graph.features import compute_graph_features

        # every label of the table is passed, after-D ones included: the protocol hides them
        raw = t.users["label"].to_numpy(dtype=float, na_value=np.nan)
        train_labels = np.where(test_users, np.nan, raw)
        folds = split_labels(t, D, LabelSplit(n_folds=3, time_buckets=2), labels=train_labels)
        views = graph_feature_views(t, folds, FeatureSource(compute=compute_graph_features))
        model = GraphRiskModel(GraphRiskConfig(**FAST)).fit(t, D, folds=folds, feature_views=views)
        score_folds = model.scoring_folds(t, D, labels=train_labels)
        score_views = graph_feature_views(
            t, score_folds, FeatureSource(compute=compute_graph_features)
        )
        proba = model.predict_proba(t, D, folds=score_folds, feature_views=score_views)
        return proba[:, 1], views.own_view(folds)

    p1, f1 = run(tables)
    p2, f2 = run(with_labels(tables, flipped))
    pd.testing.assert_frame_equal(f1, f2)
    assert np.array_equal(p1, p2)
    # ... and the test can fail: flipping labels the training may see changes the model
    seen = np.flatnonzero(~test_users & ~after_d & ~np.isnan(label))[:20]
    flipped2 = label.copy()
    flipped2[seen] = 1.0 - flipped2[seen]
    p3, f3 = run(with_labels(tables, flipped2))
    assert not np.array_equal(p1, p3)
    assert not f1.equals(f3)


def test_a_training_users_own_label_never_reaches_its_own_inputs(tables: GraphTables) -> None:
    label = tables.users["label"].to_numpy(dtype=float, na_value=np.nan)
    model = GraphRiskModel(GraphRiskConfig(**FAST)).fit(tables, D)
    folds = split_labels(tables, D, LabelSplit(n_folds=3, time_buckets=2))
    u = int(np.flatnonzero(folds.train & (folds.labels == 1))[0])
    flipped = label.copy()
    flipped[u] = 0.0
    other = with_labels(tables, flipped)

    def own_inputs(t: GraphTables) -> np.ndarray:
        m = GraphRiskModel(GraphRiskConfig(**FAST)).fit(t, D)  # boosters retrained on this table
        f = split_labels(t, D, LabelSplit(n_folds=3, time_buckets=2))
        runner = m._runner(t, D, f, None)
        assert isinstance(runner, SignRunner)
        runner.attach_scorer(m._scorer(t, None, f, runner.booster_extra))
        return runner.own_inputs(np.array([u]))[0]

    assert np.array_equal(own_inputs(tables), own_inputs(other))
    assert model.record_.n_train == int(folds.train.sum())


def test_sign_inputs_lay_every_block_into_one_array(tables: GraphTables) -> None:
    model = GraphRiskModel(GraphRiskConfig(**FAST)).fit(tables, D)
    runner = model.prepare(tables, D)
    assert isinstance(runner, SignRunner)
    inputs = runner.inputs
    own = inputs.block("own")
    assert np.shares_memory(inputs.own, inputs.static)  # views, not copies
    assert np.array_equal(inputs.own, own)
    # every block holds its values in half precision; each mean is taken over the
    # values held (the explanation reads those back)
    assert inputs.static.dtype == STATIC_DTYPE

    def held(x: np.ndarray) -> np.ndarray:
        return x.astype(STATIC_DTYPE)

    attributes, _ = model.builder_.attribute_inputs(tables)
    assert np.array_equal(own[:, : attributes.shape[1]], held(attributes))
    for r in RELATIONS:
        assert np.array_equal(inputs.block(f"mean:{r}"), held(inputs.graph.mean(r, own)))
    first_hop = inputs.first_hop
    assert np.array_equal(first_hop, held(inputs.graph.mean("identifier", own)))
    social = inputs.block("mean:social")
    hop2 = np.concatenate(
        [
            inputs.graph.mean("identifier", first_hop),
            inputs.graph.mean("social", first_hop),
            inputs.graph.mean("social", social),  # a contact's contacts
        ],
        axis=1,
    )
    assert np.array_equal(inputs.block("hop2"), held(hop2))
    assert np.array_equal(inputs.block("identifiers"), held(inputs.graph.structure()[0]))
    # the spread block: the neighbours' row via identifiers and ties, then each one's
    # second hop over the same relation
    row = np.concatenate(
        [inputs.block("identifiers"), inputs.block("activity")[:, :ACTIVITY_CORE],
         inputs.block("profile")], axis=1,
    )  # fmt: skip
    by_id, by_tie = inputs.graph.mean("identifier", row), inputs.graph.mean("social", row)
    spread = np.concatenate(
        [
            by_id,
            by_tie,
            inputs.graph.mean("identifier", held(by_id)),
            inputs.graph.mean("social", held(by_tie)),
        ],
        axis=1,
    )
    np.testing.assert_allclose(
        inputs.block("spread"), held(spread), rtol=float(np.finfo(STATIC_DTYPE).eps), atol=1e-6
    )
    assert inputs.static.shape[1] == sum(w for _, w in inputs.static_blocks)


def test_tie_weights_of_any_size_stay_finite_and_ordered_in_half_precision(
    tables: GraphTables,
) -> None:
    # A lender's tie weight may be a transfer amount in cents: its raw mean would pass
    # half precision's largest value (65,504) and become infinite, or, held at the
    # bound, rank 10^6 and 10^9 alike.
    social = tables.social.copy()
    social["weight"] = 10.0 ** np.linspace(0.0, 9.0, len(social))
    heavy = GraphTables(**{**dict(tables.tables()), "social": social})
    runner = GraphRiskModel(GraphRiskConfig(**FAST)).fit(heavy, D).prepare(heavy, D)
    assert isinstance(runner, SignRunner)
    assert np.isfinite(runner.inputs.static).all()
    mean_weight = runner.inputs.block("profile")[:, 5].astype(np.float64)
    assert np.log1p(1e8) < mean_weight.max() < np.log1p(1e10)
    assert len(np.unique(mean_weight)) > 100


def test_own_view_inputs_exist_for_labelled_users_only(tables: GraphTables) -> None:
    model = GraphRiskModel(GraphRiskConfig(**FAST)).fit(tables, D)
    folds = split_labels(tables, D, LabelSplit(n_folds=3, time_buckets=2))
    runner = model.prepare(tables, D, folds=folds)
    assert isinstance(runner, SignRunner)
    labelled = np.flatnonzero(folds.labelled)
    u = labelled[:5]
    own = folds.own_view()[u]
    expected = np.stack(
        [runner.view_inputs(int(v), np.array([user]))[0] for v, user in zip(own, u, strict=True)]
    )
    assert np.array_equal(runner.own_inputs(u), expected)
    unlabelled = np.flatnonzero(~folds.labelled)[:1]
    with pytest.raises(ModelError, match="only labelled users"):
        runner.own_inputs(unlabelled)


def test_the_plan_trains_and_scores_with_graph_features(tables: GraphTables) -> None:
    folds = split_labels(tables, D, LabelSplit(n_folds=3, time_buckets=2))
    views = graph_feature_views(tables, folds)
    assert len(views.frames) == folds.n_views
    model = GraphRiskModel(GraphRiskConfig(**FAST)).fit(tables, D, folds=folds, feature_views=views)
    assert model.builder_.feature_columns_  # trained on the graph features
    later = "2024-05-01"
    score_folds = model.scoring_folds(tables, later)
    risk = model.predict_proba(
        tables, later, folds=score_folds, feature_views=graph_feature_views(tables, score_folds)
    )[:, 1]
    assert risk.shape == (tables.num_users,)
    assert ((risk >= 0) & (risk <= 1)).all()
    with pytest.raises(ModelError, match="trained with graph features: pass feature_views"):
        model.predict_proba(tables, D)
    # Only some users scored (an online call's applicants): each as when all are.
    rows = np.array([tables.num_users - 1, 0, 17, 250])
    some = model.predict_proba(
        tables,
        later,
        folds=score_folds,
        feature_views=graph_feature_views(tables, score_folds),
        rows=rows,
    )[:, 1]
    np.testing.assert_allclose(some, risk[rows], rtol=0, atol=1e-12)


def test_save_and_load_round_trip(tables: GraphTables, tmp_path: Path) -> None:
    model = GraphRiskModel(GraphRiskConfig(**FAST)).fit(tables, D)
    path = model.save(tmp_path / "models" / "gnn.pt")
    loaded = GraphRiskModel.load(path)
    assert np.array_equal(model.predict_proba(tables, D), loaded.predict_proba(tables, D))
    rec = loaded.record_
    assert rec.as_of.startswith("2024-04-15") and rec.n_users == tables.num_users
    assert rec.trained_at and len(rec.data_fingerprint) == 16
    assert 0.0 <= rec.validation_brier <= 1.0
    assert loaded.get_params() == model.get_params()
    frame = score_users(loaded, tables, D, users=["u00003", "u00001"])
    assert frame["user_id"].tolist() == ["u00003", "u00001"]
    with pytest.raises(ModelError, match="2 user ids not in the users table"):
        score_users(loaded, tables, D, users=["nope", "u00001", "nope2"])
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"junk\.pt: cannot read the model file"):
        GraphRiskModel.load(tmp_path / "junk.pt")
    with pytest.raises(ModelError, match=r"missing\.pt: model file not found"):
        GraphRiskModel.load(tmp_path / "missing.pt")


def test_calibration_is_measured_on_the_validation_window(tables: GraphTables) -> None:
    model = GraphRiskModel(GraphRiskConfig(**FAST, calibration="isotonic")).fit(tables, D)
    val = model.validation_
    assert len(val) == model.record_.n_validation
    assert ((val["proba"] >= 0) & (val["proba"] <= 1)).all()
    assert model.calibrate(np.array([-50.0, 50.0])).tolist() == [
        min(model.calibrator_["y"]),
        max(model.calibrator_["y"]),
    ]


def test_a_retrain_keeps_the_incumbents_calibration_while_it_fits(tables: GraphTables) -> None:
    """Refit on the same users, the calibration moves by chance only: last night's
    stays while its candidate does, its judges and their outcomes are tonight's, and
    it fits them within the incumbent band; otherwise tonight's calibration."""
    config = GraphRiskConfig(**{**FAST, "candidates": ("tabular",)})
    first = GraphRiskModel(config).fit(tables, D)
    assert not first.calibrator_kept_
    nudged = {**first.calibrator_, "a": 1.02 * first.calibrator_["a"]}
    kept = GraphRiskModel(config).fit(tables, D, incumbent="tabular", incumbent_calibrator=nudged)
    assert kept.calibrator_kept_ and kept.calibrator_ == nudged
    val = kept.validation_
    np.testing.assert_allclose(val["proba"], kept.calibrate(val["logit"].to_numpy()))
    inverted = {**first.calibrator_, "a": -first.calibrator_["a"]}
    other_judges = {**nudged, "judges": "0123456789abcdef"}  # fitted on other outcomes
    for incumbent, calibrator in (
        ("tabular", inverted),
        ("tabular", other_judges),
        ("graph", nudged),
    ):
        refit = GraphRiskModel(config).fit(
            tables, D, incumbent=incumbent, incumbent_calibrator=calibrator
        )
        assert not refit.calibrator_kept_
        assert refit.calibrator_ == first.calibrator_


def test_errors_name_the_parameter_and_the_problem(tables: GraphTables) -> None:
    with pytest.raises(ModelError, match=r"architecture = 'gat': expected one of"):
        GraphRiskModel(GraphRiskConfig(architecture="gat")).fit(tables, D)
    with pytest.raises(ModelError, match=r"dropout = 1\.5"):
        GraphRiskModel(GraphRiskConfig(dropout=1.5)).fit(tables, D)
    with pytest.raises(ModelError, match="not fitted"):
        GraphRiskModel().predict_proba(tables, D)
    # before any label is known there is nothing to learn from
    with pytest.raises(ModelError, match="need both bad and good labels"):
        GraphRiskModel(GraphRiskConfig(**FAST)).fit(tables, "2024-01-05")
    model = GraphRiskModel(GraphRiskConfig(**FAST)).fit(tables, D)
    folds = model.scoring_folds(tables, D)
    with pytest.raises(ModelError, match=r"risky links need a 'sign' model"):
        from riskgraph.gnn.explain import risky_links

        risky_links(GraphRiskModel(GraphRiskConfig(architecture="sage")), tables, D)
    assert folds.n_buckets == 1


def test_tree_head_inputs_are_assembled_a_chunk_at_a_time(tables: GraphTables) -> None:
    # Assembled for every training user at once, the full rows and their selection
    # held the graph head's inputs three times over.
    model = GraphRiskModel(GraphRiskConfig(**FAST, candidates=("tabular", "graph"))).fit(tables, D)
    runner = model.prepare(tables, D)
    assert isinstance(runner, SignRunner)
    rows = np.arange(tables.num_users)[::-1].copy()
    raw, codes = model._raw_attributes(runner)
    for name in ("tabular", "graph"):
        columns = model._head_columns(name, runner)
        whole = np.concatenate(
            [runner.view_inputs(0, rows), raw[rows], codes[rows].astype(np.float32)], axis=1
        )[:, columns]
        runner.chunk_size = 32
        tracemalloc.start()
        try:
            got = model.head_inputs(runner, rows, 0, name)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            del runner.chunk_size
        assert np.array_equal(got, whole)
        assert got.dtype == np.float32
        if name == "graph":  # every column: whole rows at once would take 3 * got.nbytes
            # the answer, and a few copies of one chunk's rows while it is assembled
            assert peak < got.nbytes + 6 * 32 * got[0].nbytes


def test_own_inputs_read_the_static_inputs_without_keeping_a_copy(tables: GraphTables) -> None:
    # The labelled users' own-view rows are kept for every tree head and epoch; with the
    # static inputs in them they held the labelled users' part of the static array twice.
    model = GraphRiskModel(GraphRiskConfig(**FAST)).fit(tables, D)
    folds = split_labels(tables, D, model.settings.label_split)
    runner = model._runner(tables, pd.Timestamp(D, tz="UTC"), folds, None)
    runner.attach_scorer(None)
    labelled = np.flatnonzero(folds.labelled)
    static = runner.inputs.static
    tracemalloc.start()
    try:
        x = runner.own_inputs(labelled)
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept - x.nbytes < static[labelled].nbytes
    own = folds.own_view()
    assert np.array_equal(x[:, : static.shape[1]], static[labelled])
    for i, user in enumerate(labelled):
        assert np.array_equal(x[i, static.shape[1] :], runner.view_block(int(own[user]))[user])


def test_the_blocks_are_averaged_a_few_columns_at_a_time(
    tables: GraphTables, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A mean over a whole block holds a per-identifier temporary of every column beside
    # the blocks.
    import riskgraph.gnn.blocks as blocks

    model = GraphRiskModel(GraphRiskConfig(**FAST)).fit(tables, D)
    calls: list[tuple] = []
    build = SignInputs.build.__func__

    def capturing(cls, *args, **kwargs):
        calls.append((args, kwargs))
        return build(cls, *args, **kwargs)

    monkeypatch.setattr(SignInputs, "build", classmethod(capturing))
    model.prepare(tables, D)
    monkeypatch.undo()
    args, kwargs = calls[0]
    monkeypatch.setattr(blocks, "PROPAGATION_CHUNK", 10**6)
    whole = SignInputs.build(*args, **kwargs).static
    monkeypatch.setattr(blocks, "PROPAGATION_CHUNK", 4)
    tracemalloc.start()
    try:
        chunked = SignInputs.build(*args, **kwargs).static
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.array_equal(chunked, whole)
    # the blocks, the encoded attributes and a few narrow temporaries
    assert peak < 1.5 * whole.nbytes


def test_the_sign_runner_lets_its_snapshot_go_before_building_the_blocks(
    tables: GraphTables, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The HeteroData snapshot is 0.9 GB at a million users, the blocks 1.2 GB: the
    # blocks need only the user graph and the activity read from the snapshot.
    model = GraphRiskModel(GraphRiskConfig(**FAST)).fit(tables, D)
    snapshots: list[weakref.ref] = []
    alive_at_build: list[bool] = []
    transform, build = HeteroGraphBuilder.transform, SignInputs.build.__func__

    def recording(self, *args, **kwargs):
        data = transform(self, *args, **kwargs)
        snapshots.append(weakref.ref(data))
        return data

    def checking(cls, *args, **kwargs):
        gc.collect()
        alive_at_build.append(snapshots[-1]() is not None)
        return build(cls, *args, **kwargs)

    monkeypatch.setattr(HeteroGraphBuilder, "transform", recording)
    monkeypatch.setattr(SignInputs, "build", classmethod(checking))
    expected = model.predict_proba(tables, D)
    assert alive_at_build == [False]
    monkeypatch.undo()
    assert np.array_equal(model.predict_proba(tables, D), expected)
