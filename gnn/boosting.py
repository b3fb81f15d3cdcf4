"""``Boosting``: the LightGBM settings of the model's gradient-boosted trees.

:class:`~riskgraph.gnn.head.TreeHead` and :class:`~riskgraph.gnn.boost.ViewBoosters`
train LightGBM the same way and differ only in these settings; one frozen dataclass
holds them, and :meth:`Boosting.lightgbm_params` turns them into LightGBM's
parameter dict.

Examples
--------
>>> Boosting(seed=3).lightgbm_params()["seed"]
3
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Boosting", "contribution_threads", "predict_threads"]

#: Rows from which a prediction is split over threads.
_PARALLEL_ROWS = 4096
#: Rows from which TreeSHAP contributions are split over threads.
_PARALLEL_CONTRIBUTION_ROWS = 16


@dataclass(frozen=True)
class Boosting:
    """How one LightGBM model is trained.

    Parameters
    ----------
    learning_rate : float, default 0.05
    num_leaves : int, default 31
    min_data_in_leaf : int, default 20
    max_rounds : int, default 2000
    early_stopping : int, default 100
        Rounds without a better validation log loss before stopping.
    seed : int, default 0
    """

    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 20
    max_rounds: int = 2000
    early_stopping: int = 100
    seed: int = 0

    def lightgbm_params(self) -> dict[str, object]:
        """LightGBM's ``params`` for ``lightgbm.train``: these settings and the fixed ones."""
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "seed": self.seed,
            "deterministic": True,
            # Left to itself LightGBM times row-wise against column-wise histograms and
            # keeps the faster: a choice that turns on the machine's load and changes the
            # sums, so the same night trained twice could give two models.
            "force_col_wise": True,
            "num_threads": 2,
            "verbose": -1,
        }


def predict_threads(n_rows: int) -> int:
    """LightGBM threads to predict ``n_rows`` rows with.

    One below :data:`_PARALLEL_ROWS`: OpenMP's threads wait for each other at the end
    of every parallel region, and a few rows (an online call's applicants) are no
    work to split. Where the cores are busy (Neo4j and the service beside the call)
    each such wait can last a scheduler time slice, far longer than the prediction.
    Predictions are the same on any number of threads: rows are split, not trees.
    """
    return 2 if n_rows >= _PARALLEL_ROWS else 1


def contribution_threads(n_rows: int) -> int:
    """LightGBM threads to compute the TreeSHAP contributions of ``n_rows`` rows with.

    A row's contributions walk every path of every tree, work that dwarfs a
    prediction's single path, so a handful of rows (an online batch's applicants)
    already outweighs what a thread may wait for the other at the end of the parallel
    region (:func:`predict_threads`). The same on any number of threads: rows are
    split, not trees.
    """
    return 2 if n_rows >= _PARALLEL_CONTRIBUTION_ROWS else 1
