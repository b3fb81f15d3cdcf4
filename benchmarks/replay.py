"""Replay quality of online scoring: new applicants scored one by one, live, against
the night that saw them.

Data: a synthetic population (``riskgraph.loaders.synthetic``, ``--days`` days,
written once under ``data/serve/<users>-<seed>-<days>/``, gitignored, shared with
``benchmarks/serve.py``). The run date is the day after its last day; the window is
its last ``--window-days`` days.

* **Online.** The users who registered in the window are held out: the nightly job
  runs with Neo4j on the rest, as of the window's first day, on the rows dated
  before it (labels that became known later are blanked). Then each held-out user
  arrives, in registration order, as one ``FeatureProvider.score(..., record=True)``
  call carrying its ``users`` row (label blank), its devices, accounts and
  applications up to the run date, and its social ties to users already in the
  graph (earlier arrivals included, since each was recorded). "Now" is the call's
  default: just after the request's latest timestamp.
* **Batch.** The nightly job runs on the whole input as of the run date
  (``--no-neo4j``): the night that sees the held-out users with the same rows.

With ``--night run-date`` the online night is the batch night's twin instead: as of the
run date, on the whole input but the held-out users' rows, with every label known by
then, and each call scores "now" at the run date. Online and batch then see the same
rows and labels and differ in the path (and in a model trained without the held-out
users), not in the model's age or the window's labels.

With ``--night daily`` the window is lived as production lives it: a nightly job with
Neo4j every night of the window (the first trains; the others reuse its model, as an
ordinary night does), each on the input as that night saw it (rows dated before it,
labels known before it, the held-out users' rows included once dated). Between two
nights, the users whose request falls on that day are scored online in the order of
their request's latest timestamp ("now", the call's default), each request carrying
its ties to users the graph already holds. The batch column is the next night: the
first nightly job that saw each user's whole request, with the same model. Online
and batch then differ in the path and in the hours between the call and midnight.

Both are compared on the held-out users against the generator's hidden outcome
(``truth.parquet``, ``outcome``): AUC-ROC and AUC-PR, each with the spread of 200
bootstrap resamples of the users, and the paired difference (online minus batch)
with its bootstrap interval. Run:
``python benchmarks/replay.py [--users 10000] [--scope neighbourhood|graph]
[--night window-start|run-date|daily]``; writes
``benchmarks/results/replay_<users>_seed<seed>[_run-date|_daily].json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from riskgraph.graph import server
from riskgraph.online import OnlineConfig
from riskgraph.provider import FeatureProvider

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from ingest import fresh_database  # noqa: E402
from serve import BENCH_KEY, local_server, nightly, prepare  # noqa: E402

TABLES = ("users", "user_devices", "user_accounts", "social", "applications")
# The column that dates each row of a table (rows without one are kept).
DATED = {
    "users": "registered_at",
    "user_devices": "first_seen",
    "user_accounts": "linked_at",
    "social": "created_at",
    "applications": "applied_at",
}


def read_input(input_dir: Path) -> dict[str, pd.DataFrame]:
    return {
        name: pd.read_csv(input_dir / f"{name}.csv", dtype=str, keep_default_na=False)
        for name in TABLES
        if (input_dir / f"{name}.csv").exists()
    }


def stamp(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_datetime(frame[column].replace("", None), utc=True, format="ISO8601")


def user_columns(name: str) -> tuple[str, ...]:
    return ("src_user_id", "dst_user_id") if name == "social" else ("user_id",)


def before_window(frames: dict[str, pd.DataFrame], cut: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The input as the night before the window saw it: users registered before
    ``cut``, rows dated before it, labels known before it."""
    kept = set(frames["users"].loc[stamp(frames["users"], "registered_at") < cut, "user_id"])
    out = {}
    for name, frame in frames.items():
        keep = np.ones(len(frame), dtype=bool)
        for column in user_columns(name):
            keep &= frame[column].isin(kept).to_numpy()
        dated = stamp(frame, DATED[name]) if DATED[name] in frame.columns else None
        if dated is not None:
            keep &= ~(dated >= cut).to_numpy()
        out[name] = frame.loc[keep].copy()
    users = out["users"]
    later = (stamp(users, "label_at") >= cut).to_numpy() if "label_at" in users else []
    users.loc[later, ["label", "label_at"]] = ""
    return out


