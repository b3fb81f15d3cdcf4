"""What does the credit scorecard cost per call? Its steps on score frames of 1 to 200,000 users.

The scorecard runs once per label view and once more for the reasons in every scoring:
on a few users in an online call, on every user at night. This script trains the models
once (``riskgraph nightly --no-neo4j`` on a synthetic population of ``--users`` users,
written under ``data/bench/scorecard-<users>/``, gitignored; reused by later runs), loads
the scorecard and times, on frames of ``--rows`` users, the median of ``--repeats`` calls
of each step:

* ``prepare``: the thin-file rule, the model's columns and dtypes;
* ``bin_indices`` and ``points_of``: each user's bin and points per variable;
* ``score_users``: points, risk, credit score and reasons, as the nightly job and an
  online call ask for them (``points`` given, one view).

The frames hold, per variable, values drawn uniformly across the variable's bins with
10% missing (the graph model's score uniform in 0..1), so that every bin and the
Missing bin are met; the same seed gives the same frames. Run:
``python benchmarks/scorecard_apply.py [--users N] [--rows 1 100 ...]``; prints the
figures and writes ``benchmarks/results/scorecard_apply.json``. To time another
version's code on the same model, put a tree laid out as the installed package first on
``PYTHONPATH`` (as ``benchmarks/same_outputs.py`` says) and pass ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskgraph.loaders.synthetic import generate_population
from riskgraph.score import score_users
from riskgraph.score.scorecard import CreditScorecard

ROOT = Path(__file__).resolve().parent.parent
KEY = "scorecard-benchmark-key-0123456789"


def trained(users: int) -> Path:
    """The scorecard of one nightly run on a population of ``users`` (trained once)."""
    base = ROOT / "data" / "bench" / f"scorecard-{users}"
    model = base / "out" / "model" / "scorecard.pkl"
    if model.exists():
        return model
    population = generate_population(users, seed=0, days=365)
    population.write(base / "input")
    key = base / "hmac.key"
    key.write_text(KEY)
    key.chmod(0o600)
    command = [sys.executable, "-m", "riskgraph", "nightly", "--input", str(base / "input"),
               "--out", str(base / "out"), "--date", str(population.end.date()),
               "--no-neo4j", "--hmac-key-file", str(key), "--quiet"]  # fmt: skip
    subprocess.run(command, check=True, cwd=base)
    return model


def frame(model: CreditScorecard, n: int, seed: int) -> pd.DataFrame:
    """``n`` users' score frame: values spread over every variable's bins."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for spec in model.variables_:
        if spec.name == model.score_column:
            out[spec.name] = rng.uniform(0.0, 1.0, n)
            continue
        if getattr(spec, "categories", None) is not None:
            values = np.asarray(spec.categories, dtype=object)
            values = values[rng.integers(len(values), size=n)]
        elif spec.dtype == "numerical":
            splits = model.bin_splits(spec.name)
            low, high = (splits.min() - 1.0, splits.max() + 1.0) if len(splits) else (0.0, 1.0)
            values = rng.uniform(low, high, n)
        else:
            # the regular bins' categories (the table ends with Special, Missing, Totals)
            table = model.binning_process_.get_binned_variable(spec.name).binning_table.build()
            seen = [c for b in table["Bin"].iloc[:-3] for c in np.atleast_1d(b)]
            values = np.asarray(seen, dtype=object)[rng.integers(len(seen), size=n)]
        values[rng.random(n) < 0.1] = None if values.dtype == object else np.nan
        out[spec.name] = values
    for column in model.thin_file_.history_columns:
        if column not in out:
            out[column] = rng.uniform(0.0, 100.0, n)
    index = pd.Index([f"U{i:07d}" for i in range(n)], name="user_id")
    return pd.DataFrame(out, index=index)


def median_ms(call: Any, repeats: int) -> float:
    call()  # warm-up
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return round(statistics.median(seconds) * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 100, 10_000, 200_000])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "scorecard_apply.json"
    )
    args = parser.parse_args()

    model = CreditScorecard.load(trained(args.users))
    results: dict[str, Any] = {
        "benchmark": "scorecard_apply",
        "users": args.users,
        "variables": len(model.variables_),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "rows": {},
    }
    for n in args.rows:
        X = frame(model, n, seed=n)
        prepared = model.prepare(X)
        bins = model.bin_indices(prepared, dtype=np.int8)
        points = model.points_of(prepared, bins)
        repeats = args.repeats if n <= 10_000 else max(3, args.repeats // 7)
        figures = {
            "prepare_ms": median_ms(lambda X=X: model.prepare(X), repeats),
            "bin_indices_ms": median_ms(
                lambda p=prepared: model.bin_indices(p, dtype=np.int8), repeats
            ),
            "points_of_ms": median_ms(lambda p=prepared, b=bins: model.points_of(p, b), repeats),
            "score_users_ms": median_ms(
                lambda X=X, q=points: score_users(model, X, points=q), repeats
            ),
        }
        results["rows"][str(n)] = figures
        print(n, figures, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
