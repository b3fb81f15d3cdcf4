"""The nightly job end to end: contract outputs, idempotency, crash safety, lock, Neo4j down.

A small synthetic population (1,200 users over a year) keeps each run to seconds; the
models are trained once per session and copied into each output root, except where a
test is about training itself.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import pickle
import shutil
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskgraph import pipeline
from riskgraph.graph import cypher
from riskgraph.graph.features import compute_graph_features
from riskgraph.loaders import load_input
from riskgraph.loaders.synthetic import generate_population
from riskgraph.modeling import RiskModels
from riskgraph.pipeline import ENV_CRASH_AFTER, STAGES
from riskgraph.runs import OutputRoot

KEY = "pipeline-test-key-0123456789"
USERS = 1_200
OUTPUTS = ("scores.parquet", "features.parquet", "associations.parquet", "changes.parquet")
SCORE_COLUMNS = [
    "user_id", "risk_score", "credit_score", "gnn_risk", "decision", "multi_borrowing",
    "ring_id", "reason_1", "reason_2", "reason_3",
    # additive (README): stable codes and points of the reasons, when and by what
    "reason_code_1", "reason_code_2", "reason_code_3",
    "points_lost_1", "points_lost_2", "points_lost_3", "as_of", "model_version",
]  # fmt: skip


@pytest.fixture(scope="session")
def population(tmp_path_factory) -> tuple[Path, dt.date]:
    """The input directory and the first run date (the day after the data ends)."""
    root = tmp_path_factory.mktemp("population")
    pop = generate_population(USERS, seed=7, days=365)
    pop.write(root / "input", truth_path=root / "truth.parquet")
    return root / "input", (pd.Timestamp(pop.end) + pd.Timedelta(days=1)).date()


def nightly(
    input_dir: Path,
    out: Path,
    date: dt.date,
    *args: str,
    env: dict[str, str] | None = None,
    connection=None,
) -> subprocess.CompletedProcess:
    """``riskgraph nightly`` in a child process (a crash must not take the tests down)."""
    full_env = {**os.environ, "RISKGRAPH_HMAC_KEY": KEY, "OMP_NUM_THREADS": "2", **(env or {})}
    if connection is not None:
        full_env.update(
            RISKGRAPH_NEO4J_URI=connection.uri,
            RISKGRAPH_NEO4J_USER=connection.user,
            RISKGRAPH_NEO4J_PASSWORD=connection.password,
        )
    command = [sys.executable, "-m", "riskgraph", "nightly", "--input", str(input_dir),
               "--out", str(out), "--date", date.isoformat(), "--quiet", *args]  # fmt: skip
    # Run outside the checkout: there `python -m` would import the source folder
    # riskgraph/, which lacks the subpackages setuptools maps in.
    return subprocess.run(
        command, env=full_env, capture_output=True, text=True, timeout=900, cwd=out.parent
    )


@pytest.fixture(scope="session")
def trained(population, tmp_path_factory) -> Path:
    """An output root with one complete run and its trained models (no Neo4j)."""
    input_dir, date = population
    out = tmp_path_factory.mktemp("trained") / "out"
    done = nightly(input_dir, out, date, "--no-neo4j")
    assert done.returncode == 0, done.stderr
    return out


def with_models(trained: Path, out: Path) -> Path:
    """A fresh output root holding only the session's trained models."""
    out.mkdir(parents=True)
    shutil.copytree(OutputRoot(trained).model_dir, OutputRoot(out).model_dir)
    return out


def outputs(run_dir: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(run_dir / name) for name in OUTPUTS}


def assert_same_outputs(a: Path, b: Path) -> None:
    left, right = outputs(a), outputs(b)
    for name in OUTPUTS:
        pd.testing.assert_frame_equal(left[name], right[name], obj=name)
    for name in ("rejects",):
        assert sorted(p.name for p in (a / name).glob("*")) == sorted(
            p.name for p in (b / name).glob("*")
        )


