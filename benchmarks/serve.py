"""Online scoring: latency and throughput of ``FeatureProvider.score`` and ``riskgraph serve``.

Data: a synthetic population (``riskgraph.loaders.synthetic``, ``--days`` days) written
once under ``data/serve/<users>-<seed>-<days>/`` (gitignored), loaded and scored by one
``riskgraph nightly`` run with Neo4j into a private output root. Server: a private
``riskgraph neo4j`` instance (``--home``, ``--bolt-port``, ``--http-port``), started on
an empty database, so that no other instance is touched.

Applicants: brand-new users registering and applying the day after the run date, with
the attributes of a random user known to be good, half of them on a device the graph
already holds (a random one), half on a new device, each with a new bank card. Measured, per scope (``--scope``):

* ``single``: one applicant per call, ``--calls`` calls, in-process
  (``FeatureProvider.score``) and over HTTP (``POST /v1/score`` to a local uvicorn in
  this process); p50, p99 and the largest latency, and applicants per second. The two
  take turns, a call in-process and one over HTTP one right after the other (each with
  its own new applicants, alternating which goes first), so that both meet the same
  moment's load; ``http_minus_in_process_<kind>_p50_ms`` is the difference of their
  medians, ``http_<kind>_server_p50_ms`` the median the service's access log gives
  (its own time per call, from request to response);
* ``batch``: ``--batch-size`` applicants per call, ``--batches`` calls, likewise;
* ``agreement_with_batch`` (``--agreement N``): N users of the run, each scored online
  from its own input rows (nothing new), against the run's own answer: the largest and
  median difference of ``risk_score``, the share with the same decision;
* ``burst``: ``--burst`` new users apply from one new phone within an hour, each
  scored with ``record=True``; the first application declined online (the nightly job
  alone declines none of them: it scores them the next night).
* ``stages`` (``--stages``, no HTTP): where a call's time goes. The steps of
  ``OnlineScorer.score`` (:data:`STAGES`) are wrapped with timers for the in-process
  calls, and each step's total is divided by the calls; ``the rest`` is the call's time
  that no step holds.

The scorer is opened (the graph read, the walk's structures built) and the objects alive
then are frozen out of Python's garbage collections, as ``riskgraph serve`` does at
start-up (``--no-freeze``: not). The first call of each kind is a warm-up and not counted. Run:
``python benchmarks/serve.py [--users N] [--scope graph|neighbourhood|both]``; prints
the figures and writes ``benchmarks/results/serve_<users>.json``. The issue's target
is ``--users 1000000``, which needs a machine with room for a million-user Neo4j.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

import riskgraph.modeling
import riskgraph.online
from riskgraph.gnn.train import GraphRiskModel
from riskgraph.graph import server
from riskgraph.graph.connection import ConnectionSettings
from riskgraph.loaders.neighbourhood import NeighbourhoodIndex
from riskgraph.loaders.synthetic import generate_population
from riskgraph.memory import frozen_live_objects
from riskgraph.online import OnlineConfig, OnlineScorer
from riskgraph.provider import FeatureProvider

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from ingest import fresh_database  # noqa: E402

BENCH_KEY = "serve-benchmark-key-0123456789ab"
TOKEN = "serve-benchmark-token-0123456789"


def prepare(users: int, seed: int, days: int) -> tuple[Path, dt.date]:
    """The input directory (written once) and the run date after its last day."""
    base = ROOT / "data" / "serve" / f"{users}-{seed}-{days}"
    meta = base / "end.txt"
    if not meta.exists():
        population = generate_population(users, seed=seed, days=days)
        population.write(base / "input", truth_path=base / "truth.parquet")
        meta.write_text(str(pd.Timestamp(population.end).date()))
    end = dt.date.fromisoformat(meta.read_text().strip())
    return base / "input", end + dt.timedelta(days=1)


def nightly(input_dir: Path, out: Path, date: dt.date, conn: ConnectionSettings) -> float:
    """One ``riskgraph nightly`` run into ``out``; its wall time."""
    env = {
        **os.environ,
        "RISKGRAPH_HMAC_KEY": BENCH_KEY,
        "RISKGRAPH_NEO4J_URI": conn.uri,
        "RISKGRAPH_NEO4J_USER": conn.user,
        "RISKGRAPH_NEO4J_PASSWORD": conn.password,
    }
    command = [sys.executable, "-m", "riskgraph", "nightly", "--input", str(input_dir),
               "--out", str(out), "--date", date.isoformat(), "--quiet"]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, cwd=out.parent)
    return time.perf_counter() - start


def local_server(home: Path, bolt_port: int, http_port: int) -> tuple[Any, ConnectionSettings]:
    """The benchmark's private Neo4j instance, installed and started if it is not
    running; its settings and a connection to it."""
    settings = server.ServerSettings.resolve(home, bolt_port=bolt_port, http_port=http_port)
    server.install(settings)
    if server.running_pid(settings) is None:
        server.start(settings)
    conn = ConnectionSettings(
        uri=settings.bolt_uri, user=server.USER, password=server.read_password(settings)
    )
    return settings, conn


class Applicants:
    """Brand-new applicants as input-contract tables."""

    def __init__(self, input_dir: Path, start: pd.Timestamp, seed: int) -> None:
        devices = pd.read_csv(input_dir / "user_devices.csv", usecols=["device_id"], dtype=str)
        self.devices = devices["device_id"].unique()
        users = pd.read_csv(input_dir / "users.csv", dtype=str, keep_default_na=False)
        # Attributes of users known to be good: applicants the model alone would not decline.
        fixed = ["user_id", "registered_at", "label", "label_at"]
        self.attributes = users.loc[users["label"] == "0"].drop(columns=fixed)
        self.rng = np.random.default_rng(seed)
        self.start = start
        self.serial = 0
        # Ids of this run's own: a reused database (--reuse-out) keeps the applicants an
        # earlier run recorded, and a burst user of the same id would carry their edges.
        self.run = f"{os.getpid()}-{time.time_ns() % 10**9}"

    def tables(self, n: int, device: str | None = None, step: pd.Timedelta | None = None):
        rows: dict[str, list[dict[str, Any]]] = {
            "users": [], "user_devices": [], "user_accounts": [], "applications": []
        }  # fmt: skip
        for _ in range(n):
            self.serial += 1
            uid = f"ONLINE-{self.run}-{self.serial:07d}"
            at = (self.start + (step or pd.Timedelta(seconds=1)) * self.serial).isoformat()
            dev = device or (
                str(self.rng.choice(self.devices)) if self.rng.random() < 0.5 else f"DEV-{uid}"
            )
            attributes = self.attributes.iloc[int(self.rng.integers(len(self.attributes)))]
            rows["users"].append({"user_id": uid, "registered_at": at, **attributes.to_dict()})
            rows["user_devices"].append(
                {"user_id": uid, "device_id": dev, "first_seen": at, "last_seen": at}
            )
            rows["user_accounts"].append(
                {"user_id": uid, "account_id": f"CARD-{uid}", "account_type": "bank_card",
                 "linked_at": at}
            )  # fmt: skip
            rows["applications"].append(
                {"application_id": f"APP-{uid}", "user_id": uid, "platform_id": "P001",
                 "applied_at": at, "amount": 500, "device_id": dev}
            )  # fmt: skip
        return rows


def agreement(fp: FeatureProvider, input_dir: Path, n: int, seed: int) -> dict[str, Any]:
    """Users of the run, each scored online from its own input rows (nothing new),
    against the run's scores: how far the online answer is from the batch one."""
    batch = pd.read_parquet(fp.run_dir / "scores.parquet").set_index("user_id")
    ids = batch.sample(n, random_state=seed).index.tolist()
    frames = {
        name: pd.read_csv(input_dir / f"{name}.csv", dtype=str, keep_default_na=False)
        for name in ("users", "user_devices", "user_accounts", "social", "applications")
    }
    diffs, same, seconds = [], 0, []
    for uid in ids:
        request = {}
        for name, frame in frames.items():
            if name == "social":
                keep = (frame["src_user_id"] == uid) | (frame["dst_user_id"] == uid)
            else:
                keep = frame["user_id"] == uid
            request[name] = frame.loc[keep]
        start = time.perf_counter()
        got = fp.score(request).iloc[0]
        seconds.append(time.perf_counter() - start)
        diffs.append(abs(float(got["risk_score"]) - float(batch.loc[uid, "risk_score"])))
        same += got["decision"] == batch.loc[uid, "decision"]
    return {
        "users": n,
        "risk_score_abs_diff_max": float(np.max(diffs)),
        "risk_score_abs_diff_median": float(np.median(diffs)),
        "same_decision_share": same / n,
        "p50_ms": round(float(np.median(seconds)) * 1000, 1),
    }


