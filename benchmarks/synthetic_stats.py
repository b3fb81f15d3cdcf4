"""Realised statistics of a synthetic population, with the plots in docs/synthetic.md.

Generates a population (default 100,000 users, seed 0, the generator's defaults),
prints the statistics docs/synthetic.md quotes as Markdown tables, writes them to
``benchmarks/results/synthetic_stats.json`` and draws ``docs/img/synthetic_degrees.png``
and ``docs/img/synthetic_time.png``.

Run: ``python benchmarks/synthetic_stats.py [--users N] [--seed S]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from riskgraph.loaders.synthetic import SyntheticPopulation, generate_population

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "synthetic_stats.json"
IMG = ROOT / "docs" / "img"
ROLE_ORDER = ["normal", "multi_borrower", "intermediary_client", "ring"]


def _quantiles(values: pd.Series, qs: tuple[float, ...] = (0.5, 0.9, 0.99, 1.0)) -> dict:
    return {f"p{round(q * 100)}": round(float(values.quantile(q)), 1) for q in qs}


def compute(pop: SyntheticPopulation) -> dict[str, Any]:
    t, truth = pop.tables, pop.truth
    n = len(t["users"])
    users = t["users"].merge(truth, on="user_id")
    apps = t["applications"]
    ud, ua, social = t["user_devices"], t["user_accounts"], t["social"]
    out: dict[str, Any] = {"users": n, "seed": pop.seed, "days": pop.days, "end": str(pop.end)}
    out["rows"] = {name: len(table) for name, table in t.items()}
    relationships = (
        len(ud) + len(ua) + len(social) + 2 * len(apps) + int(apps.device_id.notna().sum())
    )
    out["relationships_per_user"] = round(relationships / n, 2)

    # Devices: how many users each has, and why devices are shared.
    per_device = ud.groupby("device_id")["user_id"].nunique()
    out["users_per_device"] = _quantiles(per_device)
    out["devices_per_user"] = _quantiles(
        ud.groupby("user_id").size().reindex(users.user_id, fill_value=0)
    )
    shared = ud[ud.device_id.map(per_device) > 1].merge(truth, on="user_id")
    out["share_users_on_shared_device"] = round(shared.user_id.nunique() / n, 4)
    size = shared.device_id.map(per_device)
    cause = np.select(
        [shared.role == "ring", size > 20, shared.household_id.notna()],
        ["ring device", "public device (>20 users)", "household tablet"],
        "other",
    )
    out["shared_device_users_by_cause"] = (
        pd.Series(cause)
        .groupby(cause)
        .apply(lambda s: shared.user_id[s.index].nunique())
        .div(n)
        .round(4)
        .to_dict()
    )
    # Accounts.
    per_account = ua.groupby("account_id")["user_id"].nunique()
    out["users_per_account"] = _quantiles(per_account, (0.5, 0.99, 0.999, 1.0))
    out["share_accounts_shared"] = round(float((per_account > 1).mean()), 4)
    out["accounts_per_user_by_type"] = ua.groupby("account_type").size().div(n).round(3).to_dict()
    out["share_users_on_shared_account"] = round(
        ua[ua.account_id.map(per_account) > 1].user_id.nunique() / n, 4
    )
    # Applications.
    applicants = users[users.n_applications > 0]
    out["share_applied"] = round(len(applicants) / n, 4)
    out["applications_per_applicant"] = _quantiles(applicants.n_applications)
    a = apps.merge(truth[["user_id", "role"]], on="user_id")
    g = a.groupby("user_id")
    span = (g.applied_at.max() - g.applied_at.min()).dt.total_seconds() / 86400
    per_user = pd.DataFrame(
        {
            "apps": g.size(),
            "platforms": g.platform_id.nunique(),
            "span": span,
            "role": g.role.first(),
        }
    )
    out["applications_by_role"] = (
        per_user.groupby("role")
        .agg(
            mean_apps=("apps", "mean"),
            mean_platforms=("platforms", "mean"),
            median_span_days=("span", "median"),
        )
        .round(2)
        .reindex(ROLE_ORDER)
        .to_dict(orient="index")
    )
    out["status_shares"] = apps.status.value_counts(normalize=True).round(3).to_dict()
    shares = apps.platform_id.value_counts(normalize=True)
    out["platforms"] = {
        "count": len(shares),
        "top1": round(float(shares.iloc[0]), 3),
        "top5": round(float(shares.iloc[:5].sum()), 3),
        "median": round(float(shares.median()), 4),
    }
    out["applications_from_device_not_in_user_devices"] = round(
        float(
            apps.dropna(subset=["device_id"])
            .merge(
                ud[["user_id", "device_id"]].assign(own=True),
                on=["user_id", "device_id"],
                how="left",
            )
            .own.isna()
            .mean()
        ),
        4,
    )
    # Risk and labels.
    labelled = users[users.label.notna()]
    out["share_labelled"] = round(len(labelled) / n, 4)
    out["share_applicants_labelled"] = round(len(labelled) / len(applicants), 4)
    out["bad_rate_labelled"] = round(float(labelled.label.mean()), 4)
    out["bad_rate_all_true"] = round(float(truth.outcome.mean()), 4)
    by_role = users.groupby("role").agg(
        users=("user_id", "size"),
        mean_p_bad=("p_bad", "mean"),
        outcome_rate=("outcome", "mean"),
        labelled=("label", lambda s: s.notna().mean()),
        labelled_bad_rate=("label", "mean"),
    )
    by_role["share"] = by_role.users / n
    out["by_role"] = by_role.round(4).reindex(ROLE_ORDER).to_dict(orient="index")
    out["by_thin_file"] = (
        users.groupby("thin_file")
        .agg(
            share=("user_id", "size"),
            mean_p_bad=("p_bad", "mean"),
            labelled_bad_rate=("label", "mean"),
        )
        .assign(share=lambda d: d.share / n)
        .round(4)
        .rename(index={True: "thin file", False: "credit history"})
        .to_dict(orient="index")
    )
    lag = (labelled.label_at - labelled.first_approved_at).dt.total_seconds() / 86400
    lag_app = (labelled.label_at - labelled.first_applied_at).dt.total_seconds() / 86400
    out["label_lag_days_from_loan"] = {
        "bad": _quantiles(lag[labelled.label == 1], (0.1, 0.5, 0.9)),
        "good": _quantiles(lag[labelled.label == 0], (0.1, 0.5, 0.9)),
    }
    out["label_lag_days_from_first_application"] = _quantiles(lag_app, (0.1, 0.5, 0.9))
    # Social ties and homophily.
    deg = pd.concat([social.src_user_id, social.dst_user_id]).value_counts()
    out["social_degree"] = _quantiles(deg.reindex(users.user_id, fill_value=0))
    out["tie_types"] = social.tie_type.value_counts(normalize=True).round(3).to_dict()
    comm = truth.set_index("user_id").community_id
    out["ties_within_community"] = round(
        float(
            (
                social.src_user_id.map(comm).to_numpy() == social.dst_user_id.map(comm).to_numpy()
            ).mean()
        ),
        3,
    )
    outcome = truth.set_index("user_id").outcome
    has_bad = (
        pd.concat(
            [
                social.assign(u=social.src_user_id, bad=social.dst_user_id.map(outcome)),
                social.assign(u=social.dst_user_id, bad=social.src_user_id.map(outcome)),
            ]
        )
        .groupby("u")
        .bad.max()
    )
    normal = users[users.role == "normal"].set_index("user_id")
    flag = has_bad.reindex(normal.index).fillna(0)
    out["normal_users_bad_rate_by_bad_tie"] = {
        "with a tie to a bad user": round(float(normal.outcome[flag == 1].mean()), 4),
        "without": round(float(normal.outcome[flag == 0].mean()), 4),
    }
    return out


def plot(pop: SyntheticPopulation) -> list[Path]:
    t, truth = pop.tables, pop.truth
    IMG.mkdir(parents=True, exist_ok=True)
    paths = []

    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
    for ax, (table, node, title) in zip(
        axes[0],
        [
            ("user_devices", "device_id", "Users per device"),
            ("user_accounts", "account_id", "Users per account"),
        ],
        strict=True,
    ):
        counts = t[table].groupby(node)["user_id"].nunique().value_counts().sort_index()
        ax.loglog(counts.index, counts.to_numpy(), "o", ms=4)
        ax.set_xlabel("users sharing it")
        ax.set_ylabel(f"number of {node.split('_')[0]}s")
        ax.set_title(title)
        ax.grid(True, which="major", alpha=0.3)
    axes[0][0].text(13, 300, "household tablets (2-4 users),\nring devices (up to ~15)", fontsize=8)
    axes[0][0].text(25, 4, "public devices", fontsize=8)
    axes[0][1].text(
        1.3, 3, "ring SIMs and cards, shared\nhousehold cards, agents' phones", fontsize=8
    )

    ax = axes[1][0]
    a = t["applications"].merge(truth[["user_id", "role"]], on="user_id")
    per_user = a.groupby(["role", "user_id"]).size()
    bins = np.arange(1, 17) - 0.5
    for role in ["normal", "multi_borrower", "intermediary_client", "ring"]:
        values = per_user.loc[role].to_numpy()
        ax.hist(
            values, bins=bins, density=True, histtype="step", lw=1.8, label=role.replace("_", " ")
        )
    ax.set_yscale("log")
    ax.set_xlabel("applications per applicant")
    ax.set_ylabel("share of the role's applicants")
    ax.set_title("Applications per applicant, by role")
    ax.legend(fontsize=8)

    ax = axes[1][1]
    s = t["social"]
    deg = (
        pd.concat([s.src_user_id, s.dst_user_id])
        .value_counts()
        .reindex(truth.user_id, fill_value=0)
    )
    ax.hist(deg.to_numpy(), bins=np.arange(0, deg.max() + 2) - 0.5, color="tab:gray")
    ax.set_xlabel("social ties (either direction)")
    ax.set_ylabel("users")
    ax.set_title("Social degree")
    fig.suptitle(f"Synthetic population: {len(truth):,} users, seed {pop.seed}")
    fig.tight_layout()
    path = IMG / "synthetic_degrees.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    users = t["users"]
    week = "W-MON"
    reg = users.registered_at.dt.tz_convert(None).dt.to_period(week).value_counts().sort_index()
    app = (
        t["applications"]
        .applied_at.dt.tz_convert(None)
        .dt.to_period(week)
        .value_counts()
        .sort_index()
    )
    lab = users.dropna(subset=["label_at"])
    good = (
        lab[lab.label == 0]
        .label_at.dt.tz_convert(None)
        .dt.to_period(week)
        .value_counts()
        .sort_index()
    )
    bad = (
        lab[lab.label == 1]
        .label_at.dt.tz_convert(None)
        .dt.to_period(week)
        .value_counts()
        .sort_index()
    )
    for series, label in (
        (reg, "registrations"),
        (app, "applications"),
        (good, "good labels"),
        (bad, "bad labels"),
    ):
        whole = series.iloc[1:-1]  # the first and last weeks are cut by the window
        ax.plot(whole.index.to_timestamp(), whole.to_numpy(), label=label)
    ax.set_yscale("log")
    ax.set_ylabel("per week (log scale)")
    ax.set_title("Activity and labels over the window")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", rotation=30)

    ax = axes[1]
    lab = users.merge(truth, on="user_id").dropna(subset=["label_at"])
    lag = (lab.label_at - lab.first_applied_at).dt.total_seconds() / 86400
    lag_bins = np.arange(30, 181, 5)
    for value, name in ((0, "good"), (1, "bad")):
        ax.hist(lag[lab.label == value], bins=lag_bins, density=True, alpha=0.6, label=name)
    ax.set_xlabel("days from first application to label")
    ax.set_ylabel("density")
    ax.set_title("Label lag")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = IMG / "synthetic_time.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pop = generate_population(args.users, seed=args.seed)
    stats = compute(pop)
    print(json.dumps(stats, indent=2, default=str))
    for path in plot(pop):
        print("wrote", path)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(stats, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
