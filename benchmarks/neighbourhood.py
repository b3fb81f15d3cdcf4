"""The online ``neighbourhood`` scope's walk: what a call pays for it, by graph size.

Data: synthetic populations (``generate_population``, then the loader's
``build_graph_tables``), cached as Parquet under ``data/features/`` by
``benchmarks/features.py``'s ``prepare``; turned into id-keyed rows as the online
scorer holds last night's graph.

Measured per population: the time to open the :class:`NeighbourhoodIndex` (when the
scorer opens), the time of the first walk (which builds the walk's structures, once),
and per later walk (``--walks`` applicants, each from one random user of
the graph, ``--hops`` hops, hubs of more than 50 users not crossed, as the scorer's
defaults) the time of the walk and of taking the reached users' rows: median, p99 and
the median number of users reached. A call's cost should follow the neighbourhood, not
the graph.

Run: ``python benchmarks/neighbourhood.py [--users N [N ...]]``; prints the figures and
writes ``benchmarks/results/neighbourhood.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from riskgraph.loaders import GraphTables
from riskgraph.loaders.merge import id_rows
from riskgraph.loaders.neighbourhood import NeighbourhoodIndex

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from features import prepare  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "neighbourhood.json"
CAP = 50


def measure(users: int, walks: int, hops: int, seed: int) -> dict[str, float]:
    directory = prepare(users, seed, 365)
    rows = id_rows(GraphTables.from_parquet(directory / "tables"))
    began = time.perf_counter()
    index = NeighbourhoodIndex(rows, CAP)
    opened = time.perf_counter() - began
    rng = np.random.default_rng(seed)
    starts = rng.choice(rows["users"]["user_id"].astype(str).to_numpy(), walks + 1)
    seconds, reached = [], []
    for user in starts:
        began = time.perf_counter()
        found = index.walk([str(user)], hops)
        index.rows(found)
        seconds.append(time.perf_counter() - began)
        reached.append(len(found))
    first, seconds, reached = seconds[0], seconds[1:], reached[1:]
    ms = np.array(seconds) * 1000
    return {
        "users": users,
        "rows": int(sum(len(f) for f in rows.values())),
        "open_seconds": round(opened, 2),
        "first_walk_seconds": round(first, 2),
        "walks": walks,
        "hops": hops,
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "median_users_reached": float(np.median(reached)),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[50_000, 1_000_000])
    parser.add_argument("--walks", type=int, default=50)
    parser.add_argument("--hops", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = {
        "benchmark": "neighbourhood",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "populations": [],
    }
    for users in args.users:
        figures = measure(users, args.walks, args.hops, args.seed)
        print(json.dumps(figures))
        results["populations"].append(figures)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
