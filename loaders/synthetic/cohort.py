"""Who the users are: roles, fraud rings, intermediaries, communities, households.

This is the first layer of the generative story: it decides, per user, the role
(ordinary, ring member, intermediary client, multi-borrower), the groups the user
belongs to, and when the user registered. Devices, accounts, ties and applications
are drawn on top of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from riskgraph.loaders.synthetic.config import PopulationConfig

__all__ = ["DAY", "REGIONS", "ROLES", "Cohort", "SizeLaw", "build_cohort", "group_sizes"]

#: Seconds in a day; all generator times are ``int64`` seconds since the Unix epoch.
DAY = 86_400

#: Role names, in the order of the integer codes in :attr:`Cohort.role`.
ROLES = ("normal", "ring", "intermediary_client", "multi_borrower")
NORMAL, RING, CLIENT, MULTI = range(4)

#: City tiers (the ``region`` attribute) and their population shares (assumption).
REGIONS = ("tier1", "tier2", "tier3", "tier4", "rural")
_REGION_SHARES = (0.12, 0.25, 0.28, 0.22, 0.13)

# Household sizes 2, 3, 4 among households (assumption: mostly couples).
_HOUSEHOLD_SIZES = np.array([2, 3, 4])
_HOUSEHOLD_SIZE_SHARES = np.array([0.6, 0.27, 0.13])

# An intermediary works a region for about five months (assumption).
_AGENT_ACTIVE_DAYS = 150


@dataclass(frozen=True)
class Cohort:
    """Per-user roles and group memberships; ``n`` users, groups numbered from 0.

    Attributes
    ----------
    role : np.ndarray
        ``int8`` ``(n,)``: index into :data:`ROLES`.
    ring, agent, household : np.ndarray
        ``int64`` ``(n,)``: the user's fraud ring, intermediary and household; -1 = none.
    community, region : np.ndarray
        ``int64`` ``(n,)``: social community (unit of homophily) and its city tier.
    registered : np.ndarray
        ``int64`` ``(n,)``: registration time, seconds since the epoch.
    applies : np.ndarray
        ``bool`` ``(n,)``: the user means to apply for credit (whether the application
        falls before the end of the window is decided later).
    n_rings, n_agents, n_households, n_communities : int
        Number of groups of each kind.
    agent_community : np.ndarray
        ``int64`` ``(n_agents,)``: where each intermediary works.
    """

    role: np.ndarray
    ring: np.ndarray
    agent: np.ndarray
    household: np.ndarray
    community: np.ndarray
    region: np.ndarray
    registered: np.ndarray
    applies: np.ndarray
    n_rings: int
    n_agents: int
    n_households: int
    n_communities: int
    agent_community: np.ndarray

    @property
    def n(self) -> int:
        return len(self.role)


class SizeLaw(NamedTuple):
    """Log-normal group sizes: median ``median``, log-scale spread ``sigma``, clipped
    to ``[low, high]``."""

    median: float
    sigma: float
    low: int
    high: int


def group_sizes(target: int, law: SizeLaw, rng: np.random.Generator) -> np.ndarray:
    """Group sizes drawn from ``law`` whose total is at most ``target`` (and close to it).

    Parameters
    ----------
    target : int
        Total number of members wanted.
    law : SizeLaw
        Median, spread and bounds of one group's size.
    rng : np.random.Generator

    Returns
    -------
    np.ndarray
        ``int64``: one size per group; empty when ``target < law.low``.

    Examples
    --------
    >>> sizes = group_sizes(100, SizeLaw(10, 0.5, 3, 40), np.random.default_rng(0))
    >>> bool(sizes.sum() <= 100 and sizes.min() >= 3)
    True
    """
    median, sigma, low, high = law
    if target < low:
        return np.zeros(0, dtype=np.int64)
    draws = int(target / low) + 1
    sizes = np.clip(np.rint(rng.lognormal(np.log(median), sigma, size=draws)), low, high)
    sizes = sizes.astype(np.int64)
    keep = np.cumsum(sizes) <= target
    sizes = sizes[keep]
    remainder = target - int(sizes.sum())
    if remainder >= low:  # fill up with one last group so shares are met exactly
        sizes = np.append(sizes, min(remainder, high))
    return sizes


def build_cohort(
    n: int, config: PopulationConfig, start: int, end: int, rng: np.random.Generator
) -> Cohort:
    """Assign roles, groups and registration times to ``n`` users.

    Parameters
    ----------
    n : int
        Number of users.
    config : PopulationConfig
        Shares and group sizes.
    start, end : int
        The window, seconds since the epoch: every registration is in ``[start, end)``.
    rng : np.random.Generator
        Source of randomness.
    """
    span = end - start
    ring_sizes = group_sizes(
        round(config.ring_share * n),
        SizeLaw(
            config.ring_size_median,
            config.ring_size_sigma,
            config.ring_size_min,
            config.ring_size_max,
        ),
        rng,
    )
    client_counts = group_sizes(
        round(config.intermediary_client_share * n),
        SizeLaw(config.agent_clients_median, config.agent_clients_sigma, 3, 400),
        rng,
    )
    n_ring, n_client = int(ring_sizes.sum()), int(client_counts.sum())
    n_multi = round(config.multi_borrower_share * n)

    # Roles go to a random permutation, so a user's index says nothing about its role.
    order = rng.permutation(n)
    role = np.full(n, NORMAL, dtype=np.int8)
    ring = np.full(n, -1, dtype=np.int64)
    agent = np.full(n, -1, dtype=np.int64)
    ring_members = order[:n_ring]
    clients = order[n_ring : n_ring + n_client]
    role[ring_members] = RING
    role[clients] = CLIENT
    role[order[n_ring + n_client : n_ring + n_client + n_multi]] = MULTI
    ring[ring_members] = np.repeat(np.arange(len(ring_sizes)), ring_sizes)
    agent[clients] = np.repeat(np.arange(len(client_counts)), client_counts)

    n_communities = max(1, n // config.community_size)
    community = rng.integers(0, n_communities, size=n)
    # A ring is recruited in one place; an intermediary works one community, and
    # 70% of its clients come from there (the rest by referral from anywhere).
    ring_community = rng.integers(0, n_communities, size=len(ring_sizes))
    community[ring_members] = ring_community[ring[ring_members]]
    agent_community = rng.integers(0, n_communities, size=len(client_counts))
    local = rng.random(n_client) < 0.7
    community[clients[local]] = agent_community[agent[clients[local]]]

    household, community = _households(role, community, config, rng)
    region_of_community = rng.choice(len(REGIONS), size=n_communities, p=_REGION_SHARES)
    region = region_of_community[community]

    groups = _Groups(role, ring, agent, len(ring_sizes), len(client_counts))
    registered = _registration_times(groups, config, start, span, rng)
    applies = (role != NORMAL) | (rng.random(n) < config.apply_share)
    return Cohort(
        role=role,
        ring=ring,
        agent=agent,
        household=household,
        community=community,
        region=region,
        registered=registered,
        applies=applies,
        n_rings=len(ring_sizes),
        n_agents=len(client_counts),
        n_households=int(household.max()) + 1 if n and household.max() >= 0 else 0,
        n_communities=n_communities,
        agent_community=agent_community,
    )


def _households(
    role: np.ndarray, community: np.ndarray, config: PopulationConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Group real people (not synthetic identities) of one community into households."""
    n = len(role)
    household = np.full(n, -1, dtype=np.int64)
    candidates = np.flatnonzero(role != RING)
    target = round(config.household_share * n)
    sizes = rng.choice(_HOUSEHOLD_SIZES, size=max(1, target), p=_HOUSEHOLD_SIZE_SHARES)
    sizes = sizes[np.cumsum(sizes) <= min(target, len(candidates))]
    members = int(sizes.sum())
    if members == 0:
        return household, community
    # Members are consecutive users in (community, random) order, so a household
    # almost always lies inside one community; the rare straddler joins the first.
    chosen = rng.choice(candidates, size=members, replace=False)
    chosen = chosen[np.argsort(community[chosen], kind="stable")]
    ids = np.repeat(np.arange(len(sizes)), sizes)
    household[chosen] = ids
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    community = community.copy()
    community[chosen] = community[chosen[first]][ids]
    return household, community


