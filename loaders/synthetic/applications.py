"""Credit applications: when, to which platforms, from which device, and the decision.

Timing is what tells the roles apart: an ordinary user applies once or twice over
months; a multi-borrower four to a dozen times within two weeks; an intermediary
pushes a client to several platforms within a week; a ring member applies at two to
six platforms within days of registering (by default about a day, then within three:
``PopulationConfig.ring_apply_delay_days`` and ``ring_apply_spread_days``), staying
under per-identity velocity rules: it is the ring that hits many platforms, through
many identities. Platforms have a skewed size distribution (a few large lenders take
most applications); rings favour the small ones, whose controls are weaker.

Times are drawn first (:func:`draw_application_times`), because devices depend on
them (a public device is where some users filed their first application); the
rest follows in :func:`draw_application_details`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskgraph.loaders.synthetic.attributes import Attributes
from riskgraph.loaders.synthetic.cohort import CLIENT, DAY, NORMAL, RING, Cohort
from riskgraph.loaders.synthetic.config import LayerDraw, PopulationConfig
from riskgraph.loaders.synthetic.devices import Devices
from riskgraph.loaders.synthetic.sampling import group_starts

__all__ = [
    "STATUSES",
    "ApplicationDetails",
    "ApplicationTimes",
    "draw_application_details",
    "draw_application_times",
    "platform_weights",
]

#: ``status`` values, in the order of the integer codes in :attr:`ApplicationDetails.status`.
STATUSES = ("approved", "rejected", "pending")
APPROVED, REJECTED, PENDING = range(3)

# Per role (normal, ring, client, multi): mean days from registration to the first
# application, and the window over which the later ones spread (assumptions). The
# ring's entries come from PopulationConfig (ring_apply_delay_days, _spread_days).
_FIRST_DELAY_DAYS = np.array([12.0, np.nan, 2.0, 20.0])
_SPREAD_DAYS = np.array([90.0, np.nan, 7.0, 10.0])
# Applications per user: minimum + Poisson(extra) (assumptions).
_MIN_APPS = np.array([1, 2, 3, 4])
_EXTRA_APPS = np.array([0.15, 2.0, 2.0, 4.0])
# Loan amount in CNY: log-normal median per role (rings max out their limits).
_AMOUNT_MEDIAN = np.array([5000.0, 15000.0, 8000.0, 3000.0])
_AMOUNT_SIGMA = 0.7
_PLATFORM_SKEW = 1.0
_RING_PLATFORM_SKEW = 0.3
_FROM_SECOND_DEVICE = 0.15
_FROM_TABLET = 0.1
_NO_DEVICE = 0.04  # web or API channel without a device fingerprint
_PENDING_DAYS = 1


@dataclass(frozen=True)
class ApplicationTimes:
    """Application times, sorted by user then time; all before the window's end.

    Attributes
    ----------
    user, applied_at : np.ndarray
        ``int64`` ``(m,)``: applicant and time (epoch seconds).
    first_applied : np.ndarray
        ``int64`` ``(n_users,)``: each user's first application; -1 = none.
    rank : np.ndarray
        ``int64`` ``(m,)``: 0 for a user's first application, 1 for the second, ...
    """

    user: np.ndarray
    applied_at: np.ndarray
    first_applied: np.ndarray
    rank: np.ndarray


@dataclass(frozen=True)
class ApplicationDetails:
    """Where each application went and what happened to it (rows as in the times).

    Attributes
    ----------
    platform : np.ndarray
        ``int64`` ``(m,)``: index of the platform.
    device : np.ndarray
        ``int64`` ``(m,)``: the device filed from; -1 = none recorded.
    amount : np.ndarray
        ``float64`` ``(m,)``: requested amount in CNY.
    status : np.ndarray
        ``int64`` ``(m,)``: index into :data:`STATUSES`.
    """

    platform: np.ndarray
    device: np.ndarray
    amount: np.ndarray
    status: np.ndarray


def platform_weights(n_platforms: int, rng: np.random.Generator) -> np.ndarray:
    """Market shares of the platforms: Zipf with exponent 1 over a random order."""
    share = 1.0 / np.arange(1, n_platforms + 1) ** _PLATFORM_SKEW
    return rng.permutation(share / share.sum())


def draw_application_times(
    cohort: Cohort,
    attributes: Attributes,
    config: PopulationConfig,
    end: int,
    rng: np.random.Generator,
) -> ApplicationTimes:
    """Draw how many applications each user files and when."""
    n = cohort.n
    role = cohort.role.astype(np.int64)
    applicants = np.flatnonzero(cohort.applies)
    r = role[applicants]
    extra = _EXTRA_APPS[r] + np.where(
        r == NORMAL, 0.25 * np.maximum(attributes.stress[applicants], 0.0), 0.0
    )
    count = np.minimum(_MIN_APPS[r] + rng.poisson(extra), config.n_platforms)
    first_delay = _with_ring(_FIRST_DELAY_DAYS, config.ring_apply_delay_days)
    first = cohort.registered[applicants] + (rng.exponential(first_delay[r] * DAY)).astype(np.int64)

    user = np.repeat(applicants, count)
    rank = np.arange(len(user)) - np.repeat(group_starts(count), count)
    spread = _with_ring(_SPREAD_DAYS, config.ring_apply_spread_days)[role[user]] * DAY
    offset = np.where(rank == 0, 0, (rng.random(len(user)) * spread).astype(np.int64))
    applied_at = np.repeat(first, count) + offset
    order = np.lexsort((applied_at, user))
    user, applied_at = user[order], applied_at[order]
    keep = applied_at < end  # later ones have not happened yet
    user, applied_at = user[keep], applied_at[keep]
    starts = np.flatnonzero(np.r_[True, user[1:] != user[:-1]]) if len(user) else user
    rank = np.arange(len(user)) - np.repeat(starts, np.diff(np.r_[starts, len(user)]))
    first_applied = np.full(n, -1, dtype=np.int64)
    first_applied[user[starts]] = applied_at[starts]
    return ApplicationTimes(user, applied_at, first_applied, rank)


def _with_ring(per_role: np.ndarray, ring_value: float) -> np.ndarray:
    """A copy of the per-role ``per_role`` with the ring's entry set to ``ring_value``."""
    out = per_role.copy()
    out[RING] = ring_value
    return out


