"""One night on a real graph: wall time and stage times of ``riskgraph nightly --no-neo4j``.

Data: Tolokers (11,758 users, 519,000 ties), the benchmark's fixed split 0, through the
input contract exactly as ``benchmarks/suite.py`` gives it to the product (train and
validation labels shown); ``--dataset amazon`` takes the suite's first Amazon split.
Each run is the command a scheduler would run, in its own process, on an empty output
root (so every run trains the models, the most expensive night)::

    riskgraph nightly --input DIR --out OUT --date D --no-neo4j --hmac-key-file KEY

Measured per run: wall time of the command (process start to exit, imports included),
the stage times and peak memory it writes to run.json, the candidate it kept, and the
load average before the run. The median over ``--runs`` runs is reported.

Run: ``python benchmarks/real_night.py [--dataset tolokers|amazon] [--runs 3]
[--config PATH]``; prints a table and writes ``benchmarks/results/real_night_<dataset>.json``
(``--out`` to write elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from suite import Task, amazon_tasks, run_product, tolokers_tasks  # noqa: E402

TASKS = {"tolokers": tolokers_tasks, "amazon": amazon_tasks}


def one_night(task: Task, workdir: Path, config: Path | None) -> dict[str, Any]:
    """Run the night on ``task`` in ``workdir``; its wall time and what run.json says."""
    load = os.getloadavg()[0]
    _, wall = run_product(task, workdir, config)
    run = json.loads((workdir / "out" / "latest" / "run.json").read_text())
    model = json.loads((workdir / "out" / "model" / "model.json").read_text())
    stages = run["timings_seconds"]
    return {
        "wall_s": round(wall, 2),
        "stages_s": {k: round(float(v), 2) for k, v in stages.items()},
        "outside_stages_s": round(wall - sum(float(v) for v in stages.values()), 2),
        "peak_memory_gb": run["peak_memory_gb"],
        "candidate": model.get("candidate"),
        "candidates": sorted(model.get("candidates", {})),
        "load_average_before": round(load, 2),
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    stages = sorted({s for r in runs for s in r["stages_s"]})
    return {
        "wall_s": statistics.median(r["wall_s"] for r in runs),
        "outside_stages_s": statistics.median(r["outside_stages_s"] for r in runs),
        "stages_s": {s: statistics.median(r["stages_s"].get(s, 0.0) for r in runs) for s in stages},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(TASKS), default="tolokers")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--config", type=Path, default=None, help="riskgraph config for the night")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    task = next(TASKS[args.dataset](1))
    runs = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="real-night-") as tmp:
            runs.append(one_night(task, Path(tmp), args.config))
        r = runs[-1]
        print(f"run {i + 1}: {r['wall_s']:.1f} s (load {r['load_average_before']}), "
              f"model {r['stages_s'].get('model', 0):.1f} s, kept {r['candidate']}")  # fmt: skip
    result = {
        "benchmark": "real_night",
        "dataset": task.name,
        "users": len(task.frames["users"]),
        "rows": {name: len(frame) for name, frame in task.frames.items()},
        "config": None if args.config is None else args.config.read_text(),
        "runs": runs,
        "median": median_of(runs),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    out = args.out or ROOT / "benchmarks" / "results" / f"real_night_{args.dataset}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    m = result["median"]
    print(f"{task.name}: median wall {m['wall_s']:.1f} s over {len(runs)} runs; stages "
          + ", ".join(f"{k} {v:.1f} s" for k, v in m["stages_s"].items()))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
