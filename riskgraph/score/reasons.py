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

A reason must be true for the value it quotes:

* **missing-neutral variables** (``VariableSpec.missing_is_neutral``: label-derived
  shares with no labelled user to take a share of, ring features of users in no
  ring, history attributes): a missing value loses no points, and the best bin is
  the best bin a user *with* a value can reach, so "0% of ... defaulted" never costs
  points against an undefined share, nor a small ring's value against "in no ring";
* **the quoted value must itself lose points**: with label views the points are
  averaged over the views while the sentence quotes the value seen with every
  label; a variable whose quoted value sits in its best bin is not a reason;
* **a 0 of an ascending variable** ("shares a device with 0 users who defaulted")
  is never a reason unless the variable has a ``zero_reason``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskgraph.graph.features.reason_text import template_fields
from riskgraph.score.scorecard import CreditScorecard
from riskgraph.score.thin_file import NO_CREDIT_HISTORY
from riskgraph.score.variables import VariableSpec, format_reason, share_below

__all__ = ["MIN_POINTS_LOST", "points_lost", "reason_codes", "top_reasons"]

#: A factor must cost more than this many points to be a reason: one point, the
#: credit score's unit. Smaller losses come from bins whose points barely differ
#: (0.1 points on a 600-point scale between two neighbouring bins) and
#: cannot be why an applicant got no limit, yet they filled the third reason of many.
MIN_POINTS_LOST = 1.0


def points_lost(
    model: CreditScorecard, points: pd.DataFrame, prepared: pd.DataFrame
) -> pd.DataFrame:
    """Points each variable costs each user against its best bin, ``(n, n_variables)``.

    The best bin of a missing-neutral variable is the best bin a user with a value can
    reach, and its missing values lose nothing (a thin-file user's missing history
    attributes excepted: their losses move to ``no_credit_history``).

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
    columns = list(points.columns)
    specs = model.variable_specs
    best = _best_points(model, columns)
    lost = np.maximum(best[None, :] - points.to_numpy(dtype=np.float64), 0.0)
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
    for j, name in enumerate(columns):
        if specs[name].missing_is_neutral:
            lost[prepared[name].isna().to_numpy(), j] = 0.0
    return pd.DataFrame(lost, index=points.index, columns=columns)


def _best_points(model: CreditScorecard, columns: list[str]) -> np.ndarray:
    """Per variable, the most points of a bin its users can be in, ``(n_variables,)``.

    optbinning's bins end with Special (never used here: empty, WoE 0) and Missing.
    For a missing-neutral variable both are left out: its reference is the best bin
    of the users with a value.
    """
    specs = model.variable_specs
    best = np.empty(len(columns))
    for j, name in enumerate(columns):
        bins = model.bin_points_[name]
        if specs[name].missing_is_neutral and len(bins) > 2:
            bins = bins[:-2]
        best[j] = bins.max()
    return best


def top_reasons(
    model: CreditScorecard,
    prepared: pd.DataFrame,
    points: pd.DataFrame,
    n_reasons: int = 3,
    min_points_lost: float = MIN_POINTS_LOST,
    *,
    own_points: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ``n_reasons`` factors that cost each user the most points, as sentences.

    Parameters
    ----------
    model : CreditScorecard
        Fitted.
    prepared, points : pd.DataFrame
        ``(n, n_variables)``, from :meth:`CreditScorecard.prepare` and
        :meth:`CreditScorecard.points` of the same users.
        ``points`` may be averaged over label views (``score_users(views=...)``)
        while ``prepared`` holds the values the sentences quote.
    n_reasons : int
    min_points_lost : float
        A factor must lose more than this many points to be a reason.
    own_points : pd.DataFrame, optional
        :meth:`CreditScorecard.points` of ``prepared`` itself, when the caller has
        it (computed otherwise); a variable is a reason only where the quoted
        value loses points by itself.

    Returns
    -------
    pd.DataFrame
        ``(n, 3 * n_reasons)``, index of ``points``: ``reason_1..k`` (text),
        ``reason_code_1..k`` (the variable name) and ``points_lost_1..k`` (float);
        ``<NA>``/NaN where fewer factors lose points. Ties keep model order.
    """
    if n_reasons < 1:
        raise ValueError(f"n_reasons = {n_reasons!r}; expected >= 1")
    # Row by row work, in chunks: the (n, n_variables) float64 temporaries of all
    # users at once were about 1 GB at 300,000 users (tracemalloc).
    n = len(points)
    return pd.concat(
        [
            _top_reasons(
                model,
                prepared.iloc[lo : lo + _ROW_CHUNK],
                points.iloc[lo : lo + _ROW_CHUNK],
                n_reasons,
                min_points_lost,
                None if own_points is None else own_points.iloc[lo : lo + _ROW_CHUNK],
            )
            for lo in range(0, max(n, 1), _ROW_CHUNK)
        ]
    )