# -- the contract -------------------------------------------------------------------------
def test_run_publishes_every_contract_output(population, trained):
    input_dir, date = population
    run_dir = OutputRoot(trained).run_dir(date)
    assert OutputRoot(trained).latest.resolve() == run_dir.resolve()
    for name in (*OUTPUTS, "report.html", "run.json"):
        assert (run_dir / name).is_file(), name
    scores = pd.read_parquet(run_dir / "scores.parquet")
    assert list(scores.columns) == SCORE_COLUMNS
    users = pd.read_csv(input_dir / "users.csv", dtype=str)["user_id"]
    assert scores["user_id"].is_unique
    assert sorted(scores["user_id"]) == sorted(users)  # every input user exactly once
    assert scores["credit_score"].between(350, 950).all()
    assert scores["risk_score"].between(0, 1).all()
    assert set(scores["decision"]) <= {"approve", "review", "decline"}
    order = scores.sort_values("risk_score")
    assert order["credit_score"].is_monotonic_decreasing
    links = pd.read_parquet(run_dir / "associations.parquet")
    assert {"user_id", "other_user_id", "via_type", "via_id", "score"} <= set(links.columns)
    assert set(links["via_type"]) <= {"device", "account", "social", "application_device"}
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["counts"]["scored_users"] == USERS
    assert set(manifest["timings_seconds"]) == set(STAGES) - {"publish"}  # written during it
    peaks = manifest["peak_memory_gb"]  # per stage, from the kernel's peak-RSS mark (Linux)
    assert {"load", "features", "model", "score"} <= set(peaks) <= set(STAGES)
    assert all(0.05 < gb < 64 for gb in peaks.values()), peaks
    assert manifest["model"]["trained_tonight"] is True


def test_run_adds_machine_readable_outputs(population, trained):
    _, date = population
    root = OutputRoot(trained)
    run_dir = root.run_dir(date)
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["schema_version"] == pipeline.SCHEMA_VERSION
    # The effective configuration, every table of it, as read back.
    assert manifest["config"] == pipeline.PipelineConfig().to_dict()
    assert manifest["config"]["decisions"]["approve_from"] == 620
    scores = pd.read_parquet(run_dir / "scores.parquet")
    as_of = pd.Timestamp(date, tz="UTC")
    assert (scores["as_of"] == as_of).all()
    assert (scores["model_version"] == manifest["model_version"]).all()
    has = scores["reason_1"].notna()
    assert has.any() and (scores["reason_code_1"].notna() == has).all()
    assert (scores.loc[has, "points_lost_1"] >= scores.loc[has, "points_lost_2"].fillna(0)).all()
    from riskgraph.score.codes import code_table

    codes = set(pd.concat([scores[f"reason_code_{i}"] for i in (1, 2, 3)]).dropna())
    assert {c for c in codes if not c.startswith("A:")} <= set(code_table()["code"])
    features = pd.read_parquet(run_dir / "features.parquet")
    assert features.columns[-1] == "as_of" and (features["as_of"] == as_of).all()
    rings = pd.read_parquet(run_dir / "rings.parquet")
    assert rings["ring_id"].is_unique and len(rings) > 0
    members = pd.read_parquet(run_dir / "features.parquet")["ring_id"].dropna()
    assert set(members) <= set(rings["ring_id"])
    table = pd.read_csv(root.model_dir / "scorecard.csv")
    assert list(table.columns) == [
        "characteristic", "bin", "count", "event_rate", "woe", "iv", "points", "reason_code",
    ]  # fmt: skip
    assert "gnn_risk" in set(table["characteristic"])
    # Strategy and monitoring, in run.json and the report.
    strategy = pd.DataFrame(manifest["strategy"])
    assert strategy["cutoff"].tolist() == list(range(350, 951, 10))
    cut = manifest["cutoffs"]
    approve = (scores["decision"] == "approve").mean()
    assert cut["approve_from"] == 620 and cut["approve_rate"] == pytest.approx(approve)
    monitoring = manifest["monitoring"]
    assert set(monitoring["score_psi"]) == {"development", "previous"}
    assert monitoring["score_psi"]["development"] is not None
    assert monitoring["ranking"]["validation"]["gini"] > 0
    report = (run_dir / "report.html").read_text()
    for title in ("Cut-off strategy", "Model monitoring against the development sample"):
        assert f"<h2>{title}</h2>" in report


