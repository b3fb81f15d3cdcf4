"""The robustness suite: the nightly default against strong simple references, on
graphs of several stories.

Every dataset goes through the input contract and ``riskgraph nightly --no-neo4j``
(the path users run); the suite reads ``risk_score`` from scores.parquet. In the same
run, on the same split, it fits the references of ``benchmarks/references.py``
(``tabular``, ``xgb_graph``, ``community``) and reports AUC-ROC and AUC-PR of every
model on the test users, mean ± std over seeds or splits.

Datasets
  synthetic  ``generate_population(n, seed)``, time split: ``D`` is the day the latest
             30% of first applications begin; the input shows only the labels known
             before ``D``; the test users are those who first apply at or after ``D``,
             judged on their true outcome; the night runs at the end of the window.
  worlds     randomized synthetic worlds (``riskgraph.loaders.synthetic.random_world``):
             the story knobs drawn at random per world; the same time split; the
             applications table and tie weights present or not as the world says.
  amazon     the Amazon user-fraud graph, stratified 40/20/40 (the product sees the
             labels of the first 60%; the references validate on the 20%).
  tolokers   Tolokers, the benchmark's fixed splits (train and validation labels shown).

Usage
  python benchmarks/suite.py [--datasets synthetic,worlds,amazon,tolokers] [--seeds 3]
        [--users 100000] [--world-users 20000] [--worlds 8] [--world-list 0,3]
        [--seed-list 1,2] [--config PATH]
        [--out benchmarks/results/suite.json] [--markdown PATH]
  python benchmarks/suite.py --merge A.json B.json ... [--out PATH] [--markdown PATH]
        (one result from runs made one dataset at a time)

Prints each run as it ends and a table at the end; writes JSON with every run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("OMP_NUM_THREADS", "2")

from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from references import REFERENCES, ReferenceSplit, fit_references

from riskgraph.loaders import build_graph_tables

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
AMAZON = SHARED / "amazon-fraud" / "Amazon.mat"
TOLOKERS = SHARED / "tolokers" / "tolokers.npz"
DATASETS = ("synthetic", "worlds", "amazon", "tolokers")
#: Dates given to data without timestamps: everyone registered, then labelled, then the night.
STATIC_REGISTERED, STATIC_LABELLED, STATIC_NIGHT = "2020-01-01", "2020-06-01", "2020-07-01"


@dataclass
class Task:
    """One train/test problem in the contract's terms.

    Attributes
    ----------
    dataset, name : str
    frames : dict[str, pd.DataFrame]
        The input tables the product receives (test users' labels already hidden).
    run_date : str
        ``--date`` of the night.
    test_ids : np.ndarray
        user_id of the users judged.
    y_test : np.ndarray
        Their outcome (0/1).
    validation_ids : np.ndarray or None
        Labelled users the references validate on (None: the latest 20% by label time).
    ceiling : np.ndarray or None
        Perfect-knowledge scores of the test users (synthetic: the true ``p_bad``).
    story : dict
    """

    dataset: str
    name: str
    frames: dict[str, pd.DataFrame]
    run_date: str
    test_ids: np.ndarray
    y_test: np.ndarray
    validation_ids: np.ndarray | None = None
    ceiling: np.ndarray | None = None
    story: dict[str, Any] = field(default_factory=dict)


# -- datasets ---------------------------------------------------------------------------------
def time_split_task(
    dataset: str, name: str, population: Any, frames: dict[str, pd.DataFrame],
    test_share: float = 0.3,
) -> Task:  # fmt: skip
    """The synthetic time split: labels known before ``D`` shown, users first applying
    at or after ``D`` judged on their outcome; the night at the window's end."""
    truth = population.truth
    first = pd.to_datetime(truth["first_applied_at"], utc=True)
    applied = first.notna().to_numpy()
    cut = pd.Timestamp(first[applied].quantile(1.0 - test_share)).floor("D")
    test = applied & (first >= cut).to_numpy()
    users = frames["users"].copy()
    label_at = pd.to_datetime(users["label_at"], utc=True)
    late = label_at.isna() | (label_at >= cut)
    users["label"] = users["label"].astype("Float64").mask(late.to_numpy())
    users["label_at"] = users["label_at"].mask(late.to_numpy())
    ids = truth["user_id"].astype(str).to_numpy()
    shown = users.set_index(users["user_id"].astype(str))["label"]
    if shown.loc[ids[test]].notna().any():
        raise AssertionError(f"{name}: a test user has a label known before D")
    return Task(
        dataset=dataset,
        name=name,
        frames={**frames, "users": users},
        run_date=str(population.end.date()),
        test_ids=ids[test],
        y_test=truth["outcome"].to_numpy()[test].astype(int),
        ceiling=truth["p_bad"].to_numpy()[test],
        story={"D": str(cut.date())},
    )


def synthetic_task(n_users: int, seed: int) -> Task:
    """The synthetic population of ``seed``, time split."""
    from riskgraph.loaders.synthetic import generate_population

    pop = generate_population(n_users, seed=seed)
    return time_split_task("synthetic", f"synthetic-{seed}", pop, dict(pop.tables))


def synthetic_tasks(n_users: int, seeds: Iterable[int]) -> Iterator[Task]:
    for seed in seeds:
        yield synthetic_task(n_users, seed)


def world_tasks(n_users: int, worlds: Iterable[int], seeds: Iterable[int]) -> Iterator[Task]:
    from riskgraph.loaders.synthetic.worlds import generate_world, random_world

    for w in worlds:
        world = random_world(w)
        for seed in seeds:
            pop = generate_world(world, n_users, seed=1000 * w + seed)
            task = time_split_task("worlds", f"world-{w}-{seed}", pop, dict(pop.tables))
            task.story.update(world.story, world=w, applications=world.applications,
                              tie_weights=world.tie_weights)  # fmt: skip
            yield task


def static_users(ids: np.ndarray, x: np.ndarray, y: np.ndarray, shown: np.ndarray) -> pd.DataFrame:
    """A users table for data without timestamps: labels of ``shown`` users only."""
    users = pd.DataFrame({"user_id": ids, "registered_at": STATIC_REGISTERED})
    users["label"] = pd.array(np.where(shown, y, np.nan), dtype="Float64")
    users["label_at"] = np.where(shown, STATIC_LABELLED, None)
    for j in range(x.shape[1]):
        users[f"attr_{j:02d}"] = x[:, j]
    return users


def static_task(dataset: str, name: str, ids: np.ndarray, x: np.ndarray, y: np.ndarray,
                edges: np.ndarray, tie_type: str, train: np.ndarray, val: np.ndarray,
                test: np.ndarray) -> Task:  # fmt: skip
    social = pd.DataFrame(
        {"src_user_id": ids[edges[:, 0]], "dst_user_id": ids[edges[:, 1]], "tie_type": tie_type}
    )
    return Task(
        dataset=dataset,
        name=name,
        frames={"users": static_users(ids, x, y, train | val), "social": social},
        run_date=STATIC_NIGHT,
        test_ids=ids[test],
        y_test=y[test].astype(int),
        validation_ids=ids[val],
    )


def amazon_tasks(seeds: int) -> Iterator[Task]:
    import scipy.io as sio
    import scipy.sparse as sp

    mat = sio.loadmat(AMAZON)
    x = np.asarray(mat["Attributes"].todense(), dtype=np.float64)
    y = np.asarray(mat["Label"]).ravel().astype(int)
    adj = sp.triu(sp.csr_matrix(mat["Network"]), k=1).tocoo()
    edges = np.stack([adj.row, adj.col], axis=1)
    ids = np.array([f"A{i:05d}" for i in range(len(y))])
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        part = np.empty(len(y), dtype=np.int64)
        for cls in (0, 1):
            idx = rng.permutation(np.flatnonzero(y == cls))
            cuts = np.round(np.array([0.4, 0.6]) * len(idx)).astype(int)
            part[idx[: cuts[0]]], part[idx[cuts[0] : cuts[1]]], part[idx[cuts[1] :]] = 0, 1, 2
        yield static_task("amazon", f"amazon-{seed}", ids, x, y, edges, "same_product",
                          part == 0, part == 1, part == 2)  # fmt: skip


def tolokers_tasks(splits: int) -> Iterator[Task]:
    data = np.load(TOLOKERS)
    x = data["node_features"].astype(np.float64)
    y = data["node_labels"].astype(int)
    edges = data["edges"].astype(np.int64)
    ids = np.array([f"T{i:05d}" for i in range(len(y))])
    for s in range(splits):
        yield static_task("tolokers", f"tolokers-{s}", ids, x, y, edges, "same_task",
                          data["train_masks"][s].astype(bool), data["val_masks"][s].astype(bool),
                          data["test_masks"][s].astype(bool))  # fmt: skip


# -- the product ------------------------------------------------------------------------------
class UntrainableError(Exception):
    """The night refused the input as too few labels to train on (exit 65): the
    product's answer for that world, recorded, not a failure of the suite."""


def run_product(
    task: Task,
    workdir: Path,
    config: Path | None,
    hmac_key: str | None = None,
    retrain_from: Path | None = None,
) -> tuple[pd.DataFrame, float]:
    """``riskgraph nightly --no-neo4j`` on the task's input; scores.parquet and seconds.

    A new random pseudonymization key unless ``hmac_key`` is given (a lender keeps one
    key: runs to be compared use the same). ``retrain_from``: an earlier run's workdir
    whose models are in place, as the last night's, for a ``--retrain`` night."""
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)  # a kept earlier run would be "already complete"
    input_dir = workdir / "input"
    input_dir.mkdir(parents=True, exist_ok=True)
    if retrain_from is not None:
        shutil.copytree(retrain_from / "out" / "model", workdir / "out" / "model")
    for name, frame in task.frames.items():
        frame.to_parquet(input_dir / f"{name}.parquet", index=False)
    key = workdir / "hmac.key"
    key.write_text(hmac_key or secrets.token_hex(32))
    key.chmod(0o600)
    cmd = [str(Path(sys.executable).parent / "riskgraph"), "nightly", "--input", str(input_dir),
           "--out", str(workdir / "out"), "--date", task.run_date, "--no-neo4j",
           "--hmac-key-file", str(key), "--quiet"]  # fmt: skip
    if config is not None:
        cmd += ["--config", str(config)]
    if retrain_from is not None:
        cmd += ["--retrain"]
    clock = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=workdir)
    seconds = time.perf_counter() - clock
    if done.returncode == 65 and "nothing to train" in done.stderr:
        raise UntrainableError(done.stderr.strip().splitlines()[-1])
    if done.returncode != 0:
        raise RuntimeError(f"{task.name}: nightly exited {done.returncode}\n{done.stderr[-4000:]}")
    scores = pd.read_parquet(workdir / "out" / "latest" / "scores.parquet")
    return scores.set_index(scores["user_id"].astype(str)), seconds


