"""Fairness of the decisions: approval rate and bad rate among the approved, by group.

For each audited attribute (age band and region by default) a fairlearn
``MetricFrame`` gives, per group:

* ``approval_rate``: share of the group's users approved;
* ``bad_rate_approved``: share of bad users among the group's *approved* users
  whose outcome is known.

and the largest gap between two groups (``difference``, ``ratio``, which groups).
A low approval rate with a low bad rate among the approved is a sign that a group
is held to a stricter standard than it needs; a high bad rate among the approved
that it is held to a looser one.

Outcomes are known only for users labelled before the run date, so in the nightly
run the bad rate comes from the labelled users scored tonight (who were approved
or not by tonight's score, whatever happened to them earlier): it measures the
*policy*, not past lending.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame

__all__ = ["FairnessReport", "fairness_report"]

_METRICS = ("approval_rate", "bad_rate_approved")


def _approval_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_pred)) if len(y_pred) else float("nan")


def _bad_rate_approved(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    known = (np.asarray(y_pred) == 1) & ~np.isnan(y_true)
    return float(np.mean(y_true[known])) if known.any() else float("nan")


def _count(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(len(y_pred))


def _approved_labelled(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(((np.asarray(y_pred) == 1) & ~np.isnan(y_true)).sum())


@dataclass(frozen=True)
class FairnessReport:
    """Approval and bad rates by group.

    Attributes
    ----------
    table : pd.DataFrame
        One row per (attribute, group): ``attribute``, ``group``, ``users``,
        ``approval_rate``, ``approved_labelled`` (approved users with a known
        outcome), ``bad_rate_approved``; then a row per attribute with
        ``group = "overall"``. For report.html.
    summary : dict
        JSON-ready, for run.json: per attribute and metric, ``by_group``,
        ``overall``, ``difference`` (largest minus smallest), ``ratio`` (smallest
        over largest), ``highest`` and ``lowest`` (the groups). NaN becomes None.
    """

    table: pd.DataFrame
    summary: dict[str, Any]

    def largest_gaps(self) -> pd.DataFrame:
        """Per attribute and metric: the gap, its ratio and the two groups, largest
        gap first."""
        rows = [
            {
                "attribute": attribute,
                "metric": metric,
                "difference": values["difference"],
                "ratio": values["ratio"],
                "highest": values["highest"],
                "lowest": values["lowest"],
            }
            for attribute, metrics in self.summary.items()
            for metric, values in metrics.items()
        ]
        frame = pd.DataFrame(
            rows, columns=["attribute", "metric", "difference", "ratio", "highest", "lowest"]
        )
        return frame.sort_values(
            "difference", ascending=False, na_position="last", ignore_index=True
        )


def fairness_report(
    decision: Any,
    label: Any,
    groups: pd.DataFrame,
    attributes: tuple[str, ...] = ("age_band", "region"),
    min_group_size: int = 1,
) -> FairnessReport:
    """Approval rate and bad rate among the approved, by group.

    Parameters
    ----------
    decision : array-like
        ``(n,)`` decisions (``"approve"``, ``"review"``, ``"decline"``).
    label : array-like
        ``(n,)`` known outcomes: 1 bad, 0 good, NaN/<NA> unknown.
    groups : pd.DataFrame
        ``(n, ...)`` with the ``attributes`` columns (e.g. the users table).
    attributes : tuple of str
        Columns audited; absent ones are skipped.
    min_group_size : int
        Groups with fewer users are left out of the gaps (still in the table).

    Returns
    -------
    FairnessReport

    Raises
    ------
    ValueError
        When the lengths of ``decision``, ``label`` and ``groups`` differ.

    Examples
    --------
    >>> r = fairness_report(
    ...     ["approve", "decline", "approve", "approve"], [0, 1, 1, np.nan],
    ...     pd.DataFrame({"region": ["a", "a", "b", "b"]}), attributes=("region",))
    >>> r.summary["region"]["approval_rate"]["by_group"]
    {'a': 0.5, 'b': 1.0}
    >>> r.summary["region"]["bad_rate_approved"]["difference"]
    1.0
    """
    approved = np.asarray(pd.Series(decision).astype(str).to_numpy() == "approve", dtype=np.int64)
    y = pd.Series(label).astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    if not len(approved) == len(y) == len(groups):
        raise ValueError(
            f"fairness_report: decision ({len(approved)}), label ({len(y)}) and groups "
            f"({len(groups)}) must have one entry per user"
        )
    tables = []
    summary: dict[str, Any] = {}
    for attribute in attributes:
        if attribute not in groups.columns:
            continue
        sensitive = (
            pd.Series(groups[attribute].to_numpy(), name=attribute).astype(object).fillna("missing")
        ).astype(str)
        frame = MetricFrame(
            metrics={
                "users": _count,
                "approval_rate": _approval_rate,
                "approved_labelled": _approved_labelled,
                "bad_rate_approved": _bad_rate_approved,
            },
            y_true=y,
            y_pred=approved,
            sensitive_features=sensitive,
        )
        by_group = frame.by_group.reset_index().rename(columns={attribute: "group"})
        overall = {"group": "overall", **frame.overall.to_dict()}
        table = pd.concat([by_group, pd.DataFrame([overall])], ignore_index=True)
        table.insert(0, "attribute", attribute)
        tables.append(table)
        eligible = frame.by_group[frame.by_group["users"] >= min_group_size]
        summary[attribute] = {
            metric: _gap(eligible[metric], float(frame.overall[metric])) for metric in _METRICS
        }
    columns = [
        "attribute",
        "group",
        "users",
        "approval_rate",
        "approved_labelled",
        "bad_rate_approved",
    ]
    table = (
        pd.concat(tables, ignore_index=True)[columns] if tables else pd.DataFrame(columns=columns)
    )
    table["users"] = table["users"].astype(np.int64)
    table["approved_labelled"] = table["approved_labelled"].astype(np.int64)
    return FairnessReport(table=table, summary=summary)


def _gap(values: pd.Series, overall: float) -> dict[str, Any]:
    known = values.dropna()
    by_group = {str(k): _json_float(v) for k, v in values.items()}
    if known.empty:
        return {
            "by_group": by_group,
            "overall": _json_float(overall),
            "difference": None,
            "ratio": None,
            "highest": None,
            "lowest": None,
        }
    high, low = known.idxmax(), known.idxmin()
    difference = float(known[high] - known[low])
    ratio = float(known[low] / known[high]) if known[high] > 0 else None
    return {
        "by_group": by_group,
        "overall": _json_float(overall),
        "difference": difference,
        "ratio": ratio,
        "highest": str(high),
        "lowest": str(low),
    }


def _json_float(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)
