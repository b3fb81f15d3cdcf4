"""Reason codes on hand-made users: the right sentences, with their numbers."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskgraph.score import CreditScorecard, reason_codes


@dataclass(frozen=True)
class Entry:
    name: str
    description: str
    reason: str
    risk_direction: str


CATALOG = {
    "device_bad_1hop": Entry(
        "device_bad_1hop",
        "Users with a known bad label sharing a device with the user.",
        "shares a device with {value:.0f} users who defaulted",
        "increasing",
    ),
    "platforms_30d": Entry(
        "platforms_30d",
        "Distinct lending platforms applied to in the last 30 days.",
        "applied at {value:.0f} lending platforms in the last 30 days",
        "increasing",
    ),
}


@functools.cache
def model() -> CreditScorecard:
    """Risk rises with past dues, utilization, no history, bad device neighbours and
    platforms applied to; nothing else matters."""
    rng = np.random.default_rng(3)
    n = 8000
    thin = rng.random(n) < 0.2
    dues = rng.poisson(0.6, n).astype(float)
    util = rng.uniform(0.0, 1.0, n).round(2)
    months = rng.gamma(2.0, 40.0, n).round().clip(1, 400)
    dues[thin], util[thin], months[thin] = np.nan, np.nan, 0.0
    device_bad = rng.poisson(0.2, n).astype(float)
    platforms = rng.poisson(1.0, n).astype(float)
    logit = (
        -3.5
        + 0.8 * np.nan_to_num(dues)
        + 2.0 * thin
        + 2.0 * np.nan_to_num(util)
        + 1.0 * device_bad
        + 0.5 * platforms
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {
            "credit_history_months": months,
            "past_dues": dues,
            "utilization": util,
            "device_bad_1hop": device_bad,
            "platforms_30d": platforms,
        }
    )
    return CreditScorecard(catalog=CATALOG, C=1.0).fit(frame, y)


def best_values() -> dict[str, float]:
    """Values in every variable's best bin (read off the fitted scorecard)."""
    return {
        "credit_history_months": 400.0,
        "past_dues": 0.0,
        "utilization": 0.0,
        "device_bad_1hop": 0.0,
        "platforms_30d": 0.0,
    }


def reasons_of(**users: dict[str, float]) -> pd.DataFrame:
    rows = {name: {**best_values(), **values} for name, values in users.items()}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    return reason_codes(model(), frame)


def _texts(row: pd.Series) -> list[str]:
    return [row[f"reason_{i}"] for i in (1, 2, 3) if not pd.isna(row[f"reason_{i}"])]


def test_best_user_has_no_reason():
    r = reasons_of(best={})
    assert _texts(r.loc["best"]) == []


def test_one_weak_factor_gives_one_reason_with_its_number():
    r = reasons_of(dues={"past_dues": 2.0})
    assert _texts(r.loc["dues"]) == ["2 late payments on earlier loans"]
    assert r.loc["dues", "reason_code_1"] == "past_dues"
    assert r.loc["dues", "points_lost_1"] > 0


def test_three_weak_factors_most_points_first():
    r = reasons_of(
        risky={"past_dues": 4.0, "utilization": 0.95, "device_bad_1hop": 3.0, "platforms_30d": 1.0}
    )
    texts = _texts(r.loc["risky"])
    assert set(texts) == {
        "4 late payments on earlier loans",
        "uses 95% of the credit limits already granted",
        "shares a device with 3 users who defaulted",
    }
    lost = r.loc["risky", ["points_lost_1", "points_lost_2", "points_lost_3"]].to_numpy(float)
    assert (np.diff(lost) <= 0).all()


def test_graph_template_from_the_catalogue():
    r = reasons_of(multi={"platforms_30d": 7.0})
    assert _texts(r.loc["multi"]) == ["applied at 7 lending platforms in the last 30 days"]


def test_thin_file_reads_no_credit_history_not_missing_attributes():
    r = reasons_of(thin={"credit_history_months": 0.0, "past_dues": np.nan, "utilization": np.nan})
    texts = _texts(r.loc["thin"])
    assert texts == ["no credit history yet"]
    assert r.loc["thin", "reason_code_1"] == "no_credit_history"


def test_thin_file_with_graph_risk_gets_both():
    r = reasons_of(
        thin_ring={
            "credit_history_months": 0.0,
            "past_dues": np.nan,
            "utilization": np.nan,
            "device_bad_1hop": 2.0,
        }
    )
    assert set(_texts(r.loc["thin_ring"])) == {
        "no credit history yet",
        "shares a device with 2 users who defaulted",
    }


def test_short_history_sentence():
    r = reasons_of(new={"credit_history_months": 3.0})
    assert _texts(r.loc["new"]) == ["credit history of 3 months"]
