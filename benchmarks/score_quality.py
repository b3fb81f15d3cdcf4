"""Does the graph pay for itself in the credit score? Scorecards with and without it.

On a synthetic population (default 200,000 users) with a time split, four
scorecards (:class:`riskgraph.score.CreditScorecard`, optbinning + sign-constrained
logistic regression) are compared on the same test users:

* **A, attributes**: the user's own attributes (income, credit history, past loans
  and dues, utilization, the ``no_credit_history`` indicator; age and region are
  excluded by default, as in production);
* **B, + graph features**: A plus every graph risk feature of the catalogue;
* **C, + graph + GNN**: B plus the GNN's probability ``gnn_risk``;
* **C (validation window)**: C trained only on the GNN's validation window, the
  labelled users whose ``gnn_risk`` is out of sample (see "Stacking" below);

plus, for reference, the GNN's probability alone and the perfect-knowledge
ceiling (the true ``p_bad``).

Protocol (the GNN's, :mod:`riskgraph.gnn.protocol`, reused, not re-implemented):

* Cut-off ``D = end - 60 days``. Training labels: visible before ``D``
  (``label_at < D``), split into K = 5 hash folds; the latest 20% of the labelled
  users (by first application) form the GNN's validation window.
* Training features: :func:`graph_feature_views` at ``D``; every labelled user
  takes its own fold's view (out-of-fold labels), its activity measured up to its
  first application + 1 day. The GNN (``GraphRiskModel``, default settings) is fit
  on the same folds.
* Test users: first application in ``[D, end - 3 days)``, judged on their true
  outcome from the generator's ground truth (whether or not the lender ever learns
  it). They are scored with the graph as of ``end`` and the labels frozen at ``D``,
  activity measured up to their first application + 1 day; the score averages
  each user's points over the K label views (``score_users(views=...)``), so test
  users see the same label density as training users did.
* Stacking: ``gnn_risk`` of the GNN's own training users is in-sample (the GNN was
  fit on their labels). Variant C uses it anyway (more rows); variant "C
  (validation window)" is fit only on the validation window, where it is not.

Metrics on the test users: AUC-ROC, KS, AUC-PR, Brier score, mean predicted vs
observed bad rate; approval rate and bad rate among the approved at the default
``DecisionPolicy`` cut-off (score only, no graph flags); and the **approval rate at
equal bad rate**: the share of test users each scorecard can approve (best scores
first) while keeping the bad rate among the approved at A's (at A's default
cut-off). Then fairness (approval and bad rate among approved by age band and
region) of variant C's full decisions (graph flags included), and what its reasons
say: share of users with 0-3 reasons, the most frequent variables, example
sentences of declined users, ring members and thin files.

Run: ``python benchmarks/score_quality.py [--users N] [--seed S]``; prints the
tables and writes ``benchmarks/results/score_quality.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve

from riskgraph.gnn.protocol import LabelSplit, graph_feature_views, split_labels
from riskgraph.gnn.train import GraphRiskConfig, GraphRiskModel
from riskgraph.loaders import build_graph_tables
from riskgraph.loaders.synthetic import generate_population
from riskgraph.score import (
    CreditScorecard,
    DecisionPolicy,
    build_score_frame,
    fairness_report,
    score_users,
)
from riskgraph.score.scoring import average_points

RESULTS = Path(__file__).resolve().parent / "results" / "score_quality.json"
CUTOFF_DAYS = 60
TEST_MARGIN = pd.Timedelta(days=3)
HMAC_KEY = b"benchmark-key-not-secret-0123456789"


def ks_statistic(y: np.ndarray, p: np.ndarray) -> float:
    """Kolmogorov-Smirnov: largest gap between the score distributions of bad and good."""
    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(tpr - fpr))


def approval_at_bad_rate(y: np.ndarray, risk: np.ndarray, bad_rate: float) -> float:
    """Largest share of users approvable, lowest risk first, with the bad rate among
    the approved at most ``bad_rate``."""
    order = np.argsort(risk, kind="stable")
    cum_bad = np.cumsum(y[order]) / np.arange(1, len(y) + 1)
    ok = np.flatnonzero(cum_bad <= bad_rate + 1e-12)
    return float((ok[-1] + 1) / len(y)) if len(ok) else 0.0


def reason_summary(scored: Any, groups: dict[str, np.ndarray], n_examples: int = 5) -> dict:
    """What applicants read: share of users with 0-3 reasons, the variables most often
    in first place and among the three, and per group the first users with distinct
    reason variables (their sentences), for reading the reasons as an applicant."""
    reasons = scored.reasons
    n = len(reasons)
    count = reasons[[f"reason_{i}" for i in (1, 2, 3)]].notna().sum(axis=1)
    codes = [f"reason_variable_{i}" for i in (1, 2, 3)]
    among = pd.concat([reasons[c] for c in codes]).dropna().value_counts() / n
    out: dict[str, Any] = {
        "users_by_number_of_reasons": {
            str(k): round(float(v), 4)
            for k, v in count.value_counts(normalize=True).sort_index().items()
        },
        "reason_1_share": {
            str(k): round(float(v), 4)
            for k, v in (reasons["reason_variable_1"].value_counts().head(12) / n).items()
        },
        "share_with_reason_among_three": {
            str(k): round(float(v), 4) for k, v in among.head(12).items()
        },
        "examples": {},
    }
    for name, mask in groups.items():
        rows = reasons.loc[mask]
        triple = rows[codes].astype(object).fillna("-").astype(str).agg("|".join, axis=1)
        chosen = rows.loc[~triple.duplicated()].head(n_examples).index
        out["examples"][name] = {
            "users": int(mask.sum()),
            "distinct_reason_triples": int(triple.nunique()),
            "rows": [
                {
                    "credit_score": int(scored.scores.at[i, "credit_score"]),
                    "decision": str(scored.scores.at[i, "decision"]),
                    "reasons": [
                        str(t)
                        for t in reasons.loc[i, ["reason_1", "reason_2", "reason_3"]]
                        if not pd.isna(t)
                    ],
                }
                for i in chosen
            ],
        }
    return out


def metrics(
    y: np.ndarray, risk: np.ndarray, policy: DecisionPolicy, scorecard: Any
) -> dict[str, float]:
    out = {
        "auc_roc": float(roc_auc_score(y, risk)),
        "ks": ks_statistic(y, risk),
        "auc_pr": float(average_precision_score(y, risk)),
    }
    if scorecard is not None:
        score = scorecard.scaling_.credit_score(risk)
        approved = score >= policy.approve_from
        out.update(
            {
                "brier": float(brier_score_loss(y, risk)),
                "mean_predicted": float(risk.mean()),
                "approval_rate_default_cutoff": float(approved.mean()),
                "bad_rate_approved_default_cutoff": float(y[approved].mean())
                if approved.any()
                else float("nan"),
                "median_score": float(np.median(score)),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--gnn-features",
        action="store_true",
        help="Train the GNN with the graph features as inputs (default: graph alone).",
    )
    args = parser.parse_args()
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 1)
        clock = now
        print(f"[{stage}: {timings[stage]} s]", flush=True)

    pop = generate_population(args.users, seed=args.seed)
    tables = build_graph_tables(pop.tables, hmac_key=HMAC_KEY).tables
    users = tables.users
    truth = pop.truth.set_index("user_id").loc[users["user_id"].to_numpy()]
    end = pop.end
    cutoff = end - pd.Timedelta(days=CUTOFF_DAYS)
    lap("generate")

    # -- training, as of the cut-off ---------------------------------------------
    folds = split_labels(
        tables, cutoff, LabelSplit(n_folds=5, validation_fraction=0.2, seed=args.seed)
    )
    train_views = graph_feature_views(tables, folds)
    own_fold = train_views.own_fold(folds)
    lap("train_features")
    gnn = GraphRiskModel(GraphRiskConfig(seed=args.seed, num_threads=2)).fit(
        tables, cutoff, folds=folds, feature_views=train_views if args.gnn_features else None
    )
    gnn_train = gnn.predict_proba(
        tables, cutoff, folds=folds, feature_views=train_views if args.gnn_features else None
    )[:, 1]
    lap("gnn_fit")

    y_all = folds.labels
    labelled = folds.labelled
    validation = folds.validation
    attributes = build_score_frame(users)
    with_graph = build_score_frame(users, own_fold)
    with_gnn = build_score_frame(users, own_fold, gnn_train)
    variants: dict[str, tuple[pd.DataFrame, np.ndarray]] = {
        "A attributes": (attributes, labelled),
        "B + graph features": (with_graph, labelled),
        "C + graph + GNN": (with_gnn, labelled),
        "C + graph + GNN (validation window)": (with_gnn, validation),
    }
    models: dict[str, CreditScorecard] = {}
    train_rows: dict[str, dict[str, float]] = {}
    for name, (frame, rows) in variants.items():
        y = y_all[rows].astype(int)
        models[name] = CreditScorecard().fit(frame[rows], y)
        train_rows[name] = {"users": int(rows.sum()), "bad": int(y.sum())}
    lap("scorecards_fit")

    # -- scoring the test users, as of the end -----------------------------------
    first_applied = truth["first_applied_at"]
    test = ((first_applied >= cutoff) & (first_applied < end - TEST_MARGIN)).to_numpy()
    test_idx = np.flatnonzero(test)
    y_test = truth["outcome"].to_numpy(dtype=np.int64)[test]
    score_folds = gnn.scoring_folds(tables, end, labels=folds.labels)
    score_views = graph_feature_views(tables, score_folds, as_of=end)
    lap("test_features")
    gnn_test = gnn.predict_proba(
        tables,
        end,
        folds=score_folds,
        feature_views=score_views if args.gnn_features else None,
    )[:, 1]
    lap("gnn_predict")
    weights = score_folds.view_weights()[test_idx]
    view_frames = [
        build_score_frame(users, frame, gnn_test).iloc[test_idx] for frame in score_views.frames
    ]
    index = view_frames[0].index

    policy = DecisionPolicy()
    results: dict[str, dict[str, float]] = {}
    risks: dict[str, np.ndarray] = {}
    for name, model in models.items():
        points = average_points(model, view_frames, weights, index)
        risks[name] = model.risk_from_points(points)
        results[name] = metrics(y_test, risks[name], policy, model)
    results["GNN alone (gnn_risk)"] = metrics(y_test, gnn_test[test], policy, None)
    results["ceiling (true p_bad)"] = metrics(y_test, truth["p_bad"].to_numpy()[test], policy, None)
    baseline = results["A attributes"]["bad_rate_approved_default_cutoff"]
    for name in models:
        results[name]["approval_rate_at_A_bad_rate"] = approval_at_bad_rate(
            y_test, risks[name], baseline
        )
    lap("test_scoring")

    # -- the production path on the test users: decisions, reasons, fairness ------
    production = "C + graph + GNN"
    test_features = score_views.frames[0].iloc[test_idx].reset_index(drop=True)
    scored = score_users(
        models[production],
        view_frames[0],
        test_features,
        policy,
        views=view_frames,
        view_weights=weights,
    )
    fair = fairness_report(scored.scores["decision"], y_test, users.iloc[test_idx])
    decisions = scored.scores["decision"].value_counts(normalize=True).round(4).to_dict()
    thin = models[production].thin_file_.is_thin(view_frames[0])
    reasons = reason_summary(
        scored,
        {
            "declined": (scored.scores["decision"] == "decline").to_numpy(),
            "ring_members": scored.flags["ring_member"].to_numpy(dtype=bool),
            "thin_file": thin,
        },
    )
    lap("production_path")

    production_model = models[production]
    result = {
        "users": args.users,
        "seed": args.seed,
        "cutoff": str(cutoff.date()),
        "end": str(end.date()),
        "gnn_with_graph_features": bool(args.gnn_features),
        "test_users": int(test.sum()),
        "test_bad_rate": float(y_test.mean()),
        "train": train_rows,
        "gnn_validation": {
            "auc_roc": gnn.record_.validation_auc_roc,
            "auc_pr": gnn.record_.validation_auc_pr,
        },
        "variants": results,
        "production_decisions": decisions,
        "production_reasons": reasons,
        "production_coefficients": production_model.coef_.round(4).to_dict(),
        "fairness": fair.summary,
        "fairness_table": fair.table.round(4).to_dict(orient="records"),
        "timings_s": timings,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        },
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }

    print(
        f"\n{args.users} users, cut-off {cutoff.date()}, {int(test.sum())} test users, "
        f"bad rate {y_test.mean():.3f}"
    )
    print(
        "| scorecard | train users (bad) | AUC-ROC | KS | AUC-PR | Brier | approval at cut-off | bad rate approved | approval at A's bad rate |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        rows = train_rows.get(name)
        train_text = f"{rows['users']} ({rows['bad']})" if rows else "-"
        print(
            f"| {name} | {train_text} | {r['auc_roc']:.3f} | {r['ks']:.3f} | {r['auc_pr']:.3f} | "
            + (
                f"{r['brier']:.4f} | {r['approval_rate_default_cutoff']:.1%} | "
                f"{r['bad_rate_approved_default_cutoff']:.2%} | {r['approval_rate_at_A_bad_rate']:.1%} |"
                if "brier" in r
                else "- | - | - | - |"
            )
        )
    print("\nfairness (C, full decisions):")
    print(fair.table.round(3).to_string(index=False))
    print("\ndecisions:", decisions)
    print("reasons per user:", reasons["users_by_number_of_reasons"])
    print("first reason:", reasons["reason_1_share"])
    print("timings:", timings)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
