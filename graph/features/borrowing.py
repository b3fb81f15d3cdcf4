"""Multi-platform borrowing ("多头借贷"), intermediaries and coordinated applications.

Stressed borrowers apply at many lending platforms within days; loan intermediaries
file their clients' applications from their own devices; rings apply together. Per
user, as of the user's reference time ``r`` (``as_of`` by default; training measures old
users relative to their own first application, DESIGN.md "Train the way you serve"):

* applications and distinct platforms in the last 1, 7, 30 and 90 days, i.e. filed in
  ``[r - w, r)``; the most applications within any 24 hours of the last 90 days; the
  sum and largest amount applied for;
* ``app_device_co_applicants``: distinct other users who filed applications from a
  device this user's applications came from (the intermediary signal);
* ``co_users_same_platform_week``: distinct users sharing a device or account with this
  user who applied to a platform this user applied to within a week of it;
* ``multi_borrowing``: a flag with the thresholds of :class:`MultiBorrowingThresholds`.

The last two graph signals use every application before ``as_of``: they describe the
graph tonight, not the user's own activity window.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd
import scipy.sparse as sp

from riskgraph.errors import ConfigError
from riskgraph.graph.features.adjacency import (
    GraphSnapshot,
    co_user_matrix,
    identifier_degrees,
    row_max,
)
from riskgraph.graph.features.timeline import MICROS_PER_DAY
from riskgraph.graph.features.windows import densest_window

__all__ = [
    "BORROWING_FEATURES",
    "WINDOW_DAYS",
    "BorrowingConfig",
    "MultiBorrowingThresholds",
    "co_applicants",
    "coordinated_co_users",
    "multi_platform_borrowing",
]

#: Activity windows, in days (fixed: the feature names carry them).
WINDOW_DAYS = (1, 7, 30, 90)

#: Per-user borrowing feature columns, in output order.
BORROWING_FEATURES = (
    *(f"applications_{w}d" for w in WINDOW_DAYS),
    *(f"platforms_{w}d" for w in WINDOW_DAYS),
    "max_applications_24h",
    "amount_sum_30d",
    "amount_sum_90d",
    "amount_max_90d",
    "app_device_co_applicants",
    "co_users_same_platform_week",
    "multi_borrowing",
)


@dataclass(frozen=True)
class MultiBorrowingThresholds:
    """When a user is flagged ``multi_borrowing``: any one threshold reached.

    The defaults follow the rule of thumb of Chinese consumer lenders' multi-lending
    checks (several institutions within a week, more within a month); an ordinary
    applicant applies at one or two platforms a month.

    Parameters
    ----------
    platforms_7d : int, default 3
        Distinct platforms applied to in the last 7 days.
    platforms_30d : int, default 5
        Distinct platforms applied to in the last 30 days.
    applications_24h : int, default 4
        Applications within any 24 hours of the last 90 days.
    """

    platforms_7d: int = 3
    platforms_30d: int = 5
    applications_24h: int = 4

    def validate(self) -> MultiBorrowingThresholds:
        """Check every threshold is an integer >= 1; return ``self``.

        Raises
        ------
        ConfigError
            Naming the threshold and its value.
        """
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, int) and value >= 1):
                raise ConfigError(
                    f"MultiBorrowingThresholds.{f.name} = {value!r}: expected an integer >= 1"
                )
        return self


@dataclass(frozen=True)
class BorrowingConfig:
    """Settings of the borrowing features.

    Parameters
    ----------
    thresholds : MultiBorrowingThresholds
        Of the ``multi_borrowing`` flag.
    co_application_days : float, default 7
        Two applications to the same platform are "together" when filed less than
        this many days apart (``co_users_same_platform_week``).
    co_user_max_sharing : int, default 50
        Devices and accounts with more users than this do not make users co-users
        for ``co_users_same_platform_week`` (as ``ExposureConfig.max_sharing``).
    max_device_applicants : int, default 1000
        Application devices with more applicants than this are not expanded pair by
        pair for ``app_device_co_applicants``; they contribute their own applicant
        count instead (a lower bound of the distinct count). Bounds the cost.
    """

    thresholds: MultiBorrowingThresholds = field(default_factory=MultiBorrowingThresholds)
    co_application_days: float = 7.0
    co_user_max_sharing: int = 50
    max_device_applicants: int = 1000

    def validate(self) -> BorrowingConfig:
        """Check every setting; return ``self``.

        Raises
        ------
        ConfigError
            Naming the setting, its value and the allowed range.
        """
        self.thresholds.validate()
        if not self.co_application_days > 0:
            raise ConfigError(
                f"BorrowingConfig.co_application_days = {self.co_application_days!r}: expected > 0"
            )
        for name in ("co_user_max_sharing", "max_device_applicants"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 2):
                raise ConfigError(f"BorrowingConfig.{name} = {value!r}: expected an integer >= 2")
        return self


def multi_platform_borrowing(
    snapshot: GraphSnapshot, reference_us: np.ndarray, config: BorrowingConfig
) -> pd.DataFrame:
    """All borrowing features of every user.

    Parameters
    ----------
    snapshot : GraphSnapshot
    reference_us : np.ndarray
        ``int64`` ``(n_users,)``: each user's reference time (microseconds, <= as_of).
    config : BorrowingConfig

    Returns
    -------
    DataFrame
        ``(n_users, len(BORROWING_FEATURES))``, RangeIndex = user position.
    """
    n = snapshot.n_users
    user = snapshot.app_user
    t = snapshot.app_time_us
    age = reference_us[user] - t  # how long before the user's reference time
    columns: dict[str, np.ndarray] = {}
    n_platforms = max(snapshot.n_platforms, 1)
    for w in WINDOW_DAYS:
        inside = (age > 0) & (age <= w * MICROS_PER_DAY)
        columns[f"applications_{w}d"] = np.bincount(user[inside], minlength=n)
        pairs = np.unique(user[inside] * n_platforms + snapshot.app_platform[inside])
        columns[f"platforms_{w}d"] = np.bincount(pairs // n_platforms, minlength=n)
    in90 = (age > 0) & (age <= 90 * MICROS_PER_DAY)
    columns["max_applications_24h"] = densest_window(user[in90], t[in90] // 1_000_000, 86_400, n)
    amount = snapshot.app_amount
    for w in (30, 90):
        inside = (age > 0) & (age <= w * MICROS_PER_DAY) & ~np.isnan(amount)
        columns[f"amount_sum_{w}d"] = np.bincount(user[inside], weights=amount[inside], minlength=n)
    has_amount = in90 & ~np.isnan(amount)
    amount_max = np.full(n, np.nan)
    if has_amount.any():
        top = pd.Series(amount[has_amount]).groupby(user[has_amount]).max()
        amount_max[top.index.to_numpy()] = top.to_numpy()
    columns["amount_max_90d"] = amount_max
    columns["app_device_co_applicants"] = co_applicants(
        snapshot.application_devices, config.max_device_applicants
    )
    columns["co_users_same_platform_week"] = coordinated_co_users(
        snapshot,
        co_user_matrix(snapshot.identifiers(), config.co_user_max_sharing),
        round(config.co_application_days * 86_400),
    )
    th = config.thresholds
    columns["multi_borrowing"] = (
        (columns["platforms_7d"] >= th.platforms_7d)
        | (columns["platforms_30d"] >= th.platforms_30d)
        | (columns["max_applications_24h"] >= th.applications_24h)
    )
    out = pd.DataFrame({name: columns[name] for name in BORROWING_FEATURES})
    counts = [c for c in BORROWING_FEATURES if c.startswith(("applications_", "platforms_"))]
    out[counts] = out[counts].astype(np.int64)
    out["max_applications_24h"] = out["max_applications_24h"].astype(np.int64)
    return out


def co_applicants(application_devices: sp.csr_array, max_device_applicants: int) -> np.ndarray:
    """Distinct other users who filed applications from any of a user's application devices.

    Parameters
    ----------
    application_devices : scipy.sparse.csr_array
        ``(n_users, n_devices)``, 0/1: devices each user's applications came from.
    max_device_applicants : int
        Devices with more applicants are not expanded pairwise; each contributes its
        applicant count minus one, and the result is the larger of the two counts.

    Returns
    -------
    np.ndarray
        ``int64`` ``(n_users,)``.

    Examples
    --------
    Users 0, 1, 2 applied from device 0, user 2 also from device 1 with user 3:

    >>> from riskgraph.graph.features.adjacency import binary_matrix
    >>> m = binary_matrix(np.array([0, 1, 2, 2, 3]), np.array([0, 0, 0, 1, 1]), (4, 2))
    >>> co_applicants(m, 100).tolist()
    [2, 2, 3, 1]
    """
    pairs = co_user_matrix(application_devices, max_device_applicants)
    distinct = np.diff(pairs.indptr).astype(np.int64)
    degree = identifier_degrees(application_devices)
    hub_others = np.where(degree > max_device_applicants, degree - 1, 0)
    lower_bound = row_max(application_devices, hub_others, empty=0.0).astype(np.int64)
    return np.maximum(distinct, lower_bound)


def coordinated_co_users(
    snapshot: GraphSnapshot, co_users: sp.csr_array, window_s: int
) -> np.ndarray:
    """Distinct co-users who applied to one of the user's platforms within ``window_s``.

    Parameters
    ----------
    snapshot : GraphSnapshot
        Its applications (sorted by user, then time).
    co_users : scipy.sparse.csr_array
        ``(n_users, n_users)`` 0/1 symmetric: who shares a device or account with whom.
    window_s : int
        Two applications to the same platform match when less than this many seconds
        apart.

    Returns
    -------
    np.ndarray
        ``int64`` ``(n_users,)``.

    Notes
    -----
    Expands each co-user pair ``(u, v)``, ``u < v``, by ``u``'s applications and looks
    up ``v``'s applications to the same platform in one sorted key array:
    ``O(P a log A)`` for ``P`` pairs, ``a`` applications per user, ``A`` applications.
    """
    n = snapshot.n_users
    user, platform = snapshot.app_user, snapshot.app_platform
    t = snapshot.app_time_us // 1_000_000
    if len(user) == 0 or co_users.nnz == 0:
        return np.zeros(n, dtype=np.int64)
    coo = sp.triu(co_users, k=1).tocoo()
    u, v = coo.row.astype(np.int64), coo.col.astype(np.int64)
    n_apps = np.bincount(user, minlength=n)
    keep = (n_apps[u] > 0) & (n_apps[v] > 0)
    u, v = u[keep], v[keep]
    if len(u) == 0:
        return np.zeros(n, dtype=np.int64)

    # Applications keyed by (user, platform) group, then time, in one sorted array.
    n_platforms = max(snapshot.n_platforms, 1)
    group_key = user * n_platforms + platform
    groups, group = np.unique(group_key, return_inverse=True)
    rel = t - t.min()
    span = int(rel.max()) + 2 * window_s + 2
    keys = np.sort(group.astype(np.int64) * span + rel + window_s)

    # One row per (pair, application of u).
    start = np.concatenate([[0], np.cumsum(n_apps)[:-1]])
    reps = n_apps[u]
    pair = np.repeat(np.arange(len(u)), reps)
    offset = np.arange(len(pair)) - np.repeat(np.cumsum(reps) - reps, reps)
    app = start[u][pair] + offset
    target = v[pair] * n_platforms + platform[app]
    where = np.searchsorted(groups, target)
    where = np.minimum(where, len(groups) - 1)
    found = groups[where] == target
    base = where.astype(np.int64) * span + rel[app] + window_s
    lo = np.searchsorted(keys, base - (window_s - 1), side="left")
    hi = np.searchsorted(keys, base + (window_s - 1), side="right")
    matched_pair = np.zeros(len(u), dtype=bool)
    matched_pair[pair[found & (hi > lo)]] = True
    mu, mv = u[matched_pair], v[matched_pair]
    return np.bincount(np.concatenate([mu, mv]), minlength=n).astype(np.int64)