def without_users(frames: dict[str, pd.DataFrame], users: set[str]) -> dict[str, pd.DataFrame]:
    """The input with every row of ``users`` (their own and their ties) left out."""
    out = {}
    for name, frame in frames.items():
        keep = np.ones(len(frame), dtype=bool)
        for column in user_columns(name):
            keep &= ~frame[column].isin(users).to_numpy()
        out[name] = frame.loc[keep].copy()
    return out


def own_rows(frames: dict[str, pd.DataFrame], user: pd.Series) -> dict[str, pd.DataFrame]:
    """A request's tables for the ``users`` row ``user``: it, and its devices, accounts
    and applications (no ties)."""
    uid = user["user_id"]
    request = {"users": user.to_frame().T.reset_index(drop=True)}
    for name in ("user_devices", "user_accounts", "applications"):
        if name in frames:
            request[name] = frames[name].loc[frames[name]["user_id"] == uid]
    return request


def ties_with(social: pd.DataFrame, uid: str, present: set[str]) -> pd.DataFrame:
    """The rows of ``social`` that tie ``uid`` to a user of ``present``."""
    mine = ((social["src_user_id"] == uid) & social["dst_user_id"].isin(present)) | (
        (social["dst_user_id"] == uid) & social["src_user_id"].isin(present)
    )
    return social.loc[mine]


def arrivals(frames: dict[str, pd.DataFrame], cut: pd.Timestamp) -> list[dict[str, pd.DataFrame]]:
    """One request per user registered from ``cut`` on, in registration order."""
    users = frames["users"]
    new = users.loc[stamp(users, "registered_at") >= cut].copy()
    new = new.iloc[np.argsort(stamp(new, "registered_at").to_numpy(), kind="stable")]
    new[["label", "label_at"]] = ""
    present = set(users.loc[~users["user_id"].isin(new["user_id"]), "user_id"])
    requests = []
    for _, row in new.iterrows():
        uid = row["user_id"]
        request = own_rows(frames, row)
        if "social" in frames:
            request["social"] = ties_with(frames["social"], uid, present)
        present.add(uid)
        requests.append({k: v.reset_index(drop=True) for k, v in request.items()})
    return requests


def requests_by_time(
    frames: dict[str, pd.DataFrame], cut: pd.Timestamp
) -> list[tuple[pd.Timestamp, dict[str, pd.DataFrame]]]:
    """One request per user registered from ``cut`` on: its rows and every social tie
    it is part of (filtered at call time to users the graph holds), with the
    request's latest timestamp, in the order of that timestamp."""
    users = frames["users"]
    new = users.loc[stamp(users, "registered_at") >= cut].copy()
    new[["label", "label_at"]] = ""
    out = []
    for _, row in new.iterrows():
        uid = row["user_id"]
        request = own_rows(frames, row)
        if "social" in frames:
            social = frames["social"]
            request["social"] = social.loc[
                (social["src_user_id"] == uid) | (social["dst_user_id"] == uid)
            ]
        times = [
            stamp(frame, DATED[name]).max()
            for name, frame in request.items()
            if len(frame) and DATED[name] in frame.columns
        ]
        out.append((max(t for t in times if pd.notna(t)), request))
    out.sort(key=lambda item: item[0])
    return out


