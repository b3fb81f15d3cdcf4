"""What the scorecard knows about each of its variables: type, trend, reason text.

Every scorecard input gets a :class:`VariableSpec`: whether it is numerical or
categorical, the monotonic trend its bins must follow (where the business meaning
demands one), how its missing values are weighed, and the sentence an applicant
reads when the variable costs points.

The trend comes from the meaning of the variable, never from the data alone:

* graph features: the catalogue's ``risk_direction`` (``"increasing"`` ->
  bins whose bad rate ascends with the value, ``"decreasing"`` -> descends);
* user attributes with a known meaning (:data:`ATTRIBUTE_SPECS`): more past dues
  or higher utilization is riskier, a longer credit history safer;
* the GNN probability: ascending, by definition;
* anything else: monotonic in whichever direction fits (``"auto_asc_desc"``), so
  that every variable's points move one way and its reason reads the same for
  everyone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import pandas as pd

from riskgraph.score.thin_file import NO_CREDIT_HISTORY

__all__ = [
    "ATTRIBUTE_SPECS",
    "GNN_RISK",
    "CatalogEntry",
    "VariableSpec",
    "describe_variables",
    "format_reason",
]

#: Name of the GNN probability column in the score frame.
GNN_RISK = "gnn_risk"

Kind = Literal["attribute", "graph", "gnn", "indicator"]


class CatalogEntry(Protocol):
    """What the scorecard reads from a graph feature's catalogue entry
    (:data:`riskgraph.graph.features.FEATURE_CATALOG`)."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def risk_direction(self) -> str: ...


@dataclass(frozen=True)
class VariableSpec:
    """One scorecard variable.

    Attributes
    ----------
    name : str
        Column of the score frame.
    kind : {"attribute", "graph", "gnn", "indicator"}
        Where it comes from.
    dtype : {"numerical", "categorical"}
    monotonic_trend : str or None
        optbinning's ``monotonic_trend`` (bad rate against the value), None for
        categorical variables (their bins are ordered by bad rate anyway).
    reason : str
        Sentence template for an applicant, with ``{value}`` (the user's value).
    missing_reason : str
        Sentence when the user's value is missing and that costs points.
    missing_is_neutral : bool
        Missing values get weight of evidence 0 (no points either way) instead of
        the empirical weight of their bin; set for credit-history attributes,
        whose missingness the ``no_credit_history`` indicator carries.
    """

    name: str
    kind: Kind
    dtype: Literal["numerical", "categorical"]
    monotonic_trend: str | None
    reason: str
    missing_reason: str
    missing_is_neutral: bool = False


@dataclass(frozen=True)
class _AttributeMeaning:
    trend: str | None
    reason: str
    missing_reason: str


#: Known user attributes of the synthetic population and of typical lender data:
#: trend of the bad rate against the value, and the applicant-facing sentences.
ATTRIBUTE_SPECS: dict[str, _AttributeMeaning] = {
    "credit_history_months": _AttributeMeaning(
        "descending",
        "credit history of {value:.0f} months",
        "length of credit history unknown",
    ),
    "past_loans": _AttributeMeaning(
        "auto_asc_desc",
        "{value:.0f} earlier loans on record",
        "number of earlier loans unknown",
    ),
    "past_dues": _AttributeMeaning(
        "ascending",
        "{value:.0f} late payments on earlier loans",
        "repayment record on earlier loans unknown",
    ),
    "utilization": _AttributeMeaning(
        "ascending",
        "uses {value:.0%} of the credit limits already granted",
        "use of existing credit limits unknown",
    ),
    "income_band": _AttributeMeaning(
        None, "stated monthly income in the {value} band", "monthly income not stated"
    ),
    "age_band": _AttributeMeaning(None, "age group {value}", "age not stated"),
    "region": _AttributeMeaning(None, "lives in a {value} area", "region not stated"),
}

_TRENDS = {"increasing": "ascending", "decreasing": "descending", "none": "auto_asc_desc"}

_FORMAT_SPEC = re.compile(r"\{value(?:![rsa])?(?::[^}]*)?\}")

