"""Neo4j ingest throughput: upsert and read-back of GraphTables, in relationships per second.

Data: a synthetic population (``riskgraph.loaders.synthetic``, default 100,000 users,
about 1M relationships), validated into GraphTables by the loader and cached as Parquet
under ``data/ingest/`` (gitignored).

Server: a private instance of ``riskgraph neo4j`` (default ``data/neo4j-bench`` on ports
47687/47474, heap and page cache 2 GB each, the defaults), so the user's own instance is
never touched. Each run starts from a fresh database: the server is stopped, the store
and transaction logs of database ``neo4j`` are deleted, the server is started and warmed
up (another population of the same size is written, read and deleted again, so that the
JIT has compiled the query paths, as on a server that has been running: with a
20,000-user warm-up the same upsert cost 1.75 times the server CPU), then:

* **upsert**: ``write_graph`` of the whole population into the empty database;
* **read-back**: ``read_graph`` of the whole graph (checked equal to what was written);
* **re-load**: ``write_graph`` of the same tables again (every node and relationship
  exists: the MERGE path), checked to leave the counts unchanged.

Throughput is relationships (``GraphTables.num_edges``) per second of wall time; the
nodes are written in the same time. The median of the runs is reported, with the CPU
seconds spent by the server and by this process (what limits the rate) and the load
average before each run (other work on the machine slows every figure down).

Run: ``python benchmarks/ingest.py [--users N] [--runs R] [--workers W] [--batch-size B]``.
Prints a table and writes ``benchmarks/results/ingest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import psutil

from riskgraph.graph import cypher, server
from riskgraph.graph.batches import WriteSettings
from riskgraph.graph.connection import ConnectionSettings, open_driver
from riskgraph.graph.reader import read_graph
from riskgraph.graph.writer import write_graph
from riskgraph.loaders import GraphTables, build_graph_tables
from riskgraph.loaders.synthetic import generate_population

ROOT = Path(__file__).resolve().parent.parent
BENCH_KEY = "ingest-benchmark-key-0123456789"


def population_tables(users: int, seed: int) -> GraphTables:
    """GraphTables of a synthetic population, cached under data/ingest/."""
    cache = ROOT / "data" / "ingest" / f"{users}-{seed}"
    if (cache / "users.parquet").exists():
        return GraphTables.from_parquet(cache)
    result = build_graph_tables(generate_population(users, seed=seed).tables, hmac_key=BENCH_KEY)
    result.tables.to_parquet(cache)
    return result.tables


def fresh_database(settings: server.ServerSettings) -> None:
    """Restart the server on an empty ``neo4j`` database (the system database is kept)."""
    server.stop(settings)
    for sub in ("databases/neo4j", "transactions/neo4j"):
        shutil.rmtree(settings.data_dir / sub, ignore_errors=True)
    server.start(settings)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def counts(driver: Any) -> tuple[dict[str, int], dict[str, int]]:
    labels, _, _ = driver.execute_query(cypher.COUNT_NODES_BY_LABEL)
    types, _, _ = driver.execute_query(cypher.COUNT_RELATIONSHIPS_BY_TYPE)
    return {r["label"]: r["count"] for r in labels}, {r["type"]: r["count"] for r in types}


def one_run(
    settings: server.ServerSettings,
    tables: GraphTables,
    warmup: GraphTables,
    batch_size: int,
    workers: int,
) -> dict[str, Any]:
    fresh_database(settings)
    pid = server.running_pid(settings)
    assert pid is not None
    neo4j_process, me = psutil.Process(pid), psutil.Process()
    conn = ConnectionSettings(
        uri=settings.bolt_uri, user=server.USER, password=server.read_password(settings)
    )
    with open_driver(conn) as driver:
        write_graph(driver, warmup, settings=WriteSettings(batch_size=batch_size, workers=workers))
        read_graph(driver)
        with driver.session() as session:
            session.run(cypher.DELETE_ALL, batch_size=10_000).consume()

        load = os.getloadavg()[0]
        figures: dict[str, Any] = {"load_average_1m": round(load, 2)}
        edges = tables.num_edges

        def timed(name: str, action: Any) -> Any:
            cpu_server, cpu_client = cpu_seconds(neo4j_process), cpu_seconds(me)
            began = time.perf_counter()
            value = action()
            seconds = time.perf_counter() - began
            figures[name] = {
                "seconds": round(seconds, 2),
                "relationships_per_s": round(edges / seconds),
                "server_cpu_s": round(cpu_seconds(neo4j_process) - cpu_server, 2),
                "client_cpu_s": round(cpu_seconds(me) - cpu_client, 2),
            }
            return value

        timed(
            "upsert",
            lambda: write_graph(
                driver, tables, settings=WriteSettings(batch_size=batch_size, workers=workers)
            ),
        )
        after_first = counts(driver)
        back = timed("read_back", lambda: read_graph(driver))
        if not back.equals(tables):
            raise SystemExit("read-back differs from the tables written")
        timed(
            "reload",
            lambda: write_graph(
                driver, tables, settings=WriteSettings(batch_size=batch_size, workers=workers)
            ),
        )
        if counts(driver) != after_first:
            raise SystemExit("re-loading the same tables changed the node or relationship counts")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--warmup-users", type=int, default=None, help="Warm-up population (default: --users)."
    )
    parser.add_argument("--batch-size", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--home", type=Path, default=ROOT / "data" / "neo4j-bench")
    parser.add_argument("--bolt-port", type=int, default=47687)
    parser.add_argument("--http-port", type=int, default=47474)
    parser.add_argument("--heap", default=server.DEFAULT_HEAP)
    parser.add_argument("--pagecache", default=server.DEFAULT_PAGECACHE)
    parser.add_argument("--keep-running", action="store_true", help="Leave the server up.")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ingest.json")
    args = parser.parse_args()

    began = time.perf_counter()
    tables = population_tables(args.users, args.seed)
    args.warmup_users = args.warmup_users or args.users
    warmup = population_tables(args.warmup_users, args.seed + 1)
    prepare_s = time.perf_counter() - began
    settings = server.ServerSettings.resolve(
        args.home,
        bolt_port=args.bolt_port,
        http_port=args.http_port,
        heap=args.heap,
        pagecache=args.pagecache,
    )
    server.install(settings)
    runs = []
    try:
        for i in range(args.runs):
            runs.append(one_run(settings, tables, warmup, args.batch_size, args.workers))
            r = runs[-1]
            print(
                f"run {i + 1}/{args.runs}: upsert {r['upsert']['relationships_per_s']:,}/s, "
                f"read-back {r['read_back']['relationships_per_s']:,}/s, "
                f"re-load {r['reload']['relationships_per_s']:,}/s "
                f"(load average {r['load_average_1m']})",
                flush=True,
            )
    finally:
        if not args.keep_running:
            server.stop(settings)

    def median(stage: str, key: str) -> float:
        return float(statistics.median(r[stage][key] for r in runs))

    medians = {
        stage: {
            key: median(stage, key)
            for key in ("seconds", "relationships_per_s", "server_cpu_s", "client_cpu_s")
        }
        for stage in ("upsert", "read_back", "reload")
    }
    result = {
        "benchmark": "ingest",
        "users": tables.num_users,
        "relationships": tables.num_edges,
        "nodes": sum(
            len(getattr(tables, n))
            for n in ("users", "devices", "accounts", "platforms", "applications")
        ),
        "runs": runs,
        "median": medians,
        "targets": {"upsert_relationships_per_s": 30_000, "read_back_relationships_per_s": 200_000},
        "settings": {
            "batch_size": args.batch_size,
            "workers": args.workers,
            "heap": args.heap,
            "pagecache": args.pagecache,
            "warmup_users": args.warmup_users,
            "seed": args.seed,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "neo4j": server.NEO4J_VERSION,
        },
        "prepare_s": round(prepare_s, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    print(
        f"\n{tables.num_users:,} users, {tables.num_edges:,} relationships, "
        f"{result['nodes']:,} nodes; median of {len(runs)} runs "
        f"(batch {args.batch_size}, {args.workers} workers)"
    )
    print("| stage | seconds | relationships/s | server CPU s | client CPU s |")
    print("|---|---:|---:|---:|---:|")
    for stage, label in (("upsert", "upsert"), ("read_back", "read-back"), ("reload", "re-load")):
        m = medians[stage]
        print(
            f"| {label} | {m['seconds']:.1f} | {m['relationships_per_s']:,.0f} | "
            f"{m['server_cpu_s']:.1f} | {m['client_cpu_s']:.1f} |"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