def model_record(workdir: Path) -> dict[str, Any]:
    path = workdir / "out" / "model" / "model.json"
    return json.loads(path.read_text()) if path.is_file() else {}


# -- the references ---------------------------------------------------------------------------
def reference_split(task: Task, tables: Any) -> ReferenceSplit:
    users = tables.users
    labels = users["label"].astype("float64").to_numpy(na_value=np.nan)
    ids = users["user_id"].astype(str).to_numpy()
    labelled = ~np.isnan(labels)
    if task.validation_ids is not None:
        validation = np.isin(ids, task.validation_ids) & labelled
    else:  # the latest fifth of the labelled users, by label time
        at = users["label_at"].to_numpy()
        idx = np.flatnonzero(labelled)
        order = idx[np.argsort(at[idx], kind="stable")]
        validation = np.zeros(len(ids), dtype=bool)
        validation[order[-round(0.2 * len(order)) :]] = True
    position = pd.Index(ids).get_indexer(task.test_ids)
    return ReferenceSplit(labels=labels, validation=validation, test=position)


def run_references(task: Task, seed: int) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    tables = build_graph_tables(task.frames, hmac_key=secrets.token_hex(32)).tables
    as_of = pd.Timestamp(task.run_date, tz="UTC")
    split = reference_split(task, tables)
    if (split.test < 0).any() or not np.isnan(split.labels[split.test]).all():
        raise AssertionError(f"{task.name}: a test user is missing or has a label shown")
    scores, seconds = {}, {}
    for name in REFERENCES:
        clock = time.perf_counter()
        scores.update(fit_references(tables, as_of, split, seed=seed, which=(name,)))
        seconds[name] = time.perf_counter() - clock
    return scores, seconds


