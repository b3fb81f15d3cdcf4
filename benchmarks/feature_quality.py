"""How well each graph-feature family ranks bad users, and how well rings match the truth.

On a synthetic population (default 100,000 users, 365 days, seed 0):

**Ranking, time split.** Features are computed as of ``D = end - 30 days`` with the
labels known before ``D`` only. *Test users* are the applicants of the 30 days before
``D`` whose label is not known at ``D`` (tonight's applicants, scored as the nightly
run scores them); they are judged on their true outcome, which becomes known after
``D`` or never. *Training users* are the users with a label known before ``D``. Each
user's windowed activity features are measured at the first midnight after the user's
first application (``reference_time``), which is when the nightly run scores an
applicant. Label-derived features use out-of-fold labels (DESIGN.md, "Train the way
you serve"): users are split into 5 folds by a hash of the user id; the features of a
fold-k user, training or test, come from a run in which fold k's labels are hidden,
so training and test users see the same label density.

Per family (rings, hubs, exposure, borrowing, all), a LightGBM model on that family's
features alone is trained on the training users and evaluated on the test users
(AUC-ROC, AUC-PR; the test bad rate is the AUC-PR of a random ranking). Each feature
is also scored alone (its catalogue risk direction gives the orientation). Two
controls: the same exposure model trained on leave-one-out features (every visible
label, own label dropped) instead of out-of-fold ones, and the PageRank damping.

**Ring membership.** As of ``end`` with every label known before it: precision and
recall of "user is in a ring" (``ring_id`` set) and of ``ring_flag`` against the
truth's fraud-ring members, for several ``RingConfig.max_sharing`` values, with the
roles and households of the false positives.

Run: ``python benchmarks/feature_quality.py [--users N] [--seed S]``. The population is
cached as Parquet under ``data/features/`` (gitignored). Prints Markdown tables and
writes ``benchmarks/results/feature_quality.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from riskgraph.graph.features import (
    FEATURE_CATALOG,
    ExposureConfig,
    FeatureConfig,
    RingConfig,
    compute_graph_features,
    visible_labels,
)
from riskgraph.graph.features.adjacency import graph_snapshot
from riskgraph.graph.features.exposure import label_folds, ppr_exposure
from riskgraph.graph.features.timeline import to_micros
from riskgraph.loaders import GraphTables, build_graph_tables
from riskgraph.loaders.synthetic import generate_population

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "feature_quality.json"
CACHE = ROOT / "data" / "features"
KEY = "feature-quality-key-0123456789"
FOLDS = 5
LGB_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "n_estimators": 300,
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "n_jobs": 2,
    "verbose": -1,
}


def load_population(
    n_users: int, seed: int, days: int
) -> tuple[GraphTables, pd.DataFrame, pd.Timestamp]:
    """GraphTables and truth of a synthetic population, cached as Parquet."""
    directory = CACHE / f"pop-{n_users}-s{seed}-d{days}"
    if (directory / "truth.parquet").exists():
        meta = json.loads((directory / "meta.json").read_text())
        tables = GraphTables.from_parquet(directory / "tables")
        return tables, pd.read_parquet(directory / "truth.parquet"), pd.Timestamp(meta["end"])
    pop = generate_population(n_users, seed=seed, days=days)
    tables = build_graph_tables(pop.tables, hmac_key=KEY).tables
    tables.to_parquet(directory / "tables")
    pop.truth.to_parquet(directory / "truth.parquet")
    (directory / "meta.json").write_text(json.dumps({"end": str(pop.end)}))
    return tables, pop.truth, pop.end


def scoring_times(
    truth: pd.DataFrame, users: pd.DataFrame, cap: pd.Timestamp, delay_days: int
) -> pd.Series:
    """The ``delay_days``-th midnight after each user's first application (0 = the first
    midnight, when the nightly run first scores an applicant), at most ``cap``."""
    first = users[["user_id"]].merge(
        truth[["user_id", "first_applied_at"]], on="user_id", how="left"
    )
    first_applied = pd.to_datetime(first["first_applied_at"], utc=True)
    ref = (first_applied.dt.floor("D") + pd.Timedelta(days=1 + delay_days)).where(
        first_applied.notna(), cap
    )
    return ref.clip(upper=cap).astype("datetime64[us, UTC]")


def out_of_fold_features(
    tables: GraphTables,
    as_of: pd.Timestamp,
    labels: np.ndarray,
    reference: pd.Series,
    config: FeatureConfig,
) -> pd.DataFrame:
    """Features of each user from the run in which its fold's labels are hidden."""
    fold = label_folds(tables.users["user_id"], FOLDS)
    parts = []
    for k in range(FOLDS):
        hidden = labels.copy()
        hidden[fold == k] = np.nan
        f = compute_graph_features(
            tables, as_of, labels=hidden, reference_time=reference, config=config
        ).features
        parts.append(f[fold == k])
    return pd.concat(parts).sort_index()