def draw_application_details(
    times: ApplicationTimes,
    cohort: Cohort,
    attributes: Attributes,
    devices: Devices,
    weights: np.ndarray,
    draw: LayerDraw,
) -> ApplicationDetails:
    """Draw platform, device, amount and decision of every application.

    Parameters
    ----------
    times : ApplicationTimes
        Who applied when.
    cohort, attributes, devices
        The users, what the lender knows of them, and their devices.
    weights : np.ndarray
        ``float64`` ``(n_platforms,)``: platform market shares.
    draw : LayerDraw
        The settings (how often intermediaries file from their own devices), the end
        of the window (the last day's applications are pending) and the random stream.
    """
    config, end, rng = draw.config, draw.end, draw.rng
    user = times.user
    m = len(user)
    role = cohort.role[user].astype(np.int64)
    platform = _distinct_platforms(times, role, weights, rng)

    # Device: own phone by default; sometimes the second device or household tablet;
    # ring members the ring's phone; clients mostly the agent's device.
    device = devices.primary[user].copy()
    no_phone = device < 0
    device[no_phone] = devices.ring_device[user[no_phone]]
    u = rng.random(m)
    second = (
        (u < _FROM_SECOND_DEVICE)
        & (devices.secondary[user] >= 0)
        & (devices.secondary_since[user] <= times.applied_at)
    )
    device[second] = devices.secondary[user[second]]
    tab = (
        (u >= _FROM_SECOND_DEVICE)
        & (u < _FROM_SECOND_DEVICE + _FROM_TABLET)
        & (devices.tablet[user] >= 0)
        & (devices.tablet_since[user] <= times.applied_at)
    )
    device[tab] = devices.tablet[user[tab]]
    ring = role == RING
    device[ring] = devices.ring_device[user[ring]]
    client = np.flatnonzero(role == CLIENT)
    by_agent = client[rng.random(len(client)) < config.agent_device_share]
    agent = cohort.agent[user[by_agent]]
    device[by_agent] = devices.agent_device_start[agent] + (
        rng.random(len(by_agent)) * devices.agent_device_count[agent]
    ).astype(np.int64)
    public = (times.rank == 0) & devices.public_at_first_application[user]
    device[public] = devices.public[user[public]]
    device[(rng.random(m) < _NO_DEVICE) & ~ring & ~public] = -1

    amount = rng.lognormal(np.log(_AMOUNT_MEDIAN[role]), _AMOUNT_SIGMA)
    amount = np.clip(np.round(amount, -2), 500.0, 200_000.0)

    # The lender's current rules: bureau dues, utilization, thin file, income, plus a
    # platform-specific appetite. Ring camouflage is made to pass them.
    leniency = rng.normal(0.0, 0.5, size=len(weights))
    dues = np.nan_to_num(attributes.past_dues[user], nan=0.0)
    util = np.nan_to_num(attributes.utilization[user], nan=0.4)
    approve_logit = (
        1.0
        + leniency[platform]
        - 0.8 * (dues > 0)
        - 1.5 * (util - 0.4)
        - 0.5 * attributes.thin_file[user]
        + 0.25 * (attributes.income_band[user] - 2)
        - 0.3 * (attributes.age_band[user] == 0)
    )
    approved = rng.random(m) < 1.0 / (1.0 + np.exp(-approve_logit))
    status = np.where(approved, APPROVED, REJECTED)
    status[times.applied_at >= end - _PENDING_DAYS * DAY] = PENDING
    return ApplicationDetails(platform, device, amount, status)


def _distinct_platforms(
    times: ApplicationTimes, role: np.ndarray, weights: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A platform per application, distinct within a user, drawn by market share.

    Gumbel-top-k: adding Gumbel noise to log-weights and taking the k largest draws k
    distinct items with probability proportional to weight, one after another.
    """
    m = len(times.user)
    n_platforms = len(weights)
    log_w = np.log(weights)
    platform = np.empty(m, dtype=np.int64)
    single = np.flatnonzero(times.rank == 0)
    counts = np.diff(np.r_[single, m])
    ring_w = np.exp(_RING_PLATFORM_SKEW * log_w)
    ring_w /= ring_w.sum()
    is_ring = role[single] == RING
    one = counts == 1
    # One application: a plain categorical draw.
    for mask, w in ((one & ~is_ring, weights), (one & is_ring, ring_w)):
        platform[single[mask]] = rng.choice(n_platforms, size=int(mask.sum()), p=w)
    several = np.flatnonzero(~one)
    chunk = 50_000  # bounds the (users x platforms) key matrix
    for lo in range(0, len(several), chunk):
        rows = several[lo : lo + chunk]
        scale = np.where(is_ring[rows], _RING_PLATFORM_SKEW, 1.0)[:, None]
        keys = scale * log_w[None, :] + rng.gumbel(size=(len(rows), n_platforms))
        ranked = np.argsort(-keys, axis=1)
        k = counts[rows]
        col = np.arange(n_platforms)[None, :]
        take = col < k[:, None]
        positions = single[rows][:, None] + col
        platform[positions[take]] = ranked[take]
    return platform