#: The steps of an online call, as (label, owner, attribute): the functions
#: ``OnlineScorer.score`` calls, looked up where it (or ``RiskModels.score``) finds them.
STAGES: list[tuple[str, Any, str]] = [
    ("the request's contract checks", OnlineScorer, "_validate"),
    ("the live lookup (Cypher)", riskgraph.online, "live_neighbourhood"),
    ("the walk to the neighbourhood", NeighbourhoodIndex, "walk"),
    ("the rows of the walk's users", NeighbourhoodIndex, "rows"),
    ("the merged graph assembled", riskgraph.online, "merge_id_rows"),
    ("the merged graph assembled", riskgraph.online, "graph_from_id_rows"),
    ("tonight's feature pass (every label visible)", riskgraph.online, "compute_graph_features"),
    ("the graph model's label folds", GraphRiskModel, "scoring_folds"),
    ("the graph model's inputs", GraphRiskModel, "prepare"),
    ("the graph model", GraphRiskModel, "predict_proba"),
    (
        "the label views' graph features and the scorecard's points over them",
        riskgraph.modeling,
        "average_points",
    ),
    ("scores and reasons", riskgraph.modeling, "score_users"),
    ("risky links", riskgraph.modeling.RiskModels, "risky_links"),
    ("velocity and the online rules", riskgraph.online, "velocity_signals"),
    ("velocity and the online rules", riskgraph.online, "apply_online_rules"),
]


