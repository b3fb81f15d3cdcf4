"""What the lender learns about outcomes, and when (``label``, ``label_at``).

A user's outcome becomes observable only through a loan: users never approved stay
unlabelled whatever their true outcome (the lender cannot see how a rejected
applicant would have repaid). For an approved user the label arrives after a lag
counted from the first approved application:

* bad, ring member: first-payment default: the first monthly instalment falls due
  30 days after the loan and is flagged 15 days past due, so about 45-70 days;
* bad, anyone else: 30+ days past due on the first or a later instalment, about
  60-120 days after the loan;
* good: two instalments paid on time, about 60-100 days after the loan.

These follow the usual industry definitions (first-payment default; bad = 30+ days
past due within the performance window); the exact lags are assumptions. A label
whose time falls after the window's end is not yet known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskgraph.loaders.synthetic.applications import APPROVED, ApplicationDetails, ApplicationTimes
from riskgraph.loaders.synthetic.cohort import DAY, RING, Cohort

__all__ = ["Labels", "draw_labels"]

# Lag from the first approved loan to the label: base days + Gamma(2, scale days).
_RING_BAD_LAG = (45.0, 5.0)
_BAD_LAG = (60.0, 12.0)
_GOOD_LAG = (60.0, 8.0)


@dataclass(frozen=True)
class Labels:
    """Observed labels of ``n`` users.

    Attributes
    ----------
    label : np.ndarray
        ``int8`` ``(n,)``: 1 bad, 0 good, -1 unknown.
    label_at : np.ndarray
        ``int64`` ``(n,)``: when the label became known (epoch seconds); -1 = unknown.
    approved_at : np.ndarray
        ``int64`` ``(n,)``: the first approved application; -1 = never approved.
    """

    label: np.ndarray
    label_at: np.ndarray
    approved_at: np.ndarray


def draw_labels(
    cohort: Cohort,
    outcome: np.ndarray,
    times: ApplicationTimes,
    details: ApplicationDetails,
    end: int,
    rng: np.random.Generator,
) -> Labels:
    """Label every approved user whose label has arrived before ``end``."""
    n = cohort.n
    approved = details.status == APPROVED
    users = times.user[approved]
    # Applications are sorted by user then time, so the first row of each user wins.
    first_rows = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if len(users) else users
    approved_at = np.full(n, -1, dtype=np.int64)
    approved_at[users[first_rows]] = times.applied_at[approved][first_rows]

    ring = cohort.role == RING
    base = np.where(outcome, np.where(ring, _RING_BAD_LAG[0], _BAD_LAG[0]), _GOOD_LAG[0])
    scale = np.where(outcome, np.where(ring, _RING_BAD_LAG[1], _BAD_LAG[1]), _GOOD_LAG[1])
    lag = ((base + rng.gamma(2.0, scale)) * DAY).astype(np.int64)
    label_at = np.where(approved_at >= 0, approved_at + lag, -1)
    known = (label_at >= 0) & (label_at < end)
    label = np.where(known, outcome.astype(np.int8), np.int8(-1)).astype(np.int8)
    return Labels(label, np.where(known, label_at, -1), approved_at)