def test_off_a_terminal_every_log_record_is_one_line(population, trained, tmp_path):
    import re

    from riskgraph.cli import LOG_LINE

    line_format = re.compile(LOG_LINE)
    input_dir, date = population
    out = with_models(trained, tmp_path / "out")
    env = {**os.environ, "RISKGRAPH_HMAC_KEY": KEY, "OMP_NUM_THREADS": "2", "COLUMNS": "80"}
    command = [sys.executable, "-m", "riskgraph", "nightly", "--input", str(input_dir),
               "--out", str(out), "--date", date.isoformat(), "--no-neo4j"]  # fmt: skip
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=900, cwd=out.parent
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert all(line_format.match(line) for line in lines), lines  # nothing wrapped
    stages = [line_format.match(line)["stage"] for line in lines]
    assert set(STAGES) - {"upsert", "read_back", "write_back"} <= set(stages)
    assert any(line.endswith("score: scoring") for line in lines)
    assert max(len(line) for line in lines) > 80  # long lines are not wrapped at 80


def test_an_approval_rate_target_is_met_on_a_synthetic_night(population, trained, tmp_path):
    input_dir, date = population
    out = with_models(trained, tmp_path / "out")
    config = tmp_path / "riskgraph.toml"
    config.write_text("[decisions]\napprove_rate = 0.70\nreview_budget = 0.10\n")
    done = nightly(input_dir, out, date, "--no-neo4j", "--config", str(config))
    assert done.returncode == 0, done.stderr
    run_dir = OutputRoot(out).run_dir(date)
    decision = pd.read_parquet(run_dir / "scores.parquet")["decision"]
    approve, review = (decision == "approve").mean(), (decision == "review").mean()
    assert abs(approve - 0.70) <= 0.02, approve
    assert review <= 0.10 + 1e-9
    cut = json.loads((run_dir / "run.json").read_text())["cutoffs"]
    assert cut["targets"] == {"approve_rate": 0.7, "review_budget": 0.1}
    assert cut["approve_rate"] == pytest.approx(approve)
    assert cut["binding"] == "approve_rate" and cut["approve_from"] != 620


def test_a_protected_attribute_is_no_model_input_and_no_reason(population, tmp_path):
    input_dir, date = population
    out = tmp_path / "out"
    config = tmp_path / "riskgraph.toml"
    config.write_text('[fairness]\nprotected = ["income_band", "age_band"]\n')
    done = nightly(input_dir, out, date, "--no-neo4j", "--config", str(config))
    assert done.returncode == 0, done.stderr
    models = RiskModels.load(OutputRoot(out).model_dir)
    gnn_inputs = set(models.gnn_.builder_.numeric_) | set(models.gnn_.builder_.categorical_)
    assert "age_band" not in gnn_inputs and "income_band" not in gnn_inputs
    assert "region" in gnn_inputs  # the others stay
    assert "income_band" not in {v.name for v in models.scorecard_.variables_}
    run_dir = OutputRoot(out).run_dir(date)
    scores = pd.read_parquet(run_dir / "scores.parquet")
    reasons = pd.concat([scores[f"reason_{i}"] for i in (1, 2, 3)]).dropna()
    assert len(reasons) > len(scores) / 2
    assert not reasons.str.contains("income|age group").any()
    assert not pd.concat([scores[f"reason_code_{i}"] for i in (1, 2, 3)]).isin(["A05"]).any()
    # Used in the fairness table only.
    fairness = json.loads((run_dir / "run.json").read_text())["fairness"]
    assert {"income_band", "age_band", "region"} <= set(fairness)