@contextlib.contextmanager
def stage_timers(steps: list[tuple[Any, Any, str]] = STAGES) -> Any:
    """``steps`` (:data:`STAGES` by default) wrapped with timers for the block; yields the
    seconds per label. A step called inside another counts for the outer one. A label
    may be a function of the step's positional arguments (one label per table, say)."""
    seconds: dict[str, float] = {label: 0.0 for label, _, _ in steps if isinstance(label, str)}
    depth = [0]
    saved = []
    for label, owner, name in steps:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)

        def timed_step(*args: Any, _f: Any = original, _label: Any = label, **kwargs: Any) -> Any:
            depth[0] += 1
            start = time.perf_counter()
            try:
                return _f(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    key = _label if isinstance(_label, str) else _label(args)
                    seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - start

        saved.append((owner, name, original))
        setattr(owner, name, timed_step)
    try:
        yield seconds
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


def stages(score: Any, requests: list[Any]) -> dict[str, float]:
    """Milliseconds per call of each step over ``requests`` (the first a warm-up)."""
    score(requests[0])
    with stage_timers() as seconds:
        begin = time.perf_counter()
        for request in requests[1:]:
            score(request)
        total = time.perf_counter() - begin
    calls = len(requests) - 1
    out = {label: round(s / calls * 1000, 1) for label, s in seconds.items()}
    out["the rest"] = round((total - sum(seconds.values())) / calls * 1000, 1)
    out["the call"] = round(total / calls * 1000, 1)
    return out


def summary(seconds: list[float], per_call: int) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {
        "calls": len(seconds),
        "applicants_per_call": per_call,
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "max_ms": round(float(ms.max()), 1),
        "applicants_per_s": round(per_call * len(seconds) / float(np.sum(seconds)), 2),
    }


def timed(call: Any, requests: list[Any]) -> list[float]:
    call(requests[0])  # warm-up
    out = []
    for request in requests[1:]:
        start = time.perf_counter()
        call(request)
        out.append(time.perf_counter() - start)
    return out


def interleaved(
    first: Any, second: Any, requests: list[tuple[Any, Any]]
) -> tuple[list[float], list[float]]:
    """Pairs of requests, the first of each through ``first`` and the second through
    ``second``, one right after the other, taking turns at going first; the seconds of
    each. Each request is new to the graph's caches (the same request twice would find
    the second call's neighbourhood warm). The first pair is a warm-up."""
    first(requests[0][0])
    second(requests[0][1])
    out: tuple[list[float], list[float]] = ([], [])
    for i, (a, b) in enumerate(requests[1:]):
        order = ((first, a, out[0]), (second, b, out[1]))
        for call, request, seconds in order if i % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            call(request)
            seconds.append(time.perf_counter() - start)
    return out


class ServedTimes(logging.Handler):
    """The milliseconds of each ``POST /v1/score`` in the service's access log."""

    def __init__(self) -> None:
        super().__init__()
        self.ms: list[float] = []
        self.logger = logging.getLogger("riskgraph.access")
        self.logger.addHandler(self)
        self.logger.setLevel(logging.INFO)

    def emit(self, record: logging.LogRecord) -> None:
        line = json.loads(record.getMessage())
        if line["path"] == "/v1/score":
            self.ms.append(float(line["ms"]))

    def close(self) -> None:
        self.logger.removeHandler(self)
        super().close()


def http_server(fp: FeatureProvider) -> tuple[Any, str]:
    import uvicorn

    from riskgraph.serve import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = uvicorn.Config(
        create_app(fp, TOKEN), host="127.0.0.1", port=port, access_log=False, log_level="warning"
    )
    srv = uvicorn.Server(config)
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.05)
    return srv, f"http://127.0.0.1:{port}"


