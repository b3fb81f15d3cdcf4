"""Score users: assemble the scorecard's inputs, then score, reason and decide.

``build_score_frame`` lines up the three inputs of the scorecard (user attributes,
graph risk features, the GNN probability) in one frame indexed by ``user_id``;
``score_users`` turns a fitted :class:`CreditScorecard` and that frame into the rows
of ``scores.parquet`` (CONTRACT.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskgraph.errors import ModelError
from riskgraph.loaders.tables import TABLE_COLUMNS
from riskgraph.score.decisions import DecisionPolicy, decide
from riskgraph.score.reasons import top_reasons
from riskgraph.score.scorecard import CreditScorecard, default_catalog
from riskgraph.score.strategy import ResolvedCutoffs, forced_review, resolve_cutoffs
from riskgraph.score.variables import GNN_RISK, CatalogEntry

__all__ = [
    "REASON_DETAIL_COLUMNS",
    "SCORE_COLUMNS",
    "ScoreResult",
    "average_points",
    "build_score_frame",
    "score_users",
]

#: Columns of scores.parquet the contract names, in order (CONTRACT.md).
SCORE_COLUMNS = (
    "user_id",
    "risk_score",
    "credit_score",
    "gnn_risk",
    "decision",
    "multi_borrowing",
    "ring_id",
    "reason_1",
    "reason_2",
    "reason_3",
)
#: Key of ``average_points(...).attrs`` holding each user's bins in its weightiest view.
VIEW_BINS = "view_bins"
#: Columns riskgraph adds after them (README): each reason's stable code and points.
REASON_DETAIL_COLUMNS = (
    "reason_code_1",
    "reason_code_2",
    "reason_code_3",
    "points_lost_1",
    "points_lost_2",
    "points_lost_3",
)


@dataclass(frozen=True)
class ScoreResult:
    """What :func:`score_users` returns.

    Attributes
    ----------
    scores : pd.DataFrame
        ``(n, 16)``: the :data:`SCORE_COLUMNS` then the
        :data:`REASON_DETAIL_COLUMNS`, one row per user, RangeIndex.
    reasons : pd.DataFrame
        ``(n, 1 + 4 k)``: ``user_id``, ``reason_1..k``, ``reason_code_1..k`` (stable
        codes), ``reason_variable_1..k`` (the variable whose sentence is quoted) and
        ``points_lost_1..k``, for investigators.
    flags : pd.DataFrame
        ``(n, 4)``: ``user_id``, ``ring_member``, ``intermediary_client``,
        ``multi_borrowing``: the graph flags the decision used.
    bins : pd.DataFrame or None
        ``(n, n_variables)`` int8: each user's bin of each variable, for the
        characteristic stability of :mod:`riskgraph.monitoring`. With label views,
        the bins of the view the user weighs most: label-derived variables are then
        counted at the label density the scorecard was developed at (the values the
        reasons quote see every visible label).
    cutoffs : ResolvedCutoffs or None
        The cut-offs the decisions used (the policy's targets resolved on these
        users) and the shares they approve, review and decline.
    """

    scores: pd.DataFrame
    reasons: pd.DataFrame
    flags: pd.DataFrame
    bins: pd.DataFrame | None = None
    cutoffs: ResolvedCutoffs | None = None


def build_score_frame(
    users: pd.DataFrame,
    features: pd.DataFrame | None = None,
    gnn_risk: Any = None,
    catalog: Mapping[str, CatalogEntry] | None = None,
) -> pd.DataFrame:
    """One frame with everything the scorecard may use, indexed by ``user_id``.

    Parameters
    ----------
    users : pd.DataFrame
        ``(n, ...)`` users table (``GraphTables.users``): ``user_id`` and the fixed
        columns, then the attributes. Only the attributes are used.
    features : pd.DataFrame, optional
        ``(n, 1 + f)`` graph features, ``user_id`` then one column per feature
        (``GraphFeatures.features``), same users in any order. Identifier columns
        (``ring_id``: catalogue kind ``"identifier"``, or any text column) are left out.
    gnn_risk : array-like, optional
        ``(n,)`` GNN probabilities in ``users`` order, in [0, 1].
    catalog : mapping, optional
        Graph feature catalogue; default :func:`default_catalog`.

    Returns
    -------
    pd.DataFrame
        ``(n, p)``, index ``user_id`` in ``users`` order: attributes, features,
        ``gnn_risk``.

    Raises
    ------
    ModelError
        Naming the users missing from ``features``, a duplicated user, a
        ``gnn_risk`` of the wrong length or with values outside [0, 1], or a column
        name present in two inputs.
    """
    user_ids = pd.Index(users["user_id"].astype("string"), name="user_id")
    if user_ids.has_duplicates:
        raise ModelError(f"users: duplicate user_id {user_ids[user_ids.duplicated()][0]!r}")
    attributes = [c for c in users.columns if c not in TABLE_COLUMNS["users"]]
    frame = users[attributes].copy()
    frame.index = user_ids

    if features is not None:
        taken = _feature_columns(features, user_ids, catalog)
        clash = sorted(set(taken.columns) & set(frame.columns))
        if clash:
            raise ModelError(f"graph features and user attributes share column names {clash}")
        frame = pd.concat([frame, taken], axis=1)

    if gnn_risk is not None:
        risk = np.asarray(gnn_risk, dtype=np.float64).ravel()
        if len(risk) != len(user_ids):
            raise ModelError(
                f"gnn_risk: {len(risk)} values for {len(user_ids)} users; expected one per user"
            )
        bad = ~(np.isnan(risk) | ((risk >= 0.0) & (risk <= 1.0)))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ModelError(
                f"gnn_risk: {int(bad.sum())} values outside [0, 1], first {float(risk[first])!r} "
                f"for user {user_ids[first]!r}"
            )
        if GNN_RISK in frame.columns:
            raise ModelError(f"column {GNN_RISK!r} is both an input column and the GNN output")
        frame[GNN_RISK] = risk
    return frame


def _feature_columns(
    features: pd.DataFrame, user_ids: pd.Index, catalog: Mapping[str, CatalogEntry] | None
) -> pd.DataFrame:
    """The scorecard's graph feature columns, one row per user of ``user_ids``, in order."""
    if "user_id" not in features.columns:
        raise ModelError("graph features: missing column 'user_id'")
    feature_ids = pd.Index(features["user_id"].astype("string"))
    if feature_ids.has_duplicates:
        dup = feature_ids[feature_ids.duplicated()][0]
        raise ModelError(f"graph features: duplicate user_id {dup!r}")
    position = feature_ids.get_indexer(user_ids)
    if (position < 0).any():
        absent = user_ids[position < 0]
        raise ModelError(
            f"graph features: {len(absent)} users have no row, e.g. {list(absent[:5])}"
        )
    catalog = default_catalog() if catalog is None else catalog
    keep = [c for c in features.columns if c != "user_id" and _is_feature(c, features[c], catalog)]
    taken = features[keep].iloc[position]
    taken.index = user_ids
    return taken


