"""TreeHead: one model, or a pool of models averaged, and why a pool (a retrain on nearly
the same rows)."""

from __future__ import annotations

import numpy as np

from riskgraph.gnn.boosting import Boosting, contribution_threads
from riskgraph.gnn.head import TreeHead


def _rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    logit = -2.5 + 1.2 * x[:, 0] - 0.8 * x[:, 1] + 0.6 * x[:, 2] * x[:, 3]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float64)
    return x, y


def _cross_fitted(x, y, x_val, y_val, n_folds: int = 5) -> TreeHead:
    """What a cross-fitted head keeps: the model of every row and one per fold."""
    fold = np.arange(len(y)) % n_folds
    heads = [TreeHead(Boosting(seed=0)).fit(x, y, x_val, y_val)]
    for k in range(n_folds):
        inside = fold != k
        heads.append(TreeHead(Boosting(seed=1 + k)).fit(x[inside], y[inside], x_val, y_val))
    return TreeHead.pooled(heads)


def test_a_pooled_head_is_the_mean_of_its_models_and_explains_its_own_logit():
    x, y = _rows(1200, 0)
    x_val, y_val = _rows(400, 1)
    heads = [TreeHead(Boosting(seed=s)).fit(x[s::2], y[s::2], x_val, y_val) for s in (0, 1)]
    pooled = TreeHead.pooled(heads)
    assert len(pooled.models_) == len(pooled.best_rounds_) == 2
    alone = [h.predict_logit(x_val) for h in heads]
    np.testing.assert_allclose(pooled.predict_logit(x_val), np.mean(alone, axis=0), atol=1e-9)
    phi = pooled.contributions(x_val)
    np.testing.assert_allclose(phi.sum(axis=1), pooled.predict_logit(x_val), atol=1e-6)
    loaded = TreeHead.from_state_dict(pooled.state_dict())
    assert loaded.best_rounds_ == pooled.best_rounds_
    np.testing.assert_allclose(loaded.predict_logit(x_val), pooled.predict_logit(x_val), atol=1e-12)


def test_pooling_the_fold_models_keeps_a_retrain_on_nearly_the_same_rows_near_the_first():
    """The point of the pool: flip a handful of labels (a retrain on data that changed a
    little) and the pooled head's scores move less than one model's. One draw of the
    data can go either way; over six the pool moves about 40% less."""
    moved: dict[str, list[float]] = {"one": [], "pooled": []}
    for draw in range(6):
        x, y = _rows(600, 2 + 10 * draw)
        x_val, y_val = _rows(300, 3 + 10 * draw)
        y_changed = y.copy()
        y_changed[:3] = 1.0 - y_changed[:3]
        for name in moved:
            before, after = (
                TreeHead(Boosting(seed=0)).fit(x, labels, x_val, y_val)
                if name == "one"
                else _cross_fitted(x, labels, x_val, y_val)
                for labels in (y, y_changed)
            )
            change = after.predict_logit(x_val) - before.predict_logit(x_val)
            moved[name].append(float(np.median(np.abs(change))))
    assert np.mean(moved["pooled"]) < 0.8 * np.mean(moved["one"]), moved


def test_contributions_are_split_over_threads_and_the_same_on_any_number():
    """A batch of applicants is explained on two threads, one applicant on one; the
    contributions do not depend on it."""
    x, y = _rows(1200, 0)
    x_val, y_val = _rows(400, 1)
    head = TreeHead(Boosting(seed=0)).fit(x, y, x_val, y_val)
    assert contribution_threads(1) == 1 and contribution_threads(100) == 2
    booster = head._loaded()[0]
    one = booster.predict(x_val[:100], pred_contrib=True, num_threads=1)
    np.testing.assert_array_equal(head.contributions(x_val[:100]), one)
    np.testing.assert_array_equal(head.contributions(x_val[:1]), one[:1])
