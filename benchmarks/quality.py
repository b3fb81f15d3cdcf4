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
        [--users 100000] [--variants a,b,c,d] [--architecture sign|sage|rgcn|hgt]
        [--no-booster] [--booster-inputs own|graph] [--epochs 40]
        [--plot docs/img/gnn_reliability.png] [--out benchmarks/results/quality.json]

Prints a table and writes JSON (per seed and mean/std per variant); with --plot, a
reliability diagram of the GNN variants on the test users of seed 0.
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
)
from riskgraph.gnn.train import GraphRiskModel, fit_graph_risk_model, score_graph_risk
from riskgraph.graph.features.labels import visible_labels
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
        elif v == "c":
            # the protocol's own entry points, as the nightly job calls them
            fitted = fit_graph_risk_model(
                tables,
                task.fit_as_of,
                params={"seed": seed, **gnn_params},
                labels=task.fit_labels,
                validation=task.validation,
            )
            proba = score_graph_risk(fitted.model, tables, task.score_as_of, labels=task.fit_labels)
            scores[name] = proba[rows]
            timings[f"{name}_best_epoch"] = fitted.model.record_.best_epoch
        else:  # d: reuse the feature views computed once above for (b)
            model = GraphRiskModel(seed=seed, **gnn_params).fit(
                tables, task.fit_as_of, folds=folds_fit, feature_views=views_fit
            )
            proba = model.predict_proba(
                tables, task.score_as_of, folds=folds_score, feature_views=views_score
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
    out["predictions"] = {"y": task.y_test, "scores": dict(scores)}
    if task.ceiling is not None:
        out["predictions"]["scores"]["ceiling_p_bad"] = task.ceiling
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
    parser.add_argument("--users", type=int, default=100_000, help="synthetic population size")
    parser.add_argument("--variants", default="a,b,c,d")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--architecture", default="sign")
    parser.add_argument("--no-booster", action="store_true")
    parser.add_argument("--booster-inputs", default="graph", choices=["own", "graph"])
    parser.add_argument("--time-buckets", type=int, default=6)
    parser.add_argument("--plot", default=None, help="reliability diagram PNG")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "quality.json"))
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    gnn_params = {
        "architecture": args.architecture,
        "max_epochs": args.epochs,
        "booster": not args.no_booster,
        "booster_inputs": args.booster_inputs,
        "time_buckets": args.time_buckets,
    }
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
    plots: dict[str, dict[str, Any]] = {}
    for dataset in datasets:
        runs = []
        for seed in range(args.seeds):
            task = synthetic_task(args.users, seed) if dataset == "synthetic" else amazon_task(seed)
            run = run_seed(task, seed, variants, gnn_params)
            if seed == 0:
                plots[dataset] = run.pop("predictions")
            else:
                run.pop("predictions")
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
    if args.plot:
        reliability_plot(plots, Path(args.plot))
        print(f"wrote {args.plot}")
    return 0


def reliability_plot(plots: dict[str, dict[str, Any]], path: Path) -> None:
    """Reliability diagrams (quantile bins) of the calibrated variants, one panel per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve

    fig, axes = plt.subplots(1, len(plots), figsize=(5.5 * len(plots), 5), squeeze=False)
    for ax, (dataset, pred) in zip(axes[0], plots.items(), strict=True):
        y = pred["y"]
        top = 0.0
        for name, p in pred["scores"].items():
            if not name.startswith(("gnn", "ceiling")):
                continue
            frac, mean = calibration_curve(y, p, n_bins=10, strategy="quantile")
            brier = brier_score_loss(y, np.clip(p, 0, 1))
            ax.plot(mean, frac, marker="o", label=f"{name} (Brier {brier:.4f})")
            top = max(top, float(mean.max()), float(frac.max()))
        ax.plot([0, top], [0, top], color="grey", linestyle="--", label="perfect calibration")
        ax.set_title(f"{dataset}: test users, seed 0 (deciles of predicted risk)")
        ax.set_xlabel("mean predicted probability of bad")
        ax.set_ylabel("observed bad rate")
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
