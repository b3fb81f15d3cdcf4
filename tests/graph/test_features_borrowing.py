"""Multi-platform borrowing: windows, reference times, intermediaries, coordinated co-users."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskgraph.errors import ConfigError, FeatureError
from riskgraph.graph.features import (
    BorrowingConfig,
    FeatureConfig,
    MultiBorrowingThresholds,
    compute_graph_features,
)
from riskgraph.graph.features.windows import densest_window

AS_OF = pd.Timestamp("2024-06-01", tz="UTC")


def by_user(tables, **kwargs) -> pd.DataFrame:
    return compute_graph_features(tables, AS_OF, **kwargs).features.set_index("user_id")


def test_town_activity_windows(town):
    f = by_user(town)
    # a1: 05-30 08:00 (p2), 09:00 (p3), 10:00 (p4, no amount), 05-31 07:00 (p5).
    a1 = f.loc["a1"]
    assert a1[["applications_1d", "applications_7d", "applications_90d"]].tolist() == [1, 4, 4]
    assert a1[["platforms_1d", "platforms_7d", "platforms_30d"]].tolist() == [1, 4, 4]
    assert a1["max_applications_24h"] == 4  # 08:00 to 07:00 next day: 23 hours
    assert a1[["amount_sum_30d", "amount_max_90d"]].tolist() == [2500.0, 900.0]
    # a3 applied on 04-01: in the 90-day window only.
    assert f.loc["a3", ["applications_30d", "applications_90d"]].tolist() == [0, 1]
    # r1's application at exactly as_of does not exist yet.
    assert f.loc["r1", ["applications_90d", "amount_sum_90d"]].tolist() == [1, 1000.0]
    assert np.isnan(f.loc["c1", "amount_max_90d"])


def test_multi_borrowing_flag_and_thresholds(town):
    f = by_user(town)
    assert f["multi_borrowing"][lambda s: s].index.tolist() == ["a1"]  # 4 platforms in 7 days
    strict = FeatureConfig(
        borrowing=BorrowingConfig(
            thresholds=MultiBorrowingThresholds(platforms_7d=5, platforms_30d=5, applications_24h=5)
        )
    )
    assert not by_user(town, config=strict)["multi_borrowing"].any()
    loose = FeatureConfig(
        borrowing=BorrowingConfig(thresholds=MultiBorrowingThresholds(applications_24h=1))
    )
    flagged = by_user(town, config=loose)["multi_borrowing"]
    assert flagged[["a2", "a3", "r1"]].all() and not flagged["c1"]


def test_reference_time_moves_the_windows_per_user(town):
    ref = pd.Series(pd.NaT, index=range(town.num_users), dtype="datetime64[us, UTC]")
    a1 = int(np.flatnonzero(town.users["user_id"] == "a1")[0])
    ref[a1] = pd.Timestamp("2024-05-30T09:30", tz="UTC")
    f = by_user(town, reference_time=ref)
    assert f.loc["a1", ["applications_1d", "platforms_7d", "max_applications_24h"]].tolist() == [
        2,
        2,
        2,
    ]
    assert f.loc["a2", "applications_7d"] == 1  # NaT: measured at as_of
    # The graph signals still see every application before as_of.
    assert f.loc["a1", "app_device_co_applicants"] == 2


def test_intermediary_and_coordination_signals(town):
    f = by_user(town)
    assert f.loc[["a1", "a2", "a3"], "app_device_co_applicants"].tolist() == [2, 2, 2]
    assert f.loc[["r1", "r3", "h1"], "app_device_co_applicants"].tolist() == [1, 0, 0]
    # r1, r2 share phone dA and both applied to p1 two days apart; a1, a2 share the agent's
    # device and applied to p2 five days apart; a3 applied to p2 two months earlier.
    week = f["co_users_same_platform_week"]
    assert week[week > 0].sort_index().to_dict() == {"a1": 1, "a2": 1, "r1": 1, "r2": 1}
    tight = FeatureConfig(borrowing=BorrowingConfig(co_application_days=3))
    week = by_user(town, config=tight)["co_users_same_platform_week"]
    assert week[week > 0].sort_index().to_dict() == {"r1": 1, "r2": 1}


def test_busy_application_devices_give_a_lower_bound(town):
    capped = FeatureConfig(borrowing=BorrowingConfig(max_device_applicants=2))
    f = by_user(town, config=capped)
    assert f.loc[["a1", "a2"], "app_device_co_applicants"].tolist() == [2, 2]
    assert f.loc["r1", "app_device_co_applicants"] == 1


def test_reference_time_after_as_of_is_refused(town):
    ref = pd.Series(AS_OF + pd.Timedelta(days=1), index=range(town.num_users))
    with pytest.raises(FeatureError, match=r"reference_time\[0\] = .* is after as_of"):
        compute_graph_features(town, AS_OF, reference_time=ref)
    with pytest.raises(
        FeatureError, match=r"reference_time has 2 values; expected one per user \(14\)"
    ):
        compute_graph_features(town, AS_OF, reference_time=ref[:2])


def test_borrowing_config_errors_name_the_setting(town):
    bad = FeatureConfig(
        borrowing=BorrowingConfig(thresholds=MultiBorrowingThresholds(platforms_7d=0))
    )
    with pytest.raises(ConfigError, match=r"MultiBorrowingThresholds.platforms_7d = 0"):
        compute_graph_features(town, AS_OF, config=bad)


@pytest.mark.parametrize("seed", range(5))
def test_densest_window_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 6, 80)
    t = rng.integers(0, 500, 80)
    got = densest_window(group, t, 37, 7)
    for g in range(7):
        times = t[group == g]
        best = max((((times >= s) & (times < s + 37)).sum() for s in times), default=0)
        assert got[g] == best