def score_users(
    model: CreditScorecard,
    frame: pd.DataFrame,
    features: pd.DataFrame | None = None,
    policy: DecisionPolicy | None = None,
    n_reasons: int = 3,
    views: Iterable[pd.DataFrame] | None = None,
    view_weights: np.ndarray | None = None,
    points: pd.DataFrame | None = None,
    catalog: Mapping[str, CatalogEntry] | None = None,
) -> ScoreResult:
    """Risk score, credit score, reasons and decision for every user of ``frame``.

    Parameters
    ----------
    model : CreditScorecard
        Fitted.
    frame : pd.DataFrame
        ``(n, p)`` from :func:`build_score_frame` (index ``user_id``).
    features : pd.DataFrame, optional
        The graph features (with ``user_id``) for the decision flags: ``ring_flag``
        and ``ring_id`` (ring members; ``ring_id`` is reported for flagged rings
        only, households stay out of it), ``app_device_co_applicants`` (intermediary
        clients) and ``multi_borrowing``. Absent columns mean no flag.
    policy : DecisionPolicy, optional
        Cut-offs, or targets resolved to cut-offs on the users of ``frame``.
    n_reasons : int, default 3
        Reasons kept in ``ScoreResult.reasons`` (scores.parquet holds three).
    views, view_weights : optional
        The training protocol's label views (:mod:`riskgraph.gnn.protocol`):
        ``views[k]`` is the score frame built from view ``k``'s graph features
        (same index and columns as ``frame``), ``view_weights`` ``(n, K)`` how each
        user averages them (``LabelFolds.view_weights()``). ``views`` may be a
        generator: each frame is dropped once its points are added. Each user's points are
        then the weighted average of its points under the views, so its score sees
        the same share of the known labels as the scorecard's training users did;
        ``frame`` (built from the features with every visible label) still gives
        the values the reason sentences quote.
    points : pd.DataFrame, optional
        The views' averaged points, already computed by :func:`average_points`
        (instead of ``views``): a caller that computes them before building ``frame``
        never holds the full frame and a view at once (a GB at a million users).
    catalog : mapping, optional
        The graph feature catalogue of the settings in force, which the graph reasons
        are worded from (:func:`riskgraph.graph.features.feature_catalog`); default
        the catalogue the model was fitted with.

    Returns
    -------
    ScoreResult

    Raises
    ------
    ModelError
        When ``frame`` lacks a model column, ``features`` lacks a user, the views
        or ``points`` do not match ``frame``, or both views and ``points`` are given.
    """
    policy = (policy or DecisionPolicy()).validate()
    user_ids = pd.Index(frame.index.astype("string"), name="user_id")
    if points is not None:
        if views is not None:
            raise ModelError("score_users: pass views or their averaged points, not both")
        names = [v.name for v in model.variables_]
        if not (points.index.equals(frame.index) and list(points.columns) == names):
            raise ModelError(
                "score_users: points must have the frame's users (index) and one column "
                "per model variable, as average_points returns"
            )
    elif views is not None:
        # the views before the frame is prepared: never a view and that at once
        points = average_points(model, views, view_weights, frame.index)
    # Taken out before the points are sliced: pandas copies attrs along with a slice.
    view_bins = points.attrs.pop(VIEW_BINS, None) if points is not None else None
    prepared = model.prepare(frame)
    if points is None:
        points = model._points(prepared)
    risk = model.risk_from_points(points)
    credit = model.scaling_.credit_score(risk)
    # Bins hold at most max_n_bins + 2 indices: int8 keeps a million users' bins small.
    bins = model.bin_indices(prepared, dtype=np.int8)
    reasons = top_reasons(model, prepared, points, max(n_reasons, 3), catalog=catalog, bins=bins)
    bins = (view_bins if view_bins is not None else bins).reset_index(drop=True)
    del points, view_bins

    n = len(user_ids)
    flags = _flags(features, user_ids, policy)
    cutoffs = resolve_cutoffs(policy, credit, risk, forced_review(flags, policy))
    decision = decide(
        credit,
        ring_member=flags["ring_member"].to_numpy(),
        intermediary_client=flags["intermediary_client"].to_numpy(),
        multi_borrowing=flags["multi_borrowing"].to_numpy(),
        policy=cutoffs.policy(policy),
    )
    gnn = (
        frame[GNN_RISK].to_numpy(dtype=np.float64)
        if GNN_RISK in frame.columns
        else np.full(n, np.nan)
    )
    scores = pd.DataFrame(
        {
            "user_id": pd.array(user_ids, dtype="string"),
            "risk_score": risk,
            "credit_score": credit,
            "gnn_risk": gnn,
            "decision": decision,
            "multi_borrowing": flags["multi_borrowing"].to_numpy(),
            "ring_id": flags["ring_id"].array,
            "reason_1": reasons["reason_1"].array,
            "reason_2": reasons["reason_2"].array,
            "reason_3": reasons["reason_3"].array,
            **{c: reasons[c].to_numpy() for c in REASON_DETAIL_COLUMNS if c.startswith("points")},
            **{c: reasons[c].array for c in REASON_DETAIL_COLUMNS if c.startswith("reason")},
        }
    )[[*SCORE_COLUMNS, *REASON_DETAIL_COLUMNS]]
    detail = reasons.reset_index(drop=True)
    keep = [c for c in detail.columns if int(c.rsplit("_", 1)[1]) <= n_reasons]
    detail = detail[keep]
    detail.insert(0, "user_id", pd.array(user_ids, dtype="string"))
    flags = flags.reset_index(drop=True)
    flags.insert(0, "user_id", pd.array(user_ids, dtype="string"))
    return ScoreResult(
        scores=scores,
        reasons=detail,
        flags=flags[["user_id", "ring_member", "intermediary_client", "multi_borrowing"]],
        bins=bins,
        cutoffs=cutoffs,
    )


