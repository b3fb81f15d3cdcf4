"""GNN scale benchmark: training and scoring everyone on a synthetic population.

Targets (issue 5) on the 2-core, 24 GB machine for 1,000,000 users and about
10,000,000 relationships: training under 20 minutes, scoring every user under
10 minutes, peak memory under 12 GB.

The population is generated once and cached as GraphTables Parquet files (not
timed). Each repeat runs in a fresh child process that reads the cache and then
  fit     GraphRiskModel().fit(tables, as_of)           (the default model: the
          propagation architecture with boosted encoder, 5 folds x 6 time buckets)
  score   model.predict_proba(tables, as_of)             (every user, 5 label views)
and reports wall-clock seconds per stage and its peak resident memory (ru_maxrss,
which includes reading the tables). Medians over repeats go to
benchmarks/results/gnn.json.

Usage
  python benchmarks/gnn.py [--users 1000000] [--repeats 3] [--seed 0]
        [--cache DIR] [--out benchmarks/results/gnn.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "2")

KEY = "gnn-benchmark-key-0123456789"


def build_cache(n_users: int, seed: int, cache: Path) -> dict[str, Any]:
    """Generate the population and write its GraphTables to ``cache`` (once)."""
    import pandas as pd

    from riskgraph.loaders import build_graph_tables
    from riskgraph.loaders.synthetic import generate_population

    marker = cache / "meta.json"
    if marker.exists():
        return json.loads(marker.read_text())
    t0 = time.perf_counter()
    pop = generate_population(n_users, seed=seed)
    t1 = time.perf_counter()
    tables = build_graph_tables(pop.tables, hmac_key=KEY).tables
    t2 = time.perf_counter()
    tables.to_parquet(cache)
    meta = {
        "users": tables.num_users,
        "relationships": tables.num_edges,
        "labelled": int(tables.users["label"].notna().sum()),
        "as_of": str(pd.Timestamp(pop.end)),
        "generate_s": t1 - t0,
        "load_s": t2 - t1,
    }
    marker.write_text(json.dumps(meta, indent=2))
    return meta


def run_once(cache: Path, as_of: str, threads: int) -> dict[str, Any]:
    """One timed fit + score (called in a child process)."""
    import numpy as np
    import torch

    from riskgraph.gnn.train import GraphRiskModel
    from riskgraph.loaders import GraphTables

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    tables = GraphTables.from_parquet(cache)
    t1 = time.perf_counter()
    model = GraphRiskModel().fit(tables, as_of)
    t2 = time.perf_counter()
    proba = model.predict_proba(tables, as_of)[:, 1]
    t3 = time.perf_counter()
    rec = model.record_
    return {
        "read_s": t1 - t0,
        "fit_s": t2 - t1,
        "score_s": t3 - t2,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "n_train": rec.n_train,
        "n_validation": rec.n_validation,
        "best_epoch": rec.best_epoch,
        "epochs_run": rec.epochs_run,
        "validation_auc_pr": rec.validation_auc_pr,
        "fit_stage_s": rec.stage_seconds,
        "scored": int(np.isfinite(proba).sum()),
        "load_avg_after": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", default=None, help="GraphTables cache directory")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "gnn.json"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--as-of", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cache = Path(args.cache or f"/tmp/riskgraph-bench/gnn-{args.users}-{args.seed}")
    if args.child:
        print(json.dumps(run_once(cache, args.as_of, args.threads)))
        return 0
    if args.generate:
        build_cache(args.users, args.seed, cache)
        return 0
    cache.mkdir(parents=True, exist_ok=True)
    if not (cache / "meta.json").exists():
        # Generate in a child process too, so that this process stays small.
        gen = [sys.executable, __file__, "--generate", "--cache", str(cache),
               "--users", str(args.users), "--seed", str(args.seed)]  # fmt: skip
        subprocess.run(gen, check=True)
    meta = json.loads((cache / "meta.json").read_text())
    print(f"population: {meta['users']} users, {meta['relationships']} relationships, "
          f"{meta['labelled']} labelled (cache {cache})", flush=True)  # fmt: skip
    runs = []
    for i in range(args.repeats):
        cmd = [sys.executable, __file__, "--child", "--cache", str(cache), "--as-of",
               meta["as_of"], "--threads", str(args.threads), "--users", str(args.users)]  # fmt: skip
        load_before = os.getloadavg()
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(out.stderr[-4000:], file=sys.stderr)
            return 1
        run = json.loads(out.stdout.strip().splitlines()[-1])
        run["load_avg_before"] = load_before
        runs.append(run)
        print(f"repeat {i}: fit {run['fit_s']:.0f}s, score {run['score_s']:.0f}s, "
              f"peak {run['peak_rss_gb']:.2f} GB (load {load_before[0]:.1f})", flush=True)  # fmt: skip

    def median(key: str) -> float:
        return float(statistics.median(r[key] for r in runs))

    result = {
        "benchmark": "gnn",
        "population": meta,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "threads": args.threads,
        },
        "targets": {"fit_s": 1200, "score_s": 600, "peak_rss_gb": 12},
        "median": {k: median(k) for k in ("fit_s", "score_s", "peak_rss_gb", "read_s")},
        "runs": runs,
    }
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2))
    m = result["median"]
    print(f"median of {len(runs)}: fit {m['fit_s']:.0f}s (target 1200), score "
          f"{m['score_s']:.0f}s (target 600), peak {m['peak_rss_gb']:.2f} GB (target 12)")  # fmt: skip
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