def daily(
    frames: dict[str, pd.DataFrame],
    cut: pd.Timestamp,
    run_date: dt.date,
    work: Path,
    conn: Any,
    scope: str,
) -> tuple[pd.DataFrame, pd.DataFrame, list[float], list[float]]:
    """``--night daily``: a night with Neo4j every day of the window and the day's
    requests online in between. Returns the online answers, each user's answer from
    the first night after its request, the nights' wall times and the calls'."""
    pending = requests_by_time(frames, cut)
    out = work / "online"
    online_rows: list[pd.Series] = []
    batch_rows: list[pd.Series] = []
    waiting: list[str] = []  # scored online, not yet seen by a night
    nights, seconds = [], []
    fp = None
    day = cut.date()
    while day <= run_date:
        midnight = pd.Timestamp(day, tz="UTC")
        night_input = write_input(before_window(frames, midnight), work / "nights" / str(day))
        nights.append(nightly(night_input, out, day, conn))
        scores = pd.read_parquet(out / "runs" / str(day) / "scores.parquet").set_index("user_id")
        batch_rows.extend(
            scores.loc[uid, ["risk_score", "decision"]].rename(uid) for uid in waiting
        )
        waiting = []
        if day == run_date:
            break
        if fp is None:
            fp = FeatureProvider(
                out, connection=conn, hmac_key=BENCH_KEY.encode(), online=OnlineConfig(scope=scope)
            )
        else:
            fp.refresh()
        present = set(scores.index)
        tomorrow = midnight + pd.Timedelta(days=1)
        while pending and pending[0][0] < tomorrow:
            _, request = pending.pop(0)
            uid = request["users"]["user_id"].iloc[0]
            if "social" in request:
                request["social"] = ties_with(request["social"], uid, present)
            request = {k: v.reset_index(drop=True) for k, v in request.items()}
            start = time.perf_counter()
            got = fp.score(request, record=True)
            seconds.append(time.perf_counter() - start)
            online_rows.append(got.iloc[0][["user_id", "risk_score", "decision"]])
            present.add(uid)
            waiting.append(uid)
        print(f"{day}: night {nights[-1]:.0f} s, {len(online_rows)} scored online", flush=True)
        day += dt.timedelta(days=1)
    if fp is not None:
        fp.close()
    online = pd.DataFrame(online_rows).set_index("user_id")
    batch = pd.DataFrame(batch_rows)
    batch.index.name = "user_id"
    return online, batch, nights, seconds