# -- one task, the summary --------------------------------------------------------------------
def metrics(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    return {
        "auc_roc": float(roc_auc_score(y, s)),
        "auc_pr": float(average_precision_score(y, s)),
    }


def run_task(task: Task, seed: int, config: Path | None, keep: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"suite-{task.name}-") as tmp:
        workdir = keep / task.name if keep else Path(tmp)
        scores, product_seconds = run_product(task, workdir, config)
        record = model_record(workdir)
    judged = scores.loc[task.test_ids]
    ref_scores, ref_seconds = run_references(task, seed)
    result: dict[str, Any] = {
        "task": task.name,
        "n_test": len(task.y_test),
        "test_bad_rate": float(task.y_test.mean()),
        "labelled": int(task.frames["users"]["label"].notna().sum()),
        "story": task.story,
        "metrics": {
            "default": metrics(task.y_test, judged["risk_score"].to_numpy()),
            "gnn_risk": metrics(task.y_test, judged["gnn_risk"].to_numpy()),
        },
        "seconds": {"default": product_seconds, **ref_seconds},
        "model": {
            k: record.get(k)
            for k in (
                "candidate",
                "candidates",
                "gnn_validation_auc_pr",
                "scorecard_variable_scale",
            )
        },
    }
    for name, s in ref_scores.items():
        result["metrics"][name] = metrics(task.y_test, s)
    if task.ceiling is not None:
        result["metrics"]["ceiling"] = metrics(task.y_test, task.ceiling)
    return result


# -- stability across retrains ----------------------------------------------------------------
def stability_run(n_users: int, seed: int, share: float, config: Path | None) -> dict[str, Any]:
    """Train on a synthetic population, then retrain (``--retrain``, the first night's
    models in place) with ``share`` of its applications moved out of view (filed after
    the run date); compare the two nights' scores."""
    from riskgraph.loaders.synthetic import generate_population

    pop = generate_population(n_users, seed=seed)
    base = Task("stability", f"stability-{seed}", dict(pop.tables), str(pop.end.date()),
                np.empty(0), np.empty(0))  # fmt: skip
    apps = pop.tables["applications"].copy()
    rng = np.random.default_rng(seed)
    moved = rng.choice(len(apps), max(1, round(share * len(apps))), replace=False)
    later = pd.Timestamp(pop.end) + pd.Timedelta(days=1)
    apps.loc[apps.index[moved], "applied_at"] = later
    changed = Task("stability", f"stability-{seed}-moved", {**base.frames, "applications": apps},
                   base.run_date, np.empty(0), np.empty(0))  # fmt: skip
    key = secrets.token_hex(32)
    with tempfile.TemporaryDirectory(prefix="suite-stability-") as tmp:
        a, _ = run_product(base, Path(tmp) / "a", config, key)
        record_a = model_record(Path(tmp) / "a")
        b, _ = run_product(changed, Path(tmp) / "b", config, key, retrain_from=Path(tmp) / "a")
        record_b = model_record(Path(tmp) / "b")
    b = b.loc[a.index]
    delta = (b["credit_score"] - a["credit_score"]).abs().to_numpy()
    return {
        "task": f"stability-{seed}",
        "users": n_users,
        "applications_moved": len(moved),
        "median_abs_score_change": float(np.median(delta)),
        "mean_abs_score_change": float(delta.mean()),
        "scores_changed": int((delta > 0).sum()),
        "decisions_flipped": int((a["decision"] != b["decision"]).sum()),
        "decisions_flipped_share": float((a["decision"] != b["decision"]).mean()),
        "candidates": [record_a.get("candidate"), record_b.get("candidate")],
        "head_models": record_b.get("head_models"),
        "scorecard_variable_scales": [
            record_a.get("scorecard_variable_scale"),
            record_b.get("scorecard_variable_scale"),
        ],
        "scorecard_kept_weights": record_b.get("scorecard_kept_weights"),
        "scorecard_incumbent_margin_se": record_b.get("scorecard_incumbent_margin_se"),
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name in runs[0]["metrics"]:
        row = {}
        for metric in ("auc_roc", "auc_pr"):
            vals = np.array([r["metrics"][name][metric] for r in runs])
            row[f"{metric}_mean"] = float(vals.mean())
            row[f"{metric}_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
        out[name] = row
    return out


def verdict(summary: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Whether the default reaches the best reference's mean (within one std of it)."""
    out: dict[str, Any] = {}
    for metric in ("auc_roc", "auc_pr"):
        best = max(REFERENCES, key=lambda r: summary[r][f"{metric}_mean"])
        gap = summary["default"][f"{metric}_mean"] - summary[best][f"{metric}_mean"]
        tol = max(summary[best][f"{metric}_std"], summary["default"][f"{metric}_std"])
        out[metric] = {"best_reference": best, "gap": gap, "holds": bool(gap >= -tol)}
    return out


def markdown(result: dict[str, Any]) -> str:
    cols = ["default", *REFERENCES, "gnn_risk"]
    lines = [
        "| dataset | runs | " + " | ".join(cols) + " | default holds |",
        "|---|---|" + "---|" * len(cols) + "---|",
    ]
    for group in result["groups"]:
        s, v = group["summary"], group["verdict"]
        cells = []
        for c in cols:
            if c not in s:
                cells.append("")
                continue
            cells.append(
                f"{s[c]['auc_roc_mean']:.3f} ± {s[c]['auc_roc_std']:.3f} / "
                f"{s[c]['auc_pr_mean']:.3f} ± {s[c]['auc_pr_std']:.3f}"
            )
        holds = "yes" if v["auc_roc"]["holds"] and v["auc_pr"]["holds"] else "no"
        lines.append(
            f"| {group['name']} | {group['runs']} | " + " | ".join(cells) + f" | {holds} |"
        )
    return "\n".join(lines)


def group_runs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs grouped per dataset (per world for the randomized worlds)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        key = run["task"].rsplit("-", 1)[0]
        groups.setdefault(key, []).append(run)
    out = []
    for key, members in groups.items():
        summary = summarize(members)
        out.append({"name": key, "runs": len(members), "summary": summary,
                    "verdict": verdict(summary)})  # fmt: skip
    return out


def with_groups(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with its runs grouped, judged and the worlds' wins counted."""
    result["groups"] = group_runs(result["runs"]) if result["runs"] else []
    worlds = [g for g in result["groups"] if g["name"].startswith("world")]
    if worlds:
        result["world_wins"] = {
            m: sum(g["verdict"][m]["holds"] for g in worlds) for m in ("auc_roc", "auc_pr")
        } | {"worlds": len(worlds)}
    return result


def write_result(result: dict[str, Any], out: Path, table_path: Path | None) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float))
    table = markdown(result)
    for row in result.get("skipped", []):
        table += f"\n\n{row['task']}: not trainable ({row['reason']})"
    print("\nAUC-ROC / AUC-PR, mean ± std\n" + table)
    if table_path:
        table_path.write_text(table + "\n")
    print(f"\nwrote {out}")


def merge(paths: list[Path], out: Path, table_path: Path | None) -> int:
    """One result from several (each made with its own ``--datasets``)."""
    parts = [json.loads(p.read_text()) for p in paths]
    result = {
        "stability": [row for part in parts for row in part.get("stability", [])],
        "machine": parts[-1]["machine"],
        "arguments": {str(p): part["arguments"] for p, part in zip(paths, parts, strict=True)},
        "seconds": sum(part["seconds"] for part in parts),
        "runs": [run for part in parts for run in part["runs"]],
        "skipped": [row for part in parts for row in part.get("skipped", [])],
    }
    write_result(with_groups(result), out, table_path)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", type=int, default=3, help="seeds or splits per dataset")
    parser.add_argument("--amazon-seeds", type=int, default=5)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--world-users", type=int, default=20_000)
    parser.add_argument("--worlds", type=int, default=8)
    parser.add_argument("--world-list", default=None, help="comma-separated world seeds")
    parser.add_argument(
        "--seed-list",
        default=None,
        help="comma-separated seeds of the synthetic population and the "
        "worlds (instead of 0 .. --seeds - 1)",
    )
    parser.add_argument("--config", type=Path, default=None, help="riskgraph config for the night")
    parser.add_argument("--keep", type=Path, default=None, help="keep every run's files here")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "suite.json")  # fmt: skip
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--stability-users", type=int, default=3000,
                        help="population of the retrain-stability check (0: skip it)")  # fmt: skip
    parser.add_argument("--stability-share", type=float, default=0.001)
    parser.add_argument("--merge", type=Path, nargs="+", default=None,
                        help="combine the JSON of runs made one dataset at a time into --out")  # fmt: skip
    args = parser.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.out, args.markdown)
    wanted = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = sorted(set(wanted) - set(DATASETS))
    if unknown:
        parser.error(f"unknown datasets {unknown}; expected some of {list(DATASETS)}")

    seeds = [int(v) for v in args.seed_list.split(",")] if args.seed_list else range(args.seeds)

    def tasks() -> Iterator[Task]:
        if "synthetic" in wanted:
            yield from synthetic_tasks(args.users, seeds)
        if "worlds" in wanted:
            ids = (
                [int(v) for v in args.world_list.split(",")]
                if args.world_list
                else range(args.worlds)
            )
            yield from world_tasks(args.world_users, ids, seeds)
        if "amazon" in wanted:
            yield from amazon_tasks(args.amazon_seeds)
        if "tolokers" in wanted:
            yield from tolokers_tasks(max(args.seeds, 5))

    runs, skipped = [], []
    started = time.time()
    for task in tasks():
        seed = int(task.name.rsplit("-", 1)[1])
        try:
            run = run_task(task, seed, args.config, args.keep)
        except UntrainableError as exc:
            skipped.append({"task": task.name, "reason": str(exc), "story": task.story})
            print(f"{task.name}: not trainable: {exc}", flush=True)
            continue
        runs.append(run)
        brief = {k: f"{v['auc_roc']:.3f}/{v['auc_pr']:.3f}" for k, v in run["metrics"].items()}
        print(f"{task.name}: {brief} ({run['seconds']['default']:.0f}s night)", flush=True)
    stability = []
    if args.stability_users:
        for seed in range(args.seeds):
            row = stability_run(args.stability_users, seed, args.stability_share, args.config)
            stability.append(row)
            print(f"{row['task']}: median |score change| {row['median_abs_score_change']:.1f}, "
                  f"decisions flipped {row['decisions_flipped_share']:.2%}", flush=True)  # fmt: skip
    result = {
        "stability": stability,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_end": os.getloadavg(),
        },
        "arguments": {k: str(v) for k, v in vars(args).items()},
        "seconds": time.time() - started,
        "runs": runs,
        "skipped": skipped,
    }
    write_result(with_groups(result), args.out, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
