"""Linked accounts: phone numbers, bank cards, e-wallets, and who shares them.

Real people link their own phone (the one they registered with), a bank card or two
and often a wallet. Synthetic identities of a ring draw on a small pool of SIM cards
and bank cards; intermediaries link their own phone on some clients to receive the
verification codes; a few households link the same card.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskgraph.loaders.synthetic.cohort import DAY, RING, Cohort
from riskgraph.loaders.synthetic.config import PopulationConfig
from riskgraph.loaders.synthetic.sampling import (
    group_starts,
    pick_from_pools,
    pool_sizes,
    sorted_unique,
)

__all__ = ["Accounts", "draw_accounts"]

CARD, PHONE, WALLET = range(3)

_SECOND_PHONE_SHARE = 0.08
# Bank cards per ordinary user: 0, 1, 2, 3 (assumption).
_CARD_COUNT_SHARES = np.array([0.08, 0.72, 0.15, 0.05])
_WALLET_SHARE = 0.45
_RING_OWN_CARD_SHARE = 0.2
_RING_WALLET_SHARE = 0.5
_RING_SECOND_CARD_SHARE = 0.4
_LINK_DAYS = 5.0


@dataclass(frozen=True)
class Accounts:
    """Accounts (``n_accounts``) and the ``user_accounts`` edges.

    Attributes
    ----------
    user, account, linked_at : np.ndarray
        ``int64`` ``(m,)``: one ``user_accounts`` row each (times in epoch seconds).
    account_type : np.ndarray
        ``int64`` ``(n_accounts,)``: index into
        :data:`riskgraph.loaders.synthetic.identifiers.ACCOUNT_TYPES`.
    """

    user: np.ndarray
    account: np.ndarray
    linked_at: np.ndarray
    account_type: np.ndarray

    @property
    def n_accounts(self) -> int:
        return len(self.account_type)


def draw_accounts(
    cohort: Cohort, config: PopulationConfig, end: int, rng: np.random.Generator
) -> Accounts:
    """Draw every account and every user-account link.

    Parameters
    ----------
    cohort : Cohort
        Roles, groups and registration times.
    config : PopulationConfig
        Sharing rates and ring pool sizes.
    end : int
        End of the window (epoch seconds): every time is before it.
    rng : np.random.Generator
        Source of randomness.
    """
    n = cohort.n
    ring = cohort.role == RING
    ledger = _Ledger()

    people = np.flatnonzero(~ring)
    ledger.personal(people, PHONE)  # the phone they registered with
    ledger.personal(people[rng.random(len(people)) < _SECOND_PHONE_SHARE], PHONE)
    n_cards = rng.choice(len(_CARD_COUNT_SHARES), size=n, p=_CARD_COUNT_SHARES)
    n_cards[ring] = rng.random(int(ring.sum())) < _RING_OWN_CARD_SHARE
    ledger.personal(np.repeat(np.arange(n), n_cards), CARD)
    wallet_p = np.where(ring, _RING_WALLET_SHARE, _WALLET_SHARE)
    ledger.personal(np.flatnonzero(rng.random(n) < wallet_p), WALLET)

    _ring_pools(ledger, cohort, config, rng)

    # Households sharing one card.
    in_household = np.flatnonzero(cohort.household >= 0)
    shares = rng.random(cohort.n_households) < config.household_card_share
    card_of_household = np.full(cohort.n_households, -1, dtype=np.int64)
    card_of_household[shares] = ledger.new_accounts(int(shares.sum()), CARD)
    sharing = in_household[shares[cohort.household[in_household]]]
    ledger.link(sharing, card_of_household[cohort.household[sharing]])

    # Intermediaries' own phones, linked on some of their clients.
    agent_phone = ledger.new_accounts(cohort.n_agents, PHONE)
    clients = np.flatnonzero(cohort.agent >= 0)
    clients = clients[rng.random(len(clients)) < config.agent_phone_share]
    ledger.link(clients, agent_phone[cohort.agent[clients]])

    user = np.concatenate(ledger.users)
    account = np.concatenate(ledger.accounts)
    total = ledger.count
    # A second pick from a ring pool can repeat the first: keep one link per pair.
    key = sorted_unique(user * total + account)
    user, account = key // total, key % total
    # Linked at sign-up or within days of it (a card when first borrowing).
    delay = rng.exponential(_LINK_DAYS * DAY, size=len(user)).astype(np.int64)
    linked_at = np.minimum(cohort.registered[user] + delay, end - 1)
    return Accounts(user, account, linked_at, np.concatenate(ledger.types))


class _Ledger:
    """The accounts drawn so far (their kinds, in index order) and the user-account links."""

    def __init__(self) -> None:
        self.count = 0
        self.types: list[np.ndarray] = []
        self.users: list[np.ndarray] = []
        self.accounts: list[np.ndarray] = []

    def new_accounts(self, count: int, kind: int) -> np.ndarray:
        """Indices of ``count`` new accounts of ``kind``."""
        first = self.count
        self.count += count
        self.types.append(np.full(count, kind, dtype=np.int64))
        return np.arange(first, first + count, dtype=np.int64)

    def link(self, users: np.ndarray, accounts: np.ndarray) -> None:
        self.users.append(users)
        self.accounts.append(accounts)

    def personal(self, owners: np.ndarray, kind: int) -> None:
        """One new account of ``kind`` for each of ``owners``."""
        self.link(owners, self.new_accounts(len(owners), kind))


def _ring_pools(
    ledger: _Ledger, cohort: Cohort, config: PopulationConfig, rng: np.random.Generator
) -> None:
    """Ring pools: one SIM per few members, one card per few members; a kind the ring
    does not share is one per member."""
    members = np.flatnonzero(cohort.role == RING)
    ring_of = cohort.ring[members]
    size = np.bincount(ring_of, minlength=cohort.n_rings)
    for kind, name, per in (
        (PHONE, "phone", config.ring_members_per_phone),
        (CARD, "card", config.ring_members_per_card),
    ):
        shared = config.is_ring_shared(name)
        pool = pool_sizes(size, per, shared)
        first = ledger.count
        ledger.new_accounts(int(pool.sum()), kind)
        pool_start = first + group_starts(pool)
        ledger.link(members, pick_from_pools(ring_of, pool_start, pool, shared, rng))
        if kind == CARD:
            two = rng.random(len(members)) < (_RING_SECOND_CARD_SHARE if shared else 0.0)
            ledger.link(members[two], pick_from_pools(ring_of[two], pool_start, pool, True, rng))
