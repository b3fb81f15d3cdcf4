"""Precision and recall of ``ring_flag`` on synthetic worlds whose ring stories vary.

The flag is decided from the population it is given (bursts against this population's
own registration and first-application times, known-bad members against its base rate:
docs/features.md). This script measures it where the truth is known: for each world of
``riskgraph.loaders.synthetic.random_world`` (and the default population), a flagged user
is right when the generator made it a fraud-ring member; recall is over every ring member
and over the members of rings that share at least one identifier (a ring that shares
nothing is no component of shared identifiers, and no identifier rule can find it).

Usage
  python benchmarks/rings.py [--users 20000] [--worlds 8] [--out benchmarks/results/rings.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from riskgraph.graph.features import compute_graph_features
from riskgraph.loaders import build_graph_tables
from riskgraph.loaders.synthetic import generate_population
from riskgraph.loaders.synthetic.worlds import generate_world, random_world

KEY = "rings-benchmark-key-0123456789abcdef"


def measure(name: str, population, knobs: dict) -> dict:
    tables = build_graph_tables(population.tables, hmac_key=KEY).tables
    as_of = pd.Timestamp(population.end)
    clock = time.perf_counter()
    features = compute_graph_features(tables, as_of).features
    seconds = time.perf_counter() - clock
    truth = population.truth.set_index(population.truth["user_id"].astype(str))
    flagged = features.set_index(features["user_id"].astype(str))["ring_flag"]
    truth = truth.loc[flagged.index]
    member = truth["ring_id"].notna().to_numpy()
    in_component = features.set_index(features["user_id"].astype(str))["ring_id"].notna()
    flag = flagged.to_numpy(dtype=bool)
    findable = member & in_component.to_numpy()
    tp = int((flag & member).sum())
    return {
        "world": name,
        "users": len(flag),
        "ring_members": int(member.sum()),
        "ring_members_sharing_an_identifier": int(findable.sum()),
        "flagged": int(flag.sum()),
        "true_flags": tp,
        "precision": tp / flag.sum() if flag.any() else float("nan"),
        "recall": tp / member.sum() if member.any() else float("nan"),
        "recall_of_sharing_members": tp / findable.sum() if findable.any() else float("nan"),
        "false_flags_intermediary_clients": int(
            (flag & ~member & truth["intermediary_id"].notna().to_numpy()).sum()
        ),
        "false_flags_household": int(
            (flag & ~member & truth["household_id"].notna().to_numpy()).sum()
        ),
        "feature_seconds": seconds,
        "knobs": knobs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--worlds", type=int, default=8)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "rings.json"
    )
    args = parser.parse_args(argv)
    rows = [measure("synthetic", generate_population(args.users, seed=0), {})]
    print(rows[-1], flush=True)
    for seed in range(args.worlds):
        world = random_world(seed)
        knobs = dict(world.story)
        rows.append(measure(f"world-{seed}", generate_world(world, args.users), knobs))
        print({k: v for k, v in rows[-1].items() if k != "knobs"}, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2, default=float))
    print(
        "| world | ring members | of them sharing an identifier | flagged | precision | recall | recall of sharing members |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['world']} | {r['ring_members']} | {r['ring_members_sharing_an_identifier']} | "
            f"{r['flagged']} | {r['precision']:.2f} | {r['recall']:.2f} | {r['recall_of_sharing_members']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
