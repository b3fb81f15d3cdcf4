"""Worlds unlike ours run end to end: no applications table, a 0.5% bad rate.

Lenders' inputs differ from the synthetic population in what they hold: a payment
platform has no applications table; a prime portfolio sees one bad user in two hundred.
Both must give a complete night (every user scored, the choice of model recorded), not
a crash or a constant score.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskgraph.loaders.synthetic import generate_population
from riskgraph.runs import OutputRoot

KEY = "unusual-worlds-test-key-0123456789"
USERS = 3_000


def _night(tables: dict[str, pd.DataFrame], date: str, tmp_path: Path) -> Path:
    input_dir = tmp_path / "input"
    input_dir.mkdir()
    for name, frame in tables.items():
        frame.to_csv(input_dir / f"{name}.csv", index=False)
    out = tmp_path / "out"
    env = {**os.environ, "RISKGRAPH_HMAC_KEY": KEY, "OMP_NUM_THREADS": "2"}
    command = [sys.executable, "-m", "riskgraph", "nightly", "--input", str(input_dir),
               "--out", str(out), "--date", date, "--no-neo4j", "--quiet"]  # fmt: skip
    # outside the checkout: `python -m` there would import the source folder riskgraph/
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return out


def _check_night(out: Path, date: str, users: pd.DataFrame, distinct: int) -> dict:
    run_dir = OutputRoot(out).run_dir(pd.Timestamp(date).date())
    scores = pd.read_parquet(run_dir / "scores.parquet")
    assert len(scores) == len(users)
    assert scores["credit_score"].between(350, 950).all()
    assert scores["risk_score"].nunique() > distinct  # a ranking, not a constant
    record = json.loads((OutputRoot(out).model_dir / "model.json").read_text())
    assert record["candidate"] in record["candidates"]
    assert 0.0 <= record["label_share"] <= 1.0  # what the point-in-time views showed
    assert record["label_buckets"] >= 1 and record["config"]["label_clock"] == "application"
    return record


@pytest.fixture(scope="module")
def population():
    return generate_population(USERS, seed=3, days=365)


def test_a_world_without_an_applications_table_runs_end_to_end(population, tmp_path):
    tables = {k: v for k, v in population.tables.items() if k != "applications"}
    date = (pd.Timestamp(population.end) + pd.Timedelta(days=1)).date().isoformat()
    out = _night(tables, date, tmp_path)
    _check_night(out, date, tables["users"], distinct=100)


def test_a_half_percent_bad_rate_runs_end_to_end(population, tmp_path):
    users = population.tables["users"].copy()
    bad = np.flatnonzero(users["label"].to_numpy() == 1)
    labelled = int(users["label"].notna().sum())
    keep = np.random.default_rng(0).choice(bad, max(2, round(0.005 * labelled)), replace=False)
    users.loc[users.index[np.setdiff1d(bad, keep)], "label"] = 0
    assert users["label"].mean() == pytest.approx(0.005, abs=0.002)
    tables = {**population.tables, "users": users}
    date = (pd.Timestamp(population.end) + pd.Timedelta(days=1)).date().isoformat()
    out = _night(tables, date, tmp_path)
    # five bad users allow a coarse ranking only (the trees' few leaves)
    record = _check_night(out, date, users, distinct=20)
    # a handful of bad users: the heads are judged on every labelled user, out of fold
    assert record["cross_fitted"] is True
