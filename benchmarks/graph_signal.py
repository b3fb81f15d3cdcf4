"""Does the graph matter? LightGBM on attributes vs attributes + simple graph counts.

On a synthetic population (default 100,000 users) this trains two gradient-boosting
models on a time split and compares them with the perfect-knowledge score (the true
``p_bad``):

* **attributes**: the user's own attributes (age, income, region, credit history,
  past loans and dues, utilization) and application counts;
* **attributes + graph**: the same plus simple graph counts: users sharing my
  devices / accounts, users whose applications came from the devices mine came
  from, my social ties, and how many of each are *known* bad;
* **perfect knowledge**: score = true ``p_bad``.

Time split. Cutoff ``D = end - 60 days``. Every user is scored as of a reference
time ``r = first application + 3 days`` (the nightly run a few days after applying,
when the burst of applications is visible). Training users: labels known before
``D`` (``label_at < D``). Test users: first application in ``[D, end - 3 days)``,
judged on their true outcome (known later, or never to the lender). Features use
only events before ``r``; a neighbour's label counts only when ``label_at <
min(r, D)``, and never the user's own. All counts are computed here with pandas
(the real feature module lives in ``riskgraph.graph.features``).

The population spans 365 days (``--days``), not the generator's default 180: labels
arrive 45-120 days after a loan, so in a 180-day window only users who applied in the
first two months have a label before ``D``, and their features were computed when
almost no labels existed yet. A year gives the training users a label history like
the test users'. (With ``--days 180`` the training set is a fifth the size and the
graph adds AUC-PR but no AUC-ROC; docs/synthetic.md reports both.)

Run: ``python benchmarks/graph_signal.py [--users N] [--seed S] [--days D]``; prints a
table and writes ``benchmarks/results/graph_signal.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from riskgraph.loaders.synthetic import generate_population

RESULTS = Path(__file__).resolve().parent / "results" / "graph_signal.json"
CUTOFF_DAYS = 60
SCORE_DELAY = pd.Timedelta(days=3)
ATTRIBUTES = [
    "age_band",
    "income_band",
    "region",
    "credit_history_months",
    "past_loans",
    "past_dues",
    "utilization",
]
CATEGORICAL = ["age_band", "income_band", "region"]
LGB_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "n_estimators": 400,
    "verbose": -1,
}


def reference_times(users: pd.DataFrame, apps: pd.DataFrame, end: pd.Timestamp) -> pd.Series:
    """Per user (indexed by user_id): first application + 3 days, at most ``end``."""
    first = apps.groupby("user_id")["applied_at"].min()
    return (first + SCORE_DELAY).clip(upper=end).reindex(users["user_id"])


def application_features(apps: pd.DataFrame, ref: pd.Series) -> pd.DataFrame:
    """Counts of the user's own applications before the reference time."""
    a = apps.assign(ref=apps["user_id"].map(ref))
    a = a[a["applied_at"] < a["ref"]]
    g = a.groupby("user_id")
    return pd.DataFrame(
        {
            "n_applications": g.size(),
            "n_platforms": g["platform_id"].nunique(),
            "mean_amount": g["amount"].mean(),
            "max_amount": g["amount"].max(),
            "n_no_device": g["device_id"].apply(lambda s: s.isna().sum()),
        }
    )


def _naive(times: pd.Series) -> np.ndarray:
    """UTC timestamps as naive ``datetime64[ns]`` (NaT stays NaT)."""
    return times.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")