@dataclass(frozen=True)
class _ViewPoints:
    """The weighted sum of the users' points over the label views being added up
    (``total``), and each user's bins in the view it weighs most (``bins``)."""

    model: CreditScorecard
    weights: np.ndarray
    index: pd.Index
    names: list[str]
    total: np.ndarray
    bins: np.ndarray

    def add(self, k: int, view: pd.DataFrame) -> None:
        """Add view ``k``'s weighted points of the users that weigh it to ``total``, and
        put its bins in ``bins`` for the users whose weightiest view it is."""
        model, w = self.model, self.weights
        if not view.index.equals(self.index):
            raise ModelError(f"view {k}: its users (index) differ from the score frame's")
        rows = np.flatnonzero(w[:, k] > 0)
        if len(rows) == 0:
            return
        # the model's columns first, then the rows: a row copy of the whole view frame
        # would copy every column, the model's few are enough
        prepared = model.prepare(view).iloc[rows]
        view_bins = model.bin_indices(prepared, dtype=np.int8)
        self.total[rows] += (
            w[rows, k, None] * model.points_of(prepared, view_bins)[self.names].to_numpy()
        )
        mine = np.argmax(w[rows], axis=1) == k
        self.bins[rows[mine]] = view_bins[self.names].to_numpy()[mine]


