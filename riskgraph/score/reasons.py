"""Reason codes: the factors that cost a user the most points, in plain words.

For every user and every scorecard variable, the *points lost* are the points of the
variable's best bin minus the points of the user's bin (the usual "points below
maximum" method of adverse-action reasons). The factors losing the most points,
most first, become ``reason_1..3``, each a sentence with the user's own value filled
in ("shares a device with 3 users who defaulted", "uses 95% of the credit limits
already granted"). Fewer than three reasons appear only when fewer factors lose
points.

Thin-file users: the points they lack on the credit-history attributes (whose
values they do not have) are added to ``no_credit_history``, so they read one
reason, "no credit history yet", instead of "past dues unknown" and the like.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskgraph.score.scorecard import CreditScorecard
from riskgraph.score.thin_file import NO_CREDIT_HISTORY
from riskgraph.score.variables import VariableSpec, format_reason

__all__ = ["MIN_POINTS_LOST", "points_lost", "reason_codes", "top_reasons"]

#: Points lost below this count as none (floating-point noise of equal bins).
MIN_POINTS_LOST = 1e-6


def points_lost(
    model: CreditScorecard, points: pd.DataFrame, prepared: pd.DataFrame
) -> pd.DataFrame:
    """Points each variable costs each user against its best bin, ``(n, n_variables)``.

    Parameters
    ----------
    model : CreditScorecard
        Fitted.
    points : pd.DataFrame
        ``(n, n_variables)`` from :meth:`CreditScorecard.points`.
    prepared : pd.DataFrame
        ``(n, n_variables)`` from :meth:`CreditScorecard.prepare` (to find thin files).

    Returns
    -------
    pd.DataFrame
        Non-negative, index of ``points``; thin-file users' history losses moved to
        ``no_credit_history``.
    """
    best = model.best_points_.reindex(points.columns).to_numpy()
    lost = np.maximum(best[None, :] - points.to_numpy(dtype=np.float64), 0.0)
    columns = list(points.columns)
    if NO_CREDIT_HISTORY in columns:
        thin = prepared[NO_CREDIT_HISTORY].to_numpy() == 1.0
        history = np.asarray(
            [columns.index(c) for c in model.thin_file_.present(columns)], dtype=np.int64
        )
        if len(history) and thin.any():
            target = columns.index(NO_CREDIT_HISTORY)
            rows = np.flatnonzero(thin)
            lost[rows, target] += lost[np.ix_(rows, history)].sum(axis=1)
            lost[np.ix_(rows, history)] = 0.0
    return pd.DataFrame(lost, index=points.index, columns=columns)


def top_reasons(
    model: CreditScorecard,
    prepared: pd.DataFrame,
    points: pd.DataFrame,
    n_reasons: int = 3,
    min_points_lost: float = MIN_POINTS_LOST,
) -> pd.DataFrame:
    """The ``n_reasons`` factors that cost each user the most points, as sentences.

    Parameters
    ----------
    model : CreditScorecard
        Fitted.
    prepared, points : pd.DataFrame
        ``(n, n_variables)``, from :meth:`CreditScorecard.prepare` and
        :meth:`CreditScorecard.points` of the same users.
    n_reasons : int
    min_points_lost : float
        A factor must lose more than this many points to be a reason.

    Returns
    -------
    pd.DataFrame
        ``(n, 3 * n_reasons)``, index of ``points``: ``reason_1..k`` (text),
        ``reason_code_1..k`` (the variable name) and ``points_lost_1..k`` (float);
        ``<NA>``/NaN where fewer factors lose points. Ties keep model order.
    """
    if n_reasons < 1:
        raise ValueError(f"n_reasons = {n_reasons!r}; expected >= 1")
    lost_frame = points_lost(model, points, prepared)
    lost = lost_frame.to_numpy()
    names = np.asarray(lost_frame.columns, dtype=object)
    k = min(n_reasons, lost.shape[1])
    # Stable sort on -lost: the largest loss first, ties in model order.
    order = np.argsort(-lost, axis=1, kind="stable")[:, :k]
    top_lost = np.take_along_axis(lost, order, axis=1)
    valid = top_lost > min_points_lost
    specs = model.variable_specs

    out: dict[str, object] = {}
    for slot in range(n_reasons):
        text = np.full(len(lost), None, dtype=object)
        code = np.full(len(lost), None, dtype=object)
        amount = np.full(len(lost), np.nan)
        if slot < k:
            chosen = order[:, slot]
            ok = valid[:, slot]
            amount[ok] = top_lost[ok, slot]
            for j in np.unique(chosen[ok]):
                rows = np.flatnonzero(ok & (chosen == j))
                name = names[j]
                code[rows] = name
                text[rows] = _sentences(specs[name], prepared[name].to_numpy()[rows])
        out[f"reason_{slot + 1}"] = pd.array(text, dtype="string")
        out[f"reason_code_{slot + 1}"] = pd.array(code, dtype="string")
        out[f"points_lost_{slot + 1}"] = amount
    columns = (
        [f"reason_{i}" for i in range(1, n_reasons + 1)]
        + [f"reason_code_{i}" for i in range(1, n_reasons + 1)]
        + [f"points_lost_{i}" for i in range(1, n_reasons + 1)]
    )
    return pd.DataFrame(out, index=points.index)[columns]


def reason_codes(model: CreditScorecard, X: pd.DataFrame, n_reasons: int = 3) -> pd.DataFrame:
    """:func:`top_reasons` straight from a score frame ``X`` ``(n, p)``."""
    prepared = model.prepare(X)
    return top_reasons(model, prepared, model._points(prepared), n_reasons)


def _sentences(spec: VariableSpec, values: np.ndarray) -> np.ndarray:
    """Format one variable's reason for many users, once per distinct value."""
    if spec.name == NO_CREDIT_HISTORY:
        return np.full(len(values), spec.reason, dtype=object)
    missing = pd.isna(values)
    out = np.full(len(values), spec.missing_reason, dtype=object)
    present = values[~missing]
    if len(present):
        uniques, inverse = np.unique(present, return_inverse=True)
        texts = np.array([format_reason(spec.reason, v) for v in uniques], dtype=object)
        out[~missing] = texts[inverse]
    return out
