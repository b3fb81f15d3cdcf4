"""PSI and the watchlist of score changes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskgraph.errors import ConfigError
from riskgraph.monitoring import (
    CHANGES_COLUMNS,
    WatchlistConfig,
    population_stability_index,
    score_changes,
    stability_table,
)


def _scores(rows):
    return pd.DataFrame(
        rows, columns=["user_id", "credit_score", "reason_1", "reason_2", "reason_3"]
    )


def test_psi_is_zero_for_identical_and_grows_with_shift():
    x = np.arange(1000, dtype=float)
    assert population_stability_index(x, x) == pytest.approx(0.0, abs=1e-12)
    small = population_stability_index(x, x + 50)
    large = population_stability_index(x, x + 500)
    assert 0 < small < large


def test_psi_counts_missing_values_as_a_bin():
    x = np.arange(100, dtype=float)
    y = x.copy()
    y[:50] = np.nan
    assert population_stability_index(x, y) > 0.25


def test_watchlist_lists_falls_first_with_changed_reasons():
    previous = _scores(
        [
            ["a", 700, "no credit history yet", None, None],
            ["b", 650, "x", None, None],
            ["c", 600, "y", None, None],
            ["d", 500, "z", None, None],
        ]
    )
    current = _scores(
        [
            ["a", 610, "shares a device with 2 users who defaulted", "no credit history yet", None],
            ["b", 645, "x", None, None],  # moved 5 points: not listed
            ["c", 660, None, None, None],
            ["e", 400, "new user", None, None],  # no previous score: not listed
            ["d", 440, "z", "applied at 7 lending platforms in the last 30 days", None],
        ]
    )
    changes = score_changes(previous, current)
    assert tuple(changes.columns) == CHANGES_COLUMNS
    assert changes["user_id"].tolist() == ["a", "d", "c"]
    assert changes["delta"].tolist() == [-90, -60, 60]
    assert changes["previous_score"].tolist() == [700, 500, 600]
    assert changes["reasons_changed"].tolist() == [
        "new: shares a device with 2 users who defaulted",
        "new: applied at 7 lending platforms in the last 30 days",
        "gone: y",
    ]
    assert score_changes(previous, current, WatchlistConfig(max_rows=1))["user_id"].tolist() == [
        "a"
    ]


def test_watchlist_config_is_validated():
    with pytest.raises(ConfigError, match=r"watchlist\.min_abs_delta = -1"):
        score_changes(_scores([]), _scores([]), WatchlistConfig(min_abs_delta=-1))


def test_stability_table_sorts_by_psi():
    rng = np.random.default_rng(0)
    before = pd.DataFrame({"s": rng.normal(size=2000), "t": rng.normal(size=2000), "txt": "a"})
    after = pd.DataFrame({"s": rng.normal(size=2000), "t": rng.normal(2, size=2000), "txt": "a"})
    table = stability_table(before, after, ["s", "t", "txt", "absent"])
    assert table["column"].tolist() == ["t", "s"]
