"""PSI and the watchlist of score changes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from riskgraph.errors import ConfigError
from riskgraph.monitoring import (
    CHANGES_COLUMNS,
    SHIFTED,
    WATCH,
    WatchlistConfig,
    model_monitoring,
    population_stability_index,
    psi_of_counts,
    ranking_of_counts,
    score_changes,
    stability_flag,
    stability_table,
)
from riskgraph.score.development import score_histogram


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


# -- the model against its development sample -----------------------------------------
def test_psi_of_counts_and_its_flags():
    assert psi_of_counts([10, 20, 30], [10, 20, 30]) == pytest.approx(0.0)
    assert np.isnan(psi_of_counts([0, 0], [1, 2]))
    assert [stability_flag(v) for v in (0.05, 0.1, 0.2, 0.25, 0.4, np.nan)] == [
        "stable", "watch", "watch", "shifted", "shifted", "",
    ]  # fmt: skip


def test_ks_and_gini_from_counts_match_the_rows_they_count():
    from scipy.stats import ks_2samp
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    score = np.clip(rng.normal(650, 60, 4000), 350, 950).astype(int)
    bad = (rng.random(4000) < 1 / (1 + np.exp((score - 560) / 30))).astype(int)
    got = ranking_of_counts(score_histogram(score[bad == 0]), score_histogram(score[bad == 1]))
    assert got["users"] == 4000 and got["bad_rate"] == pytest.approx(bad.mean())
    assert got["gini"] == pytest.approx(2 * roc_auc_score(bad, -score) - 1)
    assert got["ks"] == pytest.approx(ks_2samp(score[bad == 0], score[bad == 1]).statistic)


@pytest.fixture(scope="module")
def developed():
    """A scorecard fitted on a development sample, and that sample."""
    from riskgraph.score import CreditScorecard

    rng = np.random.default_rng(4)
    n = 6000

    def users(util_shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
        r = np.random.default_rng(seed)
        return pd.DataFrame(
            {
                "past_dues": r.poisson(0.6, n).astype(float),
                "utilization": np.clip(r.uniform(0.0, 1.0, n) + util_shift, 0, 1.5).round(3),
            },
            index=pd.Index([f"U{seed}-{i}" for i in range(n)], name="user_id"),
        )

    frame = users()
    logit = -3.0 + 0.7 * frame["past_dues"] + 2.0 * frame["utilization"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return CreditScorecard(catalog={}, cv=3).fit(frame, y), users


def test_score_psi_and_characteristic_csi_against_the_development_sample(developed):
    from riskgraph.score import score_users

    model, users = developed
    # Another sample of the same population: stable against the development sample.
    same = score_users(model, users(seed=1))
    steady = model_monitoring(model.development_, same.scores["credit_score"], same.bins)
    assert steady.score_psi["development"] < WATCH
    assert (steady.characteristics["flag"] == "stable").all()
    assert steady.flags == []
    # Tonight's applicants use far more of their credit limits.
    drifted = score_users(model, users(util_shift=0.5, seed=2))
    report = model_monitoring(
        model.development_,
        drifted.scores["credit_score"],
        drifted.bins,
        previous=steady.to_dict(),
    )
    csi = report.characteristics.set_index("characteristic")
    assert csi.loc["utilization", "csi_development"] > SHIFTED
    assert csi.loc["utilization", "csi_previous"] > SHIFTED
    assert csi.loc["utilization", "flag"] == "shifted"
    assert csi.loc["past_dues", "csi_development"] < WATCH
    assert report.score_psi["development"] > WATCH and report.score_psi["previous"] > WATCH
    flagged = {(f["what"], f["against"]) for f in report.flags}
    assert {("utilization", "development"), ("credit_score", "development")} <= flagged
    assert ("past_dues", "development") not in flagged
    # Bands are deciles of the development scores.
    assert report.bands["development_share"].sum() == pytest.approx(1.0)
    assert report.bands["development_share"].max() < 0.25
    assert report.ranking["validation"]["gini"] > 0.2
    json.dumps(report.to_dict())  # run.json takes it as it is


def test_bad_rate_by_band_and_ranking_on_matured_labels(developed):
    from riskgraph.score import score_users

    model, users = developed
    frame = users(seed=3)
    result = score_users(model, frame)
    risk = result.scores["risk_score"].to_numpy()
    label = (np.random.default_rng(5).random(len(risk)) < risk).astype(int)
    matured = pd.DataFrame({"credit_score": result.scores["credit_score"], "label": label})
    report = model_monitoring(
        model.development_, result.scores["credit_score"], result.bins, matured=matured
    )
    assert report.ranking["matured"]["users"] == len(label)
    assert report.ranking["matured"]["gini"] > 0.2
    rates = report.bands["matured_bad_rate"].to_numpy()
    assert rates[0] > rates[-1]  # the lowest scores go bad most often
    assert report.bands["matured_users"].sum() == len(label)
    first = report.bands.iloc[0]
    low, high = (int(x) for x in first["band"].split("-"))
    in_band = (matured["credit_score"] >= low) & (matured["credit_score"] <= high)
    assert first["matured_bad_rate"] == pytest.approx(label[in_band].mean())


def test_a_model_without_its_development_sample_is_compared_with_the_previous_night():
    scores = np.arange(400, 900)
    report = model_monitoring(
        None, scores, None, previous={"score_counts": score_histogram(scores + 100)}
    )
    assert np.isnan(report.score_psi["development"])
    assert report.score_psi["previous"] > SHIFTED
    assert any("development sample" in note for note in report.notes)
