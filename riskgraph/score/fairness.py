"""Fairness of the decisions: approval rate and bad rate among the approved, by group.

Attributes a lender declares protected (:class:`FairnessConfig`, config table
``[fairness]``, e.g. ``protected = ["age", "gender"]``) are never model inputs nor
reasons: the nightly job gives the models the users table without them. They are used
here only, audited beside age band and region. A numeric one (an age in years) is
audited by quintile bands.

For each audited attribute a fairlearn
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

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame

__all__ = ["DEFAULT_AUDITED", "FairnessConfig", "FairnessReport", "fairness_report"]

_METRICS = ("approval_rate", "bad_rate_approved")
#: Audited whether declared or not (the scorecard leaves them out by default).
DEFAULT_AUDITED = ("age_band", "region")
#: A numeric attribute with more distinct values is audited by quintile bands.
_MAX_GROUPS = 10


@dataclass(frozen=True)
class FairnessConfig:
    """Protected attributes (config table ``[fairness]``).

    Parameters
    ----------
    protected : tuple of str, default ()
        Columns of the users table that must never be a model input nor a reason
        (age, gender, ...): the models are trained and scored without them, and
        they are audited in the fairness table.
    """

    protected: tuple[str, ...] = ()

    def validate(self) -> FairnessConfig:
        """Check the names; return ``self``.

        Raises
        ------
        ConfigError
            When a name is empty or one of the users table's fixed columns.
        """
        from riskgraph.errors import ConfigError
        from riskgraph.loaders.tables import TABLE_COLUMNS

        for name in self.protected:
            if not name.strip() or name in TABLE_COLUMNS["users"]:
                raise ConfigError(
                    f"fairness.protected: {name!r} cannot be protected; expected an attribute "
                    f"column of users, not one of {list(TABLE_COLUMNS['users'])}"
                )
        return self

    @property
    def audited(self) -> tuple[str, ...]:
        """The attributes the fairness table audits: the defaults, then the protected."""
        return tuple(dict.fromkeys((*DEFAULT_AUDITED, *self.protected)))


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
        sensitive = _groups(groups[attribute]).rename(attribute)
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


def _groups(column: pd.Series) -> pd.Series:
    """One group label per user: the value, or a quintile band of a numeric attribute
    with many values ("25-34"); missing values form the group ``"missing"``."""
    values = pd.Series(column.to_numpy())
    numeric = pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
        values.dtype
    )
    if numeric and values.nunique() > _MAX_GROUPS:
        x = values.astype("float64")
        edges = np.unique(np.nanquantile(x, np.linspace(0.0, 1.0, 6)))
        which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        labels = [f"{_number(a)}-{_number(b)}" for a, b in itertools.pairwise(edges)]
        out = pd.Series(np.asarray(labels, dtype=object)[which], dtype=object)
        return out.where(x.notna().to_numpy(), "missing").astype(str)
    return values.astype(object).fillna("missing").astype(str)


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"


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