def test_rerun_of_a_complete_date_is_a_no_op_and_force_reproduces_it(population, trained):
    input_dir, date = population
    run_dir = OutputRoot(trained).run_dir(date)
    before = (run_dir / "run.json").stat().st_mtime_ns
    again = nightly(input_dir, trained, date, "--no-neo4j")
    assert again.returncode == 0 and "already complete" in again.stdout
    assert (run_dir / "run.json").stat().st_mtime_ns == before
    copy = trained.parent / "first-run"
    shutil.copytree(run_dir, copy)
    forced = nightly(input_dir, trained, date, "--no-neo4j", "--force")
    assert forced.returncode == 0, forced.stderr
    assert_same_outputs(copy, run_dir)


def test_second_night_has_a_watchlist_and_drift(population, trained, tmp_path):
    input_dir, date = population
    out = with_models(trained, tmp_path / "out")
    early = date - dt.timedelta(days=14)
    for night in (early, date):
        done = nightly(input_dir, out, night, "--no-neo4j")
        assert done.returncode == 0, done.stderr
    run = OutputRoot(out).run_dir(date)
    changes = pd.read_parquet(run / "changes.parquet")
    assert list(changes.columns) == [
        "user_id",
        "previous_score",
        "credit_score",
        "delta",
        "reasons_changed",
    ]
    assert len(changes) > 0
    assert (changes["delta"] == changes["credit_score"] - changes["previous_score"]).all()
    report = (run / "report.html").read_text()
    assert f"Compared with the run of {early}." in report


# -- idempotency and crash safety with Neo4j ------------------------------------------------
@pytest.mark.neo4j
def test_two_runs_give_identical_outputs_and_neo4j_state(
    population, trained, tmp_path, neo4j_db, neo4j_connection, neo4j_dump
):
    input_dir, date = population
    out = with_models(trained, tmp_path / "out")
    first = nightly(input_dir, out, date, connection=neo4j_connection)
    assert first.returncode == 0, first.stderr
    state = neo4j_dump(neo4j_db)
    copy = tmp_path / "first"
    shutil.copytree(OutputRoot(out).run_dir(date), copy)
    second = nightly(input_dir, out, date, "--force", connection=neo4j_connection)
    assert second.returncode == 0, second.stderr
    assert_same_outputs(copy, OutputRoot(out).run_dir(date))
    assert neo4j_dump(neo4j_db) == state
    labels = {label for text in state[0] for label in ("RiskLow", "RiskMedium", "RiskHigh")
              if label in text}  # fmt: skip
    assert labels == {"RiskLow", "RiskMedium", "RiskHigh"}


@pytest.mark.neo4j
def test_tonights_input_tables_are_let_go_once_read_back_from_neo4j(
    population, trained, tmp_path, neo4j_db, neo4j_connection, monkeypatch
):
    # At a million users the input tables are 0.75 GB the stages after the upsert
    # do not need: the graph read back from Neo4j supersedes them.
    input_dir, date = population
    loaded_tables: list[weakref.ref] = []
    alive_at_features: list[bool] = []

    def load(*args, **kwargs):
        result = load_input(*args, **kwargs)
        loaded_tables.append(weakref.ref(result.tables))
        return result

    def features(tables, *args, **kwargs):
        gc.collect()
        alive_at_features.append(loaded_tables[0]() is not None)
        return compute_graph_features(tables, *args, **kwargs)

    monkeypatch.setattr(pipeline, "load_input", load)
    monkeypatch.setattr(pipeline, "compute_graph_features", features)
    out = with_models(trained, tmp_path / "out")
    result = pipeline.run_nightly(
        input_dir, out, hmac_key=KEY.encode(), run_date=date, connection=neo4j_connection
    )
    assert result.status == "published"
    assert alive_at_features == [False]
    scores = pd.read_parquet(result.run_dir / "scores.parquet")
    users = pd.read_csv(input_dir / "users.csv", dtype=str)["user_id"]
    assert sorted(scores["user_id"]) == sorted(users)


