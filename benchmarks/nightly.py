"""End-to-end nightly job with Neo4j: wall time, per-stage times and peak memory.

Data: a synthetic population (``riskgraph.loaders.synthetic``, 365 days) written once as
CSV in the input contract under ``data/nightly/<users>-<seed>/`` (gitignored); the run
date is the day after the data ends.

Server: a private instance of ``riskgraph neo4j`` (default ``data/neo4j-bench`` on ports
47687/47474, heap and page cache 2 GB each, the defaults), so the user's own instance is
never touched. Every run starts from an empty database on a freshly started server and
an empty output root, and runs the command a scheduler would run, in its own process::

    riskgraph nightly --input DIR --out OUT --date D --hmac-key-file KEY

so the first night trains the models (the most expensive night). With ``--nights 2`` the
next date follows on the same database and output root: everything is upserted again
(the update path), and the saved models are reused, as on every ordinary night.

Measured per night: wall time of the command, the stage times and per-stage peak
memory it writes to run.json, peak resident memory of the job (its process tree) and of
the Neo4j server, the peak of their sum (sampled every 0.2 s), two upper bounds of that
sum that no short spike of the job escapes: the job's exact peak from run.json plus the
server's peak (``peak_total_bound_gb``), and, per stage, the job's exact peak in the stage
plus the server's sampled peak in it (``peak_total_stage_bound_gb`` is the largest; the
stages are read from the job's log lines), and the server's CPU seconds. Memory in GB
of 10^9 bytes. The median over ``--runs`` runs is reported, with the load average before
each run.

Run: ``python benchmarks/nightly.py [--users N] [--runs R] [--nights 1|2]``; prints a table
and writes ``benchmarks/results/nightly_<users>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from riskgraph.graph import server
from riskgraph.loaders.synthetic import generate_population
from riskgraph.pipeline import STAGES

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from ingest import cpu_seconds, fresh_database  # noqa: E402

BENCH_KEY = "nightly-benchmark-key-0123456789"
#: Memory is reported in GB of 10^9 bytes, the unit of run.json's peak_memory_gb.
GB = 1e9


def prepare(users: int, seed: int, days: int) -> tuple[Path, dt.date]:
    """The input directory (written once) and the run date after its last day."""
    base = ROOT / "data" / "nightly" / f"{users}-{seed}-{days}"
    input_dir = base / "input"
    meta = base / "end.txt"
    if not meta.exists():
        population = generate_population(users, seed=seed, days=days)
        population.write(input_dir, truth_path=base / "truth.parquet")
        meta.write_text(str(pd.Timestamp(population.end).date()))
    end = dt.date.fromisoformat(meta.read_text().strip())
    return input_dir, end + dt.timedelta(days=1)


#: A stage's log lines: "<stage>: <what it does>", then "<stage>: done in ...".
STAGE_LINE = re.compile(rf"\b({'|'.join(STAGES)}): (done in)?")


class MemorySampler(threading.Thread):
    """Peak RSS of a process tree, of the server, and of their sum, every 0.2 s; the
    server's peak also per stage of the job (``stage``, set from its log lines)."""

    def __init__(self, job: psutil.Process, neo4j: psutil.Process) -> None:
        super().__init__(daemon=True)
        self.job, self.neo4j = job, neo4j
        self.peak_job = self.peak_server = self.peak_total = 0
        self.stage: str | None = None
        self.stage_peak_server: dict[str, int] = {}
        self.done = threading.Event()

    @staticmethod
    def _rss(process: psutil.Process, tree: bool) -> int:
        processes = [process, *process.children(recursive=True)] if tree else [process]
        total = 0
        for p in processes:
            with contextlib.suppress(psutil.Error):  # a process may end meanwhile
                total += p.memory_info().rss
        return total

    def run(self) -> None:
        while not self.done.wait(0.2):
            try:
                job = self._rss(self.job, tree=True)
            except psutil.Error:
                job = 0
            server_rss = self._rss(self.neo4j, tree=False)
            self.peak_job = max(self.peak_job, job)
            self.peak_server = max(self.peak_server, server_rss)
            self.peak_total = max(self.peak_total, job + server_rss)
            stage = self.stage
            if stage is not None:
                self.stage_peak_server[stage] = max(
                    self.stage_peak_server.get(stage, 0), server_rss
                )


