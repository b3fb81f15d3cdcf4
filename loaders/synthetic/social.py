"""Social ties with homophily: contacts, emergency contacts, family, transfers.

Most ties stay inside a user's community (85%), so that the community's shared
risk shows in the neighbours' outcomes. Households are fully tied as family. Ring
members name each other as emergency contacts and move money among themselves; an
intermediary fills in his clients' forms and often names another client as the
emergency contact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskgraph.loaders.synthetic.cohort import DAY, RING, Cohort
from riskgraph.loaders.synthetic.sampling import GroupIndex, rank_in_group, sorted_unique

__all__ = ["TIE_TYPES", "SocialTies", "draw_social"]

#: ``tie_type`` values, in the order of the integer codes in :attr:`SocialTies.tie_type`.
TIE_TYPES = ("contact", "emergency_contact", "family", "transfer")
CONTACT, EMERGENCY, FAMILY, TRANSFER = range(4)

_CONTACTS_PER_USER = 1.5
_TRANSFERS_PER_USER = 0.45
_IN_COMMUNITY = 0.85
# Synthetic identities have few real-world ties.
_RING_OUTSIDE_CONTACTS = 0.3
_CLIENT_EMERGENCY_IS_CLIENT = 0.3
# Mean days from both ends being users to the tie showing, per tie type.
_FORMATION_DAYS = np.array([14.0, 0.0, 3.0, 30.0])
# Tie strength (the ``weight`` column): Beta(a, b) per tie type (assumption).
_WEIGHT_BETA = np.array([[2.0, 5.0], [4.0, 2.0], [6.0, 2.0], [2.0, 3.0]])


@dataclass(frozen=True)
class SocialTies:
    """Directed social ties, one row each; no self-ties, no repeated (src, dst, type).

    Attributes
    ----------
    src, dst, tie_type, created_at : np.ndarray
        ``int64`` ``(m,)``: users, index into :data:`TIE_TYPES`, epoch seconds.
    weight : np.ndarray
        ``float64`` ``(m,)``: tie strength in (0, 1).
    """

    src: np.ndarray
    dst: np.ndarray
    tie_type: np.ndarray
    created_at: np.ndarray
    weight: np.ndarray


def draw_social(
    cohort: Cohort, first_applied: np.ndarray, end: int, rng: np.random.Generator
) -> SocialTies:
    """Draw the social ties of ``cohort``.

    Parameters
    ----------
    cohort : Cohort
        Roles, groups and registration times.
    first_applied : np.ndarray
        ``int64`` ``(n_users,)``: first application (epoch seconds), -1 = none. An
        emergency contact is named on the application form, so it dates from then.
    end : int
        End of the window: ties that would form later are not drawn.
    rng : np.random.Generator
        Source of randomness.
    """
    n = cohort.n
    ring = cohort.role == RING
    communities = GroupIndex.build(np.where(ring, -1, cohort.community), cohort.n_communities)
    rings = GroupIndex.build(cohort.ring, cohort.n_rings)
    households = GroupIndex.build(cohort.household, cohort.n_households)
    clients = GroupIndex.build(cohort.agent, cohort.n_agents)
    parts: list[tuple[np.ndarray, np.ndarray, int]] = []

    def acquaintance(src: np.ndarray) -> np.ndarray:
        """Someone from ``src``'s community (mostly) or anyone at all."""
        local = communities.random_member(cohort.community[src], rng)
        anyone = rng.integers(0, n, size=len(src))
        return np.where((rng.random(len(src)) < _IN_COMMUNITY) & (local >= 0), local, anyone)

    # Contacts and transfers: Poisson per real person, mostly within the community.
    people = np.flatnonzero(~ring)
    for tie, rate in ((CONTACT, _CONTACTS_PER_USER), (TRANSFER, _TRANSFERS_PER_USER)):
        src = np.repeat(people, rng.poisson(rate, size=len(people)))
        parts.append((src, acquaintance(src), tie))

    parts += _family_ties(cohort, households)

    # Emergency contacts, given when applying: family first, else an acquaintance;
    # ring members name each other, agents reuse another client's name.
    applicants = np.flatnonzero((first_applied >= 0) & ~ring)
    emergency = acquaintance(applicants)
    family = cohort.household[applicants] >= 0
    emergency[family] = households.random_member(cohort.household[applicants[family]], rng)
    is_client = cohort.agent[applicants] >= 0
    reuse = is_client & (rng.random(len(applicants)) < _CLIENT_EMERGENCY_IS_CLIENT)
    emergency[reuse] = clients.random_member(cohort.agent[applicants[reuse]], rng)
    parts.append((applicants, emergency, EMERGENCY))

    members = np.flatnonzero(ring)
    for tie in (EMERGENCY, TRANSFER, CONTACT):
        named = members[first_applied[members] >= 0] if tie == EMERGENCY else members
        parts.append((named, rings.random_member(cohort.ring[named], rng), tie))
    outside = members[rng.random(len(members)) < _RING_OUTSIDE_CONTACTS]
    parts.append((outside, rng.integers(0, n, size=len(outside)), CONTACT))

    src, dst, kind = _distinct_ties(parts, n)

    # A tie shows once both ends are users: soon after for contacts and transfers,
    # on the application form for an emergency contact. Ties not yet formed by the
    # end of the window are left out.
    since = np.maximum(cohort.registered[src], cohort.registered[dst])
    on_form = kind == EMERGENCY
    since[on_form] = np.maximum(first_applied[src[on_form]], cohort.registered[dst[on_form]])
    delay = rng.exponential(_FORMATION_DAYS[kind] * DAY).astype(np.int64)
    created_at = since + np.where(on_form, 0, delay)
    formed = created_at < end
    src, dst, kind, created_at = src[formed], dst[formed], kind[formed], created_at[formed]
    beta = _WEIGHT_BETA[kind]
    weight = np.round(rng.beta(beta[:, 0], beta[:, 1]), 3).clip(0.001, 0.999)
    return SocialTies(src, dst, kind, created_at, weight)


def _family_ties(
    cohort: Cohort, households: GroupIndex
) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Every pair within a household, both directions."""
    in_household = np.flatnonzero(cohort.household >= 0)
    hh = cohort.household[in_household]
    size = households.size[hh]
    rank = rank_in_group(hh)
    parts = []
    for step in range(1, int(size.max(initial=1))):
        has = size > step
        offset = (rank[has] + step) % size[has]
        partner = households.members[households.start[hh[has]] + offset]
        parts.append((in_household[has], partner, FAMILY))
    return parts


def _distinct_ties(
    parts: list[tuple[np.ndarray, np.ndarray, int]], n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(src, dst, kind)`` of the drawn ties, each once, none to oneself, sorted."""
    src = np.concatenate([p[0] for p in parts])
    dst = np.concatenate([p[1] for p in parts])
    kind = np.concatenate([np.full(len(p[0]), p[2], dtype=np.int64) for p in parts])
    keep = (src != dst) & (dst >= 0)
    key = sorted_unique((src[keep] * n + dst[keep]) * len(TIE_TYPES) + kind[keep])
    pair = key // len(TIE_TYPES)
    return pair // n, pair % n, key % len(TIE_TYPES)
