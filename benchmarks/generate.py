"""Benchmark: generate and write a synthetic population of 1,000,000 users.

Target (issue 3): under 2 minutes and under 4 GB peak memory for 1M users, median of
several runs, on the project machine (2 cores, 24 GB).

Each run is a fresh child process that generates the population and writes it (tables
in ``--format``, default CSV, the CLI's default; truth as Parquet) to a temporary
directory. The parent measures the child's wall time and its peak resident memory
(``ru_maxrss`` from ``os.wait4``, exact per child); the child reports how the time
splits between generating and writing. Prints a summary and writes
``benchmarks/results/generate.json``.

Run: ``python benchmarks/generate.py [--users N] [--runs R] [--format csv|parquet]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "generate.json"
TARGET_SECONDS = 120.0
TARGET_PEAK_GB = 4.0


def child(users: int, seed: int, file_format: str, out_dir: str) -> None:
    """Generate and write one population; print the phase timings as JSON."""
    from riskgraph.loaders.synthetic import generate_population

    t0 = time.perf_counter()
    pop = generate_population(users, seed=seed)
    t1 = time.perf_counter()
    written = pop.write(Path(out_dir) / "input", format=file_format)  # type: ignore[arg-type]
    t2 = time.perf_counter()
    t = pop.tables
    apps = t["applications"]
    relationships = (
        len(t["user_devices"])
        + len(t["user_accounts"])
        + len(t["social"])
        + 2 * len(apps)
        + int(apps["device_id"].notna().sum())
    )
    print(
        json.dumps(
            {
                "generate_s": round(t1 - t0, 2),
                "write_s": round(t2 - t1, 2),
                "rows": {name: len(table) for name, table in t.items()},
                "relationships": relationships,
                "bytes_written": sum(p.stat().st_size for p in written.values()),
            }
        )
    )


def run_once(users: int, seed: int, file_format: str) -> dict[str, object]:
    """One child run: wall time, peak RSS and the child's own report."""
    out_dir = tempfile.mkdtemp(prefix="riskgraph-generate-")
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--users",
        str(users),
        "--seed",
        str(seed),
        "--format",
        file_format,
        "--out",
        out_dir,
    ]
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        output = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"child failed with exit code {proc.returncode}")
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    report = json.loads(output.strip().splitlines()[-1])
    # ru_maxrss is in KiB on Linux.
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), **report}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", dest="file_format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.users, args.seed, args.file_format, args.out)
        return

    load_before = os.getloadavg()
    runs = []
    for i in range(args.runs):
        result = run_once(args.users, args.seed, args.file_format)
        runs.append(result)
        print(
            f"run {i + 1}: {result['wall_s']:.1f} s (generate {result['generate_s']:.1f} s, "
            f"write {result['write_s']:.1f} s), peak RSS {result['peak_rss_mb']:.0f} MB"
        )
    wall = statistics.median(float(r["wall_s"]) for r in runs)  # type: ignore[arg-type]
    peak = statistics.median(float(r["peak_rss_mb"]) for r in runs)  # type: ignore[arg-type]
    summary = {
        "users": args.users,
        "format": args.file_format,
        "runs": runs,
        "median_wall_s": wall,
        "median_peak_rss_mb": peak,
        "max_peak_rss_mb": max(float(r["peak_rss_mb"]) for r in runs),  # type: ignore[arg-type]
        "relationships_per_user": round(int(runs[0]["relationships"]) / args.users, 2),  # type: ignore[call-overload]
        "target_wall_s": TARGET_SECONDS,
        "target_peak_rss_gb": TARGET_PEAK_GB,
        "meets_targets": wall < TARGET_SECONDS and peak < TARGET_PEAK_GB * 1024,
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_before": [round(x, 2) for x in load_before],
            "load_avg_after": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
        },
    }
    print(
        f"{args.users:,} users, {args.file_format}: median {wall:.1f} s "
        f"(target < {TARGET_SECONDS:.0f} s), median peak RSS {peak:.0f} MB "
        f"(target < {TARGET_PEAK_GB:.0f} GB); load average before {load_before[0]:.2f}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
