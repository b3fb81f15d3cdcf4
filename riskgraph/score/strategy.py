"""The cut-off strategy: what each cut-off would approve, at which bad rate.

A risk team sets its cut-offs from a strategy table: per cut-off on the credit score,
the share of applicants approved, the bad rate expected among them (the calibrated
``risk_score``) and the bad rate observed on labelled users. :func:`strategy_table`
gives it every :data:`STRATEGY_STEP` points; :func:`resolve_cutoffs` turns the
targets of :class:`~riskgraph.score.decisions.DecisionPolicy` into cut-offs:

* ``approve_rate``: the highest cut-off that still approves at least that share;
* ``max_bad_rate``: the lowest cut-off whose expected bad rate among the approved is
  at most that (with both, the stricter, higher cut-off wins);
* ``review_budget``: the lowest ``decline_below`` (the widest review band under
  ``approve_from``) that sends at most that share to review.

Approval counts what the policy would really approve: graph flags that send a user to
review (:func:`forced_review`) take that user out of the approved at every cut-off.
Scores are whole numbers, so a target is met as closely as the users tied on one
score allow.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from riskgraph.score.decisions import DecisionPolicy
from riskgraph.score.development import SCORE_RANGE, DevelopmentSample, score_histogram

__all__ = [
    "STRATEGY_STEP",
    "ResolvedCutoffs",
    "forced_review",
    "resolve_cutoffs",
    "strategy_table",
]

#: Points between the cut-offs of the strategy table.
STRATEGY_STEP = 10

_LOW, _HIGH = SCORE_RANGE


@dataclass(frozen=True)
class ResolvedCutoffs:
    """The cut-offs a night used and what they did.

    Attributes
    ----------
    approve_from, decline_below : int
    approve_rate, review_rate, decline_rate : float
        Shares of the users decided (graph flags included).
    expected_bad_rate : float
        Mean ``risk_score`` of the approved (NaN when nobody is approved).
    targets : dict[str, float]
        The targets of the policy (empty with fixed cut-offs).
    binding : str or None
        The target that set ``approve_from`` (``"approve_rate"`` or
        ``"max_bad_rate"``); None when it is the policy's own.
    notes : tuple of str
        Targets that could not be met, and why.
    """

    approve_from: int
    decline_below: int
    approve_rate: float
    review_rate: float
    decline_rate: float
    expected_bad_rate: float
    targets: dict[str, float]
    binding: str | None
    notes: tuple[str, ...] = ()

    def policy(self, policy: DecisionPolicy) -> DecisionPolicy:
        """``policy`` with these cut-offs."""
        return replace(policy, approve_from=self.approve_from, decline_below=self.decline_below)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes None)."""
        return {
            "approve_from": self.approve_from,
            "decline_below": self.decline_below,
            "approve_rate": _json(self.approve_rate),
            "review_rate": _json(self.review_rate),
            "decline_rate": _json(self.decline_rate),
            "expected_bad_rate": _json(self.expected_bad_rate),
            "targets": dict(self.targets),
            "binding": self.binding,
            "notes": list(self.notes),
        }


def forced_review(flags: pd.DataFrame, policy: DecisionPolicy) -> np.ndarray:
    """Users the policy's graph flags send to review at the least, ``(n,)`` bool.

    Parameters
    ----------
    flags : pd.DataFrame
        ``ring_member``, ``intermediary_client``, ``multi_borrowing`` (bool), as
        ``ScoreResult.flags``; absent columns flag nobody.
    policy : DecisionPolicy
    """
    forced = np.zeros(len(flags), dtype=bool)
    for column, active in (
        ("ring_member", policy.review_ring_members),
        ("intermediary_client", policy.review_intermediary_clients),
        ("multi_borrowing", policy.review_multi_borrowers),
    ):
        if active and column in flags.columns:
            forced |= flags[column].to_numpy(dtype=bool)
    return forced


