"""Time arguments of the graph features: ``as_of``, per-user reference times, timestamps.

Every comparison is done on ``int64`` microseconds since the Unix epoch (UTC), the
resolution of :class:`~riskgraph.loaders.tables.GraphTables` timestamps, so that
"strictly before ``as_of``" means exactly that.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskgraph.errors import FeatureError

__all__ = [
    "MICROS_PER_DAY",
    "NAT",
    "check_as_of",
    "check_reference_time",
    "to_micros",
]

#: ``int64`` value of ``NaT`` in :func:`to_micros` output.
NAT = np.iinfo(np.int64).min
MICROS_PER_DAY = 86_400 * 1_000_000


def check_as_of(as_of: Any) -> pd.Timestamp:
    """Return ``as_of`` as a UTC :class:`pandas.Timestamp`.

    Raises
    ------
    FeatureError
        When ``as_of`` is not a timestamp or has no time zone (a naive timestamp is
        ambiguous: the nightly run for date D means D 00:00 UTC).
    """
    try:
        ts = pd.Timestamp(as_of)
    except (TypeError, ValueError) as exc:
        raise FeatureError(f"as_of = {as_of!r}: expected a timezone-aware UTC timestamp") from exc
    if ts is pd.NaT:
        raise FeatureError("as_of is NaT: expected a timezone-aware UTC timestamp")
    if ts.tzinfo is None:
        raise FeatureError(
            f"as_of = {ts!s} has no time zone: expected a timezone-aware UTC timestamp, "
            f"e.g. pd.Timestamp('{ts.date()}', tz='UTC')"
        )
    return ts.tz_convert("UTC")


def to_micros(values: pd.Series | pd.DatetimeIndex | np.ndarray) -> np.ndarray:
    """Timestamps as ``int64`` microseconds since the epoch; ``NaT`` becomes :data:`NAT`.

    Parameters
    ----------
    values : Series, DatetimeIndex or ndarray of datetimes, shape ``(n,)``
        Timezone-aware values are converted to UTC first.

    Returns
    -------
    np.ndarray
        ``int64``, shape ``(n,)``.
    """
    index = pd.DatetimeIndex(values)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.as_unit("us").asi8.astype(np.int64, copy=True)


def check_reference_time(reference_time: Any, n_users: int, as_of: pd.Timestamp) -> np.ndarray:
    """Validate per-user reference times; return them as microseconds.

    Parameters
    ----------
    reference_time : array-like of timestamps, shape ``(n_users,)``, or None
        Timezone-aware (UTC) timestamps no later than ``as_of``; ``NaT`` or ``None``
        means ``as_of``.
    n_users : int
    as_of : pandas.Timestamp

    Returns
    -------
    np.ndarray
        ``int64`` microseconds, shape ``(n_users,)``.

    Raises
    ------
    FeatureError
        On a wrong length, naive timestamps, or a reference time after ``as_of``.
    """
    as_of_us = int(to_micros(pd.DatetimeIndex([as_of]))[0])
    if reference_time is None:
        return np.full(n_users, as_of_us, dtype=np.int64)
    try:
        index = pd.DatetimeIndex(reference_time)
    except (TypeError, ValueError) as exc:
        raise FeatureError(
            "reference_time: expected an array of timezone-aware UTC timestamps"
        ) from exc
    if len(index) != n_users:
        raise FeatureError(
            f"reference_time has {len(index)} values; expected one per user ({n_users})"
        )
    if index.tz is None and not index.isna().all():
        raise FeatureError("reference_time has no time zone: expected UTC timestamps")
    ref = to_micros(index)
    ref[ref == NAT] = as_of_us
    late = np.flatnonzero(ref > as_of_us)
    if len(late):
        first = late[0]
        raise FeatureError(
            f"reference_time[{first}] = {index[first]} is after as_of = {as_of}: "
            "reference times must be <= as_of"
        )
    return ref
