"""``DevelopmentSample``: what the scorecard keeps of the users it was developed on.

A model validator compares every night with the development sample: is the
population scored tonight still like the one the scorecard was built on (score PSI,
characteristic CSI), and does the score still rank and predict as it did then (KS,
Gini, bad rate by score band)? :meth:`CreditScorecard.fit` stores, with the model:

* the credit scores of the training users (in sample), as a histogram over 350-950;
* per scorecard variable, how many training users fell in each of its bins;
* when the regularization was cross-validated, the *out-of-fold* credit scores of the
  training users with their outcomes: each user scored by a scorecard binned and
  fitted without that user's fold, so its bad rate above a cut-off is an honest
  validation figure, not one the model was fitted to.

Histograms rather than rows: the profile of a million users is a few kilobytes, and
no personal data is kept with the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["SCORE_RANGE", "DevelopmentSample", "score_histogram"]

#: Lowest and highest credit score: histograms have one cell per score in between.
SCORE_RANGE = (350, 950)


def score_histogram(credit_score: Any) -> np.ndarray:
    """Users per credit score, ``(601,)`` int64 for scores 350..950 (clipped)."""
    low, high = SCORE_RANGE
    scores = np.clip(np.asarray(credit_score, dtype=np.int64), low, high) - low
    return np.bincount(scores, minlength=high - low + 1).astype(np.int64)


@dataclass(frozen=True)
class DevelopmentSample:
    """The development sample's profile (see the module docstring).

    Attributes
    ----------
    users : int
        Training users.
    score_counts : np.ndarray
        ``(601,)`` int64: training users per credit score 350..950 (in sample).
    bin_counts : dict[str, np.ndarray]
        Per variable, training users per bin (indexed like
        :meth:`CreditScorecard.bin_indices`: regular bins, Special, Missing).
    validation_good, validation_bad : np.ndarray or None
        ``(601,)`` int64: training users per *out-of-fold* credit score, good and
        bad; None when the regularization was not cross-validated (a fixed ``C``).
    """

    users: int
    score_counts: np.ndarray
    bin_counts: dict[str, np.ndarray] = field(default_factory=dict)
    validation_good: np.ndarray | None = None
    validation_bad: np.ndarray | None = None

    @property
    def has_validation(self) -> bool:
        """Whether out-of-fold scores with outcomes are kept."""
        return self.validation_good is not None and self.validation_bad is not None
