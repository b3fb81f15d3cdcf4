"""``ScoreScaling``: from a probability of going bad to a credit score of 350-950.

The score is the log-odds of *good* on a linear points scale ("points to double
the odds", PDO):

.. math::

    \\text{score} = \\text{offset} + \\text{factor} \\cdot \\ln\\frac{1 - p}{p},
    \\qquad \\text{factor} = \\frac{\\text{pdo}}{\\ln 2},
    \\qquad \\text{offset} = \\text{base\\_score} - \\text{factor} \\cdot \\ln(\\text{base\\_odds})

With the defaults (650 points at good:bad odds of 20:1, 40 points to double the
odds), a user with a 4.8% chance of going bad scores 650, one with 2.4% about 690,
one with 9% about 610. The score is rounded to an integer and clipped to 350-950:
the ends of the range stand for p <= 0.028% and p >= 90%.

Because the credit score is computed from the probability alone (never by adding
rounded points), a higher probability of going bad can never get a higher score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from riskgraph.errors import ConfigError

__all__ = ["ScoreScaling"]


@dataclass(frozen=True)
class ScoreScaling:
    """Points/odds scaling of the credit score.

    Parameters
    ----------
    base_score : float
        Score at the base odds.
    base_odds : float
        Good:bad odds that score ``base_score`` (20 means a 1 in 21 chance of going bad).
    pdo : float
        Points to double the odds: ``base_score + pdo`` has odds ``2 * base_odds``.
    min_score, max_score : int
        The range scores are clipped to.

    Examples
    --------
    >>> s = ScoreScaling()
    >>> s.credit_score(np.array([1 / 21, 1 / 41, 0.5, 1e-9])).tolist()
    [650, 690, 477, 950]
    """

    base_score: float = 650.0
    base_odds: float = 20.0
    pdo: float = 40.0
    min_score: int = 350
    max_score: int = 950

    def validate(self) -> ScoreScaling:
        """Check the settings; return ``self``.

        Raises
        ------
        ConfigError
            Naming the setting, its value and what is allowed.
        """
        if not self.base_odds > 0:
            raise ConfigError(f"ScoreScaling.base_odds = {self.base_odds!r}: expected > 0")
        if not self.pdo > 0:
            raise ConfigError(f"ScoreScaling.pdo = {self.pdo!r}: expected > 0")
        if not self.min_score < self.max_score:
            raise ConfigError(
                f"ScoreScaling.min_score = {self.min_score!r} must be below "
                f"max_score = {self.max_score!r}"
            )
        if not self.min_score <= self.base_score <= self.max_score:
            raise ConfigError(
                f"ScoreScaling.base_score = {self.base_score!r}: expected within "
                f"[{self.min_score}, {self.max_score}]"
            )
        return self

    @property
    def factor(self) -> float:
        """Points per unit of log-odds: ``pdo / ln 2``."""
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        """Score at odds 1:1: ``base_score - factor * ln(base_odds)``."""
        return self.base_score - self.factor * math.log(self.base_odds)

    def optbinning_params(self) -> dict[str, float]:
        """The same scaling as optbinning's ``scaling_method_params`` for ``"pdo_odds"``."""
        return {"pdo": self.pdo, "odds": self.base_odds, "scorecard_points": self.base_score}

    def raw_score(self, risk: np.ndarray) -> np.ndarray:
        """Unrounded, unclipped score of probabilities of going bad.

        Parameters
        ----------
        risk : np.ndarray
            ``(n,)`` probabilities in [0, 1]; 0 and 1 give +inf and -inf.

        Returns
        -------
        np.ndarray
            ``float64`` ``(n,)``.
        """
        p = np.asarray(risk, dtype=np.float64)
        with np.errstate(divide="ignore"):
            log_odds_good = np.log1p(-p) - np.log(p)
        return self.offset + self.factor * log_odds_good

    def credit_score(self, risk: np.ndarray) -> np.ndarray:
        """Integer credit scores of probabilities of going bad.

        A non-increasing function of ``risk``: rounding and clipping can tie two
        users, never reverse them.

        Parameters
        ----------
        risk : np.ndarray
            ``(n,)`` probabilities in [0, 1].

        Returns
        -------
        np.ndarray
            ``int64`` ``(n,)`` in ``[min_score, max_score]``.

        Raises
        ------
        ValueError
            When a probability is NaN or outside [0, 1].
        """
        p = np.asarray(risk, dtype=np.float64)
        bad = ~((p >= 0.0) & (p <= 1.0))
        if bad.any():
            raise ValueError(
                f"risk: {int(bad.sum())} values are not probabilities in [0, 1], "
                f"first {float(p[bad][0])!r}"
            )
        raw = np.clip(self.raw_score(p), self.min_score, self.max_score)
        return np.rint(raw).astype(np.int64)

    def risk_at(self, score: float | np.ndarray) -> np.ndarray:
        """Probability of going bad at a score (the inverse of :meth:`raw_score`)."""
        s = np.asarray(score, dtype=np.float64)
        return 1.0 / (1.0 + np.exp((s - self.offset) / self.factor))