def test_the_links_stage_holds_neither_every_users_scores_nor_the_feature_rows(
    population, trained, tmp_path, monkeypatch
):
    # At a million users each is about 0.5 GB, and the links stage is one of the
    # night's two memory peaks: the feature rows are built again for the report.
    input_dir, date = population
    held: list[weakref.ref] = []
    alive_at_links: list[bool] = []
    score, links, rows = RiskModels.score, RiskModels.risky_links, pipeline._tonight_rows

    def scoring(self, *args, **kwargs):
        scored = score(self, *args, **kwargs)
        held.append(weakref.ref(scored.result))
        return scored

    def tonight_rows(*args):
        frame = rows(*args)
        held.append(weakref.ref(frame))
        return frame

    def risky_links(self, *args, **kwargs):
        gc.collect()
        alive_at_links.extend(ref() is not None for ref in held)
        return links(self, *args, **kwargs)

    monkeypatch.setattr(RiskModels, "score", scoring)
    monkeypatch.setattr(RiskModels, "risky_links", risky_links)
    monkeypatch.setattr(pipeline, "_tonight_rows", tonight_rows)
    out = with_models(trained, tmp_path / "out")
    result = pipeline.run_nightly(
        input_dir, out, hmac_key=KEY.encode(), run_date=date, use_neo4j=False
    )
    assert alive_at_links == [False, False]  # the scoring's result, the feature rows
    assert len(held) == 3  # the feature rows were built again for the report
    features = pd.read_parquet(result.run_dir / "features.parquet")
    scores = pd.read_parquet(result.run_dir / "scores.parquet")
    assert features["user_id"].tolist() == scores["user_id"].tolist()
    assert len(scores) == USERS


def test_tonights_full_score_frame_is_built_after_the_label_views_are_averaged(
    population, trained, monkeypatch
):
    # Each is about 0.5 GB at a million users: never a view and the full frame at once.
    from riskgraph import modeling

    input_dir, date = population
    tables = load_input(input_dir, hmac_key=KEY.encode()).tables
    as_of = pd.Timestamp(date, tz="UTC")
    features = compute_graph_features(tables, as_of)
    models = RiskModels.load(OutputRoot(trained).model_dir)
    built: list[str] = []
    build = modeling.build_score_frame

    def recording(users, frame, gnn_risk):
        built.append("full" if frame is features.features else "view")
        return build(users, frame, gnn_risk)

    monkeypatch.setattr(modeling, "build_score_frame", recording)
    scored = models.score(tables, as_of, features)
    n_views = models.gnn_.settings.n_folds
    assert built == ["view"] * n_views + ["full"]
    assert scored.result.scores["user_id"].tolist() == tables.users["user_id"].tolist()


def test_scoring_some_users_gives_them_what_scoring_everyone_gives(population, trained):
    # An online call scores its applicants, not their whole neighbourhood: the models
    # run on the rows asked for, and each gets what the full night gives it. (Not the
    # decision: cut-offs resolved from targets depend on who is scored.)
    input_dir, date = population
    tables = load_input(input_dir, hmac_key=KEY.encode()).tables
    as_of = pd.Timestamp(date, tz="UTC")
    features = compute_graph_features(tables, as_of)
    models = RiskModels.load(OutputRoot(trained).model_dir)
    everyone = models.score(tables, as_of, features).result.scores
    labelled = np.flatnonzero(tables.users["label"].notna().to_numpy())
    # Labelled users are scored on their own view, the others on every fold's: both.
    others = np.setdiff1d(np.arange(tables.num_users), labelled)
    rows = np.array([labelled[-1], others[3], labelled[2], others[-1], others[0]])
    some = models.score(tables, as_of, features, rows=rows).result.scores
    columns = ["user_id", "risk_score", "credit_score", "gnn_risk", "reason_1", "points_lost_1"]
    pd.testing.assert_frame_equal(
        some[columns].reset_index(drop=True),
        everyone[columns].iloc[rows].reset_index(drop=True),
        check_exact=False,
        rtol=0,
        atol=1e-12,
    )


