"""Model quality: LightGBM baselines against the GNN, on synthetic and real data.

Four variants, the same protocol for each (riskgraph.gnn.protocol: visible labels,
out-of-fold label views, averaged views at scoring):

  (a) lgbm_attributes       LightGBM on the user's own attributes
  (b) lgbm_graph_features   LightGBM on attributes + graph risk features
  (c) gnn                   GraphRiskModel on the graph alone
  (d) gnn_graph_features    GraphRiskModel with the graph risk features

Datasets
  synthetic  generate_population(n, seed); time split at D: train on labels known
             before D, test on users who first apply at or after D (their true outcome,
             known later or never), scored on the final snapshot with the labels known
             at D. The perfect-knowledge ceiling ranks the test users by truth.p_bad.
  amazon     the Amazon user-fraud graph (../shared/datasets/amazon-fraud), converted
             through the input contract (users with 25 attributes and label; social
             ties of type same_product); stratified 40/20/40 train/validation/test.

Usage
  python benchmarks/quality.py [--dataset synthetic|amazon|both] [--seeds 5]
        [--users 50000] [--variants a,b,c,d] [--out benchmarks/results/quality.json]

Prints a table and writes JSON (per seed and mean/std per variant).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("OMP_NUM_THREADS", "2")

import lightgbm as lgb
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from riskgraph.gnn.hetero import numeric_feature_columns
from riskgraph.gnn.protocol import (
    FeatureViews,
    LabelFolds,
    graph_feature_views,
    scoring_folds,
    split_labels,
    visible_labels,
)
from riskgraph.gnn.train import GraphRiskModel
from riskgraph.loaders import GraphTables, build_graph_tables

AMAZON = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "amazon-fraud" / "Amazon.mat"
VARIANTS = {
    "a": "lgbm_attributes",
    "b": "lgbm_graph_features",
    "c": "gnn",
    "d": "gnn_graph_features",
}
KEY = "quality-benchmark-key-0123"


@dataclass
class Task:
    """One train/test problem, in the contract's terms."""

    name: str
    tables: GraphTables
    fit_as_of: pd.Timestamp
    fit_labels: np.ndarray  # labels the training may see (NaN elsewhere)
    validation: np.ndarray | None  # explicit validation mask, None = time window
    score_as_of: pd.Timestamp
    test_idx: np.ndarray
    y_test: np.ndarray
    ceiling: np.ndarray | None = None  # perfect-knowledge scores of the test users


# -- datasets ------------------------------------------------------------------------------
def synthetic_task(n_users: int, seed: int, test_share: float = 0.3) -> Task:
    """Synthetic population with a time split: the latest ``test_share`` of first
    applications are the test users; D is the first of them."""
    from riskgraph.loaders.synthetic import generate_population

    pop = generate_population(n_users, seed=seed)
    tables = build_graph_tables(pop.tables, hmac_key=KEY).tables
    truth = pop.truth.set_index("user_id").loc[tables.users["user_id"].astype(str)]
    first = pd.to_datetime(truth["first_applied_at"], utc=True)
    applied = first.notna().to_numpy()
    cut = first[applied].quantile(1.0 - test_share)
    as_of = pd.Timestamp(cut).floor("D")
    test = applied & (first >= as_of).to_numpy()
    fit_labels = visible_labels(tables.users, as_of)
    if np.any(~np.isnan(fit_labels[test])):
        raise AssertionError("a test user has a label known before D")
    return Task(
        name="synthetic",
        tables=tables,
        fit_as_of=as_of,
        fit_labels=fit_labels,
        validation=None,
        score_as_of=pop.end,
        test_idx=np.flatnonzero(test),
        y_test=truth["outcome"].to_numpy()[test].astype(int),
        ceiling=truth["p_bad"].to_numpy()[test],
    )


def amazon_frames(path: Path = AMAZON) -> dict[str, pd.DataFrame]:
    """The Amazon fraud graph as input-contract tables (users + social)."""
    import scipy.io as sio
    import scipy.sparse as sp

    mat = sio.loadmat(path)
    x = np.asarray(mat["Attributes"].todense(), dtype=np.float64)
    y = np.asarray(mat["Label"]).ravel().astype(int)
    adj = sp.triu(sp.csr_matrix(mat["Network"]), k=1).tocoo()
    ids = np.array([f"A{i:05d}" for i in range(len(y))])
    users = pd.DataFrame({"user_id": ids, "registered_at": "2020-01-01", "label": y.astype(str),
                          "label_at": "2020-06-01"})  # fmt: skip
    for j in range(x.shape[1]):
        users[f"attr_{j:02d}"] = x[:, j]
    social = pd.DataFrame(
        {"src_user_id": ids[adj.row], "dst_user_id": ids[adj.col], "tie_type": "same_product"}
    )
    return {"users": users, "social": social}