def follow_stages(job: subprocess.Popen[str], sampler: MemorySampler) -> None:
    """Echo the job's output and tell the sampler which stage runs."""
    assert job.stdout is not None
    for line in job.stdout:
        sys.stdout.write(line)
        match = STAGE_LINE.search(line)
        if match:
            sampler.stage = None if match.group(2) else match.group(1)


def one_night(
    input_dir: Path, out: Path, run_date: dt.date, key_file: Path, settings: server.ServerSettings
) -> dict[str, Any]:
    pid = server.running_pid(settings)
    assert pid is not None
    neo4j = psutil.Process(pid)
    env = {
        **os.environ,
        server.ENV_HOME: str(settings.home),
        server.ENV_BOLT_PORT: str(settings.bolt_port),
        server.ENV_HTTP_PORT: str(settings.http_port),
    }
    for name in ("RISKGRAPH_NEO4J_URI", "RISKGRAPH_NEO4J_USER", "RISKGRAPH_NEO4J_PASSWORD"):
        env.pop(name, None)
    command = [
        str(Path(sys.executable).with_name("riskgraph")),
        "nightly",
        "--input",
        str(input_dir),
        "--out",
        str(out),
        "--date",
        run_date.isoformat(),
        "--hmac-key-file",
        str(key_file),
    ]
    load = os.getloadavg()[0]
    server_cpu = cpu_seconds(neo4j)
    began = time.perf_counter()
    # Its stage log lines go to this benchmark's output (and mark the stages). The cwd
    # is outside the checkout, whose riskgraph/ folder would shadow the installed package.
    job = subprocess.Popen(
        command,
        env=env,
        cwd=out.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    sampler = MemorySampler(psutil.Process(job.pid), neo4j)
    sampler.start()
    follow_stages(job, sampler)
    rc = job.wait()
    seconds = time.perf_counter() - began
    sampler.done.set()
    sampler.join()
    if rc != 0:
        raise SystemExit(f"riskgraph nightly exited with {rc}")
    manifest = json.loads((out / "runs" / run_date.isoformat() / "run.json").read_text())
    stage_peaks = manifest.get("peak_memory_gb", {})
    stage_server = {s: round(b / GB, 2) for s, b in sampler.stage_peak_server.items()}
    # Per stage: the job's exact peak in it plus the server's sampled peak in it. The
    # job's own peaks (model, score, links) come while the server has no query to run
    # (between read_back and write_back): the server's memory holds still there.
    # A stage shorter than a sample has none: the server's overall peak stands in.
    server_peak = sampler.peak_server / GB
    stage_bound = {
        s: round(p + stage_server.get(s, server_peak), 2) for s, p in stage_peaks.items()
    }
    return {
        "run_date": run_date.isoformat(),
        "load_average_1m": round(load, 2),
        "seconds": round(seconds, 1),
        "stages": manifest["timings_seconds"],
        "stage_peak_job_gb": stage_peaks,
        "trained": bool(manifest["model"].get("trained_tonight")),
        "peak_job_gb": round(sampler.peak_job / GB, 2),
        "peak_neo4j_gb": round(sampler.peak_server / GB, 2),
        "peak_total_gb": round(sampler.peak_total / GB, 2),
        # The samples can miss a short spike; the job's exact high-water mark plus the
        # server's peak bounds the sum from above.
        "peak_total_bound_gb": round(max(stage_peaks.values(), default=0.0) + server_peak, 2),
        "stage_peak_neo4j_gb": stage_server,
        "stage_peak_total_bound_gb": stage_bound,
        "peak_total_stage_bound_gb": max(stage_bound.values(), default=0.0),
        "neo4j_cpu_s": round(cpu_seconds(neo4j) - server_cpu, 1),
        "scored_users": manifest["counts"]["scored_users"],
        "relationships": manifest["counts"]["relationships"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--nights", type=int, choices=(1, 2), default=2)
    parser.add_argument("--home", type=Path, default=ROOT / "data" / "neo4j-bench")
    parser.add_argument("--bolt-port", type=int, default=47687)
    parser.add_argument("--http-port", type=int, default=47474)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    result_path = args.out or ROOT / "benchmarks" / "results" / f"nightly_{args.users}.json"

    began = time.perf_counter()
    input_dir, run_date = prepare(args.users, args.seed, args.days)
    print(f"input {input_dir} ready in {time.perf_counter() - began:.0f} s", flush=True)
    settings = server.ServerSettings.resolve(
        args.home, bolt_port=args.bolt_port, http_port=args.http_port
    )
    server.install(settings)
    runs: list[list[dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="riskgraph-nightly-bench-") as tmp:
        key_file = Path(tmp) / "hmac.key"
        key_file.write_text(BENCH_KEY)
        key_file.chmod(0o600)
        try:
            for i in range(args.runs):
                fresh_database(settings)
                out = Path(tmp) / f"out{i}"
                out.mkdir()
                nights = []
                for n in range(args.nights):
                    date = run_date + dt.timedelta(days=n)
                    nights.append(one_night(input_dir, out, date, key_file, settings))
                    r = nights[-1]
                    print(
                        f"run {i + 1}/{args.runs} night {n + 1}: {r['seconds']:.0f} s "
                        f"(trained: {r['trained']}), peak job {r['peak_job_gb']} GB + "
                        f"Neo4j {r['peak_neo4j_gb']} GB = {r['peak_total_gb']} GB, "
                        f"load average {r['load_average_1m']}",
                        flush=True,
                    )
                runs.append(nights)
                shutil.rmtree(out)
        finally:
            server.stop(settings)

    medians = []
    for n in range(args.nights):
        nights = [r[n] for r in runs]
        stages = nights[0]["stages"].keys()
        medians.append(
            {
                "night": n + 1,
                "trained": nights[0]["trained"],
                **{
                    key: round(float(statistics.median(r[key] for r in nights)), 2)
                    for key in (
                        "seconds",
                        "peak_job_gb",
                        "peak_neo4j_gb",
                        "peak_total_gb",
                        "peak_total_bound_gb",
                        "peak_total_stage_bound_gb",
                        "neo4j_cpu_s",
                    )
                },
                "stages": {
                    s: round(float(statistics.median(r["stages"][s] for r in nights)), 1)
                    for s in stages
                },
                **{
                    key: {
                        s: round(float(statistics.median(r[key].get(s, 0.0) for r in nights)), 2)
                        for s in nights[0][key]
                    }
                    for key in (
                        "stage_peak_job_gb",
                        "stage_peak_neo4j_gb",
                        "stage_peak_total_bound_gb",
                    )
                },
            }
        )
    result = {
        "benchmark": "nightly",
        "users": args.users,
        "relationships": runs[0][0]["relationships"],
        "runs": runs,
        "median": medians,
        "targets": {
            "seconds": 180 if args.users <= 100_000 else 1800,
            "peak_total_gb": 12,
        },
        "settings": {
            "heap": settings.heap,
            "pagecache": settings.pagecache,
            "days": args.days,
            "seed": args.seed,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / GB, 1),
            "python": platform.python_version(),
        },
    }
    result_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.write_text(json.dumps(result, indent=2) + "\n")
    for m in medians:
        print(
            f"night {m['night']} ({'trains' if m['trained'] else 'reuses the model'}): "
            f"median {m['seconds']:.0f} s, peak {m['peak_total_gb']} GB "
            f"(job {m['peak_job_gb']}, Neo4j {m['peak_neo4j_gb']}; job's exact peak + Neo4j "
            f"{m['peak_total_bound_gb']} GB; per stage, job's exact + Neo4j's peak in it "
            f"{m['peak_total_stage_bound_gb']} GB)"
        )
        print("  " + ", ".join(f"{s} {v:.0f} s" for s, v in m["stages"].items()))
        print("  peak GB " + ", ".join(f"{s} {v}" for s, v in m["stage_peak_job_gb"].items()))
        print("  Neo4j GB " + ", ".join(f"{s} {v}" for s, v in m["stage_peak_neo4j_gb"].items()))
    print(f"written to {result_path}")


if __name__ == "__main__":
    main()
