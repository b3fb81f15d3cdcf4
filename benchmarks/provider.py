"""How fast does the feature provider answer? ``FeatureProvider`` on 1,000,000 scored users.

Writes a synthetic complete run (``scores.parquet``, ``features.parquet`` with every
feature of the catalogue, ``associations.parquet``, ``run.json``) for ``--users``
users into a temporary output root, opens a :class:`riskgraph.provider.FeatureProvider`
on it, and times:

* ``open``: constructing the provider (finds ``latest``; reads nothing yet);
* ``first_features``: the first ``features`` call, which reads and indexes
  features.parquet (paid once per process);
* ``features``: ``features(ids)`` for ``--ids`` random ids (a fresh sample each
  repeat), median and spread of ``--repeats`` calls;
* ``scores`` likewise, and ``explain`` of one user (associations loaded already).

Run: ``python benchmarks/provider.py [--users N] [--ids M] [--repeats R]``; prints the
figures and writes ``benchmarks/results/provider.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from riskgraph.provider import FeatureProvider
from riskgraph.runs import RUN_MANIFEST, OutputRoot

RESULTS = Path(__file__).resolve().parent / "results" / "provider.json"
RUN_DATE = dt.date(2026, 6, 30)


def feature_columns() -> dict[str, str]:
    """Feature name -> dtype, from the catalogue when it is importable."""
    try:
        from riskgraph.graph.features import FEATURE_CATALOG
    except ImportError:
        return {f"feature_{i:02d}": "float64" for i in range(55)}
    return {name: spec.dtype for name, spec in FEATURE_CATALOG.items()}


def write_run(root: Path, n: int, seed: int) -> dict[str, float]:
    """A complete run of ``n`` users under ``root``; returns file sizes in MB."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"U{i:010d}" for i in range(n)], dtype=object)
    out = OutputRoot(root)
    staging = out.new_staging(RUN_DATE)
    features = {"user_id": ids}
    for name, dtype in feature_columns().items():
        if dtype == "string":
            values = np.where(
                rng.random(n) < 0.02,
                "ring-" + pd.Series(rng.integers(0, 2**40, n)).map("{:016x}".format).to_numpy(),
                None,
            )
            features[name] = pd.array(values, dtype="string")
        elif dtype == "bool":
            features[name] = rng.random(n) < 0.03
        elif dtype == "int64":
            features[name] = rng.poisson(0.5, n).astype(np.int64)
        else:
            features[name] = rng.gamma(1.0, 1.0, n)
    pd.DataFrame(features).to_parquet(staging / "features.parquet", index=False)
    risk = rng.beta(1.0, 15.0, n)
    reasons = np.array(
        [
            "shares a device with 2 users who defaulted",
            "applied at 6 lending platforms in the last 30 days",
            "no credit history yet",
            "uses 93% of the credit limits already granted",
        ],
        dtype=object,
    )
    pd.DataFrame(
        {
            "user_id": ids,
            "risk_score": risk,
            "credit_score": np.rint(650 + 57.7 * np.log((1 - risk) / risk / 20))
            .clip(350, 950)
            .astype(np.int64),
            "gnn_risk": rng.beta(1.0, 15.0, n),
            "decision": pd.array(
                rng.choice(["approve", "review", "decline"], n, p=[0.8, 0.15, 0.05]), dtype="string"
            ),
            "multi_borrowing": rng.random(n) < 0.05,
            "ring_id": pd.array([None] * n, dtype="string"),
            "reason_1": pd.array(reasons[rng.integers(0, 4, n)], dtype="string"),
            "reason_2": pd.array(reasons[rng.integers(0, 4, n)], dtype="string"),
            "reason_3": pd.array([None] * n, dtype="string"),
        }
    ).to_parquet(staging / "scores.parquet", index=False)
    m = n // 20
    pd.DataFrame(
        {
            "user_id": ids[rng.integers(0, n, m)],
            "other_user_id": ids[rng.integers(0, n, m)],
            "via_type": rng.choice(["device", "account", "social", "application_device"], m),
            "via_id": pd.Series(rng.integers(0, 2**40, m)).map("{:x}".format).to_numpy(),
            "score": rng.random(m),
        }
    ).to_parquet(staging / "associations.parquet", index=False)
    (staging / RUN_MANIFEST).write_text(json.dumps({"run_date": RUN_DATE.isoformat()}))
    run = out.publish(staging, RUN_DATE)
    return {p.name: round(p.stat().st_size / 1e6, 1) for p in run.glob("*.parquet")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--ids", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    process = psutil.Process()
    with tempfile.TemporaryDirectory(prefix="riskgraph-provider-") as tmp:
        root = Path(tmp)
        clock = time.perf_counter()
        sizes = write_run(root, args.users, args.seed)
        write_s = time.perf_counter() - clock
        rss_before = process.memory_info().rss

        clock = time.perf_counter()
        fp = FeatureProvider(root)
        open_s = time.perf_counter() - clock

        rng = np.random.default_rng(args.seed + 1)
        all_ids = np.array([f"U{i:010d}" for i in range(args.users)], dtype=object)

        def sample() -> list[str]:
            return list(all_ids[rng.choice(args.users, args.ids, replace=False)])

        clock = time.perf_counter()
        first = fp.features(sample())
        first_s = time.perf_counter() - clock
        assert len(first) == args.ids
        fp.scores(sample()[:1])
        fp.explain(str(all_ids[0]))

        timings: dict[str, list[float]] = {"features": [], "scores": [], "explain": []}
        for _ in range(args.repeats):
            ids = sample()
            clock = time.perf_counter()
            got = fp.features(ids)
            timings["features"].append(time.perf_counter() - clock)
            assert got.index.tolist() == ids
            ids = sample()
            clock = time.perf_counter()
            fp.scores(ids)
            timings["scores"].append(time.perf_counter() - clock)
            one = str(ids[0])
            clock = time.perf_counter()
            fp.explain(one)
            timings["explain"].append(time.perf_counter() - clock)
        rss_after = process.memory_info().rss

    result = {
        "users": args.users,
        "ids_per_call": args.ids,
        "repeats": args.repeats,
        "feature_columns": len(first.columns),
        "file_mb": sizes,
        "write_run_s": round(write_s, 2),
        "open_s": round(open_s, 4),
        "first_features_s": round(first_s, 3),
        "provider_memory_mb": round((rss_after - rss_before) / 1e6, 1),
        **{
            f"{name}_median_s": round(statistics.median(values), 5)
            for name, values in timings.items()
        },
        **{f"{name}_max_s": round(max(values), 5) for name, values in timings.items()},
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        },
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    for key, value in result.items():
        print(f"{key:>22}: {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
