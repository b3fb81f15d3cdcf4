"""The cut-off strategy: targets resolved to cut-offs, and the strategy table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskgraph.score import DecisionPolicy
from riskgraph.score.development import DevelopmentSample, score_histogram
from riskgraph.score.scaling import ScoreScaling
from riskgraph.score.strategy import resolve_cutoffs, strategy_table


def population(n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Credit scores and the calibrated risks they stand for."""
    rng = np.random.default_rng(seed)
    risk = np.clip(rng.beta(1.0, 12.0, n), 1e-4, 0.999)
    return ScoreScaling().credit_score(risk), risk


def shares(credit, cut, forced=None):
    forced = np.zeros(len(credit), bool) if forced is None else forced
    approved = (credit >= cut.approve_from) & ~forced
    review = (credit >= cut.decline_below) & ~approved
    return approved.mean(), review.mean()


@pytest.mark.parametrize("target", [0.5, 0.7, 0.9])
def test_an_approval_rate_target_is_met_to_the_users_tied_on_one_score(target):
    credit, risk = population()
    cut = resolve_cutoffs(DecisionPolicy(approve_rate=target), credit, risk)
    approved, _ = shares(credit, cut)
    assert approved == pytest.approx(cut.approve_rate)
    assert target <= approved <= target + (credit == cut.approve_from).mean()
    # The highest such cut-off: one point higher approves less than the target.
    assert ((credit >= cut.approve_from + 1).mean()) < target
    assert cut.binding == "approve_rate" and cut.notes == ()


def test_flagged_users_are_never_counted_as_approved():
    credit, risk = population()
    forced = np.random.default_rng(1).random(len(credit)) < 0.05
    cut = resolve_cutoffs(DecisionPolicy(approve_rate=0.7), credit, risk, forced)
    approved, _ = shares(credit, cut, forced)
    assert 0.7 <= approved < 0.71
    # Without the flags the same cut-off would approve more.
    assert (credit >= cut.approve_from).mean() > approved + 0.02
    unreachable = resolve_cutoffs(DecisionPolicy(approve_rate=0.99), credit, risk, forced)
    assert unreachable.approve_from == 350
    assert "cannot be reached" in unreachable.notes[0]


def test_a_bad_rate_target_takes_the_lowest_cut_off_within_it():
    credit, risk = population()
    cut = resolve_cutoffs(DecisionPolicy(max_bad_rate=0.05), credit, risk)
    approved = credit >= cut.approve_from
    assert risk[approved].mean() <= 0.05 < risk[credit >= cut.approve_from - 1].mean()
    assert cut.expected_bad_rate == pytest.approx(risk[approved].mean())
    both = resolve_cutoffs(DecisionPolicy(max_bad_rate=0.05, approve_rate=0.95), credit, risk)
    assert both.approve_from == cut.approve_from and both.binding == "max_bad_rate"


def test_a_review_budget_widens_the_review_band_as_far_as_it_allows():
    credit, risk = population()
    cut = resolve_cutoffs(DecisionPolicy(review_budget=0.10), credit, risk)
    assert cut.approve_from == 620
    _, review = shares(credit, cut)
    assert review == pytest.approx(cut.review_rate) and review <= 0.10
    wider = ((credit >= cut.decline_below - 1) & (credit < 620)).mean()
    assert wider > 0.10
    assert cut.approve_rate + cut.review_rate + cut.decline_rate == pytest.approx(1.0)


def test_fixed_cut_offs_are_kept_and_their_shares_recorded():
    credit, risk = population()
    cut = resolve_cutoffs(DecisionPolicy(), credit, risk)
    assert (cut.approve_from, cut.decline_below, cut.binding, cut.targets) == (620, 560, None, {})
    assert cut.to_dict()["approve_rate"] == pytest.approx((credit >= 620).mean())


def test_strategy_table_every_ten_points_with_expected_and_observed_bad_rates():
    credit, risk = population()
    rng = np.random.default_rng(2)
    label = (rng.random(len(risk)) < risk).astype(int)
    development = DevelopmentSample(
        users=len(credit),
        score_counts=score_histogram(credit),
        validation_good=score_histogram(credit[label == 0]),
        validation_bad=score_histogram(credit[label == 1]),
    )
    recent = pd.DataFrame({"credit_score": credit[:5000], "label": label[:5000]})
    table = strategy_table(credit, risk, development=development, labelled=recent)
    assert table["cutoff"].tolist() == list(range(350, 951, 10))
    assert (np.diff(table["approval_rate"]) <= 0).all()
    row = table.set_index("cutoff").loc[620]
    approved = credit >= 620
    assert row["approval_rate"] == pytest.approx(approved.mean())
    assert row["expected_bad_rate"] == pytest.approx(risk[approved].mean())
    assert row["validation_bad_rate"] == pytest.approx(label[approved].mean())
    assert row["recent_approved"] == approved[:5000].sum()
    assert row["recent_bad_rate"] == pytest.approx(label[:5000][approved[:5000]].mean())
    # Calibrated: what is expected is what is observed, within sampling noise.
    assert abs(row["expected_bad_rate"] - row["validation_bad_rate"]) < 0.005
    bare = strategy_table(credit, risk)
    assert bare["validation_bad_rate"].isna().all() and (bare["recent_approved"] == 0).all()
