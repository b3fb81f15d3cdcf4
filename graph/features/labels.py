"""Which labels a feature may see as of a date.

Label-derived features (exposure, ring bad rate, propagated risk) take an explicit
``labels`` array so that training can pass out-of-fold labels (DESIGN.md, "Train the
way you serve"). :func:`visible_labels` gives the default: every label known strictly
before ``as_of``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskgraph.errors import FeatureError
from riskgraph.graph.features.timeline import NAT, check_as_of, to_micros

__all__ = ["check_labels", "visible_labels"]


def visible_labels(users: pd.DataFrame, as_of: Any) -> np.ndarray:
    """Labels known strictly before ``as_of``, one per user.

    Parameters
    ----------
    users : DataFrame
        ``GraphTables.users`` (columns ``label`` and ``label_at``), ``n_users`` rows.
    as_of : timezone-aware Timestamp

    Returns
    -------
    np.ndarray
        ``float64``, shape ``(n_users,)``: 1.0 bad, 0.0 good, NaN unknown, or known
        only at or after ``as_of``, or with no ``label_at``.

    Examples
    --------
    >>> users = pd.DataFrame({
    ...     "label": pd.array([1, 0, 1, pd.NA], dtype="Int8"),
    ...     "label_at": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-03-01", None], utc=True),
    ... })
    >>> visible_labels(users, pd.Timestamp("2024-02-01", tz="UTC")).tolist()
    [1.0, 0.0, nan, nan]
    """
    as_of = check_as_of(as_of)
    as_of_us = int(to_micros(pd.DatetimeIndex([as_of]))[0])
    label = users["label"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    label_at = to_micros(users["label_at"])
    seen = (label_at != NAT) & (label_at < as_of_us)
    return np.where(seen, label, np.nan)


def check_labels(labels: Any, users: pd.DataFrame, as_of: pd.Timestamp) -> np.ndarray:
    """Validate a caller's ``labels``; hide any the users table dates at or after ``as_of``.

    The mask is a second line of defence: a caller that passes the raw ``label``
    column by mistake still cannot leak a label from the future into a feature.
    A value given for a user whose ``label_at`` is empty is kept (callers may pass
    labels the table does not hold, e.g. in tests).

    Parameters
    ----------
    labels : array-like, shape ``(n_users,)``
        1 bad, 0 good, NaN unknown.
    users : DataFrame
        ``GraphTables.users``.
    as_of : pandas.Timestamp

    Returns
    -------
    np.ndarray
        ``float64``, shape ``(n_users,)``, a new array.

    Raises
    ------
    FeatureError
        Naming the first position whose value is not 0, 1 or NaN, or a wrong length.
    """
    values = np.asarray(labels, dtype=np.float64).copy()
    if values.ndim != 1 or len(values) != len(users):
        raise FeatureError(
            f"labels has shape {values.shape}; expected ({len(users)},), one per user"
        )
    bad = np.flatnonzero(~(np.isnan(values) | (values == 0.0) | (values == 1.0)))
    if len(bad):
        raise FeatureError(
            f"labels[{bad[0]}] = {float(values[bad[0]])!r} (user "
            f"{users['user_id'].iloc[bad[0]]!r}): expected 1 (bad), 0 (good) or NaN (unknown)"
        )
    as_of_us = int(to_micros(pd.DatetimeIndex([as_of]))[0])
    label_at = to_micros(users["label_at"])
    values[(label_at != NAT) & (label_at >= as_of_us)] = np.nan
    return values
