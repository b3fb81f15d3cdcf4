"""Boosted trees as the GNN's encoder of each user's own inputs (BGNN-style).

Gradient-boosted trees read heterogeneous tabular attributes (heavy tails, missing
values, categories) better than an MLP does; a GNN reads the graph better than trees
do. Following "Boost then Convolve" (Ivanov and Prokhorenkova, ICLR 2021), the
GNN takes as one of its inputs a boosted model's score of every user's own
attributes (and graph features, when given), and propagates the neighbours' scores
like any other input.

The score is label-derived, so it obeys the label views of
:mod:`riskgraph.gnn.protocol`: booster ``k`` is trained and early-stopped on the
training users *outside* fold ``k`` (a fixed fifth of them stops it), and only the
views of fold ``k`` use it. No label of fold ``k`` - in particular no label of a user
trained or scored on those views - has shaped any score they propagate.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd

from riskgraph.errors import ModelError
from riskgraph.gnn.blocks import UserAttributes
from riskgraph.gnn.boosting import Boosting, contribution_threads, predict_threads
from riskgraph.gnn.protocol import LabelFolds, assign_folds

__all__ = ["VIEW_BOOSTING", "ViewBoosters", "booster_inputs"]

#: The LightGBM settings of :class:`ViewBoosters` unless told otherwise.
VIEW_BOOSTING = Boosting(max_rounds=1000, early_stopping=50)


def booster_inputs(
    attributes: UserAttributes,
    features: pd.DataFrame | None,
    columns: list[str],
    extra: np.ndarray | None,
    rows: np.ndarray,
) -> np.ndarray:
    """float32 ``(len(rows), a + c + f + e)`` booster inputs of users ``rows``.

    Raw numeric attributes (NaN kept), category codes, raw graph features
    ``columns`` (trees need no scaling), then ``extra`` label-free inputs.
    """
    parts = [
        attributes.numeric[rows].astype(np.float32),
        attributes.codes[rows].astype(np.float32),
    ]
    if features is not None and columns:
        parts.append(
            features[columns]
            .iloc[rows]
            .astype("float64")
            .to_numpy(dtype=np.float32, na_value=np.nan)
        )
    if extra is not None:
        parts.append(extra[rows].astype(np.float32))
    return np.concatenate(parts, axis=1)


class ViewBoosters:
    """One LightGBM model per label view.

    Parameters
    ----------
    n_categorical_start, n_categorical : int
        Position and number of the category-code columns in the input matrix.
    boosting : Boosting, default ``VIEW_BOOSTING``
        The LightGBM settings of every view's model.

    Attributes
    ----------
    models_ : list[str]
        The boosters as LightGBM model text, view 0 first.
    """

    def __init__(
        self, n_categorical_start: int, n_categorical: int, boosting: Boosting = VIEW_BOOSTING
    ) -> None:
        self.n_categorical_start = n_categorical_start
        self.n_categorical = n_categorical
        self.boosting = boosting

    def fit(self, x_train: np.ndarray, folds: LabelFolds, user_ids: pd.Series) -> ViewBoosters:
        """Train booster ``k`` on training users outside fold ``k``.

        Parameters
        ----------
        x_train : np.ndarray
            float ``(n_train, d)``: the inputs of the training users
            (``np.flatnonzero(folds.train)``, in that order), each from its own view
            (:func:`booster_inputs`).
        folds : LabelFolds
        user_ids : pandas.Series
            ``tables.users["user_id"]`` (keys the early-stopping split).
        """
        import lightgbm as lgb

        train = np.flatnonzero(folds.train)
        if len(x_train) != len(train):
            raise ModelError(
                f"booster inputs have {len(x_train)} rows, expected one per training user "
                f"({len(train)})"
            )
        y = folds.labels[train]
        fold = folds.fold[train]
        cats = list(range(self.n_categorical_start, self.n_categorical_start + self.n_categorical))
        self.models_: list[str] = []
        self.best_rounds_: list[int] = []
        # A fixed fifth of each booster's users stops it: a second keyed hash, so the
        # choice does not depend on the fold assignment or the population's order.
        stopper = assign_folds(user_ids.iloc[train], 5, seed=self.boosting.seed + 7919) == 0
        for k in range(folds.n_folds):
            outside = fold != k
            fit_rows = outside & ~stopper
            stop_rows = outside & stopper
            if len(np.unique(y[fit_rows])) < 2:
                raise ModelError(
                    f"booster for fold {k}: its {int(fit_rows.sum())} training users lack "
                    "a bad or a good label"
                )
            train_set = lgb.Dataset(
                x_train[fit_rows], y[fit_rows], categorical_feature=cats, free_raw_data=True
            )
            if len(np.unique(y[stop_rows])) < 2:
                # Too few labels to stop on (tiny graphs): a fixed, modest number of rounds.
                booster = lgb.train(self.boosting.lightgbm_params(), train_set, num_boost_round=100)
            else:
                stop_set = lgb.Dataset(x_train[stop_rows], y[stop_rows], reference=train_set)
                booster = lgb.train(
                    self.boosting.lightgbm_params(),
                    train_set,
                    num_boost_round=self.boosting.max_rounds,
                    valid_sets=[stop_set],
                    callbacks=[lgb.early_stopping(self.boosting.early_stopping, verbose=False)],
                )
            self.best_rounds_.append(int(booster.best_iteration or booster.current_iteration()))
            self.models_.append(booster.model_to_string(num_iteration=self.best_rounds_[-1]))
        self._boosters: list[object] = []
        return self

    def predict_logit(self, k: int, x: np.ndarray) -> np.ndarray:
        """float32 ``(n,)``: booster ``k``'s log-odds for inputs ``x``."""
        import lightgbm as lgb

        if not hasattr(self, "models_"):
            raise ModelError("ViewBoosters is not fitted")
        if not getattr(self, "_boosters", None):
            self._boosters = [lgb.Booster(model_str=m) for m in self.models_]
        booster = self._boosters[k]
        threads = predict_threads(len(x))
        return np.asarray(booster.predict(x, raw_score=True, num_threads=threads), dtype=np.float32)  # type: ignore[attr-defined]

    def contributions(self, k: int, x: np.ndarray) -> np.ndarray:
        """float64 ``(n, d + 1)``: booster ``k``'s TreeSHAP contributions per input
        column (log-odds), then the expected value."""
        self.predict_logit(k, x[:0])  # loads the boosters
        booster = self._boosters[k]
        threads = contribution_threads(len(x))
        contributions = booster.predict(x, pred_contrib=True, num_threads=threads)  # type: ignore[attr-defined]
        return np.asarray(contributions, dtype=np.float64)

    def state_dict(self) -> dict[str, object]:
        return {
            "params": {
                "n_categorical_start": self.n_categorical_start,
                "n_categorical": self.n_categorical,
                # The saved format has no min_data_in_leaf: the views keep its default.
                **{k: v for k, v in asdict(self.boosting).items() if k != "min_data_in_leaf"},
            },
            "models": list(self.models_),
            "best_rounds": list(self.best_rounds_),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, object]) -> ViewBoosters:
        params = dict(state["params"])  # type: ignore[call-overload]
        start, count = params.pop("n_categorical_start"), params.pop("n_categorical")
        out = cls(start, count, Boosting(**params))
        out.models_ = list(state["models"])  # type: ignore[call-overload]
        out.best_rounds_ = list(state["best_rounds"])  # type: ignore[call-overload]
        out._boosters = []
        return out
