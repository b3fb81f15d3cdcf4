"""The hostile new user's inputs: one synthetic population, models trained on it once.

Every probe starts from the same 1,200-user population (a year of activity), changes
it the way a user's data goes wrong, and runs the real command in a child process, as
a scheduler would. A run that needs models gets a copy of the session's (trained on
the clean population, whose run is the reference for the probes' scores).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from riskgraph.loaders.synthetic import generate_population
from riskgraph.runs import OutputRoot

KEY = "hardening-test-key-0123456789"
USERS = 1_200


@dataclass(frozen=True)
class Population:
    """The clean input, its run date, and an output root with its complete run."""

    input_dir: Path
    date: dt.date
    reference: Path

    @property
    def reference_scores(self) -> pd.DataFrame:
        return pd.read_parquet(OutputRoot(self.reference).run_dir(self.date) / "scores.parquet")


def riskgraph(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess:
    """``riskgraph ARGS`` in a child process, with the test key and two threads."""
    full_env = {**os.environ, "RISKGRAPH_HMAC_KEY": KEY, "OMP_NUM_THREADS": "2"}
    full_env.update(env or {})
    # Run outside the checkout: there `python -m` would import the source folder
    # riskgraph/, which lacks the subpackages setuptools maps in.
    return subprocess.run(
        [sys.executable, "-m", "riskgraph", *args],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        preexec_fn=preexec_fn,
    )


@pytest.fixture(scope="session")
def population(tmp_path_factory) -> Population:
    root = tmp_path_factory.mktemp("hardening")
    pop = generate_population(USERS, seed=7, days=365)
    pop.write(root / "input", truth_path=root / "truth.parquet")
    date = (pd.Timestamp(pop.end) + pd.Timedelta(days=1)).date()
    reference = root / "reference"
    done = riskgraph(
        "nightly", "--input", str(root / "input"), "--out", str(reference),
        "--date", date.isoformat(), "--no-neo4j", "--quiet", cwd=root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return Population(root / "input", date, reference)


def output_root_with_models(population: Population, out: Path) -> Path:
    """A fresh output root holding only the session's trained models."""
    out.mkdir(parents=True)
    shutil.copytree(OutputRoot(population.reference).model_dir, OutputRoot(out).model_dir)
    return out
