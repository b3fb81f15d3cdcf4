"""Time and memory of ``compute_graph_features`` on a large synthetic graph.

Target (issue 4): every feature for 1,000,000 users and about 10,000,000 relationships
in under 2 minutes and under 8 GB peak memory on the 2-core project machine.

The graph is generated once (``generate_population``, then the loader's
``build_graph_tables``) and cached as Parquet under ``data/features/`` (gitignored), so
the runs measure the features only. Each run is a fresh Python process that reads the
cached GraphTables and computes every feature as of the end of the window with the
labels visible then; it reports the wall time of ``compute_graph_features``, its stage
timings, and the process's peak resident memory (``ru_maxrss``: the tables plus the
features; the memory after loading the tables is reported too). The medians over
``--repeats`` runs are the figures.

Run: ``python benchmarks/features.py [--users N] [--repeats R]``. Prints a summary and
writes ``benchmarks/results/features.json``.
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

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "features.json"
CACHE = ROOT / "data" / "features"
KEY = "feature-benchmark-key-0123456789"
TARGET_SECONDS = 120.0
TARGET_PEAK_GB = 8.0


def cache_dir(users: int, seed: int, days: int) -> Path:
    return CACHE / f"bench-{users}-s{seed}-d{days}"


def prepare(users: int, seed: int, days: int) -> Path:
    """Generate and cache the graph unless it is cached already."""
    directory = cache_dir(users, seed, days)
    if (directory / "meta.json").exists():
        return directory
    from riskgraph.loaders import build_graph_tables
    from riskgraph.loaders.synthetic import generate_population

    started = time.perf_counter()
    pop = generate_population(users, seed=seed, days=days)
    tables = build_graph_tables(pop.tables, hmac_key=KEY).tables
    tables.to_parquet(directory / "tables")
    meta = {
        "end": str(pop.end),
        "users": tables.num_users,
        "relationships": tables.num_edges,
        "prepare_seconds": round(time.perf_counter() - started, 1),
    }
    (directory / "meta.json").write_text(json.dumps(meta) + "\n")
    return directory


def peak_rss_gb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def run_once(directory: Path) -> dict:
    """One measured run (in this process): load the tables, compute every feature."""
    import pandas as pd

    from riskgraph.graph.features import compute_graph_features
    from riskgraph.loaders import GraphTables

    meta = json.loads((directory / "meta.json").read_text())
    started = time.perf_counter()
    tables = GraphTables.from_parquet(directory / "tables")
    load_seconds = time.perf_counter() - started
    rss_loaded = peak_rss_gb()
    started = time.perf_counter()
    gf = compute_graph_features(tables, pd.Timestamp(meta["end"]))
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "stages": {k: round(v, 2) for k, v in gf.timings.items()},
        "load_seconds": round(load_seconds, 2),
        "peak_rss_gb_after_load": round(rss_loaded, 3),
        "peak_rss_gb": round(peak_rss_gb(), 3),
        "rings": len(gf.rings),
        "flagged_rings": int(gf.rings["flagged"].sum()),
        "multi_borrowing_users": int(gf.features["multi_borrowing"].sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--run-once", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_once:
        print(json.dumps(run_once(args.run_once)))
        return

    directory = prepare(args.users, args.seed, args.days)
    meta = json.loads((directory / "meta.json").read_text())
    runs = []
    for i in range(args.repeats):
        load = os.getloadavg()[0]
        done = subprocess.run(
            [sys.executable, __file__, "--run-once", str(directory)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")},
        )
        run = json.loads(done.stdout.strip().splitlines()[-1])
        run["load_average_before"] = round(load, 2)
        runs.append(run)
        print(f"run {i + 1}: {run['seconds']} s, peak {run['peak_rss_gb']} GB, {run['stages']}")
    median_seconds = statistics.median(r["seconds"] for r in runs)
    median_peak = statistics.median(r["peak_rss_gb"] for r in runs)
    result = {
        "users": meta["users"],
        "relationships": meta["relationships"],
        "median_seconds": median_seconds,
        "median_peak_rss_gb": median_peak,
        "target_seconds": TARGET_SECONDS,
        "target_peak_rss_gb": TARGET_PEAK_GB,
        "meets_targets": median_seconds < TARGET_SECONDS and median_peak < TARGET_PEAK_GB,
        "median_stage_seconds": {
            stage: statistics.median(r["stages"][stage] for r in runs)
            for stage in runs[0]["stages"]
        },
        "runs": runs,
        "prepare_seconds": meta.get("prepare_seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{meta['users']:,} users, {meta['relationships']:,} relationships: median "
        f"{median_seconds} s (target < {TARGET_SECONDS:.0f}), peak {median_peak} GB "
        f"(target < {TARGET_PEAK_GB:.0f})"
    )


if __name__ == "__main__":
    main()
