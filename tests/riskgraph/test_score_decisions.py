"""DecisionPolicy and decide: cut-offs, and graph flags only ever make it stricter."""

from __future__ import annotations

import numpy as np
import pytest

from riskgraph.errors import ConfigError
from riskgraph.score import DecisionPolicy, decide


def test_cut_offs():
    policy = DecisionPolicy(approve_from=620, decline_below=560)
    got = decide(np.array([950, 620, 619, 560, 559, 350]), policy=policy)
    assert list(got) == ["approve", "approve", "review", "review", "decline", "decline"]


def test_ring_members_and_intermediary_clients_are_reviewed_at_least():
    score = np.array([800, 800, 800, 500, 600])
    ring = np.array([True, False, False, True, False])
    client = np.array([False, True, False, False, True])
    got = decide(score, ring_member=ring, intermediary_client=client)
    # A decline stays a decline, a review stays a review.
    assert list(got) == ["review", "review", "approve", "decline", "review"]


def test_multi_borrowers_reviewed_only_when_configured():
    score = np.array([800])
    multi = np.array([True])
    assert list(decide(score, multi_borrowing=multi)) == ["approve"]
    policy = DecisionPolicy(review_multi_borrowers=True)
    assert list(decide(score, multi_borrowing=multi, policy=policy)) == ["review"]


def test_flags_can_be_switched_off():
    policy = DecisionPolicy(review_ring_members=False)
    assert list(decide(np.array([800]), ring_member=np.array([True]), policy=policy)) == ["approve"]


def test_flag_shape_must_match():
    with pytest.raises(ValueError, match=r"ring_member: shape \(1,\), expected \(2,\)"):
        decide(np.array([700, 700]), ring_member=np.array([True]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"approve_from": 500, "decline_below": 600},
            "decline_below = 600 exceeds approve_from = 500",
        ),
        ({"approve_from": 1200}, r"approve_from = 1200: expected a credit score in 350-951"),
        ({"intermediary_min_co_applicants": 0}, "intermediary_min_co_applicants = 0"),
        ({"approve_rate": 0.0}, r"approve_rate = 0.0: expected a share in \(0, 1\]"),
        ({"max_bad_rate": 1.5}, r"max_bad_rate = 1.5: expected a share in \(0, 1\]"),
        ({"review_budget": -0.1}, r"review_budget = -0.1: expected a share in \[0, 1\]"),
    ],
)
def test_invalid_policy_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        DecisionPolicy(**kwargs).validate()


def test_a_target_replaces_its_cut_off_so_a_fixed_order_no_longer_applies():
    # decline_below above the default approve_from is fine once a target sets approve_from.
    policy = DecisionPolicy(decline_below=640, approve_rate=0.5).validate()
    assert policy.targets == {"approve_rate": 0.5}
    assert DecisionPolicy().targets == {}
