"""What does loading the input cost? The loader's steps at night and for an online request.

Night: the input contract's CSV files of a synthetic population of ``--users`` users
(the population of ``benchmarks/nightly.py``, written once under
``data/nightly/<users>-0-365/``, gitignored) are read, then turned into GraphTables as
``riskgraph nightly`` does (``riskgraph.loaders.load_input``). Per run, the seconds of
each step: reading the files, the contract checks of each table (``validate_table``),
pseudonymizing the personal columns, and assembling the node and edge tables with their
integer indices; and the process's peak resident memory.

Online: requests of one and of ``--batch-size`` brand-new applicants (those of
``benchmarks/serve.py``, on its 20,000-user population) turned into the id-keyed rows an
online call works on: ``build_graph_tables``, then ``id_rows``, as
``FeatureProvider.score`` does before it looks anything up in Neo4j. The median of
``--calls`` requests, after one warm-up.

Medians over ``--runs`` runs. Run: ``python benchmarks/load.py [--users N] [--runs R]``;
prints the figures and writes ``benchmarks/results/load_<users>.json``. To time another
version's code on the same input, put a tree laid out as the installed package first on
``PYTHONPATH`` (as ``benchmarks/same_outputs.py`` says) and pass ``--out``. The steps are
timed by wrapping the loader module's own functions, so the tree must have them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nightly import prepare as nightly_input
from serve import Applicants, stage_timers
from serve import prepare as serve_input

import riskgraph.loaders.load as load_module
from riskgraph.loaders.merge import id_rows
from riskgraph.loaders.read import find_table_file, read_table
from riskgraph.loaders.schema import INPUT_TABLES

ROOT = Path(__file__).resolve().parent.parent
#: The loader's steps, as ``stage_timers`` takes them; the contract checks per table. An
#: absent table's empty frame, validated inside the assembly, counts for the assembly.
STEPS: list[tuple[Any, Any, str]] = [
    (lambda args: f"validate {args[1].name}", load_module, "validate_table"),
    ("pseudonymize", load_module, "_pseudonymize_table"),
    ("assemble", load_module, "_assemble"),
]
KEY = b"load-benchmark-key-0123456789"
GB = 1e9


def night_run(input_dir: Path) -> dict[str, Any]:
    """One load of the night's input: the steps' seconds."""
    start = time.perf_counter()
    raws = {}
    for name in INPUT_TABLES:
        path = find_table_file(input_dir, name)
        if path is not None:
            raws[name] = read_table(name, path)
    seconds = {"read": time.perf_counter() - start}
    start = time.perf_counter()
    with stage_timers(STEPS) as steps:
        result = load_module._build(raws, KEY)
    seconds["build"] = time.perf_counter() - start
    seconds.update(steps)
    seconds["total"] = seconds["read"] + seconds["build"]
    return {
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "rows": {name: int(raw.frame.shape[0]) for name, raw in raws.items()},
        "num_edges": int(result.tables.num_edges),
    }


def online_run(applicants: Applicants, size: int, calls: int) -> float:
    """Median milliseconds of turning one request of ``size`` applicants into rows."""
    requests = [applicants.tables(size) for _ in range(calls + 1)]
    times = []
    for request in requests:
        frames = {name: pd.DataFrame(rows) for name, rows in request.items()}
        start = time.perf_counter()
        loaded = load_module.build_graph_tables(frames, hmac_key=KEY)
        id_rows(loaded.tables)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times[1:]) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=40, help="online requests per size")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    input_dir, _ = nightly_input(args.users, 0, 365)
    serve_dir, serve_date = serve_input(20_000, 0, 365)
    start = pd.Timestamp(serve_date, tz="UTC") + pd.Timedelta(hours=9)
    runs = []
    for run in range(args.runs):
        load_average = os.getloadavg()[0]
        night = night_run(input_dir)
        applicants = Applicants(serve_dir, start, run)
        online = {
            f"{size}_ms": online_run(applicants, size, args.calls) for size in (1, args.batch_size)
        }
        runs.append({"load_average_1m": round(load_average, 2), **night, "online": online})
        print(f"run {run + 1}: night {night['seconds']}, online {online}", flush=True)
    median = {
        "night_seconds": {
            step: round(statistics.median(r["seconds"][step] for r in runs), 2)
            for step in runs[0]["seconds"]
        },
        "online_ms": {
            key: round(statistics.median(r["online"][key] for r in runs), 1)
            for key in runs[0]["online"]
        },
        # ru_maxrss is in kilobytes on Linux: the process's peak over all runs.
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB, 2),
    }
    result = {
        "benchmark": "load",
        "users": args.users,
        "rows": runs[0]["rows"],
        "runs": runs,
        "median": median,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    out = args.out or ROOT / "benchmarks" / "results" / f"load_{args.users}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(median, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