@pytest.fixture(scope="module")
def clean_reference(
    population, trained, tmp_path_factory, neo4j_driver, neo4j_connection, neo4j_dump
):
    """Outputs and Neo4j state of one uninterrupted run, for the crash tests."""
    input_dir, date = population
    _wipe(neo4j_driver)
    out = with_models(trained, tmp_path_factory.mktemp("clean") / "out")
    done = nightly(input_dir, out, date, connection=neo4j_connection)
    assert done.returncode == 0, done.stderr
    return OutputRoot(out).run_dir(date), neo4j_dump(neo4j_driver)


def _wipe(driver) -> None:
    with driver.session() as session:
        session.run(cypher.DELETE_ALL, batch_size=10_000).consume()
    driver.execute_query(cypher.MARK_TEST_DATABASE)


@pytest.mark.neo4j
@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_killed_at_any_stage_then_rerun_equals_a_clean_run(
    stage, population, trained, clean_reference, tmp_path, neo4j_db, neo4j_connection, neo4j_dump
):
    input_dir, date = population
    out = with_models(trained, tmp_path / "out")
    crashed = nightly(
        input_dir, out, date, env={ENV_CRASH_AFTER: stage}, connection=neo4j_connection
    )
    assert crashed.returncode == 137, crashed.stderr
    complete = OutputRoot(out).is_complete(date)
    assert complete == (stage == "publish")  # nothing half-published
    rerun = nightly(input_dir, out, date, connection=neo4j_connection)
    assert rerun.returncode == 0, rerun.stderr
    reference_dir, reference_state = clean_reference
    assert_same_outputs(reference_dir, OutputRoot(out).run_dir(date))
    assert neo4j_dump(neo4j_db) == reference_state
    assert not list(OutputRoot(out).runs_dir.glob(".staging-*"))


@pytest.mark.slow
def test_killed_after_training_retrains_to_the_same_models(population, trained, tmp_path):
    input_dir, date = population
    out = tmp_path / "out"
    crashed = nightly(input_dir, out, date, "--no-neo4j", env={ENV_CRASH_AFTER: "model"})
    assert crashed.returncode == 137
    assert not OutputRoot(out).model_dir.exists()  # the model is published with the run
    rerun = nightly(input_dir, out, date, "--no-neo4j")
    assert rerun.returncode == 0, rerun.stderr
    assert_same_outputs(OutputRoot(trained).run_dir(date), OutputRoot(out).run_dir(date))


@pytest.mark.parametrize("stale", ["gnn format", "scorecard format", "unknown setting"])
def test_models_of_an_older_format_are_retrained_with_a_warning(
    population, trained, tmp_path, stale
):
    import pickle

    import torch

    input_dir, date = population
    out = with_models(trained, tmp_path / "out")
    model_dir = OutputRoot(out).model_dir
    if stale == "gnn format":
        payload = torch.load(model_dir / "gnn.pt", map_location="cpu", weights_only=True)
        payload["format"] = "riskgraph-gnn/1"
        torch.save(payload, model_dir / "gnn.pt")
    elif stale == "scorecard format":
        with (model_dir / "scorecard.pkl").open("rb") as handle:
            payload = pickle.load(handle)
        payload["format"] = 1
        with (model_dir / "scorecard.pkl").open("wb") as handle:
            pickle.dump(payload, handle)
    else:
        record = json.loads((model_dir / "model.json").read_text())
        record["config"]["architecture_of_old"] = "sign"
        (model_dir / "model.json").write_text(json.dumps(record))
    done = nightly(input_dir, out, date, "--no-neo4j")
    assert done.returncode == 0, done.stderr
    assert "training new models tonight" in done.stderr, done.stderr
    retrained = RiskModels.load(model_dir)  # tonight's models replaced the stale ones
    assert "architecture_of_old" not in retrained.record_["config"]
    # the replaced models' candidate was offered to the retrain as the incumbent
    first = json.loads((OutputRoot(trained).model_dir / "model.json").read_text())
    assert retrained.record_["incumbent"] == first["candidate"]
    assert_same_outputs(OutputRoot(trained).run_dir(date), OutputRoot(out).run_dir(date))