def _visible_bad(users: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Per user_id: label and label_at, for the cutoff rule applied per pair later."""
    return users.set_index("user_id")[["label", "label_at"]]


def _pair_counts(pairs: pd.DataFrame, labels: pd.DataFrame, cutoff: pd.Timestamp, name: str):
    """Distinct peers per user, and how many of them are known bad / known at all.

    ``pairs`` has ``user_id``, ``peer_id`` and ``ref`` (the user's reference time);
    a peer's label is visible when ``label_at < min(ref, cutoff)``.
    """
    pairs = pairs[pairs["user_id"] != pairs["peer_id"]].drop_duplicates(["user_id", "peer_id"])
    lab = labels.reindex(pairs["peer_id"].to_numpy())
    visible_before = np.minimum(_naive(pairs["ref"]), _naive(pd.Series([cutoff]))[0])
    seen = _naive(lab["label_at"]) < visible_before  # NaT compares False
    seen &= lab["label"].notna().to_numpy()
    bad = seen & (lab["label"].fillna(0).to_numpy() == 1)
    frame = pd.DataFrame(
        {"user_id": pairs["user_id"].to_numpy(), "peers": 1, "known": seen, "bad": bad}
    )
    out = frame.groupby("user_id")[["peers", "known", "bad"]].sum()
    return out.add_prefix(f"{name}_")


def graph_features(
    tables: dict[str, pd.DataFrame], ref: pd.Series, cutoff: pd.Timestamp
) -> pd.DataFrame:
    """Simple graph counts per user as of the user's reference time."""
    users, apps = tables["users"], tables["applications"]
    labels = _visible_bad(users, cutoff)
    out = []

    def shared(edges: pd.DataFrame, node: str, since: str, name: str) -> None:
        e = edges[["user_id", node, since]].copy()
        e["ref"] = e["user_id"].map(ref)
        mine = e[e[since] < e["ref"]]
        pairs = mine[["user_id", node, "ref"]].merge(
            e[["user_id", node, since]].rename(columns={"user_id": "peer_id", since: "peer_since"}),
            on=node,
        )
        pairs = pairs[pairs["peer_since"] < pairs["ref"]]
        out.append(_pair_counts(pairs, labels, cutoff, name))
        # The most users on any one of my nodes so far (a public device: hundreds),
        # counting myself; peers who joined later are not seen.
        on_node = pairs.drop_duplicates(["user_id", node, "peer_id"])
        size = on_node.groupby(["user_id", node]).size().groupby(level=0).max()
        out.append(size.rename(f"{name}_max_node_users").to_frame())

    shared(tables["user_devices"], "device_id", "first_seen", "device")
    shared(tables["user_accounts"], "account_id", "linked_at", "account")

    # Users whose applications were filed from the devices mine were filed from.
    a = apps.dropna(subset=["device_id"])[["user_id", "device_id", "applied_at"]].copy()
    shared(a.rename(columns={"applied_at": "since"}), "device_id", "since", "app_device")

    # Applications filed from a device the user never used (an agent's).
    own = tables["user_devices"][["user_id", "device_id"]].assign(own=True)
    a["ref"] = a["user_id"].map(ref)
    a = a[a["applied_at"] < a["ref"]].merge(own, on=["user_id", "device_id"], how="left")
    out.append(
        a.assign(foreign=a["own"].isna())
        .groupby("user_id")["foreign"]
        .sum()
        .rename("foreign_device_apps")
        .to_frame()
    )

    # Social ties, either direction.
    s = tables["social"]
    both = pd.concat(
        [
            s[["src_user_id", "dst_user_id", "created_at"]].set_axis(
                ["user_id", "peer_id", "t"], axis=1
            ),
            s[["dst_user_id", "src_user_id", "created_at"]].set_axis(
                ["user_id", "peer_id", "t"], axis=1
            ),
        ]
    )
    both["ref"] = both["user_id"].map(ref)
    ties = both[both["t"] < both["ref"]]
    out.append(_pair_counts(ties, labels, cutoff, "social"))
    # What my ties' own files say (homophily: a community shares financial stress).
    attrs = users.set_index("user_id")[["past_dues", "utilization"]]
    peer = attrs.reindex(ties["peer_id"].to_numpy()).set_axis(ties.index)
    out.append(peer.groupby(ties["user_id"]).mean().add_prefix("social_mean_"))
    counts = pd.concat(out, axis=1).reindex(users["user_id"])
    means = [c for c in counts.columns if c.startswith("social_mean_")]
    return counts.fillna({c: 0.0 for c in counts.columns if c not in means})


def fit_and_score(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, seed: int) -> np.ndarray:
    model = lgb.LGBMClassifier(**LGB_PARAMS, random_state=seed)
    model.fit(train, y, categorical_feature=[c for c in CATEGORICAL if c in train.columns])
    return np.asarray(model.predict_proba(test))[:, 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()

    t0 = time.perf_counter()
    pop = generate_population(args.users, seed=args.seed, days=args.days)
    tables, truth = pop.tables, pop.truth.set_index("user_id")
    users, apps = tables["users"], tables["applications"]
    end = pop.end
    cutoff = end - pd.Timedelta(days=CUTOFF_DAYS)

    ref = reference_times(users, apps, end)
    first = apps.groupby("user_id")["applied_at"].min().reindex(users["user_id"])
    x_attr = users.set_index("user_id")[ATTRIBUTES].copy()
    for c in CATEGORICAL:
        x_attr[c] = x_attr[c].astype("category")
    x_attr = x_attr.join(application_features(apps, ref)).fillna(
        {"n_applications": 0, "n_platforms": 0, "n_no_device": 0}
    )
    x_graph = x_attr.join(graph_features(tables, ref, cutoff))

    label = users.set_index("user_id")["label"]
    label_at = users.set_index("user_id")["label_at"]
    train = (label.notna() & (label_at < cutoff)).to_numpy()
    test = ((first >= cutoff) & (first < end - SCORE_DELAY)).to_numpy()
    y_train = label.to_numpy()[train].astype(int)
    y_test = truth["outcome"].reindex(users["user_id"]).to_numpy()[test]

    scores = {
        "attributes": fit_and_score(x_attr[train], y_train, x_attr[test], args.seed),
        "attributes + graph": fit_and_score(x_graph[train], y_train, x_graph[test], args.seed),
        "perfect knowledge (true p_bad)": truth["p_bad"].reindex(users["user_id"]).to_numpy()[test],
    }
    rows = {
        name: {
            "auc_roc": round(float(roc_auc_score(y_test, s)), 4),
            "auc_pr": round(float(average_precision_score(y_test, s)), 4),
        }
        for name, s in scores.items()
    }
    roles = truth["role"].reindex(users["user_id"]).to_numpy()[test]
    by_role = (
        pd.DataFrame({"role": roles, "outcome": y_test, **scores})
        .groupby("role")
        .agg(["mean"])
        .round(4)
    )
    by_role.columns = [c[0] for c in by_role.columns]
    by_role.insert(0, "users", pd.Series(roles).value_counts())
    result = {
        "users": args.users,
        "seed": args.seed,
        "days": args.days,
        "end": str(end.date()),
        "cutoff": str(cutoff.date()),
        "train_users": int(train.sum()),
        "train_bad_rate": round(float(y_train.mean()), 4),
        "test_users": int(test.sum()),
        "test_bad_rate": round(float(y_test.mean()), 4),
        "graph_features": [c for c in x_graph.columns if c not in x_attr.columns],
        "models": rows,
        "mean_score_by_role": by_role.to_dict(orient="index"),
        "seconds": round(time.perf_counter() - t0, 1),
        "python": platform.python_version(),
        "lightgbm": lgb.__version__,
    }
    print(
        f"{args.users:,} users; train {result['train_users']:,} (bad {result['train_bad_rate']:.1%}),"
        f" test {result['test_users']:,} (bad {result['test_bad_rate']:.1%})"
    )
    print(f"{'model':34s} {'AUC-ROC':>8s} {'AUC-PR':>8s}")
    for name, r in rows.items():
        print(f"{name:34s} {r['auc_roc']:8.4f} {r['auc_pr']:8.4f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
