"""Reason codes: the factors that cost a user the most points, in plain words.

For every user and every scorecard variable, the *points lost* are the points of the
variable's best bin minus the points of the user's bin (the usual "points below
maximum" method of adverse-action reasons). The factors losing the most points,
most first, become ``reason_1..3``, each a sentence with the user's own value filled
in ("shares a device with 3 users who defaulted", "uses 95% of the credit limits
already granted; below 30% would score better") and a stable code
(``reason_code_1..3``, docs/score.md). Fewer than three reasons appear only when fewer
factors lose points.

**The network model's points are told as facts.** The GNN's probability is a
scorecard variable, but "our network model says" is nothing a person can act on or
check. The GNN reads the applicant's links and the applicant's own details, so its
points lost are shared among the facts true of the applicant, graph features first
among them ("shares a device with 2 users who defaulted", "filed 4 credit
applications in the last 7 days") and the applicant's own attributes, that go with a
higher bad rate than the average in the development sample: a variable whose bin holds
the applicant's value with a negative weight of evidence (its users went bad more
often). The GNN's points are split among those facts in proportion to that evidence.
This is an attribution by evidence, read from the scorecard's bins, not from the
GNN's internals. Only when no such fact exists is the network model's own sentence
(code ``N01``) given.

**One reason per fact.** Variables that tell the same fact in other words (the
catalogue's ``topic``: every link to a defaulted user, every count of recent
applications) give one reason, the variable losing the most points, with the points
of the whole topic.

**Advice.** Where a variable has one (recent applications, amounts asked for,
utilization, credit history length) and the quoted value's own bin loses points, the
sentence says what would score better: the edge of the next better bin.

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
  is never a reason unless the variable has a ``zero_reason``, nor a graph fact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskgraph.graph.features.reason_text import template_fields
from riskgraph.score.scorecard import CreditScorecard
from riskgraph.score.thin_file import NO_CREDIT_HISTORY
from riskgraph.score.variables import (
    GNN_RISK,
    CatalogEntry,
    VariableSpec,
    format_reason,
    refresh_graph_specs,
    share_below,
)

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
    neutral = [j for j, name in enumerate(columns) if specs[name].missing_is_neutral]
    if neutral:
        # one frame operation for all of them: per-column access dominates for few users
        missing = prepared[[columns[j] for j in neutral]].isna().to_numpy()
        lost[:, neutral] = np.where(missing, 0.0, lost[:, neutral])
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
    catalog: Mapping[str, CatalogEntry] | None = None,
    bins: pd.DataFrame | None = None,
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
    catalog : mapping, optional
        The graph feature catalogue of the settings in force
        (:func:`riskgraph.graph.features.feature_catalog`): graph reasons are worded
        from it. Default: the catalogue the model was fitted with.
    bins : pd.DataFrame, optional
        :meth:`CreditScorecard.bin_indices` of ``prepared``, when the caller has them.

    Returns
    -------
    pd.DataFrame
        ``(n, 4 * n_reasons)``, index of ``points``: ``reason_1..k`` (text),
        ``reason_code_1..k`` (the stable code), ``reason_variable_1..k`` (the
        variable whose sentence is quoted) and ``points_lost_1..k`` (float);
        ``<NA>``/NaN where fewer factors lose points. Ties keep model order.
    """
    if n_reasons < 1:
        raise ValueError(f"n_reasons = {n_reasons!r}; expected >= 1")
    specs = refresh_graph_specs(model.variable_specs, catalog or model.catalog)
    # Row by row work, in chunks: the (n, n_variables) float64 temporaries of all
    # users at once grow with the population, a chunk's do not.
    finder = _ReasonFinder(model, specs, n_reasons, min_points_lost)
    n = len(points)
    return pd.concat(
        [
            finder.reasons(
                prepared.iloc[lo : lo + _ROW_CHUNK],
                points.iloc[lo : lo + _ROW_CHUNK],
                None if own_points is None else own_points.iloc[lo : lo + _ROW_CHUNK],
                None if bins is None else bins.iloc[lo : lo + _ROW_CHUNK],
            )
            for lo in range(0, max(n, 1), _ROW_CHUNK)
        ]
    )


#: Users whose reasons are found at once.
_ROW_CHUNK = 131_072