#: Users whose reasons are found at once.
_ROW_CHUNK = 131_072


def _top_reasons(
    model: CreditScorecard,
    prepared: pd.DataFrame,
    points: pd.DataFrame,
    n_reasons: int,
    min_points_lost: float,
    own_points: pd.DataFrame | None,
) -> pd.DataFrame:
    lost_frame = points_lost(model, points, prepared)
    lost = lost_frame.to_numpy()
    names = np.asarray(lost_frame.columns, dtype=object)
    if own_points is None:
        own_points = model._points(prepared)
    own_lost = points_lost(model, own_points[lost_frame.columns], prepared).to_numpy()
    lost = np.where(own_lost > min_points_lost, lost, 0.0)
    _drop_zero_counts(model.variable_specs, prepared, names, lost)
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
    points = model._points(prepared)
    return top_reasons(model, prepared, points, n_reasons, own_points=points)


def _drop_zero_counts(
    specs: dict[str, VariableSpec], prepared: pd.DataFrame, names: np.ndarray, lost: np.ndarray
) -> None:
    """In place: no reason from a 0 of an ascending variable without a ``zero_reason``
    ("shares a device with 0 users who defaulted" claims nothing adverse)."""
    for j, name in enumerate(names):
        spec = specs[name]
        if (
            spec.monotonic_trend == "ascending"
            and spec.zero_reason is None
            and spec.dtype == "numerical"
            and getattr(spec, "categories", None) is None
            and spec.name != NO_CREDIT_HISTORY
        ):
            zero = prepared[name].to_numpy(dtype=np.float64, na_value=np.nan) == 0.0
            lost[zero, j] = 0.0


def _sentences(spec: VariableSpec, values: np.ndarray) -> np.ndarray:
    """Format one variable's reason for many users, once per distinct value."""
    if spec.name == NO_CREDIT_HISTORY:
        return np.full(len(values), spec.reason, dtype=object)
    categories = getattr(spec, "categories", None)  # absent in models saved before it
    if categories is not None:
        # The model bins an ordinal attribute's positions; the sentence quotes the
        # category ("stated monthly income below 3k").
        positions = np.asarray(values, dtype=np.float64)
        labels = np.full(len(values), None, dtype=object)
        known = ~np.isnan(positions)
        labels[known] = np.asarray(categories, dtype=object)[positions[known].astype(np.int64)]
        values = labels
    missing = pd.isna(values)
    out = np.full(len(values), spec.missing_reason, dtype=object)
    present = values[~missing]
    if len(present):
        fields = template_fields(spec.reason)
        if fields == {"share_below"}:
            # The sentence depends on the share only: at most 101 texts, however
            # many distinct probabilities.
            shares, inverse = np.unique(
                share_below(spec, present.astype(np.float64)), return_inverse=True
            )
            texts = [format_reason(spec.reason, None, share_below=b) for b in shares]
            out[~missing] = np.asarray(texts, dtype=object)[inverse]
            return out
        uniques, inverse = np.unique(present, return_inverse=True)
        if "share_below" in fields:
            below = share_below(spec, uniques.astype(np.float64))
            texts = [
                format_reason(spec.reason, v, share_below=b)
                for v, b in zip(uniques, below, strict=True)
            ]
        else:
            texts = [format_reason(spec.reason, v) for v in uniques]
        if spec.zero_reason is not None:
            texts = [
                spec.zero_reason if _is_zero(v) else text
                for v, text in zip(uniques, texts, strict=True)
            ]
        out[~missing] = np.asarray(texts, dtype=object)[inverse]
    return out


def _is_zero(value: object) -> bool:
    return not isinstance(value, str) and bool(value == 0)