@dataclass(frozen=True)
class _Groups:
    """Who belongs to which ring and intermediary: ``role``, ``ring`` and ``agent``
    per user (-1 = none), and how many rings and intermediaries there are."""

    role: np.ndarray
    ring: np.ndarray
    agent: np.ndarray
    n_rings: int
    n_agents: int


def _registration_times(
    groups: _Groups,
    config: PopulationConfig,
    start: int,
    span: int,
    rng: np.random.Generator,
) -> np.ndarray:
    ring, agent, n_rings, n_agents = groups.ring, groups.agent, groups.n_rings, groups.n_agents
    n = len(groups.role)
    # Sign-ups grow over the window: density rising towards the end (u ** 0.8).
    registered = start + (rng.random(n) ** 0.8 * span).astype(np.int64)
    burst = int(config.ring_burst_days * DAY)
    ring_start = start + (rng.random(n_rings) * max(span - burst, 1)).astype(np.int64)
    members = ring >= 0
    registered[members] = ring_start[ring[members]] + (
        rng.random(int(members.sum())) * min(burst, span)
    ).astype(np.int64)
    agent_start = start + (rng.random(n_agents) * span * 0.9).astype(np.int64)
    active = np.minimum(_AGENT_ACTIVE_DAYS * DAY, start + span - agent_start)
    clients = agent >= 0
    registered[clients] = agent_start[agent[clients]] + (
        rng.random(int(clients.sum())) * active[agent[clients]]
    ).astype(np.int64)
    return np.minimum(registered, start + span - 1)
