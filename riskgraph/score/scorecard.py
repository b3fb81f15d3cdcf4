"""``CreditScorecard``: the 350-950 credit scorecard (optbinning + logistic regression).

Pipeline of one fit:

1. :class:`~riskgraph.score.thin_file.ThinFileRule` adds ``no_credit_history`` and
   blanks the credit-history attributes of thin-file users;
2. optbinning's ``BinningProcess`` bins every variable but the graph model's score
   (monotonic trends from :func:`~riskgraph.score.variables.describe_variables`) and
   maps bins to weight of evidence; history attributes' missing bins are neutral
   (WoE 0);
3. the graph model's probability (``gnn_risk``, already calibrated) enters by its
   log-odds itself (:class:`ScoreCells`): its weight of evidence is
   ``logit(base rate) - logit(p)``, clipped to the range of the training users.
   Coarse empirical bins would throw away the ranking of the strongest input (six
   bins of a score that separates fraud rings from everyone else make ties of
   thousands of users), a new portfolio's few bad users could not weigh a fine
   binning, and a user near a cell edge would jump a cell's worth of points when a
   retrain moved the edge; fine cells of it are kept for the table, monitoring and
   reasons;
4. :class:`~riskgraph.score.logistic.SignConstrainedLogisticRegression` fits the
   log-odds of going bad on the WoE of every characteristic;
5. coefficients and WoE become points per bin with the ``pdo_odds`` scaling of
   :class:`~riskgraph.score.scaling.ScoreScaling` (optbinning's formula).

The points of a user's bins (and of its own ``gnn_risk``) add up to
``offset - factor * logit(p)`` exactly (no per-bin rounding), so
:meth:`CreditScorecard.predict_proba` is computed from them, and the credit score is
:meth:`ScoreScaling.credit_score` of that probability.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, log_expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from riskgraph.errors import ModelError, StaleModelError
from riskgraph.gnn.incumbent import INCUMBENT_MARGIN_SE, outcomes_fingerprint, paired_margin_se
from riskgraph.score._optbinning import BinningProcess, OptimalBinning
from riskgraph.score.development import DevelopmentSample, score_histogram
from riskgraph.score.logistic import SignConstrainedLogisticRegression
from riskgraph.score.scaling import ScoreScaling
from riskgraph.score.thin_file import NO_CREDIT_HISTORY, ThinFileRule
from riskgraph.score.variables import (
    GNN_RISK,
    CatalogEntry,
    VariableSpec,
    describe_variables,
    ordinal_positions,
)

__all__ = ["BinningSettings", "CreditScorecard", "ScoreCells", "default_catalog"]

_FORMAT_VERSION = 3

#: Cells of the graph model's score (at most 127 bins fit the int8 bin indices).
_SCORE_CELLS = 50

# Fewest missing values for their own empirical weight of evidence; fewer are neutral.
_MIN_MISSING_BIN = 50

# Users per step when a score frame's numerical columns are read into one block.
_PREPARE_ROWS = 65_536


@dataclass(frozen=True)
class BinningSettings:
    """Settings of optbinning's binning, shared by every variable.

    Parameters
    ----------
    max_n_prebins : int
        Pre-bins (quantile/CART splits) per variable before optimisation.
    min_prebin_size, min_bin_size : float
        Smallest share of users in a pre-bin and in a final bin. Small on purpose:
        graph risk sits in a tail (ring members are about 1% of users) that a 5%
        minimum would merge away.
    max_n_bins : int
        Most bins per variable (a readable scorecard).
    max_pvalue : float or None
        Neighbouring bins must differ in bad rate at this significance (optbinning's
        Z-test); None for no test.
    min_bin_n_event, min_bin_n_nonevent : int
        Fewest bad and good users in a bin. Without them a noise variable gets a
        tiny bin with no bad user at all and an extreme weight of evidence, and
        every other user "loses points" on it in the reason codes.
    """

    max_n_prebins: int = 20
    min_prebin_size: float = 0.005
    min_bin_size: float = 0.005
    max_n_bins: int = 6
    max_pvalue: float | None = 0.05
    min_bin_n_event: int = 10
    min_bin_n_nonevent: int = 10


@dataclass(frozen=True)
class ScoreCells:
    """The graph model's probability as a characteristic: its log-odds, and fine cells
    of them.

    A user's weight of evidence is ``logit(base rate) - logit(p)`` (:meth:`woe_of`),
    what an empirical binning would find if the probability is calibrated
    (``gnn_risk`` is, on its own validation window), without the noise of counting a
    few bad users per bin; beyond the outermost cells' medians it stays at theirs.
    The logistic regression then weighs the score against the other characteristics.
    The cells take equal shares of the training users; a cell's weight of evidence
    is that of its users' median log-odds. They are what the scorecard's table,
    monitoring and reasons show of the score; the points follow the user's own
    log-odds, so two users of one cell keep their order and a retrain that moves a
    cell edge moves nobody a cell's worth of points.

    Attributes
    ----------
    edges : np.ndarray
        float64 ``(k - 1,)``: log-odds between the ``k`` regular cells.
    woe : np.ndarray
        float64 ``(k + 2,)``: weight of evidence of each cell, then of Special and
        Missing (both 0: no evidence).
    count, events : np.ndarray
        int64 ``(k + 2,)``: training users and bad users per cell (for the table).
    base_log_odds : float
        ``logit`` of the training users' bad rate.

    Examples
    --------
    >>> p = np.linspace(0.01, 0.5, 100)
    >>> cells = ScoreCells.fit(p, (p > 0.4).astype(int), 10)
    >>> len(cells.edges), bool(np.all(np.diff(cells.woe[:10]) < 0))
    (9, True)
    >>> cells.indices(np.array([0.01, 0.5, np.nan])).tolist()
    [0, 9, 11]
    >>> w = cells.woe_of(np.array([0.2, 0.21, np.nan]))
    >>> bool(w[0] > w[1]), float(w[2])
    (True, 0.0)
    """

    edges: np.ndarray
    woe: np.ndarray
    count: np.ndarray
    events: np.ndarray
    base_log_odds: float

    @classmethod
    def fit(cls, probability: np.ndarray, target: np.ndarray, n_cells: int) -> ScoreCells:
        """Cells of the training users' ``probability``; ``target`` only counts them."""
        if not 1 <= n_cells <= 125:
            raise ModelError(f"CreditScorecard.score_cells = {n_cells!r}: expected 1..125")
        z = _log_odds(probability)
        known = ~np.isnan(z)
        if not known.any():
            edges = np.zeros(0)
        else:
            quantiles = np.quantile(z[known], np.arange(1, n_cells) / n_cells)
            edges = np.unique(quantiles)
        k = len(edges) + 1
        cell = np.where(known, np.searchsorted(edges, np.nan_to_num(z), side="right"), k + 1)
        count = np.bincount(cell, minlength=k + 2).astype(np.int64)
        events = np.bincount(cell, weights=target, minlength=k + 2).astype(np.int64)
        base = float(np.mean(target))
        median = np.array(
            [np.median(z[cell == c]) if count[c] else np.nan for c in range(k)], dtype=np.float64
        )
        # an empty cell (ties at an edge) takes its neighbours' log-odds
        median = pd.Series(median).interpolate(limit_direction="both").to_numpy()
        base_log_odds = float(np.log(base / (1.0 - base)))
        woe = np.zeros(k + 2)
        woe[:k] = base_log_odds - median
        return cls(edges=edges, woe=woe, count=count, events=events, base_log_odds=base_log_odds)

    def woe_of(self, probability: np.ndarray) -> np.ndarray:
        """float64 weight of evidence of each probability: ``logit(base rate) -
        logit(p)`` within the outermost cells' medians, theirs beyond; 0 (Missing's)
        for NaN."""
        z = _log_odds(np.asarray(probability, dtype=np.float64))
        regular = self.woe[: len(self.edges) + 1]
        woe = np.clip(self.base_log_odds - z, regular.min(), regular.max())
        return np.where(np.isnan(z), self.woe[-1], woe)

    def indices(self, probability: np.ndarray) -> np.ndarray:
        """int64 cell of each probability (Missing, the last, for NaN)."""
        z = _log_odds(np.asarray(probability, dtype=np.float64))
        k = len(self.edges) + 1
        return np.where(
            np.isnan(z), k + 1, np.searchsorted(self.edges, np.nan_to_num(z), side="right")
        ).astype(np.int64)

    def labels(self) -> list[str]:
        """Each cell as an interval of the probability, then Special and Missing."""
        bounds = np.concatenate([[0.0], expit(self.edges), [1.0]])
        cells = [f"[{bounds[c]:.4g}, {bounds[c + 1]:.4g})" for c in range(len(self.edges) + 1)]
        return [*cells, "Special", "Missing"]


