"""Shared-identifier rings: groups of users tied together by devices and accounts.

A *ring* is a connected component, with at least two users, of the bipartite graph of
users and the identifiers they share: devices they used, devices their applications
were filed from, and linked accounts (bank cards, phone numbers, wallets). Only
identifiers used by 2..``max_sharing`` users link users; busier identifiers (internet
cafe PCs, a shop's demo phone) would merge strangers into one giant component, so they
are left to the hub features (:mod:`riskgraph.graph.features.hubs`).

A component is not yet a fraud ring: households share a tablet or a bank card too.
What tells them apart (docs/features.md, measured on the synthetic population):
fraud rings are larger, their members register in a burst (synthetic identities are
created together) and they apply at many platforms; households are 2-4 people who
registered months or years apart. :attr:`RingConfig` turns that into the
``ring_flag`` feature with documented thresholds; every component still gets its
``ring_id`` so that an investigator can open it in Neo4j Browser.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from riskgraph.errors import ConfigError
from riskgraph.graph.features.adjacency import GraphSnapshot, identifier_degrees
from riskgraph.graph.features.timeline import MICROS_PER_DAY
from riskgraph.graph.features.windows import densest_window

__all__ = [
    "RING_COLUMNS",
    "RING_FEATURES",
    "RingConfig",
    "RingStructure",
    "ring_id_of",
    "ring_structure",
    "shared_identifier_rings",
]

#: Per-user ring feature columns, in output order.
RING_FEATURES = (
    "ring_id",
    "ring_size",
    "ring_bad_count",
    "ring_bad_rate",
    "ring_platforms",
    "ring_registration_span_days",
    "ring_registration_burst_share",
    "ring_application_burst_share",
    "ring_shared_identifiers",
    "ring_flag",
)

#: Columns of the per-ring table (what a ``Ring`` node in Neo4j gets).
RING_COLUMNS = (
    "ring_id",
    "size",
    "known_count",
    "bad_count",
    "bad_rate",
    "platforms",
    "applications",
    "applicants",
    "registration_span_days",
    "registration_burst_share",
    "application_burst_share",
    "shared_identifiers",
    "first_registered_at",
    "last_registered_at",
    "flagged",
)

_SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class RingConfig:
    """How rings are formed and when one is flagged.

    Parameters
    ----------
    max_sharing : int, default 20
        Identifiers used by at most this many users link them into a ring (``K``);
        busier identifiers are hubs and link nobody. A fraud ring shares each phone or
        card among a handful of identities; 20 leaves room for that while keeping
        internet-cafe PCs (hundreds of users) out.
    burst_days : float, default 7
        Window of the burst shares: the largest share of a ring's members registered
        (of its applicants, filing their first application) within any ``burst_days``.
    flag_min_size : int, default 3
        Smallest ring that can be flagged. Pairs are mostly couples sharing a card.
    flag_significance : float, default 0.01
        A ring of at least ``flag_min_size`` members is flagged when this population
        says it is not an accident, at this significance: most of its members
        registered (or most of its applicants filed their first application) within
        ``burst_days``, more of them than in all but this share of random groups of as
        many users of the same population; or its members' known bad labels are more
        than the population's bad rate explains (binomial tail below it, two bad
        members at least).
        Organised rings create their identities together, cash out together and
        default together; households register years apart, and a population that
        registered on one day (data without dates) has no burst to show.
    """

    max_sharing: int = 20
    burst_days: float = 7.0
    flag_min_size: int = 3
    flag_significance: float = 0.01

    def validate(self) -> RingConfig:
        """Check every setting; return ``self``.

        Raises
        ------
        ConfigError
            Naming the setting, its value and the allowed range.
        """
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "flag_significance":
                if not 0.0 < value < 0.5:
                    raise ConfigError(f"RingConfig.{f.name} = {value!r}: expected in (0, 0.5)")
            elif f.name == "max_sharing" and not (isinstance(value, int) and value >= 2):
                raise ConfigError(f"RingConfig.max_sharing = {value!r}: expected an integer >= 2")
            elif not value > 0:
                raise ConfigError(f"RingConfig.{f.name} = {value!r}: expected > 0")
        return self


#: Random groups drawn per ring size for the burst test's null distribution.
_NULL_GROUPS = 2000
#: Uniform keys drawn at once when random groups are drawn by their smallest keys.
_KEY_BUDGET = 4_000_000


def burst_thresholds(
    times_s: np.ndarray, sizes: np.ndarray, window: int, significance: float, seed: int = 0
) -> dict[int, int]:
    """Per group size, the most events within ``window`` that random groups exceed only
    with probability ``significance``.

    The null distribution is this population's own: groups of ``size`` events drawn
    without replacement from ``times_s`` (every member's registration, every
    applicant's first application), their densest window counted as for the rings.

    Parameters
    ----------
    times_s : np.ndarray
        int64 event times of the population, seconds.
    sizes : np.ndarray
        Group sizes to calibrate.
    window : int
        Seconds.
    significance : float
    seed : int, default 0
        The draws are fixed: the same population gives the same thresholds.

    Returns
    -------
    dict[int, int]
        ``size -> count``: a group of ``size`` is unusual when its densest window holds
        more than ``count`` events. ``size`` itself when the population cannot tell
        (fewer events than the group, or all at one time).

    Examples
    --------
    A population spread over a year: four of four in a week is rare.

    >>> t = np.arange(0, 365 * 86_400, 3_600)
    >>> burst_thresholds(t, np.array([4]), 7 * 86_400, 0.01)[4] < 4
    True
    """
    rng = np.random.default_rng(seed)
    times_s = np.asarray(times_s, dtype=np.int64)
    out: dict[int, int] = {}
    for size in (int(v) for v in np.unique(sizes)):
        if size < 2 or len(times_s) <= size:
            out[size] = size
            continue
        picks = _random_groups(rng, len(times_s), size, _NULL_GROUPS)
        group = np.repeat(np.arange(_NULL_GROUPS), size)
        counts = densest_window(group, times_s[picks.ravel()], window, _NULL_GROUPS)
        out[size] = int(np.quantile(counts, 1.0 - significance, method="higher"))
    return out


def _random_groups(rng: np.random.Generator, n: int, size: int, count: int) -> np.ndarray:
    """int64 ``(count, size)``: each row ``size`` distinct positions in ``0..n-1``, a
    uniform draw without replacement (``size < n``).

    Drawn for all rows at once, not one ``choice`` call per row: an online call
    calibrates a few ring sizes on every request. Where a row of independent draws
    is likely to be distinct, rows with a repeat are drawn again (what is kept is
    uniform over distinct rows); otherwise each row takes the ``size`` smallest of
    ``n`` uniform keys.
    """
    if size * (size - 1) <= 4 * n:
        picks = rng.integers(0, n, size=(count, size))
        while True:
            ordered = np.sort(picks, axis=1)
            repeat = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
            if not repeat.any():
                return picks
            picks[repeat] = rng.integers(0, n, size=(int(repeat.sum()), size))
    rows = max(1, _KEY_BUDGET // n)
    return np.concatenate(
        [
            np.argpartition(rng.random((min(rows, count - start), n)), size - 1, axis=1)[:, :size]
            for start in range(0, count, rows)
        ]
    ).astype(np.int64)


def _exceeds(counts: np.ndarray, groups: np.ndarray, thresholds: dict[int, int]) -> np.ndarray:
    """Whether each ring's densest-window count exceeds the threshold of its size."""
    limit = np.array([thresholds.get(int(g), int(g)) for g in groups], dtype=np.int64)
    return counts > limit


def _bad_label_excess(
    bad: np.ndarray, known: np.ndarray, base_rate: float, significance: float
) -> np.ndarray:
    """Rings whose known bad members the base rate explains with probability below
    ``significance`` (binomial upper tail), two bad members at least."""
    from scipy.stats import binom

    if not 0.0 < base_rate < 1.0:
        return np.zeros(len(bad), dtype=bool)
    tail = binom.sf(bad - 1, np.maximum(known, 1), base_rate)
    return (bad >= 2) & (tail < significance)


def ring_id_of(member_id: str) -> str:
    """The ring id derived from a ring's smallest member id: ``ring-`` + 16 hex digits.

    A keyed-free BLAKE2b digest: the same smallest member always gives the same id, and
    the id does not spell out any member's user id.

    Examples
    --------
    >>> ring_id_of("U0001") == ring_id_of("U0001"), ring_id_of("U0001")[:5]
    (True, 'ring-')
    """
    return "ring-" + hashlib.blake2b(member_id.encode("utf-8"), digest_size=8).hexdigest()


def _ring_membership(
    snapshot: GraphSnapshot, user_ids: pd.Series, max_sharing: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rings: users joined by identifiers that 2 to ``max_sharing`` users share.

    Returns
    -------
    ring : np.ndarray
        ``int64`` ``(n_users,)``: each user's ring ``0..R-1``, -1 for none; rings are
        numbered in the order of their ring ids (deterministic output).
    ring_ids : np.ndarray
        ``object`` ``(R,)``: the ring ids, sorted.
    shared_identifiers : np.ndarray
        ``int64`` ``(R,)``: the identifiers that link each ring.
    """
    n = snapshot.n_users
    incidence = snapshot.identifiers()
    degree = identifier_degrees(incidence)
    n_ident = incidence.shape[1]
    linking = (degree >= 2) & (degree <= max_sharing)
    coo = incidence.tocoo()
    keep = linking[coo.col]
    rows, cols = coo.row[keep].astype(np.int64), coo.col[keep].astype(np.int64) + n
    bipartite = sp.csr_array(
        (np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n + n_ident, n + n_ident)
    )
    _, component = connected_components(bipartite, directed=False)
    user_component = component[:n].astype(np.int64)
    users_per_component = np.bincount(user_component)
    in_ring = users_per_component[user_component] >= 2

    members = np.flatnonzero(in_ring)
    member_ids = user_ids.to_numpy()[members]
    smallest = (
        pd.DataFrame({"component": user_component[members], "uid": member_ids})
        .groupby("component", sort=True)["uid"]
        .min()
    )
    ring_ids = np.array([ring_id_of(str(v)) for v in smallest.to_numpy()], dtype=object)
    order = np.argsort(ring_ids, kind="stable")
    ring_ids = ring_ids[order]
    n_rings = len(ring_ids)
    component_to_ring = np.full(len(users_per_component), -1, dtype=np.int64)
    component_to_ring[smallest.index.to_numpy()[order]] = np.arange(n_rings)
    ring = np.where(in_ring, component_to_ring[user_component], -1)

    ident_ring = np.full(n_ident, -1, dtype=np.int64)
    linking_idx = np.flatnonzero(linking)
    ident_ring[linking_idx] = component_to_ring[component[n + linking_idx]]
    shared_identifiers = np.bincount(ident_ring[ident_ring >= 0], minlength=n_rings)
    return ring, ring_ids, shared_identifiers


def _ring_applications(
    snapshot: GraphSnapshot, ring: np.ndarray, n_rings: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per ring, the platforms its members applied to and their applications."""
    app_ring = ring[snapshot.app_user]
    has_ring = app_ring >= 0
    pairs = np.unique(
        app_ring[has_ring] * max(snapshot.n_platforms, 1) + snapshot.app_platform[has_ring]
    )
    platforms = np.bincount(pairs // max(snapshot.n_platforms, 1), minlength=n_rings)
    applications = np.bincount(app_ring[has_ring], minlength=n_rings)
    return platforms, applications


@dataclass(frozen=True)
class RingStructure:
    """What the rings of a snapshot are, without labels: the same under every label
    view, so the views of one snapshot compute it once (:func:`ring_structure`).

    Attributes
    ----------
    n_users : int
    members : np.ndarray
        int64 positions of the users in a ring.
    member_ring : np.ndarray
        int64 ring of each of ``members``.
    table : pandas.DataFrame
        One row per ring: :data:`RING_COLUMNS` but the label counts and ``flagged``.
    big : np.ndarray
        bool per ring: large enough to be flagged.
    burst_flag : np.ndarray
        bool per ring: its registrations or first applications bunch more than this
        population's random groups of its size do.
    """

    n_users: int
    members: np.ndarray
    member_ring: np.ndarray
    table: pd.DataFrame
    big: np.ndarray
    burst_flag: np.ndarray


def ring_structure(
    snapshot: GraphSnapshot, user_ids: pd.Series, config: RingConfig
) -> RingStructure:
    """The rings of ``snapshot`` and their label-free measures (see :class:`RingStructure`).

    Notes
    -----
    ``O(nnz + n log n)``: one connected-components pass over the bipartite graph of
    users and kept identifiers, then grouped counts; the burst thresholds draw their
    random groups once per ring size.
    """
    ring, ring_ids, shared_identifiers = _ring_membership(snapshot, user_ids, config.max_sharing)
    n_rings = len(ring_ids)
    members = np.flatnonzero(ring >= 0)
    member_ring = ring[members]
    size = np.bincount(member_ring, minlength=n_rings)

    platforms, applications = _ring_applications(snapshot, ring, n_rings)

    registered_s = snapshot.registered_us[members] // 1_000_000
    window = max(1, round(config.burst_days * _SECONDS_PER_DAY))
    reg_burst = densest_window(member_ring, registered_s, window, n_rings) / np.maximum(size, 1)
    # Applications are sorted by user then time: each applicant's first is where its
    # user id first appears. Counting first applications, not all of them, keeps one
    # multi-borrower in a household from looking like a ring applying together.
    applicant_users, first_app = np.unique(snapshot.app_user, return_index=True)
    applicant_ring = ring[applicant_users]
    in_a_ring = applicant_ring >= 0
    applicant_ring = applicant_ring[in_a_ring]
    applicants = np.bincount(applicant_ring, minlength=n_rings)
    app_burst_count = densest_window(
        applicant_ring, snapshot.app_time_us[first_app[in_a_ring]] // 1_000_000, window, n_rings
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        app_burst = np.where(applicants >= 2, app_burst_count / applicants, np.nan)
    first_reg = _group_reduce(np.minimum, member_ring, snapshot.registered_us[members], n_rings)
    last_reg = _group_reduce(np.maximum, member_ring, snapshot.registered_us[members], n_rings)
    span_days = (last_reg - first_reg) / MICROS_PER_DAY

    # Bursts against this population's own timing: random groups of the same size.
    big = size >= config.flag_min_size
    all_registered = snapshot.registered_us[snapshot.active] // 1_000_000
    reg_limits = burst_thresholds(all_registered, size[big], window, config.flag_significance)
    reg_count = np.rint(reg_burst * size).astype(np.int64)
    reg_unusual = big & (2 * reg_count > size) & _exceeds(reg_count, size, reg_limits)
    all_first = snapshot.app_time_us[first_app] // 1_000_000
    app_big = applicants >= config.flag_min_size
    app_limits = burst_thresholds(all_first, applicants[app_big], window, config.flag_significance)
    app_unusual = (
        app_big
        & (2 * app_burst_count > applicants)
        & _exceeds(app_burst_count, applicants, app_limits)
    )
    table = pd.DataFrame(
        {
            "ring_id": pd.array(ring_ids, dtype="string"),
            "size": size.astype(np.int64),
            "platforms": platforms.astype(np.int64),
            "applications": applications.astype(np.int64),
            "applicants": applicants.astype(np.int64),
            "registration_span_days": span_days,
            "registration_burst_share": reg_burst,
            "application_burst_share": app_burst,
            "shared_identifiers": shared_identifiers.astype(np.int64),
            "first_registered_at": pd.to_datetime(first_reg, unit="us", utc=True),
            "last_registered_at": pd.to_datetime(last_reg, unit="us", utc=True),
        }
    )
    return RingStructure(
        snapshot.n_users, members, member_ring, table, big, reg_unusual | app_unusual
    )


def shared_identifier_rings(
    snapshot: GraphSnapshot,
    user_ids: pd.Series,
    labels: np.ndarray,
    config: RingConfig,
    structure: RingStructure | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Find the rings and compute the per-user ring features.

    Parameters
    ----------
    snapshot : GraphSnapshot
        The graph before ``as_of``.
    user_ids : Series
        ``(n_users,)`` string ids, in node order.
    labels : np.ndarray
        ``float64`` ``(n_users,)``: 1 bad, 0 good, NaN unknown.
    config : RingConfig
    structure : RingStructure, optional
        :func:`ring_structure` of the same snapshot, user ids and settings (computed
        when not given): label views of one snapshot share it.

    Returns
    -------
    features : DataFrame
        ``(n_users, len(RING_FEATURES))``, RangeIndex = user position. Users in no ring
        have ``ring_id`` ``<NA>``, ``ring_size`` 0, ``ring_flag`` False and NaN
        elsewhere. ``ring_bad_count`` and ``ring_bad_rate`` are leave-one-out: the
        user's own label never counts.
    rings : DataFrame
        One row per ring, columns :data:`RING_COLUMNS`, sorted by ``ring_id``;
        ``bad_rate`` there is over all members with a known label.
    """
    if structure is None:
        structure = ring_structure(snapshot, user_ids, config)
    n = structure.n_users
    members, member_ring, big = structure.members, structure.member_ring, structure.big
    n_rings = len(structure.table)
    known = ~np.isnan(labels)
    bad = labels == 1.0
    known_count = np.bincount(member_ring, weights=known[members], minlength=n_rings)
    bad_count = np.bincount(member_ring, weights=bad[members], minlength=n_rings)
    base_rate = float(bad.sum() / known.sum()) if known.any() else float("nan")
    label_unusual = big & _bad_label_excess(
        bad_count, known_count, base_rate, config.flag_significance
    )
    flagged = structure.burst_flag | label_unusual

    with np.errstate(invalid="ignore", divide="ignore"):
        bad_rate = np.where(known_count > 0, bad_count / known_count, np.nan)
    rings = structure.table.assign(
        known_count=known_count.astype(np.int64),
        bad_count=bad_count.astype(np.int64),
        bad_rate=bad_rate,
        flagged=flagged,
    )[list(RING_COLUMNS)]

    features = _user_features(n, members, member_ring, rings, labels)
    # A member's own label never decides its own flag: the label test, member by member,
    # counts the other members only.
    own_known = known[members]
    own_bad = bad[members]
    loo = _bad_label_excess(
        bad_count[member_ring] - own_bad,
        known_count[member_ring] - own_known,
        base_rate,
        config.flag_significance,
    )
    flag = np.zeros(n, dtype=bool)
    flag[members] = (structure.burst_flag[member_ring] | loo) & big[member_ring]
    features["ring_flag"] = flag
    return features, rings


def _user_features(
    n: int, members: np.ndarray, member_ring: np.ndarray, rings: pd.DataFrame, labels: np.ndarray
) -> pd.DataFrame:
    """Spread the ring table onto its members; leave-one-out label counts."""

    def spread(values: np.ndarray, fill: float) -> np.ndarray:
        out = np.full(n, fill, dtype=np.float64)
        out[members] = values[member_ring]
        return out

    own = labels[members]
    own_known = ~np.isnan(own)
    own_bad = own == 1.0
    other_known = rings["known_count"].to_numpy()[member_ring] - own_known
    other_bad = rings["bad_count"].to_numpy()[member_ring] - own_bad
    loo_count = np.full(n, np.nan)
    loo_count[members] = other_bad
    loo_rate = np.full(n, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        loo_rate[members] = np.where(other_known > 0, other_bad / other_known, np.nan)

    ring_id = pd.array(np.full(n, None, dtype=object), dtype="string")
    ring_id[members] = rings["ring_id"].to_numpy()[member_ring]
    size = np.zeros(n, dtype=np.int64)
    size[members] = rings["size"].to_numpy()[member_ring]
    flag = np.zeros(n, dtype=bool)
    flag[members] = rings["flagged"].to_numpy()[member_ring]
    return pd.DataFrame(
        {
            "ring_id": ring_id,
            "ring_size": size,
            "ring_bad_count": loo_count,
            "ring_bad_rate": loo_rate,
            "ring_platforms": spread(rings["platforms"].to_numpy(), np.nan),
            "ring_registration_span_days": spread(
                rings["registration_span_days"].to_numpy(), np.nan
            ),
            "ring_registration_burst_share": spread(
                rings["registration_burst_share"].to_numpy(), np.nan
            ),
            "ring_application_burst_share": spread(
                rings["application_burst_share"].to_numpy(), np.nan
            ),
            "ring_shared_identifiers": spread(rings["shared_identifiers"].to_numpy(), np.nan),
            "ring_flag": flag,
        }
    )


def _group_reduce(
    ufunc: np.ufunc, group: np.ndarray, values: np.ndarray, n_groups: int
) -> np.ndarray:
    """``ufunc`` (``np.minimum`` / ``np.maximum``) of ``values`` per group; groups non-empty."""
    order = np.argsort(group, kind="stable")
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else np.zeros(0, np.int64)
    out = np.zeros(n_groups, dtype=values.dtype)
    if len(g):
        out[g[starts]] = ufunc.reduceat(values[order], starts)
    return out
