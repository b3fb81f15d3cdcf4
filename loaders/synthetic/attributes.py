"""User attributes (age, income, credit history) and the latent stress behind them.

Each user has a latent financial stress ``stress`` (standard normal for ordinary
users). The attributes a lender sees reflect it only noisily: past dues are Poisson
with a rate rising with stress, utilization is a noisy logistic of it. Thin-file
users (no credit history) show none of it, so their risk is harder to read from
attributes alone. Ring members wear good-looking attributes (camouflage).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskgraph.loaders.synthetic.cohort import CLIENT, MULTI, RING, Cohort
from riskgraph.loaders.synthetic.config import PopulationConfig

__all__ = ["AGE_BANDS", "INCOME_BANDS", "Attributes", "draw_attributes"]

AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")
#: Monthly income in CNY.
INCOME_BANDS = ("<3k", "3k-6k", "6k-10k", "10k-20k", "20k+")

# Age mix of online credit applicants: young-skewed (assumption).
_AGE_SHARES = np.array([0.20, 0.33, 0.24, 0.15, 0.08])
# Synthetic identities are made to look like working-age borrowers.
_RING_AGE_SHARES = np.array([0.12, 0.40, 0.30, 0.14, 0.04])
# Relative chance of a thin file by age band: the young are new to credit.
_THIN_BY_AGE = np.array([0.40, 0.13, 0.06, 0.05, 0.08])
# Mean months of credit history by age band, for users who have one.
_HISTORY_MONTHS = np.array([18.0, 48.0, 90.0, 120.0, 140.0])
_INCOME_BY_AGE = np.array([-1.0, 0.3, 0.6, 0.5, 0.0])
_INCOME_BY_REGION = np.array([1.0, 0.5, 0.0, -0.4, -0.8])
_INCOME_CUTS = np.array([-1.2, -0.3, 0.5, 1.3])

# Default log-odds effects of what the lender sees (assumptions, in the range that
# scorecards typically find: young, low-income and new-to-credit borrowers riskier).
_AGE_EFFECT = np.array([0.45, 0.15, 0.0, -0.1, 0.0])
_INCOME_EFFECT = np.array([0.5, 0.2, 0.0, -0.25, -0.5])
_STRESS_EFFECT = 0.8
# Weight of the community's stress in a user's (unit-variance) stress.
_COMMUNITY_SHARE = 0.5
_THIN_EFFECT = 0.4


@dataclass(frozen=True)
class Attributes:
    """Attributes of ``n`` users.

    Attributes
    ----------
    age_band, income_band : np.ndarray
        ``int64`` ``(n,)``: indices into :data:`AGE_BANDS` and :data:`INCOME_BANDS`.
    thin_file : np.ndarray
        ``bool`` ``(n,)``: no credit history.
    credit_history_months : np.ndarray
        ``float64`` ``(n,)``: 0 for a thin file.
    past_loans, past_dues, utilization : np.ndarray
        ``float64`` ``(n,)``: NaN for a thin file.
    stress : np.ndarray
        ``float64`` ``(n,)``: the latent financial stress (not an output column).
    community_stress : np.ndarray
        ``float64`` ``(n_communities,)``: the shared part of stress, per community.
    risk_logit : np.ndarray
        ``float64`` ``(n,)``: the part of the true default log-odds carried by stress,
        age, income and the thin file (before role and graph effects).
    """

    age_band: np.ndarray
    income_band: np.ndarray
    thin_file: np.ndarray
    credit_history_months: np.ndarray
    past_loans: np.ndarray
    past_dues: np.ndarray
    utilization: np.ndarray
    stress: np.ndarray
    community_stress: np.ndarray
    risk_logit: np.ndarray


def draw_attributes(
    cohort: Cohort, config: PopulationConfig, rng: np.random.Generator
) -> Attributes:
    """Draw every user's latent stress and the attributes that reflect it."""
    n = cohort.n
    role = cohort.role
    ring = role == RING

    # Part of stress is shared by a community (local economy, employer), so that
    # neighbours' attributes and outcomes say something about one's own risk.
    community_stress = rng.standard_normal(cohort.n_communities)
    stress = _COMMUNITY_SHARE * community_stress[cohort.community] + np.sqrt(
        1.0 - _COMMUNITY_SHARE**2
    ) * rng.standard_normal(n)
    stress[role == MULTI] += 0.8  # stressed borrowers are why they multi-borrow
    stress[role == CLIENT] += 0.3  # people who need an agent to get credit
    # Camouflage: a synthetic identity's file is built to look like a good ordinary
    # borrower, slightly better than average but not conspicuously so.
    stress[ring] = rng.normal(-0.3, 0.8, size=int(ring.sum()))

    age = rng.choice(len(AGE_BANDS), size=n, p=_AGE_SHARES)
    age[ring] = rng.choice(len(AGE_BANDS), size=int(ring.sum()), p=_RING_AGE_SHARES)

    income_score = (
        0.35 * _INCOME_BY_AGE[age]
        + 0.4 * _INCOME_BY_REGION[cohort.region]
        - 0.5 * stress
        + rng.normal(0.0, 0.8, size=n)
    )
    income_score[ring] += 0.3  # stated income, made to look good
    income = np.searchsorted(_INCOME_CUTS, income_score)

    thin_p = _THIN_BY_AGE[age] * config.thin_file_share / float(_THIN_BY_AGE @ _AGE_SHARES)
    thin = rng.random(n) < np.minimum(thin_p, 1.0)

    history = np.rint(rng.gamma(2.0, _HISTORY_MONTHS[age] / 2.0)).clip(1, 480)
    history = np.where(thin, 0.0, history)
    past_loans = rng.poisson(np.exp(0.3 + 0.25 * age + 0.15 * stress)).astype(np.float64)
    past_dues = rng.poisson(np.exp(-1.8 + 0.9 * stress)).astype(np.float64)
    utilization = 1.15 / (1.0 + np.exp(-(-0.8 + 0.9 * stress + rng.normal(0.0, 0.6, size=n))))
    utilization = np.round(utilization, 3)
    for column in (past_loans, past_dues, utilization):
        column[thin] = np.nan

    risk_logit = (
        _STRESS_EFFECT * stress + _AGE_EFFECT[age] + _INCOME_EFFECT[income] + _THIN_EFFECT * thin
    )
    return Attributes(
        age_band=age,
        income_band=income,
        thin_file=thin,
        credit_history_months=history,
        past_loans=past_loans,
        past_dues=past_dues,
        utilization=utilization,
        stress=stress,
        community_stress=community_stress,
        risk_logit=risk_logit,
    )
