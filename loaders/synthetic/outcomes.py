"""The true probability of going bad, and the outcome drawn from it.

The default log-odds of a user add up, in this order:

1. the intercept ``config.base_logit``;
2. what attributes carry: latent stress, age, income, thin file
   (:attr:`Attributes.risk_logit`);
3. a community effect (shared local economy; only visible through neighbours'
   outcomes), scaled by ``config.community_effect_scale``, a household effect, and an
   individual effect nobody can see;
4. the role: multi-borrowers +0.9; intermediary clients +0.6 plus their agent's
   effect (agents differ: some only fill forms, some package fraud; mean
   ``config.agent_logit_mean``); ring members are replaced outright by a ring-level
   logit around ``config.ring_logit_mean`` (they mean not to pay, whatever their
   attributes say);
5. exposure: ``config.exposure_weight`` times the mean excess log-odds of the user's
   social neighbours (peer effects).

A graph model can recover (3)-(5) in part from neighbours' labels and shared
devices and accounts; it cannot recover the individual effect, which keeps the
ceiling (AUC of the true probability) below 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskgraph.loaders.synthetic.attributes import Attributes
from riskgraph.loaders.synthetic.cohort import CLIENT, MULTI, RING, Cohort
from riskgraph.loaders.synthetic.config import PopulationConfig
from riskgraph.loaders.synthetic.social import SocialTies

__all__ = ["Outcomes", "draw_outcomes"]

# Spreads of the unobserved effects, on the log-odds scale (assumptions).
# The community's stress acts on risk beyond what the user's own attributes show.
_COMMUNITY_DIRECT = 0.5
_COMMUNITY_SD = 0.4
_HOUSEHOLD_SD = 0.6
_INDIVIDUAL_SD = 0.6
_AGENT_SD = 0.7
_MULTI_EFFECT = 0.9
_CLIENT_EFFECT = 0.6
# Ring members: most go bad (first-payment default is the bust-out); the mean of the
# ring-level log-odds is config.ring_logit_mean.
_RING_SD, _RING_MEMBER_SD = 0.5, 0.5


@dataclass(frozen=True)
class Outcomes:
    """True risk of ``n`` users.

    Attributes
    ----------
    p_bad : np.ndarray
        ``float64`` ``(n,)``: the true probability of going bad.
    outcome : np.ndarray
        ``bool`` ``(n,)``: whether the user goes bad (drawn from ``p_bad``).
    community_effect, exposure : np.ndarray
        ``float64`` ``(n,)``: two of the graph components of the log-odds, kept for
        evaluation.
    """

    p_bad: np.ndarray
    outcome: np.ndarray
    community_effect: np.ndarray
    exposure: np.ndarray


def draw_outcomes(
    cohort: Cohort,
    attributes: Attributes,
    social: SocialTies,
    config: PopulationConfig,
    rng: np.random.Generator,
) -> Outcomes:
    """Combine attributes, role and graph effects into ``p_bad``; draw the outcomes."""
    n = cohort.n
    role = cohort.role
    community_effect = (
        _COMMUNITY_DIRECT * attributes.community_stress
        + rng.normal(0.0, _COMMUNITY_SD, size=cohort.n_communities)
    )[cohort.community] * config.community_effect_scale
    household_effect = np.where(
        cohort.household >= 0,
        rng.normal(0.0, _HOUSEHOLD_SD, size=max(cohort.n_households, 1))[
            np.maximum(cohort.household, 0)
        ],
        0.0,
    )
    agent_effect = rng.normal(config.agent_logit_mean, _AGENT_SD, size=max(cohort.n_agents, 1))
    ring_effect = rng.normal(config.ring_logit_mean, _RING_SD, size=max(cohort.n_rings, 1))

    logit = (
        config.base_logit
        + attributes.risk_logit
        + community_effect
        + household_effect
        + rng.normal(0.0, _INDIVIDUAL_SD, size=n)
    )
    logit[role == MULTI] += _MULTI_EFFECT
    clients = role == CLIENT
    logit[clients] += _CLIENT_EFFECT + agent_effect[cohort.agent[clients]]
    ring = role == RING
    logit[ring] = ring_effect[cohort.ring[ring]] + rng.normal(
        0.0, _RING_MEMBER_SD, size=int(ring.sum())
    )

    # Exposure: mean excess log-odds over a user's ties (either direction).
    excess = logit - logit.mean() if n else logit
    ends = np.concatenate([social.src, social.dst])
    others = np.concatenate([social.dst, social.src])
    total = np.bincount(ends, weights=excess[others], minlength=n)
    count = np.bincount(ends, minlength=n)
    exposure = np.divide(total, count, out=np.zeros(n), where=count > 0)
    logit = np.where(ring, logit, logit + config.exposure_weight * exposure)

    p_bad = 1.0 / (1.0 + np.exp(-logit))
    outcome = rng.random(n) < p_bad
    return Outcomes(p_bad, outcome, community_effect, exposure)