def test_a_retrain_keeps_last_nights_calibration_and_scorecard_while_they_fit(
    population, trained, tmp_path
):
    """--retrain on the input last night's models were trained on: the graph model's
    calibration and the scorecard's weights still fit, stay, and the night's outputs
    are last night's."""
    input_dir, date = population
    out = with_models(trained, tmp_path / "out")
    done = nightly(input_dir, out, date, "--no-neo4j", "--retrain")
    assert done.returncode == 0, done.stderr
    first = json.loads((OutputRoot(trained).model_dir / "model.json").read_text())
    record = RiskModels.load(OutputRoot(out).model_dir).record_
    assert record["calibrator_kept"] and record["calibrator"] == first["calibrator"]
    assert record["scorecard_kept_weights"]
    assert record["scorecard_variable_scale"] == first["scorecard_variable_scale"]
    assert first["scorecard_variable_scale"] in (1.0, 0.3)
    assert_same_outputs(OutputRoot(trained).run_dir(date), OutputRoot(out).run_dir(date))


def test_last_nights_calibration_and_scorecard_are_read_only_where_they_can_be(trained, tmp_path):
    model_dir = OutputRoot(with_models(trained, tmp_path / "out")).model_dir
    assert RiskModels.recorded_calibrator(model_dir)["kind"] == "platt"
    assert RiskModels.recorded_scorecard(model_dir) is not None
    # a record written before it held the calibration; a scorecard of another format
    record = json.loads((model_dir / "model.json").read_text())
    del record["calibrator"]
    (model_dir / "model.json").write_text(json.dumps(record))
    (model_dir / "scorecard.pkl").write_bytes(pickle.dumps({"format": 1}))
    assert RiskModels.recorded_calibrator(model_dir) is None
    assert RiskModels.recorded_scorecard(model_dir) is None
    assert RiskModels.recorded_scorecard(tmp_path / "nowhere") is None


# -- refusals ----------------------------------------------------------------------------------
def test_overlapping_run_is_refused_with_a_retry_exit_code(population, trained, tmp_path):
    input_dir, date = population
    out = with_models(trained, tmp_path / "out")
    with OutputRoot(out).lock():
        refused = nightly(input_dir, out, date, "--no-neo4j")
    assert refused.returncode == 75
    assert "another run is in progress" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not OutputRoot(out).runs_dir.exists()


def test_neo4j_down_stops_before_any_output(population, tmp_path):
    input_dir, date = population
    out = tmp_path / "out"
    env = {"RISKGRAPH_NEO4J_URI": "bolt://127.0.0.1:9", "RISKGRAPH_NEO4J_PASSWORD": "x"}
    refused = nightly(input_dir, out, date, env=env)
    assert refused.returncode == 75
    assert "Traceback" not in refused.stderr
    assert refused.stderr.strip().startswith("error:") and "127.0.0.1:9" in refused.stderr
    assert not out.exists()


def test_bad_input_exits_with_the_data_error_code(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "users.csv").write_text("user_id\nu1\n")
    refused = nightly(tmp_path / "in", tmp_path / "out", dt.date(2026, 1, 1), "--no-neo4j")
    assert refused.returncode == 65
    assert "users.csv: missing required column 'registered_at'" in refused.stderr
    assert not OutputRoot(tmp_path / "out").runs_dir.exists()