def average_points(
    model: CreditScorecard,
    views: Iterable[pd.DataFrame],
    weights: np.ndarray | None,
    index: pd.Index,
) -> pd.DataFrame:
    """Weighted average over label views of each user's points per variable.

    Parameters
    ----------
    model : CreditScorecard
    views : iterable of pd.DataFrame
        ``K`` score frames, each ``(n, p)`` with index ``index``; consumed one at a
        time (a generator keeps one view in memory).
    weights : np.ndarray
        ``(n, K)``, rows summing to 1; a user is scored only on views it weighs.
    index : pd.Index
        ``(n,)`` the users, in output order.

    Returns
    -------
    pd.DataFrame
        ``(n, n_variables)``; ``attrs[VIEW_BINS]`` holds each user's bins (int8) in
        the view it weighs most, for :attr:`ScoreResult.bins`.

    Raises
    ------
    ModelError
        When the shapes or indices disagree.
    """
    if weights is None:
        raise ModelError("score_users: views given without view_weights")
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != len(index):
        raise ModelError(
            f"view_weights has shape {w.shape}; expected ({len(index)}, K): "
            "one row per user, one column per view"
        )
    if not np.allclose(w.sum(axis=1), 1.0):
        raise ModelError("view_weights: every row must sum to 1")
    names = [v.name for v in model.variables_]
    shape = (len(index), len(names))
    summed = _ViewPoints(model, w, index, names, np.zeros(shape), np.zeros(shape, dtype=np.int8))
    seen = 0
    # Not enumerate: its reused result tuple would keep the last view alive.
    for view in views:
        if seen < w.shape[1]:  # more views than columns: counted, then reported below
            summed.add(seen, view)
        seen += 1
        del view  # not held while the next view is computed: one view at a time
    if seen != w.shape[1]:
        raise ModelError(
            f"view_weights has {w.shape[1]} columns for {seen} views: one column per view"
        )
    points = pd.DataFrame(summed.total, index=index, columns=names)
    points.attrs[VIEW_BINS] = pd.DataFrame(summed.bins, index=index, columns=names)
    return points


def _flags(
    features: pd.DataFrame | None, user_ids: pd.Index, policy: DecisionPolicy
) -> pd.DataFrame:
    n = len(user_ids)
    out = pd.DataFrame(
        {
            "ring_member": np.zeros(n, dtype=bool),
            "intermediary_client": np.zeros(n, dtype=bool),
            "multi_borrowing": np.zeros(n, dtype=bool),
            "ring_id": pd.array([None] * n, dtype="string"),
        }
    )
    if features is None:
        return out
    position = pd.Index(features["user_id"].astype("string")).get_indexer(user_ids)
    if (position < 0).any():
        absent = user_ids[position < 0]
        raise ModelError(
            f"graph features: {len(absent)} users have no row, e.g. {list(absent[:5])}"
        )

    def column(name: str) -> np.ndarray | None:
        if name not in features.columns:
            return None
        return features[name].to_numpy()[position]

    ring_flag = column("ring_flag")
    if ring_flag is not None:
        out["ring_member"] = pd.array(ring_flag, dtype="boolean").fillna(False).to_numpy(dtype=bool)
    ring_id = column("ring_id")
    if ring_id is not None:
        ids = pd.Series(pd.array(ring_id, dtype="string"))
        if ring_flag is not None:
            ids = ids.where(out["ring_member"].to_numpy(), pd.NA)
        out["ring_id"] = ids.array
    co_applicants = column("app_device_co_applicants")
    if co_applicants is not None:
        counts = pd.to_numeric(pd.Series(co_applicants), errors="coerce").to_numpy(dtype=np.float64)
        out["intermediary_client"] = counts >= policy.intermediary_min_co_applicants
    multi = column("multi_borrowing")
    if multi is not None:
        out["multi_borrowing"] = pd.array(multi, dtype="boolean").fillna(False).to_numpy(dtype=bool)
    return out


def _is_feature(name: str, column: pd.Series, catalog: Mapping[str, CatalogEntry]) -> bool:
    entry = catalog.get(name)
    if entry is not None and (
        getattr(entry, "kind", None) == "identifier" or getattr(entry, "reason", "") is None
    ):
        return False
    return bool(
        pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype)
    )