@dataclass(frozen=True)
class _ReasonFinder:
    """What turns points lost into reasons: the fitted scorecard, its variables as
    worded tonight, how many reasons to give and the least loss that is one."""

    model: CreditScorecard
    specs: dict[str, VariableSpec]
    n_reasons: int
    min_points_lost: float

    def reasons(
        self,
        prepared: pd.DataFrame,
        points: pd.DataFrame,
        own_points: pd.DataFrame | None,
        bins: pd.DataFrame | None,
    ) -> pd.DataFrame:
        """:func:`top_reasons` of one chunk of users (same arguments)."""
        model, specs = self.model, self.specs
        n_reasons, min_points_lost = self.n_reasons, self.min_points_lost
        lost_frame = points_lost(model, points, prepared)
        lost = lost_frame.to_numpy()
        names = list(lost_frame.columns)
        if bins is None:
            bins = model.bin_indices(prepared)
        if own_points is None:
            own_points = model.points_of(prepared, bins)
        own_lost = points_lost(model, own_points[names], prepared).to_numpy()
        lost = np.where(own_lost > min_points_lost, lost, 0.0)
        _drop_zero_counts(specs, prepared, names, lost)
        self.tell_network_points_as_facts(prepared, bins, names, lost)

        # One reason per topic: the topic's points, the sentence of its costliest variable.
        topic_of = [specs[name].topic or name for name in names]
        topics = list(dict.fromkeys(topic_of))
        topic_lost = np.empty((len(lost), len(topics)))
        voice = np.empty((len(lost), len(topics)), dtype=np.int64)  # the variable quoted
        for t, topic in enumerate(topics):
            members = np.asarray([j for j, of in enumerate(topic_of) if of == topic])
            topic_lost[:, t] = lost[:, members].sum(axis=1)
            voice[:, t] = members[np.argmax(lost[:, members], axis=1)]

        k = min(n_reasons, len(topics))
        # Stable sort on -lost: the largest loss first, ties in model order.
        order = np.argsort(-topic_lost, axis=1, kind="stable")[:, :k]
        top_lost = np.take_along_axis(topic_lost, order, axis=1)
        valid = top_lost > min_points_lost

        out: dict[str, object] = {}
        for slot in range(n_reasons):
            text = np.full(len(lost), None, dtype=object)
            code = np.full(len(lost), None, dtype=object)
            variable = np.full(len(lost), None, dtype=object)
            amount = np.full(len(lost), np.nan)
            if slot < k:
                ok = valid[:, slot]
                chosen = np.take_along_axis(voice, order[:, slot, None], axis=1)[:, 0]
                amount[ok] = top_lost[ok, slot]
                for j in np.unique(chosen[ok]):
                    rows = np.flatnonzero(ok & (chosen == j))
                    spec = specs[names[j]]
                    code[rows] = spec.code
                    variable[rows] = spec.name
                    text[rows] = _sentences(spec, prepared[spec.name].to_numpy()[rows])
                    advised = own_lost[rows, j] > min_points_lost
                    if spec.advice is not None and advised.any():
                        text[rows[advised]] = _with_advice(
                            model,
                            spec,
                            text[rows[advised]],
                            bins[spec.name].to_numpy(dtype=np.int64)[rows[advised]],
                        )
            out[f"reason_{slot + 1}"] = pd.array(text, dtype="string")
            out[f"reason_code_{slot + 1}"] = pd.array(code, dtype="string")
            out[f"reason_variable_{slot + 1}"] = pd.array(variable, dtype="string")
            out[f"points_lost_{slot + 1}"] = amount
        columns = [
            f"{kind}_{i}"
            for kind in ("reason", "reason_code", "reason_variable", "points_lost")
            for i in range(1, n_reasons + 1)
        ]
        return pd.DataFrame(out, index=points.index)[columns]

    def tell_network_points_as_facts(
        self, prepared: pd.DataFrame, bins: pd.DataFrame, names: list[str], lost: np.ndarray
    ) -> None:
        """In place: move the GNN's points lost onto the facts that carry them.

        A fact is a variable other than the GNN's whose bin holds the user's value with a
        negative weight of evidence (its users went bad more often than the average in
        the development sample); not a missing value, nor a 0 of an ascending variable.
        Per topic the strongest fact stands for the topic, and the GNN's points are shared
        among the topics in proportion to their evidence (topics whose share would be too
        small to be a reason give theirs to the others). Users with no fact keep the
        GNN's own reason.
        """
        model, specs = self.model, self.specs
        if GNN_RISK not in names:
            return
        network = lost[:, names.index(GNN_RISK)]
        if not (network > 0).any():
            return
        facts = [j for j, name in enumerate(names) if specs[name].kind != "gnn"]
        if not facts:
            return
        evidence = np.zeros((len(lost), len(facts)))
        fact_bins = bins[[names[j] for j in facts]].to_numpy(dtype=np.int64)
        # a 0 of an ascending variable is not a fact (above)
        zero_blind = [
            c
            for c, j in enumerate(facts)
            if specs[names[j]].monotonic_trend == "ascending"
            and specs[names[j]].zero_reason is None
        ]
        zero = (
            prepared[[names[facts[c]] for c in zero_blind]].to_numpy(
                dtype=np.float64, na_value=np.nan
            )
            == 0.0
        )
        for c, j in enumerate(facts):
            woe = model.bin_woe(names[j])
            index = fact_bins[:, c]
            regular = index < len(woe) - 2  # optbinning's Special and Missing come last
            evidence[:, c] = np.where(regular, np.maximum(-woe[index], 0.0), 0.0)
        evidence[:, zero_blind] = np.where(zero, 0.0, evidence[:, zero_blind])
        topic_of = [specs[names[j]].topic or names[j] for j in facts]
        total = np.zeros(len(lost))
        strongest: list[tuple[np.ndarray, np.ndarray]] = []
        for topic in dict.fromkeys(topic_of):
            members = np.asarray([c for c, t in enumerate(topic_of) if t == topic])
            best = members[np.argmax(evidence[:, members], axis=1)]
            strength = evidence[np.arange(len(lost)), best]
            strongest.append((best, strength))
            total += strength
        told = (network > 0) & (total > 0)
        rows = np.flatnonzero(told)
        # A share too small to be a reason is given to the others: the network's points
        # never vanish into facts that each lose less than a point.
        strength = np.column_stack([s[rows] for _, s in strongest])
        kept = (network[rows, None] * strength / total[rows, None] > self.min_points_lost) | (
            strength == strength.max(axis=1, keepdims=True)
        )
        strength = np.where(kept, strength, 0.0)
        total = strength.sum(axis=1)
        for t, (best, _) in enumerate(strongest):
            share = network[rows] * strength[:, t] / total
            np.add.at(lost, (rows, np.asarray(facts)[best[rows]]), share)
        lost[rows, names.index(GNN_RISK)] = 0.0