_AMAZON_CACHE: dict[str, GraphTables] = {}


def amazon_task(seed: int) -> Task:
    """Stratified 40/20/40 split of the Amazon graph (one seed)."""
    if "tables" not in _AMAZON_CACHE:
        _AMAZON_CACHE["tables"] = build_graph_tables(amazon_frames(), hmac_key=KEY).tables
    tables = _AMAZON_CACHE["tables"]
    y = tables.users["label"].astype(int).to_numpy()
    rng = np.random.default_rng(seed)
    part = np.empty(len(y), dtype=np.int64)
    for cls in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == cls))
        cuts = np.round(np.array([0.4, 0.6]) * len(idx)).astype(int)
        part[idx[: cuts[0]]] = 0
        part[idx[cuts[0] : cuts[1]]] = 1
        part[idx[cuts[1] :]] = 2
    as_of = pd.Timestamp("2020-07-01", tz="UTC")
    fit_labels = np.where(part < 2, y, np.nan).astype(np.float64)
    return Task(
        name="amazon",
        tables=tables,
        fit_as_of=as_of,
        fit_labels=fit_labels,
        validation=part == 1,
        score_as_of=as_of,
        test_idx=np.flatnonzero(part == 2),
        y_test=y[part == 2],
    )


# -- variants ------------------------------------------------------------------------------
def attribute_frame(tables: GraphTables) -> pd.DataFrame:
    out = tables.users[tables.attribute_columns].copy()
    for c in out.columns:
        if not pd.api.types.is_numeric_dtype(out[c].dtype):
            out[c] = out[c].astype("category")
    return out.reset_index(drop=True)


def lgbm_fit_predict(
    x_fit: pd.DataFrame,
    folds: LabelFolds,
    x_score_views: list[pd.DataFrame],
    score_weights: np.ndarray,
    rows: np.ndarray,
    seed: int,
) -> np.ndarray:
    """LightGBM trained on the fold-train users, early-stopped on the validation set,
    scored on ``rows`` averaging its views like the GNN."""
    y = folds.labels
    train, val = folds.train, folds.validation
    model = lgb.LGBMClassifier(
        n_estimators=2000,
        learning_rate=0.03,
        num_leaves=31,
        min_child_samples=20,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        random_state=seed,
        n_jobs=2,
        verbose=-1,
    )
    model.fit(
        x_fit[train],
        y[train].astype(int),
        eval_set=[(x_fit[val], y[val].astype(int))],
        eval_metric="average_precision",
        callbacks=[lgb.early_stopping(100, verbose=False)],
    )
    out = np.zeros(len(rows))
    for k, frame in enumerate(x_score_views):
        w = score_weights[rows, k]
        if (w > 0).any():
            out += w * model.predict_proba(frame.iloc[rows])[:, 1]
    return out