def burst(fp: FeatureProvider, applicants: Applicants, n: int) -> dict[str, Any]:
    decisions = []
    # A phone of this run's own, like its users (Applicants.run).
    phone = f"PHONE-BURST-{applicants.run}"
    for _ in range(n):
        request = applicants.tables(1, device=phone, step=pd.Timedelta(minutes=2))
        got = fp.score({k: pd.DataFrame(v) for k, v in request.items()}, record=True)
        decisions.append(str(got["decision"].iloc[0]))
    first = next((i + 1 for i, d in enumerate(decisions) if d == "decline"), None)
    return {
        "applications": n,
        "online_first_declined": first,
        "online_decisions": decisions,
        "nightly_alone_first_declined": None,
        "nightly_alone_note": "the nightly job scores none of them before the next night",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--scope", choices=["graph", "neighbourhood", "both"], default="both")
    parser.add_argument("--calls", type=int, default=21, help="single-applicant calls (+1 warm-up)")
    parser.add_argument("--batches", type=int, default=4, help="batch calls (+1 warm-up)")
    parser.add_argument(
        "--graph-calls",
        type=int,
        default=6,
        help="single-applicant and batch calls (each +1 warm-up) of the graph scope, "
        "whose calls each take a full feature pass",
    )
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument(
        "--burst-scopes", nargs="+", default=["graph", "neighbourhood"], help="scopes run the burst"
    )
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument(
        "--stages", action="store_true", help="time the steps of the calls (no HTTP, no burst)"
    )
    parser.add_argument(
        "--no-freeze",
        action="store_true",
        help="leave the start-up's objects in Python's garbage collections "
        "(`riskgraph serve` freezes them)",
    )
    parser.add_argument(
        "--agreement", type=int, default=0, help="users of the run scored online against batch"
    )
    parser.add_argument(
        "--reuse-out",
        type=Path,
        default=None,
        help="an output root of an earlier run of this script, its graph still in Neo4j "
        "(no new nightly run)",
    )
    parser.add_argument("--home", type=Path, default=ROOT / "data" / "neo4j-serve-bench")
    parser.add_argument("--bolt-port", type=int, default=47787)
    parser.add_argument("--http-port", type=int, default=47774)
    args = parser.parse_args()

    input_dir, run_date = prepare(args.users, args.seed, args.days)
    settings, conn = local_server(args.home, args.bolt_port, args.http_port)
    path = ROOT / "benchmarks" / "results" / f"serve_{args.users}.json"
    if args.reuse_out is None:
        fresh_database(settings)
        out = ROOT / "data" / "serve" / f"out-{args.users}-{os.getpid()}"
        out.parent.mkdir(parents=True, exist_ok=True)
        nightly_s: float | None = nightly(input_dir, out, run_date, conn)
    else:
        out, nightly_s = args.reuse_out, None
    start = pd.Timestamp(run_date, tz="UTC") + pd.Timedelta(hours=9)
    results: dict[str, Any] = {
        "benchmark": "serve",
        "users": args.users,
        "run_date": run_date.isoformat(),
        "nightly_seconds": None if nightly_s is None else round(nightly_s, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
            "python": platform.python_version(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "gc_frozen": not args.no_freeze,
        "scopes": {},
    }
    scopes = ["graph", "neighbourhood"] if args.scope == "both" else [args.scope]
    try:
        for scope in scopes:
            with contextlib.ExitStack() as frozen:
                fp = FeatureProvider(
                    out,
                    connection=conn,
                    hmac_key=BENCH_KEY.encode(),
                    online=OnlineConfig(scope=scope),
                )
                began = time.perf_counter()
                fp.online_scorer().open()
                opened = time.perf_counter() - began
                # as `riskgraph serve` does once it has opened
                if not args.no_freeze:
                    frozen.enter_context(frozen_live_objects())
                applicants = Applicants(input_dir, start, args.seed)

                def score(
                    request: dict[str, list[dict[str, Any]]], fp: FeatureProvider = fp
                ) -> Any:
                    return fp.score({k: pd.DataFrame(v) for k, v in request.items()})

                calls = args.graph_calls if scope == "graph" else args.calls
                n_batches = (
                    min(args.graph_calls, args.batches) if scope == "graph" else args.batches
                )
                single = [applicants.tables(1) for _ in range(calls)]
                batches = [applicants.tables(args.batch_size) for _ in range(n_batches)]
                figures: dict[str, Any] = {"open_seconds": round(opened, 1)}
                if args.agreement:
                    figures["agreement_with_batch"] = agreement(
                        fp, input_dir, args.agreement, args.seed
                    )
                    print(scope, figures["agreement_with_batch"])
                kinds = (("single", single, 1), ("batch", batches, args.batch_size))
                if args.stages:
                    for kind, requests, _ in kinds:
                        figures[f"stages_{kind}_ms"] = stages(score, requests)
                elif args.no_http:
                    for kind, requests, per_call in kinds:
                        figures[f"in_process_{kind}"] = summary(timed(score, requests), per_call)
                else:
                    import httpx

                    srv, url = http_server(fp)
                    served = ServedTimes()
                    with httpx.Client(
                        base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=600
                    ) as client:

                        def post(request: dict[str, Any], client: Any = client) -> None:
                            client.post("/v1/score", json={"tables": request}).raise_for_status()

                        for kind, requests, per_call in kinds:
                            pairs = [(r, applicants.tables(per_call)) for r in requests]
                            local, http = interleaved(score, post, pairs)
                            figures[f"in_process_{kind}"] = summary(local, per_call)
                            figures[f"http_{kind}"] = summary(http, per_call)
                            figures[f"http_minus_in_process_{kind}_p50_ms"] = round(
                                float(np.median(http) - np.median(local)) * 1000, 1
                            )
                            # the service's own time per call (its access log): what
                            # of the difference is inside the service
                            figures[f"http_{kind}_server_p50_ms"] = round(
                                float(np.median(served.ms[-len(http) :])), 1
                            )
                    srv.should_exit = True
                    served.close()
                if scope in args.burst_scopes and not args.stages:
                    figures["burst"] = burst(fp, applicants, args.burst)
                fp.close()
                results["scopes"][scope] = figures
                print(scope, json.dumps(figures, indent=1))
    finally:
        server.stop(settings)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
