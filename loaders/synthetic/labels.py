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
``PopulationConfig.label_delay_scale`` stretches or shrinks every lag.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskgraph.loaders.synthetic.applications import APPROVED, ApplicationDetails, ApplicationTimes
from riskgraph.loaders.synthetic.cohort import DAY, RING, Cohort
from riskgraph.loaders.synthetic.config import LayerDraw, PopulationConfig

__all__ = ["Labels", "draw_labels", "label_known_probability"]

# Lag from the first approved loan to the label: base days + Gamma(2, scale days),
# times config.label_delay_scale.
_LAG_SHAPE = 2.0
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
    draw: LayerDraw,
) -> Labels:
    """Label every approved user whose label has arrived before ``draw.end``."""
    config, end, rng = draw.config, draw.end, draw.rng
    n = cohort.n
    approved = details.status == APPROVED
    users = times.user[approved]
    # Applications are sorted by user then time, so the first row of each user wins.
    first_rows = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if len(users) else users
    approved_at = np.full(n, -1, dtype=np.int64)
    approved_at[users[first_rows]] = times.applied_at[approved][first_rows]

    base, scale = _lag_days(cohort, outcome)
    lag = ((base + rng.gamma(_LAG_SHAPE, scale)) * config.label_delay_scale * DAY).astype(np.int64)
    label_at = np.where(approved_at >= 0, approved_at + lag, -1)
    known = (label_at >= 0) & (label_at < end)
    label = np.where(known, outcome.astype(np.int8), np.int8(-1)).astype(np.int8)
    return Labels(label, np.where(known, label_at, -1), approved_at)


def label_known_probability(
    cohort: Cohort,
    outcome: np.ndarray,
    approved_at: np.ndarray,
    config: PopulationConfig,
    end: int,
) -> np.ndarray:
    """Probability that each user's label is known by ``end``, given its outcome.

    The chance, over the lag draw of :func:`draw_labels`, that the label arrives
    before ``end``; 0 for a user never approved.

    Parameters
    ----------
    cohort : Cohort
        Roles (ring members' bad labels come sooner).
    outcome : np.ndarray
        ``bool`` ``(n,)``: the outcome to assume for each user.
    approved_at : np.ndarray
        ``int64`` ``(n,)``: first approved application (epoch seconds), -1 = never
        (:attr:`Labels.approved_at`).
    config : PopulationConfig
        ``label_delay_scale``.
    end : int
        End of the window (epoch seconds).

    Returns
    -------
    np.ndarray
        ``float64`` ``(n,)`` in [0, 1].
    """
    base, scale = _lag_days(cohort, outcome)
    # lag < end - approved_at  <=>  Gamma(2, scale) < available days - base
    available = (end - approved_at) / (config.label_delay_scale * DAY) - base
    x = np.maximum(available, 0.0) / scale
    # The Gamma(2, 1) distribution function.
    known = 1.0 - np.exp(-x) * (1.0 + x)
    return np.where(approved_at >= 0, known, 0.0)


def _lag_days(cohort: Cohort, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Base days and Gamma scale (days) of each user's label lag, by outcome and role."""
    ring = cohort.role == RING
    base = np.where(outcome, np.where(ring, _RING_BAD_LAG[0], _BAD_LAG[0]), _GOOD_LAG[0])
    scale = np.where(outcome, np.where(ring, _RING_BAD_LAG[1], _BAD_LAG[1]), _GOOD_LAG[1])
    return base, scale
