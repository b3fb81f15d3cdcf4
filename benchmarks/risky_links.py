"""Risky links against the truth: do the attributed links lead to bad users and rings?

On a synthetic population with the time split of benchmarks/suite.py (the input shows
the labels known before D; the night runs at the end of the window; the users who first
apply at or after D are explained), the graph model's risky links
(riskgraph.gnn.explain.risky_links) of the highest-risk test users are compared with
what the generator knows and the model does not: the other user's true outcome and whether both belong to the same fraud ring or
intermediary. Each is measured for the top link of every user, its top 5 links, and
every link the user has (the base rate a random choice of link would get); averages are
per explained user, so users with hundreds of links do not dominate. The path
``evidence`` column (known-bad other user, or a known-bad user within two hops) is
measured the same way.

Usage
  python benchmarks/risky_links.py [--users 50000] [--seed 0] [--explain 500]
        [--out benchmarks/results/risky_links.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("OMP_NUM_THREADS", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from suite import synthetic_task

from riskgraph.gnn.explain import evidence_agreement, risky_links
from riskgraph.gnn.train import GraphRiskConfig, GraphRiskModel
from riskgraph.loaders import build_graph_tables


def link_truth(links: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per link: the other user truly bad; same ring; same intermediary (truth)."""
    t = truth.set_index("user_id")
    me, other = t.loc[links["user_id"].astype(str)], t.loc[links["other_user_id"].astype(str)]

    def same(col: str) -> np.ndarray:
        a, b = (
            me[col].to_numpy(dtype=float, na_value=np.nan),
            other[col].to_numpy(dtype=float, na_value=np.nan),
        )
        return (~np.isnan(a)) & (a == b)

    return pd.DataFrame(
        {
            "user_id": links["user_id"].to_numpy(),
            "other_bad": other["outcome"].to_numpy(dtype=int) == 1,
            "same_ring": same("ring_id"),
            "same_intermediary": same("intermediary_id"),
            "evidence": (links["evidence"] != "").to_numpy(),
        }
    )


def per_user_share(frame: pd.DataFrame) -> dict[str, float]:
    cols = ["other_bad", "same_ring", "same_intermediary", "evidence"]
    return {c: float(frame.groupby("user_id")[c].mean().mean()) for c in cols}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--explain", type=int, default=500, help="highest-risk test users")
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "risky_links.json")
    )
    args = parser.parse_args(argv)

    from riskgraph.loaders.synthetic import generate_population

    task = synthetic_task(args.users, args.seed)
    truth = generate_population(args.users, seed=args.seed).truth
    truth = truth.assign(user_id=truth["user_id"].astype(str))
    tables = build_graph_tables(task.frames, hmac_key="risky-links-key-0123456789").tables
    as_of = pd.Timestamp(task.run_date, tz="UTC")
    t0 = time.perf_counter()
    model = GraphRiskModel(GraphRiskConfig(seed=args.seed)).fit(tables, as_of)
    risk = model.predict_proba(tables, as_of)[:, 1]
    fit_score_s = time.perf_counter() - t0
    test = pd.Index(tables.users["user_id"].astype(str)).get_indexer(task.test_ids)
    chosen = test[np.argsort(-risk[test], kind="stable")[: args.explain]]
    ids = tables.users["user_id"].astype(str).to_numpy()[chosen]
    t0 = time.perf_counter()
    top = risky_links(model, tables, as_of, users=ids, top_k=5)
    explain_s = time.perf_counter() - t0
    every = risky_links(model, tables, as_of, users=ids, top_k=10**6, min_score=None)
    first = top.groupby("user_id", sort=False).head(1)
    outcome = truth.set_index("user_id")["outcome"]
    ring_of = truth.set_index("user_id")["ring_id"]
    ring_members = [u for u in first["user_id"].astype(str) if pd.notna(ring_of.loc[u])]
    result: dict[str, Any] = {
        "benchmark": "risky_links",
        "users": args.users,
        "seed": args.seed,
        "as_of": task.run_date,
        "D": task.story["D"],
        "selected": model.selected_,
        "explained_users": len(ids),
        "explained_true_bad_rate": float(outcome.loc[ids].mean()),
        "explained_min_risk": float(risk[chosen].min()),
        "users_with_a_positive_link": int(top["user_id"].nunique()),
        "links": {"top1": len(first), "top5": len(top), "all": len(every)},
        "per_user_share": {
            "top1": per_user_share(link_truth(first, truth)),
            "top5": per_user_share(link_truth(top, truth)),
            "all": per_user_share(link_truth(every, truth)),
        },
        # Explained users who truly are fraud-ring members: is the top link a ring-mate?
        "ring_members": {
            "users": len(ring_members),
            "top1": per_user_share(link_truth(first[first["user_id"].isin(ring_members)], truth)),
            "all": per_user_share(link_truth(every[every["user_id"].isin(ring_members)], truth)),
        },
        "evidence_agreement_top5": evidence_agreement(top, every),
        "via_type_top5": top["via_type"].value_counts().to_dict(),
        "evidence_top5": top["evidence"].value_counts().to_dict(),
        "seconds": {"fit_and_score": fit_score_s, "explain_top5": explain_s},
        "load_avg": os.getloadavg(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float))
    keys = ("per_user_share", "ring_members", "evidence_agreement_top5")
    print(json.dumps({k: result[k] for k in keys}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
