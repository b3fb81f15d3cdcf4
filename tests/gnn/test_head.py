"""TreeHead: several seeds' models averaged, and why (a retrain on nearly the same rows)."""

from __future__ import annotations

import numpy as np
import pytest

from riskgraph.errors import ModelError
from riskgraph.gnn.boosting import Boosting
from riskgraph.gnn.config import MAX_HEAD_SEEDS, GraphRiskConfig, head_seeds_for
from riskgraph.gnn.head import TreeHead


def _rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    logit = -2.5 + 1.2 * x[:, 0] - 0.8 * x[:, 1] + 0.6 * x[:, 2] * x[:, 3]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float64)
    return x, y


def test_an_averaged_head_is_the_mean_of_its_seeds_models_and_explains_its_own_logit():
    x, y = _rows(1200, 0)
    x_val, y_val = _rows(400, 1)
    boosting = Boosting(seed=5)
    head = TreeHead(boosting, n_seeds=3).fit(x, y, x_val, y_val)
    alone = [
        TreeHead(Boosting(seed=5 + i)).fit(x, y, x_val, y_val).predict_logit(x_val)
        for i in range(3)
    ]
    assert len(head.models_) == len(head.best_rounds_) == 3
    np.testing.assert_allclose(head.predict_logit(x_val), np.mean(alone, axis=0), atol=1e-9)
    phi = head.contributions(x_val)
    np.testing.assert_allclose(phi.sum(axis=1), head.predict_logit(x_val), atol=1e-6)
    loaded = TreeHead.from_state_dict(head.state_dict())
    np.testing.assert_allclose(loaded.predict_logit(x_val), head.predict_logit(x_val), atol=1e-12)


def test_averaging_seeds_keeps_a_retrain_on_nearly_the_same_rows_near_the_first():
    """The point of averaging: flip a handful of labels (a retrain on data that changed
    a little) and the averaged head's scores move much less than a single model's."""
    x, y = _rows(600, 2)
    x_val, y_val = _rows(300, 3)
    y_changed = y.copy()
    y_changed[:3] = 1.0 - y_changed[:3]
    moved = {}
    for n_seeds in (1, 16):
        before = TreeHead(n_seeds=n_seeds).fit(x, y, x_val, y_val).predict_logit(x_val)
        after = TreeHead(n_seeds=n_seeds).fit(x, y_changed, x_val, y_val).predict_logit(x_val)
        moved[n_seeds] = float(np.median(np.abs(after - before)))
    assert moved[16] < 0.7 * moved[1]


def test_the_default_number_of_seeds_falls_with_the_training_users_to_one():
    assert head_seeds_for(300) == MAX_HEAD_SEEDS
    assert head_seeds_for(5_000) == 4
    assert head_seeds_for(1_000_000) == 1
    assert GraphRiskConfig().head_seeds_for(300) == MAX_HEAD_SEEDS
    assert GraphRiskConfig(head_seeds=2).head_seeds_for(300) == 2
    with pytest.raises(ModelError, match="head_seeds = 0"):
        GraphRiskConfig(head_seeds=0).validate()
    with pytest.raises(ModelError, match="n_seeds = 0"):
        TreeHead(n_seeds=0)