# The GNN's probability costs points for most users (few sit in its best bin), so the
# sentence states the level rather than claiming "high-risk links" for everyone.
_GNN_REASON = (
    "network risk of {value:.1%} from the devices, accounts and contacts linked to this applicant"
)
_NO_HISTORY_REASON = "no credit history yet"


def describe_variables(
    frame: pd.DataFrame,
    catalog: Mapping[str, CatalogEntry],
    history_columns: tuple[str, ...] | list[str] = (),
) -> list[VariableSpec]:
    """A :class:`VariableSpec` for every column of a score frame.

    Parameters
    ----------
    frame : pd.DataFrame
        ``(n, p)`` score frame (after :meth:`ThinFileRule.apply`): numeric columns
        are numerical variables, text and categorical columns categorical ones.
    catalog : mapping
        Graph feature name -> catalogue entry.
    history_columns : sequence of str
        Credit-history attributes whose missing values are neutral.

    Returns
    -------
    list of VariableSpec
        In the order of ``frame.columns``.

    Raises
    ------
    ValueError
        When the catalogue gives a ``risk_direction`` other than increasing,
        decreasing or none.
    """
    specs = []
    for name in frame.columns:
        numerical = _is_numeric(frame[name])
        dtype: Literal["numerical", "categorical"] = "numerical" if numerical else "categorical"
        label = name.replace("_", " ")
        if name == NO_CREDIT_HISTORY:
            spec = VariableSpec(
                name, "indicator", "numerical", "ascending", _NO_HISTORY_REASON, _NO_HISTORY_REASON
            )
        elif name == GNN_RISK:
            spec = VariableSpec(
                name, "gnn", "numerical", "ascending", _GNN_REASON, "network risk not available"
            )
        elif name in catalog:
            entry = catalog[name]
            direction = str(entry.risk_direction)
            if direction not in _TRENDS:
                raise ValueError(
                    f"feature catalogue: {name}.risk_direction = {direction!r}; "
                    f"expected one of {sorted(_TRENDS)}"
                )
            if entry.reason is None:
                raise ValueError(
                    f"feature catalogue: {name} has no reason text (an identifier); it "
                    "cannot be a scorecard input"
                )
            spec = VariableSpec(
                name,
                "graph",
                dtype,
                _TRENDS[direction] if numerical else None,
                entry.reason,
                getattr(entry, "missing_reason", None) or _graph_missing_reason(name),
            )
        elif name in ATTRIBUTE_SPECS:
            meaning = ATTRIBUTE_SPECS[name]
            spec = VariableSpec(
                name,
                "attribute",
                dtype,
                (meaning.trend or "auto_asc_desc") if numerical else None,
                meaning.reason,
                meaning.missing_reason,
            )
        else:
            spec = VariableSpec(
                name,
                "attribute",
                dtype,
                "auto_asc_desc" if numerical else None,
                f"{label} of {{value:g}}" if numerical else f"{label}: {{value}}",
                f"{label} unknown",
            )
        if name in history_columns:
            spec = VariableSpec(**{**spec.__dict__, "missing_is_neutral": True})
        specs.append(spec)
    return specs


def _graph_missing_reason(name: str) -> str:
    """Sentence for a graph feature that is missing (not applicable) and costs points.

    The catalogue documents NaN as "not applicable": no labelled user among the
    linked ones, no ring, no application in the window.
    """
    if "bad_share" in name or name.endswith("bad_rate"):
        return "none of the users linked to this applicant has a repayment record yet"
    if name.startswith("ring_"):
        return "not part of a group of linked accounts"
    if name.startswith("amount_"):
        return "no recent credit application with an amount"
    return f"no record of {name.replace('_', ' ')}"


def format_reason(template: str, value: Any) -> str:
    """Fill ``{value}`` into a reason template; fall back to plain ``str`` formatting
    when the template's format spec does not fit the value (a category in a numeric
    template)."""
    try:
        return template.format(value=value)
    except (ValueError, TypeError):
        return _FORMAT_SPEC.sub("{value}", template).format(value=value)


def _is_numeric(series: pd.Series) -> bool:
    return bool(
        pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)
    ) and not isinstance(series.dtype, pd.CategoricalDtype)