def metrics(y: np.ndarray, online: np.ndarray, batch: np.ndarray, seed: int) -> dict[str, Any]:
    """AUC-ROC and AUC-PR of both, with bootstrap spreads, and the paired difference."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"scored": len(y), "bad": int(y.sum())}
    for name, fn in (("auc_roc", roc_auc_score), ("auc_pr", average_precision_score)):
        boot = []
        for _ in range(200):
            idx = rng.integers(0, len(y), len(y))
            if 0 < y[idx].sum() < len(idx):
                boot.append((fn(y[idx], online[idx]), fn(y[idx], batch[idx])))
        b = np.array(boot)
        diff = b[:, 0] - b[:, 1]
        out[name] = {
            "online": round(float(fn(y, online)), 4),
            "batch": round(float(fn(y, batch)), 4),
            "online_std": round(float(b[:, 0].std()), 4),
            "batch_std": round(float(b[:, 1].std()), 4),
            "online_minus_batch": round(float(fn(y, online) - fn(y, batch)), 4),
            "difference_90pct": [round(float(q), 4) for q in np.percentile(diff, [5, 95])],
        }
    return out


def write_input(frames: dict[str, pd.DataFrame], path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.to_csv(path / f"{name}.csv", index=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--window-days", type=int, default=30)
    parser.add_argument("--scope", choices=["graph", "neighbourhood"], default="neighbourhood")
    parser.add_argument("--night", choices=["window-start", "run-date", "daily"],
                        default="window-start",
                        help="the online night: before the window, the batch night's twin, "
                        "or one every night of the window")  # fmt: skip
    parser.add_argument("--home", type=Path, default=ROOT / "data" / "neo4j-serve-bench")
    parser.add_argument("--bolt-port", type=int, default=47787)
    parser.add_argument("--http-port", type=int, default=47774)
    args = parser.parse_args()

    input_dir, run_date = prepare(args.users, args.seed, args.days)
    cut = pd.Timestamp(run_date, tz="UTC") - pd.Timedelta(days=args.window_days)
    frames = read_input(input_dir)
    work = ROOT / "data" / "replay" / f"{args.users}-{args.seed}-{os.getpid()}"
    truth = pd.read_parquet(input_dir.parent / "truth.parquet").set_index("user_id")

    work.mkdir(parents=True, exist_ok=True)
    if args.night == "daily":
        settings, conn = local_server(args.home, args.bolt_port, args.http_port)
        try:
            fresh_database(settings)
            online, batch, nights, seconds = daily(frames, cut, run_date, work, conn, args.scope)
        finally:
            server.stop(settings)
        batch_seconds = night_seconds = float(np.median(nights))
        report(args, cut, run_date, truth, online, batch, batch_seconds, night_seconds, seconds)
        return

    # The night that saw them.
    batch_out = work / "batch"
    env = {**os.environ, "RISKGRAPH_HMAC_KEY": BENCH_KEY}
    clock = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "riskgraph", "nightly", "--input", str(input_dir),
         "--out", str(batch_out), "--date", run_date.isoformat(), "--no-neo4j", "--quiet"],
        env=env, check=True, cwd=work.parent,
    )  # fmt: skip
    batch_seconds = time.perf_counter() - clock
    batch = pd.read_parquet(batch_out / "latest" / "scores.parquet").set_index("user_id")

    # The night before the window, with Neo4j, then the arrivals one by one.
    settings, conn = local_server(args.home, args.bolt_port, args.http_port)
    requests = arrivals(frames, cut)
    try:
        fresh_database(settings)
        if args.night == "run-date":
            held_out = {r["users"]["user_id"].iloc[0] for r in requests}
            before = write_input(without_users(frames, held_out), work / "before")
            night_date, now = run_date, pd.Timestamp(run_date, tz="UTC")
        else:
            before = write_input(before_window(frames, cut), work / "before")
            night_date, now = cut.date(), None
        night_seconds = nightly(before, work / "online", night_date, conn)
        fp = FeatureProvider(
            work / "online",
            connection=conn,
            hmac_key=BENCH_KEY.encode(),
            online=OnlineConfig(scope=args.scope),
        )
        rows, seconds = [], []
        for i, request in enumerate(requests):
            start = time.perf_counter()
            got = fp.score(request, record=True, as_of=now)
            seconds.append(time.perf_counter() - start)
            rows.append(got.iloc[0][["user_id", "risk_score", "decision"]])
            if (i + 1) % 50 == 0:
                print(f"{i + 1}/{len(requests)} scored, p50 {np.median(seconds):.2f} s", flush=True)
        fp.close()
    finally:
        server.stop(settings)
    online = pd.DataFrame(rows).set_index("user_id")
    report(args, cut, run_date, truth, online, batch, batch_seconds, night_seconds, seconds)


def report(
    args: argparse.Namespace,
    cut: pd.Timestamp,
    run_date: dt.date,
    truth: pd.DataFrame,
    online: pd.DataFrame,
    batch: pd.DataFrame,
    batch_seconds: float,
    night_seconds: float,
    seconds: list[float],
) -> None:
    """Write and print the comparison of ``online`` and ``batch`` on the held-out users."""
    ids = online.index
    y = truth.loc[ids, "outcome"].to_numpy(dtype=int)
    result = {
        "benchmark": "replay",
        "users": args.users,
        "seed": args.seed,
        "scope": args.scope,
        "night": args.night,
        "window": [cut.date().isoformat(), run_date.isoformat()],
        "held_out_users": len(ids),
        "batch_night_seconds": round(batch_seconds, 1),
        "online_night_seconds": round(night_seconds, 1),
        "online_call_p50_ms": round(float(np.median(seconds)) * 1000, 1),
        "same_decision_share": round(
            float((online["decision"] == batch.loc[ids, "decision"]).mean()), 4
        ),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "date": dt.date.today().isoformat(),
        **metrics(
            y,
            online["risk_score"].to_numpy(dtype=float),
            batch.loc[ids, "risk_score"].to_numpy(dtype=float),
            args.seed,
        ),
    }
    suffix = "" if args.night == "window-start" else f"_{args.night}"
    path = ROOT / "benchmarks" / "results" / f"replay_{args.users}_seed{args.seed}{suffix}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