def reason_codes(
    model: CreditScorecard,
    X: pd.DataFrame,
    n_reasons: int = 3,
    catalog: Mapping[str, CatalogEntry] | None = None,
) -> pd.DataFrame:
    """:func:`top_reasons` straight from a score frame ``X`` ``(n, p)``."""
    prepared = model.prepare(X)
    points = model._points(prepared)
    return top_reasons(model, prepared, points, n_reasons, own_points=points, catalog=catalog)


def _with_advice(
    model: CreditScorecard, spec: VariableSpec, texts: np.ndarray, index: np.ndarray
) -> np.ndarray:
    """``texts`` with ``"; <advice>"``: the edge of the next better bin, where there is
    one in the direction the advice speaks of."""
    assert spec.advice is not None
    splits = model.bin_splits(spec.name)
    points = model.bin_points_[spec.name]
    out = texts.copy()
    regular = len(splits) + 1
    for b in np.unique(index):
        if b >= regular:
            continue
        if spec.monotonic_trend == "ascending" and b >= 1 and points[b - 1] > points[b]:
            edge = splits[b - 1]
        elif spec.monotonic_trend == "descending" and b + 1 < regular and points[b + 1] > points[b]:
            edge = splits[b]
        else:
            continue
        advice = format_reason(spec.advice, None, edge=float(edge))
        rows = index == b
        out[rows] = [f"{text}; {advice}" for text in texts[rows]]
    return out


def _drop_zero_counts(
    specs: dict[str, VariableSpec], prepared: pd.DataFrame, names: list[str], lost: np.ndarray
) -> None:
    """In place: no reason from a 0 of an ascending variable without a ``zero_reason``
    ("shares a device with 0 users who defaulted" claims nothing adverse)."""
    columns = [
        j
        for j, name in enumerate(names)
        if specs[name].monotonic_trend == "ascending"
        and specs[name].zero_reason is None
        and specs[name].dtype == "numerical"
        and getattr(specs[name], "categories", None) is None
        and name != NO_CREDIT_HISTORY
    ]
    if columns:
        values = prepared[[names[j] for j in columns]].to_numpy(dtype=np.float64, na_value=np.nan)
        lost[:, columns] = np.where(values == 0.0, 0.0, lost[:, columns])


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
