"""``SignConstrainedLogisticRegression``: a logistic regression whose coefficients
keep the sign the scorecard needs.

On weight-of-evidence inputs every coefficient should be negative (optbinning's WoE
grows as the bad rate falls, and the model predicts "bad"). Correlated inputs (the
graph features overlap on purpose) can flip a coefficient's sign in a plain
logistic regression; the flipped variable would then *give* points for risk and its
reason code would read backwards ("shares a device with 0 users who defaulted").
Bounding the coefficients keeps every variable's points in the direction of its
meaning; a variable whose unconstrained sign would flip ends at 0 (it drops out).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from riskgraph.errors import ModelError

__all__ = ["SignConstrainedLogisticRegression"]

_SIGNS = ("negative", "positive", "free")


class SignConstrainedLogisticRegression(ClassifierMixin, BaseEstimator):
    """Binary logistic regression with L2 penalty and sign-bounded coefficients.

    Minimises ``sum_i w_i * logloss_i + ||coef||^2 / (2 C)`` with L-BFGS-B, the
    coefficients bounded by ``sign`` and the intercept free.

    Parameters
    ----------
    sign : {"negative", "positive", "free"}, default "negative"
        Allowed sign of every coefficient (``"negative"`` means ``<= 0``).
    C : float, default 1.0
        Inverse L2 regularization strength (as in scikit-learn: the penalty is
        ``||coef||^2 / (2 C)`` against the *summed* log loss, so it weighs less as
        the data grow).
    max_iter : int, default 500
    tol : float, default 1e-8
        Gradient tolerance of L-BFGS-B.
    warm_start : bool, default False
        Start from the previous fit's coefficients (as in scikit-learn): along a path
        of ``C`` values the optimum moves little, and L-BFGS-B needs far fewer
        iterations from there than from zero.

    Attributes
    ----------
    coef_ : np.ndarray
        ``(1, p)``.
    intercept_ : np.ndarray
        ``(1,)``.
    classes_ : np.ndarray
        ``[0, 1]``.
    n_iter_ : int

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> y = np.array([0, 0, 1, 1])
    >>> m = SignConstrainedLogisticRegression(sign="negative", C=1.0).fit(X, y)
    >>> float(m.coef_[0, 0])  # the data want a positive slope; the bound holds it at 0
    0.0
    """

    def __init__(
        self,
        sign: str = "negative",
        C: float = 1.0,
        max_iter: int = 500,
        tol: float = 1e-8,
        warm_start: bool = False,
    ) -> None:
        self.sign = sign
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start

    def fit(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> SignConstrainedLogisticRegression:
        """Fit on ``X`` ``(n, p)`` and 0/1 targets ``y`` ``(n,)``; return self.

        Raises
        ------
        ValueError
            When ``sign`` or ``C`` is invalid, or ``y`` is not 0/1 with both classes.
        ModelError
            When the optimiser fails.
        """
        if self.sign not in _SIGNS:
            raise ValueError(f"sign = {self.sign!r}; allowed: {', '.join(map(repr, _SIGNS))}")
        if isinstance(self.C, str) or not self.C > 0:
            raise ValueError(f"C = {self.C!r}; expected a number > 0")
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        labels = np.unique(y)
        if not np.array_equal(labels, [0.0, 1.0]):
            raise ValueError(f"y must hold both classes 0 and 1; got values {labels.tolist()}")
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
        coef, intercept, n_iter = self._solve(X, y, w, float(self.C))
        self.coef_ = coef.reshape(1, -1)
        self.intercept_ = np.array([intercept])
        self.classes_ = np.array([0, 1])
        self.n_iter_ = n_iter
        return self

    def _solve(
        self, X: np.ndarray, y: np.ndarray, w: np.ndarray, C: float
    ) -> tuple[np.ndarray, float, int]:
        """``(coef (p,), intercept, iterations)`` at one ``C``."""
        p = X.shape[1]
        total = w.sum()
        # Scale the loss to a mean so that tol means the same at any n; the penalty
        # is scaled alike, keeping the optimum of the sum above.
        penalty = 1.0 / (2.0 * C * total)
        sign = 2.0 * y - 1.0

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            coef, b = theta[:p], theta[p]
            z = X @ coef + b
            value = -(w @ log_expit(sign * z)) / total + penalty * (coef @ coef)
            residual = w * (expit(z) - y) / total
            grad = np.empty(p + 1)
            grad[:p] = X.T @ residual + 2.0 * penalty * coef
            grad[p] = residual.sum()
            return float(value), grad

        bound = {"negative": (None, 0.0), "positive": (0.0, None), "free": (None, None)}
        bounds = [bound[self.sign]] * p + [(None, None)]
        prior = float(np.clip(np.average(y, weights=w), 1e-6, 1 - 1e-6))
        theta0 = np.zeros(p + 1)
        theta0[p] = np.log(prior / (1.0 - prior))
        previous = getattr(self, "coef_", None)
        if self.warm_start and previous is not None and previous.shape[1] == p:
            theta0[:p] = previous[0]
            theta0[p] = self.intercept_[0]
        # One BLAS thread: the products here are small (n x p, p ~ 60), and OpenBLAS
        # waking its threads for each made the solver five times slower on 2 cores.
        with threadpool_limits(limits=1, user_api="blas"):
            result = minimize(
                loss,
                theta0,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": self.max_iter, "gtol": self.tol},
            )
        if not np.all(np.isfinite(result.x)):
            raise ModelError(f"logistic regression did not converge: {result.message}")
        return result.x[:p].copy(), float(result.x[p]), int(result.nit)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Log-odds of class 1, ``(n,)``."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """``(n, 2)`` probabilities of class 0 and class 1."""
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class with the higher probability, ``(n,)``."""
        return (self.decision_function(X) > 0).astype(np.int64)
