"""Scoring every user: chunked forward passes over every label view.

A prediction averages the model's calibrated probability over the label views the
user may see (:meth:`riskgraph.gnn.protocol.LabelFolds.view_weights`): a labelled
user its own fold's view, everyone else all ``K`` views. The propagation model
scores the full graph exactly, chunk by chunk of users; the message-passing models
score sampled neighbourhoods of each chunk with a fixed seed.

:func:`score_users` is the nightly job's entry point; the estimator's
``predict_proba`` runs the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from riskgraph.loaders.tables import GraphTables

if TYPE_CHECKING:
    from riskgraph.gnn.protocol import FeatureViews, LabelFolds
    from riskgraph.gnn.train import GraphRiskModel

__all__ = ["average_views", "score_users"]


def average_views(
    view_logits: Callable[[int, np.ndarray], np.ndarray],
    weights: np.ndarray,
    calibrate: Callable[[np.ndarray], np.ndarray],
    chunk_size: int = 65_536,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted average over views of calibrated probabilities, chunk by chunk.

    Parameters
    ----------
    view_logits : callable
        ``view_logits(k, rows)`` -> float ``(len(rows),)`` logits of users ``rows``
        under view ``k``.
    weights : np.ndarray
        float ``(n_users, K)``; rows sum to 1.
    calibrate : callable
        Logits -> probabilities.
    chunk_size : int

    Returns
    -------
    proba : np.ndarray
        float64 ``(n_users,)``: the averaged calibrated probability.
    logit : np.ndarray
        float64 ``(n_users,)``: the same average of the raw logits (for attributions).
    """
    n, n_views = weights.shape
    proba = np.zeros(n)
    logit = np.zeros(n)
    for k in range(n_views):
        rows_k = np.flatnonzero(weights[:, k] > 0)
        for start in range(0, len(rows_k), chunk_size):
            rows = rows_k[start : start + chunk_size]
            z = np.asarray(view_logits(k, rows), dtype=np.float64)
            w = weights[rows, k].astype(np.float64)
            proba[rows] += w * calibrate(z)
            logit[rows] += w * z
    # float32 weights summing to 1 within rounding: a certain bad stays at most 1
    return np.clip(proba, 0.0, 1.0), logit


def score_users(
    model: GraphRiskModel,
    tables: GraphTables,
    as_of: Any,
    *,
    folds: LabelFolds | None = None,
    feature_views: FeatureViews | None = None,
    users: Sequence[str] | None = None,
) -> pd.DataFrame:
    """``gnn_risk`` of every user (or of ``users``) as of ``as_of``.

    Parameters
    ----------
    model : GraphRiskModel
        A fitted (or loaded) model.
    tables : GraphTables
    as_of : timestamp
        Graph snapshot and label cut-off.
    folds : LabelFolds, optional
        The label views (default :meth:`GraphRiskModel.scoring_folds`: every label
        visible as of ``as_of``).
    feature_views : FeatureViews, optional
        Required when the model was trained with graph features.
    users : sequence of str, optional
        Only these user ids (all are still needed in ``tables``: their neighbours).

    Returns
    -------
    pandas.DataFrame
        ``user_id``, ``gnn_risk`` (calibrated probability of bad), one row per user.
    """
    proba = model.predict_proba(tables, as_of, folds=folds, feature_views=feature_views)[:, 1]
    out = pd.DataFrame({"user_id": tables.users["user_id"].astype("string"), "gnn_risk": proba})
    if users is not None:
        wanted = pd.Index(pd.Series(list(users), dtype="string"))
        pos = pd.Index(out["user_id"]).get_indexer(wanted)
        if (pos < 0).any():
            from riskgraph.errors import ModelError

            missing = wanted[pos < 0]
            raise ModelError(
                f"score_users: {len(missing)} user ids not in the users table, e.g. {missing[0]!r}"
            )
        out = out.iloc[pos].reset_index(drop=True)
    return out


def forward_chunks(
    net: torch.nn.Module, x: np.ndarray, x_cat: np.ndarray, chunk_size: int = 65_536
) -> np.ndarray:
    """Logits of a :class:`~riskgraph.gnn.models.SignRiskNet` in chunks (eval mode)."""
    net.eval()
    out = np.empty(len(x), dtype=np.float64)
    with torch.no_grad():
        for s in range(0, len(x), chunk_size):
            out[s : s + chunk_size] = (
                net(
                    torch.from_numpy(x[s : s + chunk_size]),
                    torch.from_numpy(x_cat[s : s + chunk_size]),
                )
                .double()
                .numpy()
            )
    return out
