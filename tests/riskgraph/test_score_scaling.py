"""ScoreScaling: the points/odds mapping and its monotonicity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskgraph.errors import ConfigError
from riskgraph.score import ScoreScaling


def test_base_odds_score_base_points_and_pdo_doubles_the_odds():
    s = ScoreScaling(base_score=600, base_odds=50, pdo=20)
    # Odds 50:1 -> p = 1/51; odds 100:1 -> p = 1/101.
    raw = s.raw_score(np.array([1 / 51, 1 / 101, 1 / 26]))
    np.testing.assert_allclose(raw, [600.0, 620.0, 580.0])


def test_default_scaling_documented_points():
    s = ScoreScaling()
    assert s.credit_score(np.array([1 / 21, 1 / 41, 0.5])).tolist() == [650, 690, 477]


def test_clipped_to_range_at_the_extremes():
    scores = ScoreScaling().credit_score(np.array([0.0, 1e-12, 0.999999, 1.0]))
    assert scores.tolist() == [950, 950, 350, 350]


def test_risk_at_inverts_raw_score():
    s = ScoreScaling()
    p = np.array([0.001, 0.05, 0.3, 0.8])
    np.testing.assert_allclose(s.risk_at(s.raw_score(p)), p)


def test_non_probability_is_refused():
    with pytest.raises(ValueError, match=r"not probabilities in \[0, 1\], first 1.5"):
        ScoreScaling().credit_score(np.array([0.2, 1.5]))
    with pytest.raises(ValueError, match="first nan"):
        ScoreScaling().credit_score(np.array([np.nan]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pdo": 0}, r"ScoreScaling.pdo = 0: expected > 0"),
        ({"base_odds": -1}, r"ScoreScaling.base_odds = -1: expected > 0"),
        ({"min_score": 900, "max_score": 400}, "must be below"),
        ({"base_score": 1000}, r"base_score = 1000: expected within \[350, 950\]"),
    ],
)
def test_invalid_settings_are_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ScoreScaling(**kwargs).validate()


@given(
    st.lists(st.floats(min_value=0.0, max_value=1.0, allow_nan=False), min_size=2, max_size=50),
    st.floats(min_value=1.0, max_value=200.0),
    st.floats(min_value=0.5, max_value=200.0),
)
def test_higher_risk_never_gets_a_higher_score(risks, pdo, odds):
    s = ScoreScaling(pdo=pdo, base_odds=odds)
    p = np.sort(np.array(risks))
    scores = s.credit_score(p)
    assert ((scores >= 350) & (scores <= 950)).all()
    assert (np.diff(scores) <= 0).all()