class _ByScore:
    """Users per credit score: approvable ones (not forced to review), forced ones, and
    the approvable ones' summed risk; the sums above a cut-off in one lookup."""

    def __init__(self, credit_score: np.ndarray, risk_score: np.ndarray, forced: np.ndarray):
        score = np.clip(np.asarray(credit_score, dtype=np.int64), _LOW, _HIGH) - _LOW
        free = ~forced
        cells = _HIGH - _LOW + 1
        self.n = len(score)
        # Cumulative from the top: index i holds the users scoring >= _LOW + i; one
        # more cell (0) for a cut-off above the highest score.
        self.free = _from_top(np.bincount(score[free], minlength=cells))
        self.all = _from_top(np.bincount(score, minlength=cells))
        self.risk = _from_top(np.bincount(score[free], weights=risk_score[free], minlength=cells))

    def _at(self, table: np.ndarray, cutoff: int) -> float:
        return float(table[int(np.clip(cutoff, _LOW, _HIGH + 1)) - _LOW])

    def approved(self, cutoff: int) -> float:
        return self._at(self.free, cutoff)

    def expected_bad_rate(self, cutoff: int) -> float:
        approved = self.approved(cutoff)
        return self._at(self.risk, cutoff) / approved if approved else float("nan")

    def reviewed(self, approve_from: int, decline_below: int) -> float:
        """Users between the cut-offs, and those above that the flags send to review."""
        forced_above = (self._at(self.all, approve_from)) - self.approved(approve_from)
        band = self._at(self.all, decline_below) - self._at(self.all, approve_from)
        return band + forced_above


def _from_top(counts: np.ndarray) -> np.ndarray:
    return np.append(np.cumsum(counts[::-1])[::-1], 0.0).astype(np.float64)


def resolve_cutoffs(
    policy: DecisionPolicy,
    credit_score: Any,
    risk_score: Any,
    forced: Any = None,
) -> ResolvedCutoffs:
    """The cut-offs the policy's targets resolve to on these users (see the module).

    Parameters
    ----------
    policy : DecisionPolicy
        Fixed cut-offs, targets or both (a target overrides its cut-off).
    credit_score, risk_score : array-like
        ``(n,)`` of the users to decide.
    forced : array-like of bool, optional
        ``(n,)`` users the flags send to review (:func:`forced_review`).

    Returns
    -------
    ResolvedCutoffs

    Examples
    --------
    >>> scores = np.arange(400, 900)
    >>> cut = resolve_cutoffs(DecisionPolicy(approve_rate=0.3), scores, np.full(500, 0.05))
    >>> cut.approve_from, round(cut.approve_rate, 2)
    (750, 0.3)
    """
    policy = policy.validate()
    credit = np.asarray(credit_score, dtype=np.int64)
    risk = np.asarray(risk_score, dtype=np.float64)
    flags = np.zeros(len(credit), dtype=bool) if forced is None else np.asarray(forced, bool)
    by = _ByScore(credit, risk, flags)
    n = max(by.n, 1)
    cutoffs = np.arange(_LOW, _HIGH + 2)
    notes: list[str] = []
    candidates: dict[str, int] = {}
    if policy.approve_rate is not None:
        reach = [c for c in cutoffs if by.approved(c) >= policy.approve_rate * by.n]
        if reach:
            candidates["approve_rate"] = int(max(reach))
        else:
            candidates["approve_rate"] = _LOW
            notes.append(
                f"approve_rate {policy.approve_rate:.1%} cannot be reached: the graph flags "
                f"send {flags.mean():.1%} of the users to review"
            )
    if policy.max_bad_rate is not None:
        within = [c for c in cutoffs if not by.expected_bad_rate(c) > policy.max_bad_rate]
        # The empty approval (cut-off above every score) always qualifies.
        candidates["max_bad_rate"] = int(min(within))
        if candidates["max_bad_rate"] > _HIGH:
            notes.append(
                f"max_bad_rate {policy.max_bad_rate:.1%}: no cut-off approves anyone at that "
                "expected bad rate"
            )
    binding = max(candidates, key=candidates.__getitem__) if candidates else None
    approve_from = candidates[binding] if binding else policy.approve_from
    decline_below = min(policy.decline_below, approve_from)
    if policy.decline_below > approve_from and policy.review_budget is None:
        notes.append(f"decline_below {policy.decline_below} lowered to approve_from {approve_from}")
    if policy.review_budget is not None:
        budget = policy.review_budget * by.n
        fits = [d for d in range(_LOW, approve_from + 1) if by.reviewed(approve_from, d) <= budget]
        if fits:
            decline_below = int(min(fits))
        else:
            decline_below = approve_from
            notes.append(
                f"review_budget {policy.review_budget:.1%} cannot be kept: the graph flags "
                f"send {by.reviewed(approve_from, approve_from) / n:.1%} to review"
            )
    approved = by.approved(approve_from)
    reviewed = by.reviewed(approve_from, decline_below)
    return ResolvedCutoffs(
        approve_from=int(approve_from),
        decline_below=int(decline_below),
        approve_rate=approved / n,
        review_rate=reviewed / n,
        decline_rate=(by.n - approved - reviewed) / n,
        expected_bad_rate=by.expected_bad_rate(approve_from),
        targets=policy.targets,
        binding=binding,
        notes=tuple(notes),
    )


