"""``DecisionPolicy``: approve, review or decline from the credit score and graph flags.

Cut-offs are on the credit score (350-950, higher is better):

* ``credit_score >= approve_from``: approve;
* ``credit_score < decline_below``: decline;
* in between: review (a person looks at the application).

Graph flags can only make a decision stricter, never looser: a member of a flagged
fraud ring, or a client of a loan intermediary (applications filed from devices that
file for many other users), goes to review even with an approving score. A
multi-borrower (``multi_borrowing``) is carried through to the output as a flag and
goes to review only when ``review_multi_borrowers`` is set, since borrowing at several
platforms is a risk the score already prices, not a sign of fraud.

With the default scaling (650 points at 20:1 odds, 40 points to double them), the
default cut-offs mean: approve below about 7.8% chance of going bad, decline above
about 19%.

Instead of scores, the cut-offs may be given as targets: an approval rate, a maximum
expected bad rate among the approved, a review budget. Each night resolves them to
scores on the users it decides (:func:`riskgraph.score.strategy.resolve_cutoffs`) and
records the scores in run.json.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskgraph.errors import ConfigError

__all__ = ["DECISIONS", "DecisionPolicy", "decide"]

#: The decisions, from best to worst.
DECISIONS = ("approve", "review", "decline")


@dataclass(frozen=True)
class DecisionPolicy:
    """Cut-offs and review rules (config file table ``[decisions]``).

    Parameters
    ----------
    approve_from : int, default 620
        Lowest credit score that is approved.
    decline_below : int, default 560
        Scores below this are declined.
    review_ring_members : bool, default True
        Members of a flagged ring are reviewed at the least.
    review_intermediary_clients : bool, default True
        Clients of a loan intermediary are reviewed at the least.
    review_multi_borrowers : bool, default False
        Multi-borrowers are reviewed at the least.
    intermediary_min_co_applicants : int, default 5
        A user is an intermediary client when at least this many other users filed
        applications from a device this user's applications came from (graph
        feature ``app_device_co_applicants``). A household tablet gives 1-3; an
        agent's phone, filing for dozens of clients, far more.
    approve_rate : float or None, default None
        Target share approved (0-1]: replaces ``approve_from`` by the highest score
        that approves at least this share.
    max_bad_rate : float or None, default None
        Target bad rate among the approved (0-1): replaces ``approve_from`` by the
        lowest score whose expected bad rate among the approved is at most this.
        With ``approve_rate`` as well, the higher of the two cut-offs.
    review_budget : float or None, default None
        Target share sent to review [0-1]: replaces ``decline_below`` by the lowest
        score that keeps the review queue within it.
    """

    approve_from: int = 620
    decline_below: int = 560
    review_ring_members: bool = True
    review_intermediary_clients: bool = True
    review_multi_borrowers: bool = False
    intermediary_min_co_applicants: int = 5
    approve_rate: float | None = None
    max_bad_rate: float | None = None
    review_budget: float | None = None

    @property
    def targets(self) -> dict[str, float]:
        """The targets that are set, by name."""
        return {
            name: value
            for name in ("approve_rate", "max_bad_rate", "review_budget")
            if (value := getattr(self, name)) is not None
        }

    def validate(self) -> DecisionPolicy:
        """Check the cut-offs; return ``self``.

        Raises
        ------
        ConfigError
            When ``decline_below`` exceeds ``approve_from`` or either is outside 350-951.
        """
        for name in ("approve_from", "decline_below"):
            value = getattr(self, name)
            if not 350 <= value <= 951:
                raise ConfigError(
                    f"DecisionPolicy.{name} = {value!r}: expected a credit score in 350-951"
                )
        if self.intermediary_min_co_applicants < 1:
            raise ConfigError(
                "DecisionPolicy.intermediary_min_co_applicants = "
                f"{self.intermediary_min_co_applicants!r}: expected an integer >= 1"
            )
        for name, low, high, low_open in (
            ("approve_rate", 0.0, 1.0, True),
            ("max_bad_rate", 0.0, 1.0, True),
            ("review_budget", 0.0, 1.0, False),
        ):
            value = getattr(self, name)
            if value is None:
                continue
            if not ((low < value if low_open else low <= value) and value <= high):
                allowed = f"{'(' if low_open else '['}{low:g}, {high:g}]"
                raise ConfigError(
                    f"DecisionPolicy.{name} = {value!r}: expected a share in {allowed}"
                )
        fixed = self.approve_rate is None and self.max_bad_rate is None
        if fixed and self.decline_below > self.approve_from:
            raise ConfigError(
                f"DecisionPolicy.decline_below = {self.decline_below} exceeds "
                f"approve_from = {self.approve_from}; expected decline_below <= approve_from"
            )
        return self


def decide(
    credit_score: np.ndarray,
    *,
    ring_member: np.ndarray | None = None,
    intermediary_client: np.ndarray | None = None,
    multi_borrowing: np.ndarray | None = None,
    policy: DecisionPolicy | None = None,
) -> pd.arrays.StringArray:
    """Decision per user.

    Parameters
    ----------
    credit_score : np.ndarray
        ``int`` ``(n,)``.
    ring_member, intermediary_client, multi_borrowing : np.ndarray, optional
        ``bool`` ``(n,)``; missing means False for everyone.
    policy : DecisionPolicy, optional

    Returns
    -------
    pd.arrays.StringArray
        ``(n,)``, each one of :data:`DECISIONS`.

    Examples
    --------
    >>> decide(np.array([700, 600, 500, 700]), ring_member=np.array([0, 0, 0, 1], bool)).tolist()
    ['approve', 'review', 'decline', 'review']
    """
    policy = (policy or DecisionPolicy()).validate()
    score = np.asarray(credit_score)
    n = len(score)
    # 0 approve, 1 review, 2 decline: stricter rules take the maximum.
    level = np.where(score >= policy.approve_from, 0, 1)
    level = np.where(score < policy.decline_below, 2, level)
    for flags, active, name in (
        (ring_member, policy.review_ring_members, "ring_member"),
        (intermediary_client, policy.review_intermediary_clients, "intermediary_client"),
        (multi_borrowing, policy.review_multi_borrowers, "multi_borrowing"),
    ):
        if flags is None or not active:
            continue
        flags = np.asarray(flags, dtype=bool)
        if flags.shape != (n,):
            raise ValueError(f"{name}: shape {flags.shape}, expected ({n},) like credit_score")
        level = np.where(flags, np.maximum(level, 1), level)
    return pd.array(np.asarray(DECISIONS, dtype=object)[level], dtype="string")
