"""Hand-made graphs for the GNN tests (small enough to check every answer by eye)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskgraph.loaders import GraphTables, build_graph_tables

KEY = "gnn-test-key-0123456789"


def tiny_frames() -> dict[str, pd.DataFrame]:
    """Six users: u1-u3 share device d1, u3-u4 share card c1, u5-u6 are a family tie.

    u1 is bad (known 2024-03-01), u2 good (2024-03-05), u5 bad but only known on
    2024-06-01; u3, u4, u6 have no label.
    """
    users = pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3", "u4", "u5", "u6"],
            "registered_at": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04",
                              "2024-01-05", "2024-04-01"],
            "label": ["1", "0", "", "", "1", ""],
            "label_at": ["2024-03-01", "2024-03-05", "", "", "2024-06-01", ""],
            "age_band": ["18-24", "25-34", "25-34", "", "35-44", "18-24"],
            "income": ["1000", "3000", "", "2000", "100000", "2500"],
        }
    )  # fmt: skip
    user_devices = pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3", "u6"],
            "device_id": ["d1", "d1", "d1", "d2"],
            "first_seen": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-04-02"],
        }
    )
    user_accounts = pd.DataFrame(
        {
            "user_id": ["u3", "u4"],
            "account_id": ["c1", "c1"],
            "account_type": ["bank_card", "bank_card"],
            "linked_at": ["2024-01-03", "2024-01-04"],
        }
    )
    social = pd.DataFrame(
        {
            "src_user_id": ["u5"],
            "dst_user_id": ["u6"],
            "tie_type": ["family"],
            "created_at": ["2024-04-01"],
        }
    )
    applications = pd.DataFrame(
        {
            "application_id": ["a1", "a2", "a3", "a4"],
            "user_id": ["u1", "u2", "u4", "u6"],
            "platform_id": ["p1", "p1", "p2", "p2"],
            "applied_at": ["2024-01-10", "2024-01-11", "2024-01-12", "2024-04-03"],
            "amount": ["1000", "", "500", "800"],
            "device_id": ["d1", "d1", "d3", ""],
            "status": ["approved", "rejected", "approved", "pending"],
        }
    )
    return {
        "users": users,
        "user_devices": user_devices,
        "user_accounts": user_accounts,
        "social": social,
        "applications": applications,
    }


def tiny_tables() -> GraphTables:
    result = build_graph_tables(tiny_frames(), hmac_key=KEY)
    assert result.rejected_total == 0, result.rejects
    return result.tables


@pytest.fixture
def tiny() -> GraphTables:
    return tiny_tables()


def random_tables(n_users: int = 400, seed: int = 0, bad_rate: float = 0.1) -> GraphTables:
    """A random graph with planted rings: bad users share devices and cards.

    Labels become known on day 60-120 (``label_at``); users register over 100 days.
    """
    rng = np.random.default_rng(seed)
    ids = np.array([f"u{i:05d}" for i in range(n_users)])
    start = pd.Timestamp("2024-01-01", tz="UTC")
    reg_day = rng.integers(0, 100, n_users)
    bad = rng.random(n_users) < bad_rate
    labelled = rng.random(n_users) < 0.7
    label = np.where(labelled, bad.astype(int).astype(str), "")
    label_at = np.where(labelled, (start + pd.to_timedelta(reg_day + 30, "D")).astype(str), "")
    income = np.round(rng.lognormal(8, 0.5, n_users) * np.where(bad, 0.8, 1.0))
    users = pd.DataFrame(
        {
            "user_id": ids,
            "registered_at": (start + pd.to_timedelta(reg_day, "D")).astype(str),
            "label": label,
            "label_at": label_at,
            "income": income.astype(str),
            "region": rng.choice(["north", "south", "east"], n_users),
        }
    )
    # Ordinary users: a private device each, a few shared family devices.
    dev = np.arange(n_users) // rng.choice([1, 1, 1, 2], n_users)
    # Bad users: rings of about 5 sharing one device and one card.
    bad_idx = np.flatnonzero(bad)
    ring_dev = 10_000 + bad_idx // 5 % max(len(bad_idx) // 5, 1)
    ud = pd.DataFrame(
        {
            "user_id": np.concatenate([ids, ids[bad_idx]]),
            "device_id": np.concatenate([dev, ring_dev]).astype(str),
            "first_seen": (
                start + pd.to_timedelta(np.concatenate([reg_day, reg_day[bad_idx]]), "D")
            ).astype(str),
        }
    ).drop_duplicates(["user_id", "device_id"])
    # Every user links a card of their own; bad users also share ring cards in fours.
    rng_acc = rng.permutation(bad_idx)
    ua = pd.DataFrame(
        {
            "user_id": np.concatenate([ids, ids[rng_acc]]),
            "account_id": np.concatenate(
                [np.arange(n_users), 20_000 + np.arange(len(rng_acc)) // 4]
            ).astype(str),
            "account_type": "bank_card",
            "linked_at": (
                start + pd.to_timedelta(np.concatenate([reg_day, reg_day[rng_acc]]), "D")
            ).astype(str),
        }
    )
    src = rng.integers(0, n_users, n_users)
    dst = rng.integers(0, n_users, n_users)
    keep = src != dst
    social = pd.DataFrame(
        {"src_user_id": ids[src[keep]], "dst_user_id": ids[dst[keep]], "tie_type": "contact"}
    ).drop_duplicates()
    n_app = n_users
    app_user = rng.integers(0, n_users, n_app)
    apps = pd.DataFrame(
        {
            "application_id": [f"a{i:05d}" for i in range(n_app)],
            "user_id": ids[app_user],
            "platform_id": rng.choice(["p1", "p2", "p3"], n_app),
            "applied_at": (start + pd.to_timedelta(reg_day[app_user] + 1, "D")).astype(str),
            "amount": rng.integers(100, 5000, n_app).astype(str),
        }
    )
    frames = {"users": users, "user_devices": ud, "user_accounts": ua, "social": social,
              "applications": apps}  # fmt: skip
    result = build_graph_tables(frames, hmac_key=KEY)
    assert result.rejected_total == 0, {k: v.head() for k, v in result.rejects.items()}
    return result.tables
