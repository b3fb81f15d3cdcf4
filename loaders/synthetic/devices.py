"""Devices and who uses them: own phones, household tablets, public devices, ring devices.

Sharing a device is the strongest fraud signal a lender has, and also the most
misleading one: families share a tablet and hundreds of strangers pass through an
internet cafe PC. Both benign kinds are generated next to the ring devices that
really matter. Intermediaries' devices are allocated here too, but linked to nobody
in ``user_devices``: they only ever appear as an application's device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskgraph.loaders.synthetic.cohort import DAY, RING, Cohort
from riskgraph.loaders.synthetic.config import PopulationConfig
from riskgraph.loaders.synthetic.sampling import group_starts, pick_from_pools, pool_sizes

__all__ = ["Devices", "draw_devices"]

# iPhone share of phones in China is roughly a fifth to a quarter (assumption).
_IOS_SHARE = 0.22
_SECOND_DEVICE_SHARE = 0.25
# Some synthetic identities keep a phone of their own to look ordinary.
_RING_OWN_PHONE_SHARE = 0.3
_RING_SECOND_DEVICE_SHARE = 0.3
# Share of public-device visitors who filed their first application there.
_PUBLIC_FIRST_APPLICATION = 0.5


@dataclass(frozen=True)
class Devices:
    """Devices (``n_devices``) and the ``user_devices`` edges.

    Attributes
    ----------
    user, device, first_seen, last_seen : np.ndarray
        ``int64`` ``(m,)``: one ``user_devices`` row each (times in epoch seconds).
    is_ios : np.ndarray
        ``bool`` ``(n_devices,)``: the id format of each device.
    primary, secondary, tablet, public, ring_device : np.ndarray
        ``int64`` ``(n_users,)``: the user's own phone, second device, household
        tablet, public device and (first) ring device; -1 = none.
    secondary_since, tablet_since : np.ndarray
        ``int64`` ``(n_users,)``: when the user first used the second device or the
        tablet (epoch seconds; meaningless where there is none).
    public_at_first_application : np.ndarray
        ``bool`` ``(n_users,)``: the user filed the first application from the
        public device (the visit is then timed to it).
    agent_device_start, agent_device_count : np.ndarray
        ``int64`` ``(n_agents,)``: each intermediary's devices are
        ``agent_device_start[a] + range(agent_device_count[a])``.
    """

    user: np.ndarray
    device: np.ndarray
    first_seen: np.ndarray
    last_seen: np.ndarray
    is_ios: np.ndarray
    primary: np.ndarray
    secondary: np.ndarray
    tablet: np.ndarray
    public: np.ndarray
    ring_device: np.ndarray
    secondary_since: np.ndarray
    tablet_since: np.ndarray
    public_at_first_application: np.ndarray
    agent_device_start: np.ndarray
    agent_device_count: np.ndarray

    @property
    def n_devices(self) -> int:
        return len(self.is_ios)


def _allocate(counter: list[int], count: int) -> int:
    """Reserve the next ``count`` device indices; return the first."""
    first = counter[0]
    counter[0] += count
    return first


def draw_devices(
    cohort: Cohort,
    first_applied: np.ndarray,
    config: PopulationConfig,
    end: int,
    rng: np.random.Generator,
) -> Devices:
    """Draw every device and every user-device link.

    Parameters
    ----------
    cohort : Cohort
        Roles, groups and registration times.
    first_applied : np.ndarray
        ``int64`` ``(n_users,)``: each user's first application (epoch seconds), -1 =
        none; some public-device visits are that application.
    config : PopulationConfig
        Sharing rates.
    end : int
        End of the window (epoch seconds): every time is before it.
    rng : np.random.Generator
        Source of randomness.
    """
    draw = _Draw(cohort, config, end, rng)
    n, reg, left = cohort.n, draw.reg, draw.left
    ring = cohort.role == RING
    counter, ios_parts, edges = draw.counter, draw.ios_parts, draw.edges

    def per_user(users: np.ndarray, share: float) -> np.ndarray:
        out = np.full(n, -1, dtype=np.int64)
        out[users] = _allocate(counter, len(users)) + np.arange(len(users))
        ios_parts.append(rng.random(len(users)) < share)
        return out

    # Own phone, seen from registration until some later day.
    own = np.flatnonzero(~ring | (rng.random(n) < _RING_OWN_PHONE_SHARE))
    primary = per_user(own, _IOS_SHARE)
    edges.append(
        (
            own,
            primary[own],
            reg[own],
            reg[own] + (rng.random(len(own)) * left[own]).astype(np.int64),
        )
    )

    second = own[rng.random(len(own)) < _SECOND_DEVICE_SHARE]
    secondary = per_user(second, _IOS_SHARE)
    first = reg[second] + (rng.random(len(second)) * 0.5 * left[second]).astype(np.int64)
    secondary_since = reg.copy()
    secondary_since[second] = first
    edges.append(
        (
            second,
            secondary[second],
            first,
            first + (rng.random(len(second)) * (end - first)).astype(np.int64),
        )
    )

    # Household tablets: every member uses the shared one.
    tablet = np.full(n, -1, dtype=np.int64)
    n_households = cohort.n_households
    has_tablet = rng.random(n_households) < config.household_tablet_share
    tablet_of_household = np.full(n_households, -1, dtype=np.int64)
    n_tablets = int(has_tablet.sum())
    tablet_of_household[has_tablet] = _allocate(counter, n_tablets) + np.arange(n_tablets)
    ios_parts.append(rng.random(int(has_tablet.sum())) < 0.5)  # iPads are common
    members = np.flatnonzero(cohort.household >= 0)
    members = members[has_tablet[cohort.household[members]]]
    tablet[members] = tablet_of_household[cohort.household[members]]
    first = reg[members] + (rng.random(len(members)) * 0.3 * left[members]).astype(np.int64)
    tablet_since = reg.copy()
    tablet_since[members] = first
    edges.append(
        (
            members,
            tablet[members],
            first,
            first + (rng.random(len(members)) * (end - first)).astype(np.int64),
        )
    )

    public, public_at_first_application = draw.public_devices(first_applied)

    ring_device = draw.ring_devices()

    # Intermediaries' own devices: never in user_devices.
    agent_device_count = 1 + rng.poisson(0.7, size=cohort.n_agents).astype(np.int64)
    agent_device_start = _allocate(counter, int(agent_device_count.sum())) + group_starts(
        agent_device_count
    )
    ios_parts.append(rng.random(int(agent_device_count.sum())) < 0.1)

    user, device, first_seen, last_seen = (np.concatenate(c) for c in zip(*edges, strict=True))
    return Devices(
        user=user,
        device=device,
        first_seen=first_seen,
        last_seen=np.maximum(last_seen, first_seen),
        is_ios=np.concatenate(ios_parts),
        primary=primary,
        secondary=secondary,
        tablet=tablet,
        public=public,
        ring_device=ring_device,
        secondary_since=secondary_since,
        tablet_since=tablet_since,
        public_at_first_application=public_at_first_application,
        agent_device_start=agent_device_start,
        agent_device_count=agent_device_count,
    )


class _Draw:
    """What every kind of device draws from, and what they have drawn: device indices
    (``counter``), whether each device is an iPhone or iPad, and the user-device links."""

    def __init__(
        self, cohort: Cohort, config: PopulationConfig, end: int, rng: np.random.Generator
    ) -> None:
        self.cohort, self.config, self.end, self.rng = cohort, config, end, rng
        self.reg = cohort.registered
        self.left = end - self.reg  # seconds from registration to the end of the window
        self.counter = [0]
        self.ios_parts: list[np.ndarray] = []
        self.edges: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def allocate(self, count: int) -> int:
        return _allocate(self.counter, count)

    def public_devices(self, first_applied: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each user's public device (-1 = none), and whether its visit was its first
        application."""
        cohort, config, end, rng = self.cohort, self.config, self.end, self.rng
        n, reg, left, ring = cohort.n, self.reg, self.left, cohort.role == RING
        # Public devices: a skewed few serve hundreds of unrelated people, once each.
        n_public = max(1, round(n / config.users_per_public_device))
        public_ids = self.allocate(n_public) + np.arange(n_public)
        self.ios_parts.append(np.zeros(n_public, dtype=bool))
        visitors = np.flatnonzero(~ring & (rng.random(n) < config.public_device_user_share))
        weight = 1.0 / np.arange(1, n_public + 1) ** 0.8
        public = np.full(n, -1, dtype=np.int64)
        public[visitors] = public_ids[
            rng.choice(n_public, size=len(visitors), p=weight / weight.sum())
        ]
        first = reg[visitors] + (rng.random(len(visitors)) * left[visitors]).astype(np.int64)
        # Some applied from there (a phone shop, an internet cafe): the visit is that filing.
        at_application = (first_applied[visitors] >= 0) & (
            rng.random(len(visitors)) < _PUBLIC_FIRST_APPLICATION
        )
        first[at_application] = first_applied[visitors[at_application]]
        public_at_first_application = np.zeros(n, dtype=bool)
        public_at_first_application[visitors[at_application]] = True
        last = np.minimum(first + (rng.random(len(visitors)) * DAY).astype(np.int64), end - 1)
        last = np.maximum(last, first)
        self.edges.append((visitors, public[visitors], first, last))
        return public, public_at_first_application

    def ring_devices(self) -> np.ndarray:
        """Each ring member's (first) ring device, -1 for everyone else."""
        cohort, config, end, rng = self.cohort, self.config, self.end, self.rng
        n, reg, ring = cohort.n, self.reg, cohort.role == RING
        # Ring devices: a few phones per ring, each member on one or two of them; a ring
        # that shares no device gives each member a phone of its own.
        shared = config.is_ring_shared("device")
        ring_users = np.flatnonzero(ring)
        ring_of = cohort.ring[ring_users]
        ring_size = np.bincount(ring_of, minlength=cohort.n_rings)
        n_ring_devices = pool_sizes(ring_size, config.ring_members_per_device, shared)
        ring_device_start = self.allocate(int(n_ring_devices.sum())) + group_starts(n_ring_devices)
        self.ios_parts.append(rng.random(int(n_ring_devices.sum())) < 0.05)  # cheap Android phones
        pick = pick_from_pools(ring_of, ring_device_start, n_ring_devices, shared, rng)
        ring_device = np.full(n, -1, dtype=np.int64)
        ring_device[ring_users] = pick
        last = np.minimum(
            reg[ring_users] + (rng.random(len(ring_users)) * 30 * DAY).astype(np.int64), end - 1
        )
        self.edges.append((ring_users, pick, reg[ring_users], last))
        two = rng.random(len(ring_users)) < (_RING_SECOND_DEVICE_SHARE if shared else 0.0)
        other = pick_from_pools(ring_of[two], ring_device_start, n_ring_devices, True, rng)
        distinct = other != pick[two]
        self.edges.append(
            (
                ring_users[two][distinct],
                other[distinct],
                reg[ring_users[two][distinct]],
                last[two][distinct],
            )
        )
        return ring_device