def _log_odds(probability: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities kept away from 0 and 1 (NaN stays NaN)."""
    p = np.clip(np.asarray(probability, dtype=np.float64), 1e-9, 1.0 - 1e-9)
    return np.log(p) - np.log1p(-p)


def default_catalog() -> Mapping[str, CatalogEntry]:
    """The graph feature catalogue (:data:`riskgraph.graph.features.FEATURE_CATALOG`)."""
    from riskgraph.graph.features import FEATURE_CATALOG

    return FEATURE_CATALOG


class CreditScorecard(ClassifierMixin, BaseEstimator):
    """Credit scorecard on user attributes, graph risk features and the GNN probability.

    Parameters
    ----------
    scaling : ScoreScaling, optional
        Points/odds scaling; default ``ScoreScaling()`` (650 at 20:1, 40 PDO).
    thin_file : ThinFileRule, optional
        Who has no credit history; default ``ThinFileRule()``.
    catalog : mapping, optional
        Graph feature catalogue (trends and reason templates); default
        :func:`default_catalog`, read at ``fit``.
    exclude : tuple of str, default ("age_band", "region")
        Columns never used as inputs. Age and region are the groups the fairness
        report audits, and a reason such as "age group 18-24" is nothing an applicant
        can act on, so they are left out by default.
    directionless_features : bool, default False
        Use graph features whose catalogue ``risk_direction`` is ``"none"`` (e.g.
        the number of social contacts). Left out by default: a feature without a
        risk direction has no business meaning to bin by, and "is a social contact
        of 5 other users" is not a reason an applicant can act on.
    binning : BinningSettings, optional
    C : float or "auto", default "auto"
        Inverse L2 strength of the logistic regression
        (:class:`SignConstrainedLogisticRegression`). ``"auto"`` picks it from
        ``Cs`` by stratified ``cv``-fold cross-validated log loss, re-binning inside
        every fold: weights of evidence computed on the validation fold's own labels
        would favour the least regularised model. A scorecard of dozens of
        correlated graph features fit on a few thousand labelled users needs far
        more shrinkage than one fit on a million.
    Cs : tuple of float
        Candidates for ``C="auto"``.
    variable_scales : tuple of float, default (1.0, 0.3)
        Candidates, with ``C="auto"``, for how much the variables other than
        ``score_column`` may weigh against it: their weights of evidence enter the
        regression multiplied by the scale, so that the L2 penalty on them is
        ``1 / scale**2`` times the graph model's; ``0`` leaves the graph model's score
        alone in the fit (the others keep their bins, which the reasons read).
        Chosen with ``C`` by the same cross-validated log loss. The graph model is
        calibrated and already reads the other variables; with few bad users their
        bins are coarse and their weights of evidence noisy. Candidates below 0.3
        lean on the graph model so much that its moves from one retrain to the next
        pass into the score undamped. A fixed ``C``, or no ``score_column``, fits at
        scale 1.
    cv : int, default 5
    max_cv_rows : int, default 100_000
        ``C="auto"`` cross-validates on a random subset of at most this many rows
        (the final fit uses them all).
    random_state : int, default 0
        Seeds the folds and the subset.
    score_column : str or None, default "gnn_risk"
        The graph model's calibrated probability: a characteristic weighed by its own
        log-odds (:class:`ScoreCells`) rather than binned like the others.
    score_cells : int, default 50
        Cells of ``score_column`` shown in the table, monitoring and reasons (equal
        shares of the training users; at most 125).

    Attributes
    ----------
    variables_ : list of VariableSpec
        The variables, in model order.
    binning_process_ : optbinning.BinningProcess
        The fitted binning of every variable but ``score_column``.
    score_cells_ : ScoreCells or None
        The cells of ``score_column`` (None when it is not an input).
    bin_points_ : dict[str, np.ndarray]
        Per variable, the points of each bin, indexed like optbinning's bin indices
        (``score_column``: its cells, at each cell's median, then Special and Missing;
        a user's own points of it follow its log-odds, :meth:`points_of`).
    best_points_ : pd.Series
        Per variable, the most points any of its bins gives.
    coef_ : pd.Series
        Logistic regression coefficient per variable (<= 0 on WoE).
    C_ : float
        The regularization used (chosen when ``C="auto"``; the incumbent's when its
        coefficients were kept).
    variable_scale_ : float
        The scale of the variables other than ``score_column`` in the fit
        (``variable_scales``; 1 when every variable was penalised alike).
    cv_log_loss_ : dict[tuple[float, float], float]
        Mean validation log loss per candidate ``(C, variable scale)`` (empty unless
        ``C="auto"``).
    n_train_, bad_rate_train_ : int, float
    kept_weights_ : bool
        Whether the coefficients are the incumbent's.
    sample_fingerprint_ : str
        A hash of the training users and their outcomes.
    incumbent_margin_se_ : float
        How much better tonight's coefficients fit tonight's users than the
        incumbent's, in standard errors (NaN without a comparable incumbent).
    development_ : DevelopmentSample
        The training users' score and bin distributions, and their out-of-fold
        scores with outcomes (when ``C="auto"``), for monitoring.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"past_dues": rng.poisson(1.0, 2000).astype(float)})
    >>> y = (rng.random(2000) < 0.03 + 0.05 * X["past_dues"].clip(0, 4)).astype(int)
    >>> model = CreditScorecard(catalog={}).fit(X, y)
    >>> scores = model.credit_score(X)
    >>> bool(scores.min() >= 350 and scores.max() <= 950)
    True
    """

    def __init__(
        self,
        *,
        scaling: ScoreScaling | None = None,
        thin_file: ThinFileRule | None = None,
        catalog: Mapping[str, CatalogEntry] | None = None,
        exclude: tuple[str, ...] = ("age_band", "region"),
        directionless_features: bool = False,
        binning: BinningSettings | None = None,
        C: float | str = "auto",
        Cs: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0),
        variable_scales: tuple[float, ...] = (1.0, 0.3),
        cv: int = 5,
        max_cv_rows: int = 100_000,
        random_state: int = 0,
        score_column: str | None = GNN_RISK,
        score_cells: int = _SCORE_CELLS,
    ) -> None:
        self.scaling = scaling
        self.thin_file = thin_file
        self.catalog = catalog
        self.exclude = exclude
        self.directionless_features = directionless_features
        self.binning = binning
        self.C = C
        self.Cs = Cs
        self.variable_scales = variable_scales
        self.cv = cv
        self.max_cv_rows = max_cv_rows
        self.random_state = random_state
        self.score_column = score_column
        self.score_cells = score_cells

    # -- fitting ---------------------------------------------------------------
    def fit(
        self, X: pd.DataFrame, y: Any, *, incumbent: CreditScorecard | None = None
    ) -> CreditScorecard:
        """Fit the scorecard.

        Parameters
        ----------
        X : pd.DataFrame
            ``(n, p)`` score frame (:func:`riskgraph.score.build_score_frame`).
        y : array-like
            ``(n,)`` 1 = bad, 0 = good.
        incumbent : CreditScorecard, optional
            The scorecard this one replaces (a retrain). Fitted on the same users
            with the same outcomes, its coefficients and intercept stay unless
            tonight's fit beats them beyond the noise (:meth:`_incumbent_weights`):
            a retrain on nearly the same inputs would otherwise move every
            coefficient by chance, and every user near a cut-off would cross it.
            Bins and weights of evidence are tonight's either way.

        Returns
        -------
        CreditScorecard
            ``self``.

        Raises
        ------
        ModelError
            When ``X`` is not a DataFrame, has no usable column, or ``y`` is not 0/1
            with both classes.
        """
        scaling = (self.scaling or ScoreScaling()).validate()
        rule = self.thin_file or ThinFileRule()
        catalog = default_catalog() if self.catalog is None else self.catalog
        settings = self.binning or BinningSettings()
        if not isinstance(X, pd.DataFrame):
            raise ModelError(f"CreditScorecard.fit: X must be a DataFrame, got {type(X).__name__}")
        target = _check_target(y, len(X))
        self.sample_fingerprint_ = outcomes_fingerprint(X.index, target)
        frame, variables = self._characteristics(X, target, rule, catalog, settings)
        binned = [v for v in variables if v.name != self.score_column]
        process = self._binning_process(binned, settings)
        cells = None
        if len(binned) < len(variables):
            cells = ScoreCells.fit(frame[self.score_column].to_numpy(), target, self.score_cells)

        C, scale, validation = self._regularization(process, frame, target, cells)
        if binned:
            try:
                with warnings.catch_warnings():
                    # optbinning 1.0 still uses pandas idioms pandas 3 deprecates
                    # (inplace reset_index, mixed-dtype totals rows); nothing to act on.
                    warnings.filterwarnings("ignore", module=r"optbinning(\.|$)")
                    process.fit(frame[[v.name for v in binned]], target)
            except (ValueError, RuntimeError) as exc:
                raise ModelError(f"CreditScorecard.fit: optbinning failed: {exc}") from exc
        self.variables_ = variables
        self.binning_process_ = process
        self.score_cells_ = cells
        self.scaling_ = scaling
        self.thin_file_ = rule
        names = [v.name for v in variables]
        bins = self.bin_indices(frame)
        design = np.column_stack([self._user_woe(name, frame, bins) for name in names])
        scales = self._column_scales(names, scale)
        self.variable_scale_ = scale
        lr = SignConstrainedLogisticRegression(sign="negative", C=C).fit(design * scales, target)
        coef, intercept = lr.coef_[0] * scales, float(lr.intercept_[0])
        self.incumbent_margin_se_ = np.nan
        kept = self._incumbent_weights(incumbent, names, design, target, coef, intercept, C, scales)
        if kept is not None:
            coef, intercept, C = kept
        self.kept_weights_ = kept is not None
        self.coef_ = pd.Series(coef, index=names)
        self.intercept_ = intercept
        self.bin_points_ = {name: self._woe_points(name, self.bin_woe(name)) for name in names}
        self.best_points_ = pd.Series({n: float(p.max()) for n, p in self.bin_points_.items()})
        self.C_ = C
        self.classes_ = np.array([0, 1])
        self.n_train_ = len(target)
        self.bad_rate_train_ = float(target.mean())
        self.development_ = self._development_sample(frame, validation)
        return self

    def _incumbent_weights(
        self,
        incumbent: CreditScorecard | None,
        names: list[str],
        design: np.ndarray,
        target: np.ndarray,
        coef: np.ndarray,
        intercept: float,
        C: float,
        scales: np.ndarray,
    ) -> tuple[np.ndarray, float, float] | None:
        """The incumbent's coefficients, intercept and ``C``, when it was fitted on
        tonight's users with tonight's outcomes and characteristics and tonight's fit
        (``coef``, ``intercept``) does not beat them beyond the noise; None otherwise.

        Only on the same users and outcomes: new outcomes are what a retrain is for,
        and a fit that has not learnt from them scores new users worse, though on
        the users of both nights it may fit as well.

        Beyond the noise: the mean of the users' paired log-loss differences exceeds
        :data:`~riskgraph.gnn.incumbent.INCUMBENT_MARGIN_SE` standard errors (recorded in
        ``incumbent_margin_se_``). A retrain on nearly the same users refits
        nearly the same coefficients, but every one of them moves by chance, and a
        user near a cut-off crosses it; the incumbent's weights stay until tonight's
        users show they no longer fit.
        """
        if incumbent is None or not hasattr(incumbent, "coef_"):
            return None
        same_sample = getattr(incumbent, "sample_fingerprint_", None) == self.sample_fingerprint_
        if not same_sample or list(incumbent.coef_.index) != names:
            return None
        # Another scale is another penalty, under which the incumbent's weights
        # were never optimal (at scale 0 they may not even be allowed).
        if getattr(incumbent, "variable_scale_", 1.0) != self.variable_scale_:
            return None
        old = incumbent.coef_.to_numpy(dtype=np.float64)
        sign = 2.0 * target - 1.0
        # Per user, how much tonight's penalised objective (the log loss and its
        # share of the L2 penalty at tonight's C and scale) prefers tonight's
        # coefficients.
        tonight = log_expit(sign * (design @ coef + intercept))
        diff = tonight - log_expit(sign * (design @ old + incumbent.intercept_))
        free = scales > 0
        weight = 1.0 / scales[free] ** 2
        penalty = (weight @ (old[free] ** 2 - coef[free] ** 2)) / (2.0 * C * len(target))
        self.incumbent_margin_se_ = paired_margin_se(diff + penalty)
        if self.incumbent_margin_se_ > INCUMBENT_MARGIN_SE:
            return None
        return old, float(incumbent.intercept_), float(incumbent.C_)

    def _column_scales(self, names: list[str], scale: float) -> np.ndarray:
        """Per variable of ``names``, its scale in the fit: 1 for the graph model's
        score, ``scale`` for every other variable."""
        return np.array([1.0 if name == self.score_column else scale for name in names])

    def _user_woe(self, name: str, prepared: pd.DataFrame, bins: pd.DataFrame) -> np.ndarray:
        """Each user's weight of evidence of ``name``: its bin's, or for the graph
        model's score its own (:meth:`ScoreCells.woe_of`)."""
        if name == self.score_column:
            assert self.score_cells_ is not None
            return self.score_cells_.woe_of(prepared[name].to_numpy())
        return self.bin_woe(name)[bins[name].to_numpy(dtype=np.int64)]

    def _woe_points(self, name: str, woe: np.ndarray) -> np.ndarray:
        """Points of weights of evidence of ``name``: optbinning's pdo_odds points,
        each characteristic carrying its share of the intercept and of the offset, so
        that a user's points add up to ``offset - factor * logit(p)``."""
        share = 1.0 / len(self.coef_)
        scaling = self.scaling_
        return (
            -(self.coef_[name] * woe + self.intercept_ * share) * scaling.factor
            + scaling.offset * share
        )

    def _regularization(
        self,
        process: BinningProcess,
        frame: pd.DataFrame,
        target: np.ndarray,
        cells: ScoreCells | None,
    ) -> tuple[float, float, tuple[np.ndarray, np.ndarray] | None]:
        """The inverse regularization strength ``C`` and the other variables' scale
        of the fit: ``C`` as set at scale 1, or for ``"auto"`` the candidate pair
        with the best cross-validated log loss (recorded in ``cv_log_loss_``), whose
        out-of-fold predictions and labels are returned too."""
        self.cv_log_loss_: dict[tuple[float, float], float] = {}
        if not isinstance(self.C, str):
            if not self.C > 0:
                raise ModelError(f"CreditScorecard.C = {self.C!r}; expected a number > 0 or 'auto'")
            return float(self.C), 1.0, None
        if self.C != "auto":
            raise ModelError(f"CreditScorecard.C = {self.C!r}; expected a number > 0 or 'auto'")
        self.cv_log_loss_, out_of_fold, cv_rows = self._cross_validate(
            process, frame, target, cells
        )
        C, scale = min(self.cv_log_loss_, key=self.cv_log_loss_.__getitem__)
        return C, scale, (out_of_fold[C, scale], target[cv_rows])

    def _characteristics(
        self,
        X: pd.DataFrame,
        target: np.ndarray,
        rule: ThinFileRule,
        catalog: Mapping[str, CatalogEntry],
        settings: BinningSettings,
    ) -> tuple[pd.DataFrame, list[VariableSpec]]:
        """The usable input columns (thin-file rule applied, model dtypes) and their
        specs: excluded and directionless columns dropped, and columns with too few
        values to bin; the graph model's score is kept whenever it is given."""
        excluded = set(self.exclude)
        if not self.directionless_features:
            excluded |= {
                name
                for name, entry in catalog.items()
                if str(getattr(entry, "risk_direction", "")) == "none"
            }
        columns = [c for c in X.columns if c not in excluded]
        frame = rule.apply(X[columns])
        # A column with fewer values than one bin needs (min_bin_n_event bad plus
        # min_bin_n_nonevent good users) carries nothing to bin, and in a
        # cross-validation fold it may have no value at all, which optbinning refuses.
        needed = settings.min_bin_n_event + settings.min_bin_n_nonevent
        enough = frame.notna().sum(axis=0) >= needed
        enough[[c for c in frame.columns if c == self.score_column]] = True
        frame = frame.loc[:, enough]
        if frame.shape[1] == 0:
            raise ModelError(
                f"CreditScorecard.fit: no usable input column among {list(X.columns)} "
                f"(excluded: {list(self.exclude)})"
            )
        variables = describe_variables(frame, catalog, rule.present(frame.columns))
        frame = _as_model_dtypes(frame, {}, variables)
        thin_missing = rule.present(frame.columns)
        variables = [
            replace(v, missing_is_neutral=True)
            if v.name in thin_missing
            or (
                v.name != self.score_column
                and not _missing_bin_is_reliable(frame[v.name], target, settings)
            )
            else v
            for v in variables
        ]
        return frame, variables

    def _binning_process(
        self, variables: list[VariableSpec], settings: BinningSettings
    ) -> BinningProcess:
        """optbinning's binning of ``variables`` (unfitted), with their trends."""
        fit_params: dict[str, dict[str, Any]] = {
            v.name: {
                "min_bin_n_event": settings.min_bin_n_event,
                "min_bin_n_nonevent": settings.min_bin_n_nonevent,
            }
            for v in variables
        }
        for v in variables:
            if v.monotonic_trend is not None:
                fit_params[v.name]["monotonic_trend"] = v.monotonic_trend
        # Empirical WoE for missing values (missing is informative: no stated
        # income, no application in the window), except for credit-history
        # attributes of thin files, which the no_credit_history indicator accounts
        # for (see thin_file.py), for catalogue features whose NaN is no risk factor
        # (undefined shares, ring features outside a ring), and for missing bins
        # too small or too pure to weigh reliably.
        transform_params = {
            v.name: {"metric_missing": 0 if v.missing_is_neutral else "empirical"}
            for v in variables
        }
        return BinningProcess(
            variable_names=[v.name for v in variables],
            categorical_variables=[v.name for v in variables if v.dtype == "categorical"],
            max_n_prebins=settings.max_n_prebins,
            min_prebin_size=settings.min_prebin_size,
            min_bin_size=settings.min_bin_size,
            max_n_bins=settings.max_n_bins,
            max_pvalue=settings.max_pvalue,
            binning_fit_params=fit_params,
            binning_transform_params=transform_params,
        )

    def _development_sample(
        self, frame: pd.DataFrame, validation: tuple[np.ndarray, np.ndarray] | None
    ) -> DevelopmentSample:
        """The training users' profile for monitoring (:class:`DevelopmentSample`);
        ``validation`` holds the out-of-fold log-odds of bad and the outcomes."""
        bins = self.bin_indices(frame)
        credit = self.scaling_.credit_score(self.risk_from_points(self.points_of(frame, bins)))
        good = bad = None
        if validation is not None:
            log_odds, outcome = validation
            oof = self.scaling_.credit_score(expit(log_odds))
            good, bad = score_histogram(oof[outcome == 0]), score_histogram(oof[outcome == 1])
        n_bins = {name: len(points) for name, points in self.bin_points_.items()}
        return DevelopmentSample(
            users=len(frame),
            score_counts=score_histogram(credit),
            bin_counts={
                name: np.bincount(bins[name].to_numpy(), minlength=n_bins[name]).astype(np.int64)
                for name in bins.columns
            },
            validation_good=good,
            validation_bad=bad,
        )

    def _cross_validate(
        self,
        process: BinningProcess,
        frame: pd.DataFrame,
        target: np.ndarray,
        cells: ScoreCells | None,
    ) -> tuple[dict[tuple[float, float], float], dict[tuple[float, float], np.ndarray], np.ndarray]:
        """Mean validation log loss of each candidate ``(C, variable scale)``, binning
        refit per fold (the score's cells are label-free: their weight of evidence is
        the score's own log-odds). Without the score's cells, the scale is 1.

        Returns
        -------
        loss : dict[tuple[float, float], float]
        out_of_fold : dict[tuple[float, float], np.ndarray]
            Per candidate, the out-of-fold log-odds of bad of the cross-validated rows.
        rows : np.ndarray
            Those rows (a subset when there are more than ``max_cv_rows``).
        """
        if not self.Cs or min(self.Cs) <= 0 or self.cv < 2:
            raise ModelError(
                f"CreditScorecard: Cs = {self.Cs!r}, cv = {self.cv!r}; expected positive "
                "candidates and cv >= 2"
            )
        if not self.variable_scales or not all(0.0 <= v <= 1.0 for v in self.variable_scales):
            raise ModelError(
                f"CreditScorecard: variable_scales = {self.variable_scales!r}; expected "
                "candidates between 0 and 1"
            )
        scales = sorted({float(v) for v in self.variable_scales}) if cells is not None else [1.0]
        rng = np.random.default_rng(self.random_state)
        rows = np.arange(len(target))
        if len(rows) > self.max_cv_rows:
            rows = np.sort(rng.choice(rows, self.max_cv_rows, replace=False))
        # Stratified folds: bad and good users dealt round-robin in random order.
        fold = np.empty(len(rows), dtype=np.int64)
        for cls in (0, 1):
            members = rng.permutation(np.flatnonzero(target[rows] == cls))
            fold[members] = np.arange(len(members)) % self.cv
        Cs = sorted({float(c) for c in self.Cs})
        loss = dict.fromkeys(((C, v) for v in scales for C in Cs), 0.0)
        out_of_fold = {key: np.empty(len(rows)) for key in loss}
        for k in range(self.cv):
            train, test = rows[fold != k], rows[fold == k]
            if len(np.unique(target[train])) < 2:
                raise ModelError(
                    f"CreditScorecard: a cross-validation fold has no bad user; use a fixed "
                    f"C or fewer folds (cv = {self.cv})"
                )
            woe_train, woe_test = fold_woe(process, frame, target, train, test)
            names = list(process.variable_names)
            if cells is not None:
                score_woe = cells.woe_of(frame[self.score_column].to_numpy())
                woe_train = np.column_stack([woe_train, score_woe[train]])
                woe_test = np.column_stack([woe_test, score_woe[test]])
                names.append(self.score_column)
            sign = 2.0 * target[test] - 1.0
            for v in scales:
                factor = self._column_scales(names, v)
                # At scale 0 the other columns are all zero: fit without them.
                used = np.flatnonzero(factor > 0.0)
                x_train = woe_train[:, used] * factor[used]
                x_test = woe_test[:, used] * factor[used]
                # Strongest penalty first, each fit starting from the last: the path
                # of optima is smooth, so warm starts save most of the solver's
                # iterations.
                lr = SignConstrainedLogisticRegression(sign="negative", warm_start=True)
                for C in Cs:
                    lr.set_params(C=C).fit(x_train, target[train])
                    z = x_test @ lr.coef_[0] + lr.intercept_[0]
                    loss[C, v] -= float(log_expit(sign * z).sum()) / len(rows)
                    out_of_fold[C, v][fold == k] = z
        return loss, out_of_fold, rows

    # -- applying --------------------------------------------------------------
    def prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        """The model's view of ``X``: thin-file rule applied, model columns, model dtypes.

        Raises
        ------
        ModelError
            Naming the model columns missing from ``X``.
        """
        check_is_fitted(self, "variables_")
        rule = self.thin_file_
        needed = [v.name for v in self.variables_ if v.name != NO_CREDIT_HISTORY]
        missing = [c for c in needed if c not in X.columns]
        history = rule.present(X.columns)
        if not history and len(needed) < len(self.variables_):
            missing.append(f"{NO_CREDIT_HISTORY} (from any of {list(rule.history_columns)})")
        if missing:
            raise ModelError(
                f"score frame lacks the model's columns {missing}; the model was trained "
                f"on {[v.name for v in self.variables_]}"
            )
        ruled = rule.applied(X) if history else {}
        return _as_model_dtypes(X, ruled, self.variables_)

    def points(self, X: pd.DataFrame) -> pd.DataFrame:
        """Points per variable, ``(n, n_variables)``, index of ``X``.

        Their row sum is the unrounded score ``offset - factor * logit(p)``.
        """
        return self._points(self.prepare(X))

    def _points(self, prepared: pd.DataFrame) -> pd.DataFrame:
        return self.points_of(prepared, self.bin_indices(prepared))

    def bin_indices(self, prepared: pd.DataFrame, dtype: Any = np.int64) -> pd.DataFrame:
        """Each user's bin of each variable, ``(n, n_variables)``, index of
        ``prepared`` (from :meth:`prepare`).

        Bins are optbinning's: the regular bins in order, then Special (never used
        here) and Missing (the last).
        """
        process = self.binning_process_
        names = [v.name for v in self.variables_]
        columns = _column_arrays(prepared, names)
        out = np.empty((len(names), len(prepared)), dtype=dtype)
        for j, name in enumerate(names):
            values = columns[name]
            if name == self.score_column:
                assert self.score_cells_ is not None
                out[j] = self.score_cells_.indices(values)
                continue
            binning = process.get_binned_variable(name)
            if (
                binning.dtype == "numerical"
                and binning.special_codes is None
                and values.dtype.kind == "f"
            ):
                # optbinning's transform to indices, without its per-call checks and
                # bin labels: np.digitize(x, splits) is this searchsorted, and a
                # missing value goes to the Missing bin, after the regular ones and
                # Special.
                edges = np.asarray(binning.splits, dtype=np.float64)
                index = np.searchsorted(edges, values, side="right")
                out[j] = np.where(np.isnan(values), len(edges) + 2, index)
            else:
                # Bin indices straight from each variable's binning: the process-level
                # transform would apply our per-variable metric_missing=0 to the indices
                # too and send missing values to bin 0 instead of the Missing bin.
                out[j] = binning.transform(
                    values,
                    metric="indices",
                    metric_special="empirical",
                    metric_missing="empirical",
                )
        return pd.DataFrame(out.T, index=prepared.index, columns=names, copy=False)

    def points_of(self, prepared: pd.DataFrame, bins: pd.DataFrame) -> pd.DataFrame:
        """Points per variable, ``(n, n_variables)``, index of ``bins``: those of each
        user's bin (:meth:`bin_indices` of ``prepared``), and for the graph model's
        score those of the user's own log-odds."""
        names = list(self.bin_points_)
        columns = _column_arrays(bins, names)
        out = np.empty((len(names), len(bins)))
        for j, (name, points) in enumerate(self.bin_points_.items()):
            if name == self.score_column:
                out[j] = self._woe_points(name, self._user_woe(name, prepared, bins))
            else:
                out[j] = points[columns[name].astype(np.int64)]
        return pd.DataFrame(out.T, index=bins.index, columns=names, copy=False)

    def bin_woe(self, name: str) -> np.ndarray:
        """Weight of evidence of each bin of ``name`` (indexed like :meth:`bin_indices`),
        as binned on the training users: ``ln(share of good / share of bad)``, so a bin
        whose users go bad more often than the average has a negative WoE."""
        check_is_fitted(self, "variables_")
        if name == self.score_column:
            assert self.score_cells_ is not None
            return self.score_cells_.woe.copy()
        table = self.binning_process_.get_binned_variable(name).binning_table
        woe = _woe_of(
            np.asarray(table.n_nonevent, dtype=np.float64),
            np.asarray(table.n_event, dtype=np.float64),
        )
        if self.variable_specs[name].missing_is_neutral:
            woe[-1] = 0.0  # the Missing bin weighs nothing (see fit)
        return woe

    def bin_splits(self, name: str) -> np.ndarray:
        """Edges between the regular bins of a numerical variable (bin ``b`` holds
        ``[splits[b - 1], splits[b])``); empty for one bin."""
        check_is_fitted(self, "variables_")
        if name == self.score_column:
            assert self.score_cells_ is not None
            return expit(self.score_cells_.edges)
        binning = self.binning_process_.get_binned_variable(name)
        return np.asarray(binning.splits, dtype=np.float64)

    def risk_from_points(self, points: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Probability of going bad, ``(n,)``, from the points of :meth:`points`."""
        check_is_fitted(self, "variables_")
        total = np.asarray(points, dtype=np.float64).sum(axis=1)
        scaling = self.scaling_
        return 1.0 / (1.0 + np.exp((total - scaling.offset) / scaling.factor))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``(n, 2)``: probabilities of good (column 0) and bad (column 1)."""
        p = self.risk_from_points(self.points(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where the probability of going bad exceeds 1/2, ``(n,)``."""
        return (self.predict_proba(X)[:, 1] > 0.5).astype(np.int64)

    def credit_score(self, X: pd.DataFrame) -> np.ndarray:
        """Integer credit scores 350-950, ``(n,)``; higher is better."""
        return self.scaling_.credit_score(self.predict_proba(X)[:, 1])

    def table(self) -> pd.DataFrame:
        """The scorecard: variable, bin, count, bad rate, WoE, coefficient, points."""
        check_is_fitted(self, "variables_")
        rows = self.characteristic_table()
        return pd.DataFrame(
            {
                "Variable": rows["characteristic"],
                "Bin id": rows.groupby("characteristic", sort=False).cumcount(),
                "Bin": rows["bin"],
                "Count": rows["count"],
                "Event rate": rows["event_rate"],
                "WoE": rows["woe"],
                "Coefficient": rows["characteristic"].map(self.coef_),
                "Points": rows["points"],
            }
        )

    def characteristic_table(self) -> pd.DataFrame:
        """The scorecard as a risk team reads it (``OUT/model/scorecard.csv``).

        Returns
        -------
        pd.DataFrame
            One row per characteristic and bin, in model order: ``characteristic``,
            ``bin`` (an interval, the categories of an ordinal attribute, or
            ``Missing``), ``count`` (training users), ``event_rate`` (their bad
            rate), ``woe``, ``iv`` (the bin's share of the information value),
            ``points`` (unrounded) and ``reason_code``. Special bins (never used)
            are left out; a missing bin is kept when it holds users.
        """
        check_is_fitted(self, "variables_")
        process = self.binning_process_
        rows = []
        for spec in self.variables_:
            if spec.name == self.score_column:
                rows += self._score_rows(spec)
                continue
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", module=r"optbinning(\.|$)")
                table = process.get_binned_variable(spec.name).binning_table.build()
            table = table.drop(index="Totals", errors="ignore").reset_index(drop=True)
            points = self.bin_points_[spec.name]
            labels = _bin_labels(spec, table["Bin"].tolist(), self.bin_splits(spec.name))
            for b, row in table.iterrows():
                if labels[b] == "Special" or (labels[b] == "Missing" and row["Count"] == 0):
                    continue
                rows.append(
                    {
                        "characteristic": spec.name,
                        "bin": labels[b],
                        "count": int(row["Count"]),
                        "event_rate": float(row["Event rate"]),
                        "woe": float(row["WoE"]),
                        "iv": float(row["IV"]),
                        "points": float(points[b]),
                        "reason_code": getattr(spec, "code", "") or "",
                    }
                )
        return pd.DataFrame(rows)

    def _score_rows(self, spec: VariableSpec) -> list[dict[str, Any]]:
        """:meth:`characteristic_table` rows of the graph model's score, one per cell."""
        cells = self.score_cells_
        assert cells is not None
        points = self.bin_points_[spec.name]
        good, bad = cells.count - cells.events, cells.events
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(cells.count > 0, bad / np.maximum(cells.count, 1), np.nan)
            iv = (good / max(good.sum(), 1) - bad / max(bad.sum(), 1)) * cells.woe
        labels = cells.labels()
        return [
            {
                "characteristic": spec.name,
                "bin": labels[b],
                "count": int(cells.count[b]),
                "event_rate": float(rate[b]),
                "woe": float(cells.woe[b]),
                "iv": float(iv[b]),
                "points": float(points[b]),
                "reason_code": getattr(spec, "code", "") or "",
            }
            for b in range(len(labels))
            if labels[b] != "Special" and not (labels[b] == "Missing" and cells.count[b] == 0)
        ]

    # -- persistence -----------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Pickle the fitted model to ``path`` (with a format version)."""
        check_is_fitted(self, "variables_")
        from riskgraph import __version__

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        payload = {"format": _FORMAT_VERSION, "riskgraph": __version__, "model": self}
        with tmp.open("wb") as handle:
            pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> CreditScorecard:
        """Load a model written by :meth:`save`.

        Raises
        ------
        ModelError
            When the file is missing, unreadable, of another format version or
            holds no fitted ``CreditScorecard``.
        """
        path = Path(path)
        try:
            with path.open("rb") as handle:
                payload = pickle.load(handle)
        except FileNotFoundError:
            raise ModelError(f"{path}: no scorecard model file") from None
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            raise ModelError(f"{path}: cannot read the scorecard model ({exc})") from exc
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        if isinstance(found, int) and found != _FORMAT_VERSION:
            raise StaleModelError(
                f"{path}: scorecard model format {found!r}, this version reads {_FORMAT_VERSION}"
            )
        if found != _FORMAT_VERSION:
            raise ModelError(
                f"{path}: scorecard model format {found!r}, expected {_FORMAT_VERSION}"
            )
        model = payload.get("model")
        if not isinstance(model, cls) or not hasattr(model, "variables_"):
            raise ModelError(f"{path}: does not hold a fitted CreditScorecard")
        return model

    @property
    def variable_specs(self) -> dict[str, VariableSpec]:
        """``variables_`` by name."""
        check_is_fitted(self, "variables_")
        return {v.name: v for v in self.variables_}


def _bin_labels(spec: VariableSpec, bins: list[Any], splits: np.ndarray) -> list[str]:
    """Readable bin labels: optbinning's, except that an ordinal attribute's bins of
    positions name their categories ("<3k, 3k-6k")."""
    labels = [
        str(b) if not isinstance(b, (list, np.ndarray)) else ", ".join(map(str, b)) for b in bins
    ]
    categories = getattr(spec, "categories", None)
    if categories is None:
        return labels
    edges = np.concatenate([[-np.inf], splits, [np.inf]])
    for b in range(len(splits) + 1):
        inside = [c for i, c in enumerate(categories) if edges[b] <= i < edges[b + 1]]
        labels[b] = ", ".join(inside)
    return labels


def _woe_of(good: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Per bin ``ln((good_b / good) / (bad_b / bad))``; 0 for a bin without either."""
    with np.errstate(divide="ignore", invalid="ignore"):
        woe = np.log((good / max(good.sum(), 1.0)) / (bad / max(bad.sum(), 1.0)))
    return np.where(np.isfinite(woe), woe, 0.0)


def _check_target(y: Any, n: int) -> np.ndarray:
    target = pd.Series(y).to_numpy(dtype=np.float64, na_value=np.nan)
    if len(target) != n:
        raise ModelError(f"CreditScorecard.fit: y has {len(target)} values for {n} rows of X")
    values = np.unique(target)
    if not (np.isin(values, [0.0, 1.0]).all() and len(values) == 2):
        raise ModelError(
            f"CreditScorecard.fit: y must be 0/1 with both classes present; got values "
            f"{values[:5].tolist()}"
        )
    return target.astype(np.int64)


def _missing_bin_is_reliable(
    column: pd.Series, target: np.ndarray, settings: BinningSettings
) -> bool:
    """Whether a variable's missing values are many enough, with both outcomes among
    them, for their empirical weight of evidence to mean something."""
    missing = column.isna().to_numpy()
    n_missing = int(missing.sum())
    if n_missing < max(settings.min_bin_size * len(column), _MIN_MISSING_BIN):
        return False
    bad = int(target[missing].sum())
    return 0 < bad < n_missing


def _as_model_dtypes(
    frame: pd.DataFrame, ruled: Mapping[str, np.ndarray], variables: list[VariableSpec]
) -> pd.DataFrame:
    """Numerical variables as float64 (NaN missing), categorical as object (None missing):
    the dtypes optbinning handles without surprises. Ordinal attributes
    (``VariableSpec.categories``) become their categories' positions. A variable is
    read from ``ruled`` (:meth:`ThinFileRule.applied`) where it is there, else from
    ``frame``.

    Plain numerical columns (numpy integers, floats, booleans) are read into one
    float64 block ``_PREPARE_ROWS`` users at a time; per-column access of a data frame
    is most of the cost of preparing a few users, and a copy of every column at once
    the peak of preparing a million.
    """
    names = [v.name for v in variables]
    dtypes = dict(zip(frame.columns, frame.dtypes, strict=True))
    plain = [
        j
        for j, v in enumerate(variables)
        if v.dtype == "numerical"
        and getattr(v, "categories", None) is None  # absent in models saved before it
        and v.name not in ruled
        and isinstance(dtypes[v.name], np.dtype)
        and dtypes[v.name].kind in "biuf"
    ]
    block = np.empty((len(names), len(frame)))
    plain_names = [names[j] for j in plain]
    for start in range(0, len(frame), _PREPARE_ROWS):
        rows = frame.iloc[start : start + _PREPARE_ROWS]
        block[plain, start : start + len(rows)] = rows[plain_names].to_numpy(np.float64).T
    objects = {}
    for j in sorted(set(range(len(variables))) - set(plain)):
        v = variables[j]
        column = pd.Series(ruled[v.name], index=frame.index) if v.name in ruled else frame[v.name]
        categories = getattr(v, "categories", None)
        if categories is not None:
            block[j] = ordinal_positions(column, categories)
        elif v.dtype == "numerical":
            block[j] = pd.to_numeric(column, errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
        else:
            values = column.astype(object).to_numpy()
            objects[v.name] = np.where(pd.isna(values), np.nan, values).astype(object)
    if not objects:
        return pd.DataFrame(block.T, index=frame.index, columns=names, copy=False)
    return pd.DataFrame(
        {name: objects[name] if name in objects else block[j] for j, name in enumerate(names)},
        index=frame.index,
    )


def _column_arrays(frame: pd.DataFrame, names: list[str]) -> dict[str, np.ndarray]:
    """``frame``'s columns ``names`` as arrays. A frame that is exactly these columns,
    all of one numpy dtype (what :meth:`CreditScorecard.prepare` and
    :meth:`CreditScorecard.bin_indices` return), is read in one step."""
    dtypes = frame.dtypes
    if (
        list(frame.columns) == names
        and len(names) > 0
        and isinstance(dtypes.iloc[0], np.dtype)
        and (dtypes == dtypes.iloc[0]).all()
    ):
        values = frame.to_numpy(copy=False)
        return {name: values[:, j] for j, name in enumerate(names)}
    return {name: frame[name].to_numpy() for name in names}


def fold_woe(
    process: BinningProcess,
    frame: pd.DataFrame,
    target: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Weight of evidence of ``train`` and ``test`` rows, binned on ``train`` alone.

    The same per-variable ``OptimalBinning`` that ``process`` (unfitted) would fit,
    with its settings, fit and transform parameters, so the result equals
    ``clone(process).fit(...).transform(..., metric="woe")``; but without the binning
    process's variable-selection statistics (binning tables, IV and quality tests
    of every variable), half its fitting time, which cross-validation never reads.

    Returns
    -------
    woe_train, woe_test : np.ndarray
        float64 ``(len(train), p)`` and ``(len(test), p)``, columns in
        ``process.variable_names`` order.
    """
    params = process.get_params()
    categorical = set(params["categorical_variables"] or ())
    fit_params = params["binning_fit_params"] or {}
    transform_params = params["binning_transform_params"] or {}
    names = list(params["variable_names"])
    woe_train = np.empty((len(train), len(names)))
    woe_test = np.empty((len(test), len(names)))
    y = target[train]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"optbinning(\.|$)")
        for j, name in enumerate(names):
            binning = OptimalBinning(
                name=name,
                dtype="categorical" if name in categorical else "numerical",
                max_n_prebins=params["max_n_prebins"],
                min_prebin_size=params["min_prebin_size"],
                min_n_bins=params["min_n_bins"],
                max_n_bins=params["max_n_bins"],
                min_bin_size=params["min_bin_size"],
                max_pvalue=params["max_pvalue"],
                max_pvalue_policy=params["max_pvalue_policy"],
                special_codes=params["special_codes"],
                split_digits=params["split_digits"],
                **fit_params.get(name, {}),
            )
            column = frame[name].to_numpy()
            binning.fit(column[train], y)
            how = {"metric": "woe", **transform_params.get(name, {})}
            woe_train[:, j] = binning.transform(column[train], **how)
            woe_test[:, j] = binning.transform(column[test], **how)
    return woe_train, woe_test
