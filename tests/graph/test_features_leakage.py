"""No time leakage: a user's own label, labels known only from as_of on, and events at or
after as_of never change a user's features (DESIGN.md, "Rules that make results
trustworthy")."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from riskgraph.graph.features import (
    FeatureConfig,
    RingConfig,
    compute_graph_features,
    visible_labels,
)

AS_OF = pd.Timestamp("2024-06-01", tz="UTC")
# Small folds and caps so that tiny graphs exercise every code path.
CONFIG = FeatureConfig(rings=RingConfig(max_sharing=4, flag_min_size=2))


def day(rng: np.random.Generator, low: int = -60, high: int = 20) -> str:
    """A timestamp around as_of (some after it), as text."""
    return str((AS_OF + pd.Timedelta(hours=int(rng.integers(low * 24, high * 24)))).isoformat())


def random_frames(seed: int, n_users: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"u{i:02d}" for i in range(n_users)]
    label = rng.choice(["", "0", "1"], size=n_users, p=[0.3, 0.4, 0.3])
    users = pd.DataFrame(
        {
            "user_id": ids,
            "registered_at": [day(rng, -400, 5) for _ in ids],
            "label": label,
            "label_at": [day(rng) if v else "" for v in label],
        }
    )

    def pairs(n: int, n_ids: int, prefix: str) -> tuple[list[str], list[str]]:
        links = sorted({(int(rng.integers(n_users)), int(rng.integers(n_ids))) for _ in range(n)})
        return [ids[u] for u, _ in links], [f"{prefix}{d}" for _, d in links]

    def maybe_time() -> str:
        return "" if rng.random() < 0.3 else day(rng)

    u, d = pairs(2 * n_users, max(2, n_users // 2), "d")
    devices = pd.DataFrame({"user_id": u, "device_id": d, "first_seen": [maybe_time() for _ in u]})
    u, a = pairs(n_users, max(2, n_users // 2), "c")
    accounts = pd.DataFrame({"user_id": u, "account_id": a, "linked_at": [maybe_time() for _ in u]})
    src = rng.integers(n_users, size=n_users)
    dst = rng.integers(n_users, size=n_users)
    keep = src != dst
    social = pd.DataFrame(
        {"src_user_id": [ids[i] for i in src[keep]], "dst_user_id": [ids[i] for i in dst[keep]]}
    ).drop_duplicates()
    social["created_at"] = [maybe_time() for _ in range(len(social))]
    n_apps = 3 * n_users
    applications = pd.DataFrame(
        {
            "application_id": [f"a{i}" for i in range(n_apps)],
            "user_id": [ids[i] for i in rng.integers(n_users, size=n_apps)],
            "platform_id": [f"p{i}" for i in rng.integers(4, size=n_apps)],
            "applied_at": [day(rng) for _ in range(n_apps)],
            "amount": [str(int(x)) for x in rng.integers(100, 5000, size=n_apps)],
            "device_id": [
                f"d{i}" if i >= 0 else ""
                for i in rng.integers(-2, max(2, n_users // 2), size=n_apps)
            ],
        }
    )
    return {
        "users": users,
        "user_devices": devices,
        "user_accounts": accounts,
        "social": social,
        "applications": applications,
    }


def features(make_tables, frames, **kwargs) -> pd.DataFrame:
    return compute_graph_features(make_tables(frames), AS_OF, config=CONFIG, **kwargs).features


def assert_rows_equal(a: pd.DataFrame, b: pd.DataFrame, rows) -> None:
    pd.testing.assert_frame_equal(a.loc[rows], b.loc[rows], check_exact=True)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_users=st.integers(3, 25), data=st.data())
def test_own_label_never_changes_own_features(make_tables, seed, n_users, data):
    frames = random_frames(seed, n_users)
    tables = make_tables(frames)
    labels = visible_labels(tables.users, AS_OF)
    user = data.draw(st.integers(0, n_users - 1), label="user")
    before = compute_graph_features(tables, AS_OF, labels=labels, config=CONFIG).features
    for value in (0.0, 1.0, np.nan):
        changed = labels.copy()
        changed[user] = value
        after = compute_graph_features(tables, AS_OF, labels=changed, config=CONFIG).features
        assert_rows_equal(before, after, [user])


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_users=st.integers(3, 25))
def test_labels_known_from_as_of_on_change_nothing(make_tables, seed, n_users):
    frames = random_frames(seed, n_users)
    before = features(make_tables, frames)
    users = frames["users"]
    future = users["label_at"].ne("") & (pd.to_datetime(users["label_at"], utc=True) >= AS_OF)
    flipped = users.copy()
    flipped.loc[future, "label"] = flipped.loc[future, "label"].map({"0": "1", "1": "0"})
    after = features(make_tables, {**frames, "users": flipped})
    pd.testing.assert_frame_equal(before, after, check_exact=True)
    # The raw label column passed by mistake: future labels are hidden all the same.
    tables = make_tables(frames)
    raw = tables.users["label"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    passed = compute_graph_features(tables, AS_OF, labels=raw, config=CONFIG).features
    pd.testing.assert_frame_equal(before, passed, check_exact=True)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_users=st.integers(3, 25))
def test_events_at_or_after_as_of_change_nothing(make_tables, seed, n_users):
    frames = random_frames(seed, n_users)
    before = features(make_tables, frames)
    rng = np.random.default_rng(seed)
    ids = frames["users"]["user_id"]
    late = str(AS_OF.isoformat()) if rng.random() < 0.5 else day(rng, 0, 30)
    n = len(ids)
    extra_devices = pd.DataFrame(
        {"user_id": ids, "device_id": ["d_late"] * n, "first_seen": [late] * n}
    )
    extra_apps = pd.DataFrame(
        {
            "application_id": [f"late{i}" for i in range(n)],
            "user_id": ids,
            "platform_id": ["p0"] * n,
            "applied_at": [late] * n,
            "amount": ["100"] * n,
            "device_id": ["d_late"] * n,
        }
    )
    later = {
        **frames,
        "user_devices": pd.concat([frames["user_devices"], extra_devices], ignore_index=True),
        "applications": pd.concat([frames["applications"], extra_apps], ignore_index=True),
    }
    after = features(make_tables, later)
    pd.testing.assert_frame_equal(before, after, check_exact=True)
