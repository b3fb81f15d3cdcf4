"""``TreeHead``: gradient-boosted trees over a user's propagated inputs.

On graphs nobody here designed, boosted trees over a user's own row plus
parameter-free neighbour aggregates are the strongest simple models there are
(GADBench, Tang et al., NeurIPS 2023: XGB-Graph and RF-Graph lead most of its ten
datasets). ``TreeHead`` is that model over the propagation model's inputs
(:mod:`riskgraph.gnn.blocks`): the user's attributes, activity and profile, their
means over each relation and two hops, and, per label view, the known-bad and
known-good neighbours and the community's record.

It trains on each labelled user's inputs from its own label view (out-of-fold and
point in time, :mod:`riskgraph.gnn.protocol`) and stops early on the validation
window's log loss; tonight's users are scored on the same views as the network
model's, and their log-odds averaged. Every input column but the community block is
a sum over links, so TreeSHAP splits its contributions over them
(:mod:`riskgraph.gnn.explain`).
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from riskgraph.errors import ModelError
from riskgraph.gnn.boosting import Boosting

__all__ = ["HEAD_BOOSTING", "TreeHead"]

#: The LightGBM settings of :class:`TreeHead` unless told otherwise.
HEAD_BOOSTING = Boosting()


class TreeHead:
    """One LightGBM model over the rows it is given.

    Parameters
    ----------
    boosting : Boosting, default ``HEAD_BOOSTING``
        Its LightGBM settings (learning rate, leaves, rounds, early stopping, seed).

    Attributes
    ----------
    model_ : str
        The fitted booster as LightGBM model text.
    best_round_ : int
    """

    def __init__(self, boosting: Boosting = HEAD_BOOSTING) -> None:
        self.boosting = boosting

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        x_val: np.ndarray,
        y_val: np.ndarray,
        categorical: list[int] | None = None,
    ) -> TreeHead:
        """Train on ``(x, y)``, stopping early on ``(x_val, y_val)``.

        Parameters
        ----------
        x, x_val : np.ndarray
            float32 ``(n, d)`` and ``(n_val, d)``; NaN is a missing value.
        y, y_val : np.ndarray
            0/1 labels.
        categorical : list of int, optional
            Columns holding category codes.

        Raises
        ------
        ModelError
            When the training rows lack a bad or a good label.
        """
        import lightgbm as lgb

        y = np.asarray(y, dtype=np.float64)
        y_val = np.asarray(y_val, dtype=np.float64)
        if len(np.unique(y)) < 2:
            raise ModelError(f"TreeHead: its {len(y)} training users lack a bad or a good label")
        train_set = lgb.Dataset(x, y, categorical_feature=categorical or [], free_raw_data=True)
        if len(np.unique(y_val)) < 2:
            # Nothing to stop on (tiny graphs): a fixed, modest number of rounds.
            booster = lgb.train(self.boosting.lightgbm_params(), train_set, num_boost_round=100)
        else:
            val_set = lgb.Dataset(x_val, y_val, reference=train_set)
            booster = lgb.train(
                self.boosting.lightgbm_params(),
                train_set,
                num_boost_round=self.boosting.max_rounds,
                valid_sets=[val_set],
                callbacks=[lgb.early_stopping(self.boosting.early_stopping, verbose=False)],
            )
        self.best_round_ = int(booster.best_iteration or booster.current_iteration())
        self.model_ = booster.model_to_string(num_iteration=self.best_round_)
        self._booster = booster
        return self

    def _loaded(self):
        import lightgbm as lgb

        if not hasattr(self, "model_"):
            raise ModelError("TreeHead is not fitted")
        if getattr(self, "_booster", None) is None:
            self._booster = lgb.Booster(model_str=self.model_)
        return self._booster

    def predict_logit(self, x: np.ndarray) -> np.ndarray:
        """float64 ``(n,)``: log-odds of ``x``."""
        out = self._loaded().predict(x, raw_score=True, num_threads=2)
        return np.asarray(out, dtype=np.float64)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """float64 ``(n, d + 1)``: TreeSHAP contribution of each column (log-odds),
        then the expected value; each row sums to :meth:`predict_logit`."""
        out = self._loaded().predict(x, pred_contrib=True, num_threads=2)
        return np.asarray(out, dtype=np.float64)

    def state_dict(self) -> dict[str, object]:
        return {
            "params": asdict(self.boosting),
            "model": self.model_,
            "best_round": self.best_round_,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, object]) -> TreeHead:
        out = cls(Boosting(**state["params"]))  # type: ignore[arg-type]
        out.model_ = str(state["model"])
        out.best_round_ = int(state["best_round"])  # type: ignore[call-overload]
        out._booster = None
        return out
