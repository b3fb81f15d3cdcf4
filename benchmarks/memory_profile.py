"""Where the nightly job's memory goes: resident memory on a timeline, the model's steps
marked on it.

Runs ``riskgraph.pipeline.run_nightly`` in this process on a synthetic population (the
input of ``benchmarks/nightly.py``, written once under ``data/nightly/``), without Neo4j
(the input tables are scored as read, so the floor is the tables', not the graph read
back), training new models. A thread samples the process's resident memory (``VmRSS``)
every 20 ms; the steps below are wrapped to note when each starts and ends. Per step:
its start, its duration, the memory when it starts and the highest sample while it runs.
A step shorter than the sampling interval can be missed; the stage peaks that
``run.json`` records are the kernel's exact high-water marks.

Run: ``python benchmarks/memory_profile.py [--users 1000000]``; prints the steps that
take a second or more and writes ``benchmarks/results/memory_profile_<users>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from riskgraph import modeling, pipeline
from riskgraph.gnn import communities, explain, head, hetero, protocol, runners, train
from riskgraph.gnn.blocks import SignInputs
from riskgraph.score import scorecard

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from nightly import BENCH_KEY, prepare  # noqa: E402

#: (owner, attribute): the steps marked on the timeline.
STEPS = [
    (modeling.RiskModels, "fit"),
    (modeling.RiskModels, "score"),
    (modeling.RiskModels, "risky_links"),
    (protocol, "split_labels"),
    (protocol, "own_view_features"),
    (train.GraphRiskModel, "fit"),
    (train.GraphRiskModel, "_runner"),
    (train.GraphRiskModel, "_fit_head"),
    (train.GraphRiskModel, "_out_of_fold"),
    (train.GraphRiskModel, "head_inputs"),
    (train.GraphRiskModel, "predict_proba"),
    (train.GraphRiskModel, "prepare"),
    (hetero.HeteroGraphBuilder, "transform"),
    (runners, "_snapshot_inputs"),
    (SignInputs, "build"),
    (communities, "user_communities"),
    (head.TreeHead, "fit"),
    (head.TreeHead, "contributions"),
    (scorecard.CreditScorecard, "fit"),
    (explain, "risky_links"),
]


def rss_gb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e9
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


class Timeline:
    """Memory samples and marked steps."""

    def __init__(self, interval: float = 0.02) -> None:
        self.samples: list[tuple[float, float]] = []
        self.steps: list[tuple[str, int, float, float]] = []
        self.depth = 0
        self.interval = interval
        self.running = True
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while self.running:
            self.samples.append((time.perf_counter(), rss_gb()))
            time.sleep(self.interval)

    def mark(self, owner: Any, attribute: str) -> None:
        """Note every call of ``owner.attribute``, also where a module imported it by name."""
        is_class_method = isinstance(owner.__dict__.get(attribute), classmethod)
        original = (
            owner.__dict__[attribute].__func__ if is_class_method else getattr(owner, attribute)
        )
        label = f"{getattr(owner, '__name__', owner)}.{attribute}"

        @functools.wraps(original)
        def marked(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            self.depth += 1
            try:
                return original(*args, **kwargs)
            finally:
                self.depth -= 1
                self.steps.append((label, self.depth, start, time.perf_counter()))

        setattr(owner, attribute, classmethod(marked) if is_class_method else marked)
        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").startswith("riskgraph"):
                for name, value in list(vars(module).items()):
                    if value is original:
                        setattr(module, name, marked)

    def table(self, t0: float) -> list[dict[str, Any]]:
        self.running = False
        rows = []
        for label, depth, start, end in sorted(self.steps, key=lambda s: s[2]):
            before = [m for t, m in self.samples if t <= start]
            during = [m for t, m in self.samples if start <= t <= end]
            rows.append(
                {
                    "step": label,
                    "depth": depth,
                    "start_s": round(start - t0, 1),
                    "seconds": round(end - start, 1),
                    "rss_at_start_gb": round(before[-1], 2) if before else None,
                    "peak_gb": round(max(during), 2) if during else None,
                }
            )
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    input_dir, run_date = prepare(args.users, args.seed, args.days)
    timeline = Timeline()
    for owner, attribute in STEPS:
        timeline.mark(owner, attribute)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        result = pipeline.run_nightly(
            input_dir,
            out,
            hmac_key=BENCH_KEY.encode(),
            run_date=run_date,
            use_neo4j=False,
            retrain=True,
        )
        manifest = result.manifest
    steps = timeline.table(t0)
    report = {
        "benchmark": "memory_profile",
        "users": args.users,
        "seed": args.seed,
        "run_date": run_date.isoformat(),
        "date": dt.date.today().isoformat(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "peak_sampled_gb": round(max(m for _, m in timeline.samples), 2),
        "stage_seconds": manifest.get("timings_seconds"),
        "stage_peak_gb": manifest.get("peak_memory_gb"),
        "steps": steps,
    }
    path = ROOT / "benchmarks" / "results" / f"memory_profile_{args.users}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    for row in steps:
        if row["seconds"] >= 1:
            indent = "  " * row["depth"]
            print(
                f"{row['start_s']:8.1f} s {row['seconds']:7.1f} s  "
                f"{row['rss_at_start_gb']} -> {row['peak_gb']} GB  {indent}{row['step']}"
            )
    print(f"stage peaks (GB): {report['stage_peak_gb']}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