def feature_matrix(attrs: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    cols = numeric_feature_columns(frame)
    feats = frame[cols].astype("float64").reset_index(drop=True)
    return pd.concat([attrs, feats], axis=1)


def run_seed(
    task: Task, seed: int, variants: list[str], gnn_params: dict[str, Any]
) -> dict[str, Any]:
    tables = task.tables
    time_buckets = int(gnn_params.get("time_buckets", 6))
    clock = time.perf_counter()
    folds_fit = split_labels(
        tables,
        task.fit_as_of,
        seed=seed,
        labels=task.fit_labels,
        validation=task.validation,
        time_buckets=time_buckets,
    )
    folds_score = scoring_folds(tables, task.score_as_of, seed=seed, labels=task.fit_labels)
    # Leakage guard: no test user's label and nothing dated at or after D is visible.
    assert np.isnan(folds_score.labels[task.test_idx]).all()
    assert np.isnan(folds_fit.labels[task.test_idx]).all()
    needs_features = any(v in variants for v in ("b", "d"))
    views_fit: FeatureViews | None = None
    views_score: FeatureViews | None = None
    timings: dict[str, float] = {}
    if needs_features:
        t0 = time.perf_counter()
        views_fit = graph_feature_views(tables, folds_fit)
        views_score = graph_feature_views(tables, folds_score)
        timings["graph_features"] = time.perf_counter() - t0
    attrs = attribute_frame(tables)
    weights = folds_score.view_weights()
    rows = task.test_idx
    scores: dict[str, np.ndarray] = {}
    for v in variants:
        t0 = time.perf_counter()
        name = VARIANTS[v]
        if v == "a":
            scores[name] = lgbm_fit_predict(attrs, folds_fit, [attrs] * folds_score.n_views,
                                            weights, rows, seed)  # fmt: skip
        elif v == "b":
            assert views_fit is not None and views_score is not None
            x_fit = feature_matrix(attrs, views_fit.own_view(folds_fit))
            x_views = [feature_matrix(attrs, f) for f in views_score.frames]
            scores[name] = lgbm_fit_predict(x_fit, folds_fit, x_views, weights, rows, seed)
        else:
            model = GraphRiskModel(seed=seed, **gnn_params).fit(
                tables,
                task.fit_as_of,
                folds=folds_fit,
                feature_views=views_fit if v == "d" else None,
            )
            proba = model.predict_proba(
                tables,
                task.score_as_of,
                folds=folds_score,
                feature_views=views_score if v == "d" else None,
            )[:, 1]
            scores[name] = proba[rows]
            timings[f"{name}_best_epoch"] = model.record_.best_epoch
        timings[name] = time.perf_counter() - t0
    out: dict[str, Any] = {"seed": seed, "n_test": len(rows), "test_bad_rate": float(task.y_test.mean()),
                           "n_train": int(folds_fit.train.sum()),
                           "n_validation": int(folds_fit.validation.sum()),
                           "fit_as_of": str(task.fit_as_of.date()), "metrics": {}, "timings": timings}  # fmt: skip
    for name, s in scores.items():
        out["metrics"][name] = {
            "auc_roc": float(roc_auc_score(task.y_test, s)),
            "auc_pr": float(average_precision_score(task.y_test, s)),
            "brier": float(brier_score_loss(task.y_test, np.clip(s, 0, 1))),
        }
    if task.ceiling is not None:
        out["metrics"]["ceiling_p_bad"] = {
            "auc_roc": float(roc_auc_score(task.y_test, task.ceiling)),
            "auc_pr": float(average_precision_score(task.y_test, task.ceiling)),
            "brier": float(brier_score_loss(task.y_test, task.ceiling)),
        }
    out["seconds"] = time.perf_counter() - clock
    return out


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    names = runs[0]["metrics"].keys()
    summary = {}
    for name in names:
        row = {}
        for metric in ("auc_roc", "auc_pr", "brier"):
            vals = np.array([r["metrics"][name][metric] for r in runs])
            row[f"{metric}_mean"] = float(vals.mean())
            row[f"{metric}_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
        summary[name] = row
    return summary


def print_table(dataset: str, summary: dict[str, dict[str, float]], n_seeds: int) -> None:
    print(f"\n{dataset} ({n_seeds} seeds): mean ± std")
    print(f"{'variant':<22} {'AUC-ROC':>16} {'AUC-PR':>16} {'Brier':>16}")
    for name, r in summary.items():
        print(
            f"{name:<22} {r['auc_roc_mean']:.4f} ± {r['auc_roc_std']:.4f} "
            f"{r['auc_pr_mean']:.4f} ± {r['auc_pr_std']:.4f} {r['brier_mean']:.4f} ± {r['brier_std']:.4f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["synthetic", "amazon", "both"], default="both")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--users", type=int, default=50_000, help="synthetic population size")
    parser.add_argument("--variants", default="a,b,c,d")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--architecture", default="sign")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "quality.json"))
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    gnn_params = {"architecture": args.architecture, "max_epochs": args.epochs}
    datasets = ["synthetic", "amazon"] if args.dataset == "both" else [args.dataset]
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg": os.getloadavg(),
        },
        "gnn_params": gnn_params,
        "datasets": {},
    }
    for dataset in datasets:
        runs = []
        for seed in range(args.seeds):
            task = synthetic_task(args.users, seed) if dataset == "synthetic" else amazon_task(seed)
            run = run_seed(task, seed, variants, gnn_params)
            runs.append(run)
            brief = {k: round(v["auc_pr"], 4) for k, v in run["metrics"].items()}
            print(f"{dataset} seed {seed}: AUC-PR {brief} ({run['seconds']:.0f}s)", flush=True)
        summary = summarize(runs)
        print_table(dataset, summary, len(runs))
        result["datasets"][dataset] = {
            "users": args.users if dataset == "synthetic" else int(task.tables.num_users),
            "runs": runs,
            "summary": summary,
        }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
