"""``calibrate_base_logit``: the intercept that gives a population a chosen bad rate.

The bad rate a lender measures is the one among *labelled* users, which depends on
more than the intercept: who gets approved, how soon labels arrive (bad ones come
sooner), how many ring members there are and how bad they are. So the intercept is
found on the generator itself: the story of a pilot population is drawn once, and
for each candidate intercept the true risk is recomputed (same random draws) and
the expected bad rate among labelled users taken over the label model's lag
distribution, without drawing outcomes. That rate rises with the intercept, so a
bracketing root finder (Brent's method) finds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from riskgraph.errors import ConfigError
from riskgraph.loaders.synthetic.cohort import RING
from riskgraph.loaders.synthetic.config import PopulationConfig
from riskgraph.loaders.synthetic.labels import label_known_probability
from riskgraph.loaders.synthetic.outcomes import draw_outcomes
from riskgraph.loaders.synthetic.population import DEFAULT_END, window
from riskgraph.loaders.synthetic.story import Story, draw_story, stage_rng

__all__ = ["Calibration", "Pilots", "calibrate_base_logit"]

# Intercepts searched: from almost nobody bad outside rings to almost everybody bad.
_LOWEST, _HIGHEST = -20.0, 8.0
_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Calibration:
    """An intercept and what it gives the pilot population.

    Attributes
    ----------
    base_logit : float
        The intercept (``PopulationConfig.base_logit``).
    bad_rate : float
        Expected bad rate among labelled users at that intercept.
    ring_bad_share : float
        Share of the expected labelled bad users who are ring members.
    """

    base_logit: float
    bad_rate: float
    ring_bad_share: float


@dataclass(frozen=True)
class Pilots:
    """The pilot populations an intercept is measured on.

    Parameters
    ----------
    n_users, days, end
        Each pilot population, as for
        :func:`~riskgraph.loaders.synthetic.generate_population`.
    seeds : sequence of int
        One pilot population per seed; the rate is pooled over them. With one seed,
        ``generate_population`` with the same arguments gives a population whose
        realized rate differs from the target by outcome noise only; several seeds
        aim at the configuration's typical rate, which matters where a few rings or
        communities carry much of the risk and one draw can be far from another.
    """

    n_users: int = 20_000
    days: int = 180
    end: str | pd.Timestamp = DEFAULT_END
    seeds: Sequence[int] = (0,)


def calibrate_base_logit(
    config: PopulationConfig, target_bad_rate: float, pilots: Pilots | None = None
) -> Calibration:
    """Find the ``base_logit`` that gives ``target_bad_rate`` among labelled users.

    Parameters
    ----------
    config : PopulationConfig
        Every other setting; its ``base_logit`` is ignored.
    target_bad_rate : float
        Wanted bad rate among labelled users, in (0, 1).
    pilots : Pilots, optional
        The populations the rate is measured on (default ``Pilots()``).

    Returns
    -------
    Calibration

    Raises
    ------
    ConfigError
        For a target outside (0, 1), no seed, or a target no intercept reaches
        (ring members alone, whose risk ignores the intercept, already exceed it).

    Examples
    --------
    >>> c = calibrate_base_logit(PopulationConfig(), 0.05, Pilots(n_users=3000))
    >>> round(c.bad_rate, 4)
    0.05
    """
    if not 0.0 < target_bad_rate < 1.0:
        raise ConfigError(f"target_bad_rate = {target_bad_rate!r}: expected a rate in (0, 1)")
    pilots = pilots or Pilots()
    if len(pilots.seeds) == 0:
        raise ConfigError("seeds = (): expected at least one pilot seed")
    config = config.validate()
    _, start, stop = window(pilots.days, pilots.end)
    drawn = [
        _Pilot(draw_story(int(pilots.n_users), config, seed, start, stop), config, seed, stop)
        for seed in pilots.seeds
    ]

    def at(base_logit: float) -> Calibration:
        bad, labelled, ring_bad = np.sum([pilot.expected(base_logit) for pilot in drawn], axis=0)
        return Calibration(
            base_logit=float(base_logit),
            bad_rate=float(bad / labelled) if labelled > 0 else 0.0,
            ring_bad_share=float(ring_bad / bad) if bad > 0 else 0.0,
        )

    low, high = at(_LOWEST), at(_HIGHEST)
    if not low.bad_rate <= target_bad_rate <= high.bad_rate:
        raise ConfigError(
            f"target_bad_rate = {target_bad_rate!r}: this configuration's labelled bad "
            f"rate can only range over {low.bad_rate:.4%} to {high.bad_rate:.4%} "
            f"(ring_share = {config.ring_share}, ring_logit_mean = {config.ring_logit_mean})"
        )
    root = brentq(
        lambda base_logit: at(base_logit).bad_rate - target_bad_rate,
        _LOWEST,
        _HIGHEST,
        xtol=_TOLERANCE,
    )
    return at(root)


class _Pilot:
    """One pilot story: its expected labelled bad users as a function of the intercept."""

    def __init__(self, story: Story, config: PopulationConfig, seed: int, end: int) -> None:
        self.story, self.config, self.seed = story, config, seed
        cohort, approved_at = story.cohort, story.labels.approved_at
        everyone = np.ones(cohort.n, dtype=bool)
        # Whether a label is known by the end depends on the outcome (bad labels come
        # sooner), not on the intercept: computed once for either outcome.
        self.known_if_bad = label_known_probability(cohort, everyone, approved_at, config, end)
        self.known_if_good = label_known_probability(cohort, ~everyone, approved_at, config, end)
        self.ring = cohort.role == RING

    def expected(self, base_logit: float) -> tuple[float, float, float]:
        """Expected labelled bad users, labelled users and labelled bad ring members."""
        s = self.story
        config = replace(self.config, base_logit=base_logit)
        # The stream of the outcome layer, fresh each time: the same random effects
        # for every intercept, so the rate is a smooth function of it.
        p_bad = draw_outcomes(
            s.cohort, s.attributes, s.social, config, stage_rng(self.seed, "outcomes")
        ).p_bad
        bad = p_bad * self.known_if_bad
        labelled = bad.sum() + ((1.0 - p_bad) * self.known_if_good).sum()
        return float(bad.sum()), float(labelled), float(bad[self.ring].sum())
