"""SignConstrainedLogisticRegression: bounds hold, and it matches sklearn when free."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from riskgraph.score import SignConstrainedLogisticRegression


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3000, 3))
    logit = -1.0 - 1.5 * X[:, 0] + 0.8 * X[:, 1]
    y = (rng.random(3000) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_free_sign_matches_sklearn():
    X, y = _data()
    ours = SignConstrainedLogisticRegression(sign="free", C=0.5).fit(X, y)
    ref = LogisticRegression(C=0.5, tol=1e-10, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-4)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-4)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-5)


def test_negative_bound_zeroes_the_positive_coefficient():
    X, y = _data()
    m = SignConstrainedLogisticRegression(sign="negative").fit(X, y)
    assert (m.coef_ <= 0).all()
    assert m.coef_[0, 1] == 0.0  # the data want +0.8
    assert m.coef_[0, 0] < -1.0  # the data want -1.5


def test_predict_and_shapes():
    X, y = _data()
    m = SignConstrainedLogisticRegression().fit(X, y)
    proba = m.predict_proba(X)
    assert proba.shape == (3000, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(np.unique(m.predict(X))) <= {0, 1}


def test_errors_name_the_parameter():
    X, y = _data()
    with pytest.raises(ValueError, match="sign = 'up'"):
        SignConstrainedLogisticRegression(sign="up").fit(X, y)
    with pytest.raises(ValueError, match="C = 0"):
        SignConstrainedLogisticRegression(C=0).fit(X, y)
    with pytest.raises(ValueError, match="both classes"):
        SignConstrainedLogisticRegression().fit(X, np.zeros(len(y)))


def test_warm_start_reaches_the_cold_optimum_in_fewer_iterations():
    X, y = _data()
    warm = SignConstrainedLogisticRegression(sign="negative", C=0.01, warm_start=True).fit(X, y)
    warm.set_params(C=1.0).fit(X, y)
    cold = SignConstrainedLogisticRegression(sign="negative", C=1.0).fit(X, y)
    np.testing.assert_allclose(warm.coef_, cold.coef_, atol=1e-5)
    np.testing.assert_allclose(warm.intercept_, cold.intercept_, atol=1e-5)
    assert warm.n_iter_ < cold.n_iter_