def strategy_table(
    credit_score: Any,
    risk_score: Any,
    forced: Any = None,
    *,
    development: DevelopmentSample | None = None,
    labelled: pd.DataFrame | None = None,
    step: int = STRATEGY_STEP,
) -> pd.DataFrame:
    """Per cut-off, the approval rate and the expected and observed bad rates.

    Parameters
    ----------
    credit_score, risk_score : array-like
        ``(n,)`` of the users decided tonight.
    forced : array-like of bool, optional
        ``(n,)`` users the flags send to review (never approved).
    development : DevelopmentSample, optional
        The scorecard's development sample: its out-of-fold scores and outcomes give
        the validation bad rate.
    labelled : pd.DataFrame, optional
        ``credit_score`` and ``label`` of users whose outcome became known since the
        model was trained (matured after the development sample): the recent bad rate.
    step : int
        Points between cut-offs, from 350.

    Returns
    -------
    pd.DataFrame
        One row per cut-off (350, 360, ..., 950): ``cutoff``, ``approval_rate``,
        ``approved``, ``expected_bad_rate`` (mean ``risk_score`` of the approved),
        ``validation_approval_rate`` and ``validation_bad_rate`` (development
        sample, out of fold; NaN without it), ``recent_approved`` and
        ``recent_bad_rate`` (labels matured since training; NaN without them).
    """
    credit = np.asarray(credit_score, dtype=np.int64)
    risk = np.asarray(risk_score, dtype=np.float64)
    flags = np.zeros(len(credit), dtype=bool) if forced is None else np.asarray(forced, bool)
    by = _ByScore(credit, risk, flags)
    cutoffs = np.arange(_LOW, _HIGH + 1, step)
    approved = np.array([by.approved(c) for c in cutoffs])
    table = pd.DataFrame(
        {
            "cutoff": cutoffs,
            "approval_rate": approved / max(by.n, 1),
            "approved": approved.astype(np.int64),
            "expected_bad_rate": [by.expected_bad_rate(c) for c in cutoffs],
        }
    )
    good_bad = None
    if development is not None and development.validation_good is not None:
        good_bad = (development.validation_good, development.validation_bad)
    table["validation_approval_rate"], table["validation_bad_rate"] = _observed(good_bad, cutoffs)
    recent = None
    if labelled is not None and len(labelled):
        label = labelled["label"].to_numpy(dtype=np.int64)
        scores = labelled["credit_score"].to_numpy()
        recent = (score_histogram(scores[label == 0]), score_histogram(scores[label == 1]))
    counts, table["recent_bad_rate"] = _observed(recent, cutoffs, counts=True)
    table.insert(len(table.columns) - 1, "recent_approved", counts.astype(np.int64))
    return table


def _observed(
    good_bad: tuple[np.ndarray, np.ndarray] | None, cutoffs: np.ndarray, counts: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Per cut-off, (share or count at or above it, bad rate at or above it)."""
    if good_bad is None:
        nan = np.full(len(cutoffs), np.nan)
        return (np.zeros(len(cutoffs)) if counts else nan), nan
    good, bad = (_from_top(np.asarray(c, dtype=np.float64)) for c in good_bad)
    at = cutoffs - _LOW
    above = good[at] + bad[at]
    total = good[0] + bad[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(above > 0, bad[at] / above, np.nan)
    return (above if counts else above / max(total, 1.0)), rate


def _json(value: float) -> float | None:
    return None if value is None or np.isnan(value) else float(value)
