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

Reason templates are filled by :func:`riskgraph.graph.features.reason_text.format_reason`
(plural agreement, "less than 1%" rather than a false "0%", bands as words). A sentence
must be true for every value that can cost points and quote no internal score. Every
variable has a stable reason code (:attr:`VariableSpec.code`, the table in
docs/score.md): the catalogue's for graph features, :data:`ATTRIBUTE_SPECS`' for known
attributes, ``A:<column>`` for any other attribute of the users table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from riskgraph.graph.features.reason_text import format_reason as _fill
from riskgraph.graph.features.reason_text import template_fields
from riskgraph.score.thin_file import NO_CREDIT_HISTORY

__all__ = [
    "ATTRIBUTE_SPECS",
    "GNN_RISK",
    "NETWORK_CODE",
    "NETWORK_REASON",
    "NO_CREDIT_HISTORY_CODE",
    "NO_CREDIT_HISTORY_REASON",
    "CatalogEntry",
    "VariableSpec",
    "describe_variables",
    "format_reason",
    "ordinal_positions",
    "refresh_graph_specs",
    "share_below",
]

#: Name of the GNN probability column in the score frame.
GNN_RISK = "gnn_risk"
#: Reason code of ``no_credit_history`` (the thin-file indicator).
NO_CREDIT_HISTORY_CODE = "C01"
#: Reason code of the network model's points when no graph fact true of the applicant
#: carries them (docs/score.md, "Reasons").
NETWORK_CODE = "N01"

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
        Sentence template for an applicant, with ``{value}`` (the user's value) and
        optionally ``{share_below}`` (see ``reference``); the specs of
        :mod:`riskgraph.graph.features.reason_text`.
    missing_reason : str
        Sentence when the user's value is missing and that costs points.
    missing_is_neutral : bool
        Missing values get weight of evidence 0 instead of the empirical weight of
        their bin, and are never a reason (they lose no points in the reason
        codes); set for credit-history attributes, whose missingness the
        ``no_credit_history`` indicator carries, for graph features whose missing
        value is no risk factor (catalogue ``missing_neutral``: a share with no
        labelled user to take it of, a ring feature of a user in no ring), and by
        the scorecard for missing bins too small to weigh.
    zero_reason : str or None
        Sentence when the value is 0 and costs points (catalogue ``zero_reason``);
        None: a 0 of an ascending variable is never a reason.
    reference : tuple of float or None
        For templates with ``{share_below}``: 1,001 quantiles (0%, 0.1%, ..., 100%,
        ``inverted_cdf``) of the variable among the scorecard's training users.
    categories : tuple of str or None
        An ordinal attribute's categories, lowest first: the model bins their
        positions 0, 1, ... (``dtype`` numerical, with ``monotonic_trend``; an
        unknown category is missing) and the sentence quotes the category.
    code : str
        Stable reason code (docs/score.md).
    topic : str
        The fact the variable tells; an applicant's reasons quote one variable per
        topic (the catalogue's topics; a variable's own name otherwise).
    advice : str or None
        What would score better, with ``{edge}`` (the edge of the user's bin towards
        the better bins), appended to the reason when the value's own bin loses points.
    """

    name: str
    kind: Kind
    dtype: Literal["numerical", "categorical"]
    monotonic_trend: str | None
    reason: str
    missing_reason: str
    missing_is_neutral: bool = False
    zero_reason: str | None = None
    reference: tuple[float, ...] | None = None
    categories: tuple[str, ...] | None = None
    code: str = ""
    topic: str = ""
    advice: str | None = None


@dataclass(frozen=True)
class _AttributeMeaning:
    trend: str | None
    reason: str
    missing_reason: str
    #: Stable reason code.
    code: str
    #: Ordered categories, lowest first: binned by position with ``trend``.
    order: tuple[str, ...] | None = None
    #: What would score better (``VariableSpec.advice``).
    advice: str | None = None


#: Known user attributes of the synthetic population and of typical lender data:
#: trend of the bad rate against the value, and the applicant-facing sentences.
ATTRIBUTE_SPECS: dict[str, _AttributeMeaning] = {
    "credit_history_months": _AttributeMeaning(
        "descending",
        "credit history of {value:count} {value:month|months}",
        "length of credit history unknown",
        "A03",
    ),
    "past_loans": _AttributeMeaning(
        "auto_asc_desc",
        "{value:count} earlier {value:loan|loans} on record",
        "number of earlier loans unknown",
        "A04",
    ),
    "past_dues": _AttributeMeaning(
        "ascending",
        "{value:count} late {value:payment|payments} on earlier loans",
        "repayment record on earlier loans unknown",
        "A01",
    ),
    "utilization": _AttributeMeaning(
        "ascending",
        "uses {value:pct} of the credit limits already granted",
        "use of existing credit limits unknown",
        "A02",
        advice="below {edge:pct_below} would score better",
    ),
    # Income bands are ordered and a higher income is never riskier: left to bad
    # rates alone, the early labels (ring bust-outs that state high incomes) put
    # "20k+" in one bin with "3k-6k", and applicants would read "stated monthly
    # income of 20k or more" as a reason; ordered, the ranking is as good.
    "income_band": _AttributeMeaning(
        "descending",
        "stated monthly income {value:range}",
        "monthly income not stated",
        "A05",
        order=("<3k", "3k-6k", "6k-10k", "10k-20k", "20k+"),
    ),
    # Excluded from the scorecard by default (CreditScorecard.exclude): no code of
    # their own, like any other attribute.
    "age_band": _AttributeMeaning(None, "age group {value}", "age not stated", "A:age_band"),
    "region": _AttributeMeaning(None, "lives in a {value} area", "region not stated", "A:region"),
}

_TRENDS = {"increasing": "ascending", "decreasing": "descending", "none": "auto_asc_desc"}

# The GNN's probability costs points for most users (few sit in its best bin). Its
# points are told as the graph facts true of the applicant that carry them (reasons.py);
# this sentence is read only when no such fact exists. The probability is an internal
# score, so the sentence states where the applicant stands among the scorecard's
# training applicants: true for every value, and it grows with the risk.
NETWORK_REASON = (
    "the devices, accounts and contacts linked to this applicant carry more risk than "
    "those of {share_below:pct} of applicants"
)
NO_CREDIT_HISTORY_REASON = "no credit history yet"
#: Quantile levels of ``VariableSpec.reference``.
_REFERENCE_LEVELS = np.linspace(0.0, 1.0, 1001)


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
                name,
                "indicator",
                "numerical",
                "ascending",
                NO_CREDIT_HISTORY_REASON,
                NO_CREDIT_HISTORY_REASON,
                code=NO_CREDIT_HISTORY_CODE,
                topic=name,
            )
        elif name == GNN_RISK:
            spec = VariableSpec(
                name,
                "gnn",
                "numerical",
                "ascending",
                NETWORK_REASON,
                "network risk not available",
                code=NETWORK_CODE,
                topic=name,
            )
        elif name in catalog:
            spec = _graph_spec(name, catalog[name], dtype, numerical)
        elif name in ATTRIBUTE_SPECS:
            meaning = ATTRIBUTE_SPECS[name]
            if not numerical and _within(frame[name], meaning.order):
                spec = VariableSpec(
                    name,
                    "attribute",
                    "numerical",
                    meaning.trend or "auto_asc_desc",
                    meaning.reason,
                    meaning.missing_reason,
                    categories=meaning.order,
                    code=meaning.code,
                    topic=name,
                )
            else:
                spec = VariableSpec(
                    name,
                    "attribute",
                    dtype,
                    (meaning.trend or "auto_asc_desc") if numerical else None,
                    meaning.reason,
                    meaning.missing_reason,
                    code=meaning.code,
                    topic=name,
                    advice=meaning.advice if numerical else None,
                )
        else:
            spec = VariableSpec(
                name,
                "attribute",
                dtype,
                "auto_asc_desc" if numerical else None,
                f"{label} of {{value:g}}" if numerical else f"{label}: {{value}}",
                f"{label} unknown",
                code=f"A:{name}",
                topic=name,
            )
        if name in history_columns:
            spec = VariableSpec(**{**spec.__dict__, "missing_is_neutral": True})
        if numerical and "share_below" in template_fields(spec.reason):
            spec = VariableSpec(**{**spec.__dict__, "reference": _quantiles(frame[name])})
        specs.append(spec)
    return specs


def _graph_spec(
    name: str,
    entry: CatalogEntry,
    dtype: Literal["numerical", "categorical"],
    numerical: bool,
) -> VariableSpec:
    """The spec of a graph feature, from its catalogue entry."""
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
    return VariableSpec(
        name,
        "graph",
        dtype,
        _TRENDS[direction] if numerical else None,
        entry.reason,
        getattr(entry, "missing_reason", None) or _graph_missing_reason(name),
        missing_is_neutral=bool(getattr(entry, "missing_neutral", False)),
        zero_reason=getattr(entry, "zero_reason", None),
        **_graph_wording(name, entry),
    )


def _graph_wording(name: str, entry: CatalogEntry) -> dict[str, Any]:
    """What a catalogue entry gives a graph variable's wording: code, topic, advice.
    A catalogue without them (a caller's own) gets ``G:<name>`` and a topic per feature."""
    return {
        "code": getattr(entry, "code", None) or f"G:{name}",
        "topic": getattr(entry, "topic", None) or name,
        "advice": getattr(entry, "advice", None),
    }


def refresh_graph_specs(
    specs: Mapping[str, VariableSpec], catalog: Mapping[str, CatalogEntry] | None = None
) -> dict[str, VariableSpec]:
    """``specs`` worded as riskgraph words them now: codes, topics, advice and the
    sentences of the graph features (from ``catalog``, the effective configuration's
    catalogue, so that reasons quote the thresholds in force rather than those of the
    day the model was fitted) and of the network model.

    Trends, missing-value handling and the network model's reference quantiles stay
    the model's: they are part of its bins. A model saved before codes existed gets
    them here.
    """
    if catalog is None:
        from riskgraph.graph.features import FEATURE_CATALOG

        catalog = FEATURE_CATALOG
    out = {}
    for name, spec in specs.items():
        entry = catalog.get(name)
        meaning = ATTRIBUTE_SPECS.get(name)
        if spec.name == NO_CREDIT_HISTORY:
            spec = replace(spec, code=NO_CREDIT_HISTORY_CODE, topic=name)
        elif spec.kind == "gnn":
            spec = replace(spec, reason=NETWORK_REASON, code=NETWORK_CODE, topic=name)
        elif spec.kind == "graph" and entry is not None and entry.reason is not None:
            spec = replace(
                spec,
                reason=entry.reason,
                zero_reason=getattr(entry, "zero_reason", None),
                **_graph_wording(name, entry),
            )
        elif spec.kind == "graph":
            spec = replace(spec, code=getattr(spec, "code", "") or f"G:{name}", topic=name)
        elif meaning is not None:
            numeric = spec.dtype == "numerical" and getattr(spec, "categories", None) is None
            spec = replace(
                spec, code=meaning.code, topic=name, advice=meaning.advice if numeric else None
            )
        else:
            spec = replace(spec, code=f"A:{name}", topic=name)
        out[name] = spec
    return out


def share_below(spec: VariableSpec, values: np.ndarray) -> np.ndarray:
    """Share of the training users whose value is below each of ``values``, rounded
    *down* to a whole percent (so "riskier than 85% of applicants" is never an
    overstatement), ``(n,)``; NaN without a reference or for missing values.

    With the ``inverted_cdf`` quantiles ``q_i`` at levels ``i / 1000``, ``q_i < v``
    implies that at least ``i / 1000`` of the training values are below ``v``.
    """
    values = np.asarray(values, dtype=np.float64)
    if spec.reference is None:
        return np.full(len(values), np.nan)
    q = np.asarray(spec.reference, dtype=np.float64)
    strictly_above = np.searchsorted(q, values, side="left")  # number of q_i < v
    share = np.maximum(strictly_above - 1, 0) / (len(q) - 1)
    share = np.floor(share * 100.0 + 1e-9) / 100.0
    return np.where(np.isnan(values), np.nan, share)


def _quantiles(column: pd.Series) -> tuple[float, ...] | None:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return None
    return tuple(float(v) for v in np.quantile(values, _REFERENCE_LEVELS, method="inverted_cdf"))


def _graph_missing_reason(name: str) -> str:
    """Sentence for a graph feature that is missing (not applicable) and costs points.

    The catalogue documents NaN as "not applicable": no labelled user among the
    linked ones, no ring, no application in the window. Shares and ring features
    are ``missing_neutral`` there and never a reason ("is not part of a group of
    linked accounts" once cost points where a small ring's bin beat the no-ring bin).
    """
    if "bad_share" in name or name.endswith("bad_rate"):
        return "no user linked to this applicant has a repayment record yet"
    if name.startswith("amount_"):
        return "no recent credit application with an amount"
    return f"no record of {name.replace('_', ' ')}"


def format_reason(template: str, value: Any, **fields: Any) -> str:
    """Fill a reason template (:func:`riskgraph.graph.features.reason_text.format_reason`): plural
    agreement, bands and shares as words; a category in a numeric spec is written
    as it is.

    Examples
    --------
    >>> format_reason("{value:count} late {value:payment|payments} on earlier loans", 1.0)
    '1 late payment on earlier loans'
    """
    return _fill(template, value, **fields)


def ordinal_positions(column: pd.Series | np.ndarray, categories: tuple[str, ...]) -> np.ndarray:
    """Positions ``0, 1, ...`` of an ordinal attribute's categories, ``(n,)`` float64;
    NaN for missing values and categories not in ``categories``."""
    position = {c: float(i) for i, c in enumerate(categories)}
    values = pd.Series(np.asarray(column, dtype=object))
    return values.map(position).to_numpy(dtype=np.float64, na_value=np.nan)


def _within(column: pd.Series, order: tuple[str, ...] | None) -> bool:
    """Whether every stated category of ``column`` is one of ``order`` (an ordering
    that does not know a lender's categories is not used)."""
    if order is None:
        return False
    values = column.dropna().astype(str).unique()
    return len(values) > 0 and set(values) <= set(order)


def _is_numeric(series: pd.Series) -> bool:
    return bool(
        pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)
    ) and not isinstance(series.dtype, pd.CategoricalDtype)