def model_columns(family: str | None) -> list[str]:
    return [
        name
        for name, spec in FEATURE_CATALOG.items()
        if spec.kind != "identifier" and (family is None or spec.family == family)
    ]


def attributes(tables: GraphTables) -> pd.DataFrame:
    """The users' own attributes: numbers as floats, text as pandas categories."""
    out = {}
    for column in tables.attribute_columns:
        values = tables.users[column]
        if pd.api.types.is_numeric_dtype(values):
            out[column] = values.astype(float)
        else:
            out[column] = values.astype(object).astype("category")
    return pd.DataFrame(out)


def fit_predict(
    train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, seed: int = 0
) -> np.ndarray:
    def numeric(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.apply(
            lambda c: c if isinstance(c.dtype, pd.CategoricalDtype) else c.astype(float)
        )

    model = lgb.LGBMClassifier(**LGB_PARAMS, random_state=seed)
    model.fit(numeric(train), y)
    return np.asarray(model.predict_proba(numeric(test)))[:, 1]


def metrics(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    return {
        "auc_roc": round(float(roc_auc_score(y, score)), 4),
        "auc_pr": round(float(average_precision_score(y, score)), 4),
    }


def single_feature_metrics(test: pd.DataFrame, y: np.ndarray) -> dict[str, dict[str, Any]]:
    out = {}
    for name in model_columns(None):
        spec = FEATURE_CATALOG[name]
        score = test[name].astype(float).to_numpy()
        if spec.risk_direction == "decreasing":
            score = -score
        known = ~np.isnan(score)
        if not known.any() or np.ptp(score[known]) == 0:
            continue
        # Not applicable (NaN, e.g. ring features outside a ring) ranks as least risky.
        score = np.where(known, score, score[known].min() - 1.0)
        out[name] = {**metrics(y, score), "family": spec.family}
    return out


def ranking(tables: GraphTables, truth: pd.DataFrame, end: pd.Timestamp, args) -> dict:
    as_of = end - pd.Timedelta(days=args.cutoff_days)
    users = tables.users
    labels = visible_labels(users, as_of)
    merged = users[["user_id"]].merge(truth, on="user_id", how="left")
    first = pd.to_datetime(merged["first_applied_at"], utc=True)
    train = ~np.isnan(labels)
    # Test applicants are scored at their reference time, which must not pass D.
    latest = as_of - pd.Timedelta(days=args.delay_days)
    test = (
        first.ge(latest - pd.Timedelta(days=args.window_days)).to_numpy()
        & first.lt(latest.floor("D")).to_numpy()
        & np.isnan(labels)
    )
    reference = scoring_times(truth, users, as_of, args.delay_days)
    config = FeatureConfig()

    started = time.perf_counter()
    oof = out_of_fold_features(tables, as_of, labels, reference, config)
    oof_seconds = time.perf_counter() - started
    loo = compute_graph_features(tables, as_of, labels=labels, reference_time=reference).features

    y_train = labels[train].astype(int)
    y_test = merged["outcome"].to_numpy()[test].astype(int)
    attrs = attributes(tables)
    with_attrs = pd.concat([attrs, oof], axis=1)
    families: dict[str, dict[str, float]] = {}
    score = fit_predict(attrs.loc[train], y_train, attrs.loc[test])
    families["attributes only (no graph)"] = metrics(y_test, score)
    for family in ("rings", "hubs", "exposure", "borrowing", None):
        cols = model_columns(family)
        score = fit_predict(oof.loc[train, cols], y_train, oof.loc[test, cols])
        name = family or "all graph features"
        families[name] = metrics(y_test, score)
        both = [*attrs.columns, *cols]
        score = fit_predict(with_attrs.loc[train, both], y_train, with_attrs.loc[test, both])
        families[f"attributes + {name}"] = metrics(y_test, score)
    cols = model_columns("exposure")
    score = fit_predict(loo.loc[train, cols], y_train, oof.loc[test, cols])
    families["exposure, trained on leave-one-out features"] = metrics(y_test, score)
    cols = [c for c in model_columns("rings") if c.endswith(("bad_count", "bad_rate"))]
    for name, frame in (("out-of-fold", oof), ("leave-one-out", loo)):
        score = fit_predict(frame.loc[train, cols], y_train, oof.loc[test, cols])
        families[f"ring bad count and rate, trained on {name} features"] = metrics(y_test, score)
    singles = single_feature_metrics(oof.loc[test], y_test)

    damping = {}
    snapshot = graph_snapshot(tables, int(to_micros(pd.DatetimeIndex([as_of]))[0]))
    for d in (0.3, 0.5, 0.7, 0.85):
        ppr = ppr_exposure(
            snapshot, users["user_id"], labels, replace(ExposureConfig(), ppr_damping=d)
        )
        damping[str(d)] = metrics(y_test, ppr[test])
    return {
        "as_of": str(as_of),
        "test_window_days": args.window_days,
        "scoring_delay_days": args.delay_days,
        "train_users": int(train.sum()),
        "train_bad_rate": round(float(y_train.mean()), 4),
        "test_users": int(test.sum()),
        "test_bad_rate": round(float(y_test.mean()), 4),
        "out_of_fold_seconds": round(oof_seconds, 1),
        "families": families,
        "single_features": singles,
        "ppr_damping": damping,
    }


def ring_membership(tables: GraphTables, truth: pd.DataFrame, end: pd.Timestamp) -> dict:
    merged = tables.users[["user_id"]].merge(truth, on="user_id", how="left")
    true_ring = merged["ring_id"].notna().to_numpy()
    household = merged["household_id"].notna().to_numpy()
    public = merged["public_device_user"].astype(bool).to_numpy()
    role = merged["role"].astype(str).to_numpy()
    out: dict[str, Any] = {}
    for k in (5, 10, 20, 50):
        gf = compute_graph_features(
            tables, end, config=FeatureConfig(rings=RingConfig(max_sharing=k))
        )
        f = gf.features
        rows: dict[str, Any] = {}
        for name, predicted in (
            ("in a ring", f["ring_id"].notna().to_numpy()),
            ("ring_flag", f["ring_flag"].to_numpy()),
        ):
            tp = int((predicted & true_ring).sum())
            fp = predicted & ~true_ring
            rows[name] = {
                "predicted": int(predicted.sum()),
                "precision": round(tp / max(int(predicted.sum()), 1), 4),
                "recall": round(tp / max(int(true_ring.sum()), 1), 4),
                "false_positives": {
                    "intermediary clients": int((fp & (role == "intermediary_client")).sum()),
                    "household members": int(
                        (fp & household & (role != "intermediary_client")).sum()
                    ),
                    "public-device users": int(
                        (fp & public & ~household & (role != "intermediary_client")).sum()
                    ),
                    "other": int(
                        (fp & ~public & ~household & (role != "intermediary_client")).sum()
                    ),
                },
            }
        # Purity: how many of a flagged ring's members belong to its main true ring.
        members = f.loc[f["ring_flag"], ["ring_id"]].assign(
            true=merged.loc[f["ring_flag"], "ring_id"]
        )
        purity = members.groupby("ring_id")["true"].agg(
            lambda s: s.value_counts().iloc[0] / len(s) if s.notna().any() else 0.0
        )
        rows["flagged rings"] = int(gf.rings["flagged"].sum())
        rows["median purity of flagged rings with a true ring member"] = (
            round(float(purity[purity > 0].median()), 4) if (purity > 0).any() else None
        )
        out[str(k)] = rows
    # What separates fraud rings from households among components (default K).
    f = compute_graph_features(tables, end).features
    in_ring = f["ring_id"].notna().to_numpy()
    comp = f[in_ring].assign(
        kind=np.select(
            [true_ring[in_ring], role[in_ring] == "intermediary_client", household[in_ring]],
            ["fraud ring member", "intermediary client", "household member"],
            "other",
        )
    )
    columns = [
        "ring_size",
        "ring_registration_span_days",
        "ring_registration_burst_share",
        "ring_platforms",
        "ring_application_burst_share",
        "ring_shared_identifiers",
        "ring_flag",
    ]
    profile = comp.groupby("kind")[columns].agg(
        {c: "mean" if c == "ring_flag" else "median" for c in columns}
    )
    profile = profile.rename(columns={"ring_flag": "ring_flag (share)"}).round(2)
    out["component_profile_medians"] = profile.to_dict(orient="index")
    out["true_ring_members"] = int(true_ring.sum())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--cutoff-days", type=int, default=30, help="D = end - this many days")
    parser.add_argument(
        "--window-days", type=int, default=30, help="test applicants' window before D"
    )
    parser.add_argument(
        "--delay-days",
        type=int,
        default=0,
        help="score applicants this many nights after their first application (0: first night)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.perf_counter()
    tables, truth, end = load_population(args.users, args.seed, args.days)
    result = {
        "users": args.users,
        "seed": args.seed,
        "days": args.days,
        "end": str(end),
        "relationships": tables.num_edges,
        "ranking": ranking(tables, truth, end, args),
        "rings": ring_membership(tables, truth, end),
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "lightgbm": lgb.__version__,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_tables(result)


def print_tables(result: dict) -> None:
    r = result["ranking"]
    print(
        f"Ranking as of {r['as_of']}: {r['train_users']} training users (bad rate "
        f"{r['train_bad_rate']}), {r['test_users']} test applicants (bad rate {r['test_bad_rate']})\n"
    )
    print("| features | AUC-ROC | AUC-PR |\n|---|---|---|")
    for name, m in r["families"].items():
        print(f"| {name} | {m['auc_roc']:.3f} | {m['auc_pr']:.3f} |")
    print("\n| feature alone | family | AUC-ROC | AUC-PR |\n|---|---|---|---|")
    best = sorted(r["single_features"].items(), key=lambda kv: -kv[1]["auc_roc"])[:15]
    for name, m in best:
        print(f"| `{name}` | {m['family']} | {m['auc_roc']:.3f} | {m['auc_pr']:.3f} |")
    print("\n| PageRank damping | AUC-ROC | AUC-PR |\n|---|---|---|")
    for d, m in r["ppr_damping"].items():
        print(f"| {d} | {m['auc_roc']:.3f} | {m['auc_pr']:.3f} |")
    rings = result["rings"]
    print(f"\nRing membership ({rings['true_ring_members']} true fraud-ring members)\n")
    print(
        "| max_sharing | rule | predicted | precision | recall | FP intermediary clients | "
        "FP household | FP public device | FP other |\n|---|---|---|---|---|---|---|---|---|"
    )
    for k in ("5", "10", "20", "50"):
        for rule in ("in a ring", "ring_flag"):
            m = rings[k][rule]
            fp = m["false_positives"]
            print(
                f"| {k} | {rule} | {m['predicted']} | {m['precision']:.3f} | {m['recall']:.3f} | "
                f"{fp['intermediary clients']} | {fp['household members']} | "
                f"{fp['public-device users']} | {fp['other']} |"
            )
    print("\nComponent profile (medians; ring_flag: share flagged; max_sharing 20)\n")
    profile = pd.DataFrame(rings["component_profile_medians"])
    print("| | " + " | ".join(profile.columns) + " |")
    print("|---" * (len(profile.columns) + 1) + "|")
    for name, row in profile.iterrows():
        print(f"| `{name}` | " + " | ".join(f"{v:g}" for v in row) + " |")
    print(f"\n{result['seconds']} s")


if __name__ == "__main__":
    main()
