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
from riskgraph.gnn.boosting import Boosting, contribution_threads, predict_threads

__all__ = ["HEAD_BOOSTING", "TreeHead"]

#: The LightGBM settings of :class:`TreeHead` unless told otherwise.
HEAD_BOOSTING = Boosting()


class TreeHead:
    """LightGBM models over the rows they are given, their log-odds averaged.

    :meth:`fit` trains one model. A cross-fitted head (few labelled bad users,
    :class:`~riskgraph.gnn.train.GraphRiskModel`) also trains one model per fold, on
    the other folds' users, for its out-of-fold logits; :meth:`pooled` then keeps
    them all and scores by their mean. A single boosted model on a few dozen bad
    users is chaotic in its data: moving one application out of view can shift an
    early split, every later tree follows it, and every user's score moves. Models
    trained on other subsets of the users, with other seeds, average that chaos out,
    so a retrain on nearly the same data scores nearly the same, and the fold models
    cost nothing more: cross-fitting trains them anyway.

    Parameters
    ----------
    boosting : Boosting, default ``HEAD_BOOSTING``
        Its LightGBM settings (learning rate, leaves, rounds, early stopping, seed).

    Attributes
    ----------
    models_ : list of str
        The fitted boosters as LightGBM model text.
    best_rounds_ : list of int
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
        """Train one model on ``(x, y)``, stopping early on ``(x_val, y_val)``.

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
        params = self.boosting.lightgbm_params()
        if len(np.unique(y_val)) < 2:
            # Nothing to stop on (tiny graphs): a fixed, modest number of rounds.
            booster = lgb.train(params, train_set, num_boost_round=100)
        else:
            val_set = lgb.Dataset(x_val, y_val, reference=train_set)
            booster = lgb.train(
                params,
                train_set,
                num_boost_round=self.boosting.max_rounds,
                valid_sets=[val_set],
                callbacks=[lgb.early_stopping(self.boosting.early_stopping, verbose=False)],
            )
        rounds = int(booster.best_iteration or booster.current_iteration())
        self.best_rounds_ = [rounds]
        self.models_ = [booster.model_to_string(num_iteration=rounds)]
        self._boosters: list | None = [booster]
        return self

    @classmethod
    def pooled(cls, heads: list[TreeHead]) -> TreeHead:
        """One head scoring by the mean of ``heads``' models (the first's settings)."""
        out = cls(heads[0].boosting)
        out.models_ = [m for h in heads for m in h.models_]
        out.best_rounds_ = [r for h in heads for r in h.best_rounds_]
        loaded = [getattr(h, "_boosters", None) for h in heads]
        out._boosters = None if any(b is None for b in loaded) else [b for bs in loaded for b in bs]
        return out

    def _loaded(self) -> list:
        import lightgbm as lgb

        if not hasattr(self, "models_"):
            raise ModelError("TreeHead is not fitted")
        if getattr(self, "_boosters", None) is None:
            self._boosters = [lgb.Booster(model_str=m) for m in self.models_]
        return self._boosters

    def predict_logit(self, x: np.ndarray) -> np.ndarray:
        """float64 ``(n,)``: log-odds of ``x``, the mean of the models'."""
        threads = predict_threads(len(x))
        out = sum(
            np.asarray(b.predict(x, raw_score=True, num_threads=threads), dtype=np.float64)
            for b in self._loaded()
        )
        return out / len(self.models_)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """float64 ``(n, d + 1)``: TreeSHAP contribution of each column (log-odds),
        then the expected value, the mean of the models'; each row sums to
        :meth:`predict_logit`."""
        threads = contribution_threads(len(x))
        out = sum(
            np.asarray(b.predict(x, pred_contrib=True, num_threads=threads), dtype=np.float64)
            for b in self._loaded()
        )
        return out / len(self.models_)

    def state_dict(self) -> dict[str, object]:
        return {
            "params": asdict(self.boosting),
            "models": list(self.models_),
            "best_rounds": list(self.best_rounds_),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, object]) -> TreeHead:
        out = cls(Boosting(**state["params"]))  # type: ignore[arg-type]
        out.models_ = [str(m) for m in state["models"]]  # type: ignore[attr-defined]
        out.best_rounds_ = [int(r) for r in state["best_rounds"]]  # type: ignore[attr-defined]
        out._boosters = None
        return out
