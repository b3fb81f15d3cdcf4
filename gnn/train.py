"""``GraphRiskModel``: the graph risk model as a scikit-learn style estimator.

``fit`` follows the training protocol of :mod:`riskgraph.gnn.protocol` (visible
labels as of ``D``, out-of-fold point-in-time label views, a time-based validation
window) and fits every candidate on it: boosted trees over each user's own row
(``tabular``), boosted trees over the propagated neighbourhood and its communities
(``graph``, :mod:`riskgraph.gnn.head`), their blend, and the network (``gnn``,
trained with a class-weighted loss and stopped early on the validation window's
average precision). The candidate that validates best, by the one-standard-error
rule on AUC-ROC and AUC-PR, becomes the model and is calibrated on the users that
judged it (Platt scaling by default; isotonic optional). ``predict_proba`` averages the
calibrated probability over the label views each user may see. ``save`` writes one file
holding the heads, the network's weights, the fitted input encodings, the
calibration and a record of the training date, data and candidates; ``load`` reads
it back with ``torch.load(..., weights_only=True)`` (no pickled code).

Examples
--------
>>> model = GraphRiskModel().fit(tables, "2024-06-01")    # doctest: +SKIP
>>> model.selected_, model.candidates_                     # doctest: +SKIP
>>> model.predict_proba(tables, "2024-07-01")[:, 1]        # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from riskgraph.errors import ModelError, StaleModelError
from riskgraph.gnn.blocks import UserAttributes
from riskgraph.gnn.boost import VIEW_BOOSTING, ViewBoosters, booster_inputs
from riskgraph.gnn.boosting import Boosting
from riskgraph.gnn.config import ARCHITECTURES, CANDIDATES, HEADS, GraphRiskConfig
from riskgraph.gnn.head import TreeHead
from riskgraph.gnn.hetero import HeteroGraphBuilder, as_utc
from riskgraph.gnn.incumbent import INCUMBENT_MARGIN_SE, outcomes_fingerprint, paired_margin_se
from riskgraph.gnn.inference import average_views
from riskgraph.gnn.protocol import FeatureViews, LabelFolds, scoring_folds, split_labels
from riskgraph.gnn.runners import MessagePassingRunner, Scorer, SignRunner, make_net
from riskgraph.loaders.tables import GraphTables

__all__ = [
    "ARCHITECTURES",
    "CANDIDATES",
    "HEADS",
    "INCUMBENT_MARGIN_SE",
    "GraphRiskConfig",
    "GraphRiskModel",
    "TrainingRecord",
]

MODEL_FORMAT = "riskgraph-gnn/5"
# Static blocks a ``tabular`` head reads: the user's own row, nothing of its neighbours.
_OWN_BLOCKS = ("identifiers", "activity", "profile")


@dataclass
class TrainingRecord:
    """What a model was trained on, when, and how well it did on its validation window."""

    trained_at: str
    as_of: str
    architecture: str
    n_users: int
    n_train: int
    n_validation: int
    train_bad_rate: float
    validation_bad_rate: float
    data_fingerprint: str
    best_epoch: int
    epochs_run: int
    seconds: float
    validation_auc_roc: float = float("nan")
    validation_auc_pr: float = float("nan")
    validation_brier: float = float("nan")
    feature_columns: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    selected: str = "gnn"
    candidates: dict[str, dict[str, float]] = field(default_factory=dict)
    cross_fitted: bool = False
    #: Mean over the training users of the share of tonight's labels their own view
    #: showed (:meth:`~riskgraph.gnn.protocol.LabelFolds.label_share`): near 0 when
    #: labels arrive later than the training users' time span.
    label_share: float = float("nan")
    #: LightGBM models each tree head averages (1, or with cross-fitting 1 + a model
    #: per fold).
    head_models: int = 1
    #: Models fitted only for the training users' out-of-fold probabilities
    #: (``out_of_fold_models``; 0 when the heads were cross-fitted or none were).
    out_of_fold_models: int = 0
    #: The candidate of the model this one replaced, when the fit was told it.
    incumbent: str | None = None


def _data_fingerprint(tables: GraphTables, folds: LabelFolds) -> str:
    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(tables.users["user_id"], index=False).to_numpy().tobytes())
    h.update(np.nan_to_num(folds.labels, nan=-1.0).astype(np.int8).tobytes())
    h.update(str(tables.num_edges).encode())
    return h.hexdigest()[:16]


def _metrics(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    if len(np.unique(y)) < 2:
        return float("nan"), float("nan")
    return float(roc_auc_score(y, p)), float(average_precision_score(y, p))


class GraphRiskModel(BaseEstimator):  # type: ignore[misc]
    """Each user's probability of going bad, from its row, its neighbourhood and the
    known labels around it: the best of several candidates on the validation window.

    Parameters
    ----------
    config : GraphRiskConfig, optional
        Every hyperparameter (:class:`~riskgraph.gnn.config.GraphRiskConfig`; default
        its defaults), checked by :meth:`fit`.

    Attributes
    ----------
    builder_ : HeteroGraphBuilder
    heads_ : dict[str, TreeHead]
        The fitted tree heads.
    boosters_ : ViewBoosters or None
    net_ : torch.nn.Module
        The network (when ``"gnn"`` is a candidate).
    selected_ : str
        The candidate that validated best: the model's predictions are its.
    cross_fitted_ : bool
        Whether the tree heads were cross-fitted (see ``cross_fit_below``).
    validation_, out_of_fold_ : pandas.DataFrame
        ``user_idx``, ``label``, ``logit``, ``proba`` of the selected candidate for the
        validation window and the training users out of fold (when cross-fitted, or
        from ``out_of_fold_models`` fold models; empty when neither): predictions made
        without the user's label.
    candidates_ : dict[str, dict[str, float]]
        Validation AUC-ROC and AUC-PR of every candidate.
    calibrator_ : dict
        The calibration (``kind`` and its parameters) and ``judges``, a hash of the
        users it was fitted on and their outcomes.
    calibrator_kept_ : bool
        Whether the calibration is the incumbent's (:meth:`_choose`).
    record_ : TrainingRecord
    history_ : list[dict]
        Per epoch: training loss, validation average precision and AUC.
    """

    def __init__(self, config: GraphRiskConfig | None = None) -> None:
        self.config = config

    @property
    def settings(self) -> GraphRiskConfig:
        """The hyperparameters in force: :attr:`config`, or the defaults."""
        return self.config if self.config is not None else GraphRiskConfig()

    @property
    def candidate_list(self) -> tuple[str, ...]:
        """The candidates this model fits (see :attr:`GraphRiskConfig.candidates`)."""
        return self.settings.candidate_list

    def _check_fitted(self) -> None:
        if not hasattr(self, "selected_"):
            raise ModelError("GraphRiskModel is not fitted: call fit() or GraphRiskModel.load()")

    # -- fitting -------------------------------------------------------------------
    def fit(
        self,
        tables: GraphTables,
        as_of: Any,
        *,
        folds: LabelFolds | None = None,
        feature_views: FeatureViews | None = None,
        incumbent: str | None = None,
        incumbent_calibrator: dict[str, Any] | None = None,
    ) -> GraphRiskModel:
        """Train every candidate on the labels visible as of ``as_of``; keep the one
        that validates best.

        Four steps: the label plan (``folds``: visible labels, out-of-fold point-in-time
        views, the validation window), the inputs of the snapshot (one runner), each
        candidate of :attr:`candidates` fitted on the training users' own views, and
        the choice, by AUC-ROC and AUC-PR on the validation window (:func:`_select`), of
        the candidate that becomes the model, calibrated on that window.

        Parameters
        ----------
        tables : GraphTables
        as_of : timestamp
            Snapshot date ``D``: only edges, applications and labels dated before it.
        folds : LabelFolds, optional
            The label plan (:func:`~riskgraph.gnn.protocol.split_labels` of these
            ``tables`` and ``as_of`` with this model's ``n_folds`` and ``seed``; its
            ``labels`` and ``reference_time`` arguments restrict the labels or move
            the reference instants). Default: ``split_labels`` with this model's
            settings.
        feature_views : FeatureViews, optional
            Graph features per label view (:func:`~riskgraph.gnn.protocol.graph_feature_views`
            on the same ``folds``); without them the models use the graph alone.
        incumbent : str, optional
            The candidate of the model this one replaces: kept unless another
            validates better by more than :data:`INCUMBENT_MARGIN_SE` standard errors
            (:func:`_select`).
        incumbent_calibrator : dict, optional
            The calibration of the model this one replaces (its ``calibrator_``):
            kept while the incumbent candidate is, the judges and their outcomes are
            the same, and it fits them within the same band (:meth:`_choose`).

        Returns
        -------
        self
        """
        self.settings.validate()
        clock = time.perf_counter()
        as_of = as_utc(as_of)
        with _Threads(self.settings.num_threads):
            torch.manual_seed(self.settings.seed)
            folds = self._plan(tables, as_of, folds)
            if feature_views is not None:
                feature_views.check(folds)
            self.__dict__.pop("net_config_", None)  # a refit may change the input widths
            fit_frame = None if feature_views is None else feature_views.own_view(folds)
            self.builder_ = HeteroGraphBuilder().fit(tables, fit_frame, as_of=as_of)
            stages: dict[str, float] = {}
            # "propagation" includes building the snapshot (HeteroData) it reads
            runner = self._runner(tables, as_of, folds, feature_views)
            stages["propagation"] = time.perf_counter() - clock
            judges, logits = self._fit_candidates(runner, fit_frame, stages)
            judged = self._choose(runner, judges, logits, incumbent, incumbent_calibrator)
            self.out_of_fold_models_ = 0
            if (
                not self.cross_fitted_
                and self.settings.out_of_fold_models
                and self.selected_ in (*HEADS, "blend")
            ):
                began = time.perf_counter()
                self.out_of_fold_ = self._out_of_fold(runner)
                stages["out_of_fold"] = time.perf_counter() - began
            self.record_ = self._record(tables, folds, judged, clock, stages)
        return self

    def _plan(
        self, tables: GraphTables, as_of: pd.Timestamp, folds: LabelFolds | None
    ) -> LabelFolds:
        """The label plan of a fit: the given ``folds`` (checked) or a new split."""
        if folds is None:
            folds = split_labels(tables, as_of, self.settings.label_split)
        elif folds.n_folds != self.settings.n_folds or folds.as_of != as_of:
            raise ModelError(
                f"folds were split for n_folds={folds.n_folds}, as_of={folds.as_of}; "
                f"the model has n_folds={self.settings.n_folds}, fit as_of={as_of}"
            )
        y, train, val = folds.labels, folds.train, folds.validation
        if train.sum() == 0 or len(np.unique(y[train])) < 2:
            raise ModelError(
                f"fit as of {as_of.date()}: the training users need both bad and good "
                f"labels (got {int(train.sum())} labelled, {int(np.nansum(y[train]))} bad)"
            )
        if val.sum() == 0 or len(np.unique(y[val])) < 2:
            raise ModelError(
                f"fit as of {as_of.date()}: the validation window ({int(val.sum())} users) "
                "needs both bad and good labels; raise validation_fraction or wait for labels"
            )
        return folds

    def _fit_candidates(
        self,
        runner: SignRunner | MessagePassingRunner,
        fit_frame: pd.DataFrame | None,
        stages: dict[str, float],
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Fit every candidate on the training users' own views, each timed in ``stages``.

        Returns the users that judge the candidates (the validation window, and the
        training users out of fold when the tree heads are cross-fitted) and each
        candidate's logits of those users.
        """
        folds = runner.folds
        val_idx = np.flatnonzero(folds.validation)
        # Too few bad users to judge by (a new portfolio, a rare outcome): the tree
        # heads are cross-fitted, and every labelled user judges (see cross_fit_below).
        self.cross_fitted_ = int(np.nansum(folds.labels[val_idx])) < self.settings.cross_fit_below
        judges = val_idx
        if self.cross_fitted_:
            judges = np.concatenate([val_idx, np.flatnonzero(folds.train)])
        logits: dict[str, np.ndarray] = {}
        self.heads_: dict[str, TreeHead] = {}
        runner.attach_scorer(None)
        for name in (c for c in self.candidate_list if c in HEADS):
            began = time.perf_counter()
            logits[name] = self._fit_head(name, runner)
            stages[name] = time.perf_counter() - began
        self.blend_: dict[str, tuple[float, float]] = {}
        if "blend" in self.candidate_list:
            logits["blend"] = self._fit_blend(logits, len(val_idx))
        self.boosters_: ViewBoosters | None = None
        self.history_: list[dict[str, float]] = []
        if "gnn" in self.candidate_list and (not self.cross_fitted_ or not logits):
            began = time.perf_counter()
            z = self._fit_network(runner, runner.tables, folds, runner.feature_views, fit_frame)
            if self.cross_fitted_:  # the network alone: judged on its window
                judges = val_idx
            logits["gnn"] = z
            stages["gnn"] = time.perf_counter() - began
        return judges, logits

    def _choose(
        self,
        runner: SignRunner | MessagePassingRunner,
        judges: np.ndarray,
        logits: dict[str, np.ndarray],
        incumbent: str | None = None,
        incumbent_calibrator: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Select the candidate that validates best and calibrate it on ``judges``;
        return their labels, logits and calibrated probabilities.

        The ``incumbent_calibrator`` stays when the incumbent candidate does, it was
        fitted on tonight's judges with tonight's outcomes (its ``judges``
        fingerprint), and tonight's calibration fits them better by no more than
        :data:`INCUMBENT_MARGIN_SE` standard errors (:func:`_calibration_margin_se`):
        refit on the same users and nearly the same logits, the calibration moves by
        chance, and with it every user's probability. New outcomes are what a
        retrain is for: with them the calibration is refit."""
        folds = runner.folds
        y_judges = folds.labels[judges]
        self.incumbent_ = incumbent
        self.selected_, margins = _select(logits, y_judges, self.settings.seed, incumbent)
        self.candidates_ = {
            name: {
                **dict(zip(("auc_roc", "auc_pr"), _metrics(y_judges, z), strict=True)),
                "auc_roc_margin_se": margins[name]["auc_roc"],
                "auc_pr_margin_se": margins[name]["auc_pr"],
            }
            for name, z in logits.items()
        }
        if self.selected_ != "gnn" and runner.scorer is not None:
            # only the network's scorer changes the layout; resetting it otherwise would
            # drop the own views the out-of-fold heads read next
            runner.attach_scorer(None)
        z_judges = logits[self.selected_]
        self.calibrator_ = _fit_calibrator(self.settings.calibration, z_judges, y_judges)
        self.calibrator_["judges"] = outcomes_fingerprint(
            runner.tables.users["user_id"].iloc[judges], y_judges
        )
        self.calibrator_kept_ = False
        if (
            incumbent_calibrator is not None
            and self.selected_ == incumbent
            and incumbent_calibrator.get("kind") == self.calibrator_["kind"]
            and incumbent_calibrator.get("judges") == self.calibrator_["judges"]
            and _calibration_margin_se(incumbent_calibrator, self.calibrator_, z_judges, y_judges)
            <= INCUMBENT_MARGIN_SE
        ):
            self.calibrator_ = dict(incumbent_calibrator)
            self.calibrator_kept_ = True
        p_judges = _calibrate(self.calibrator_, z_judges)
        judged = pd.DataFrame(
            {"user_idx": judges, "label": y_judges, "logit": z_judges, "proba": p_judges}
        )
        window = folds.validation[judges]
        self.validation_ = judged[window].reset_index(drop=True)
        self.out_of_fold_ = judged[~window].reset_index(drop=True)
        return judged

    def _fit_head(self, name: str, runner: SignRunner | MessagePassingRunner) -> np.ndarray:
        """Fit the tree head ``name`` on the training users' own views, stopping early
        on the validation window; return the validation users' logits, followed, when
        cross-fitted, by the training users' out-of-fold logits.

        Cross-fitted, a model per fold (trained on the other folds' users, with its own
        seed) gives the out-of-fold logits, and the head keeps them all beside the model
        of every training user and scores by their mean (:meth:`TreeHead.pooled`): on so
        few bad users one model's scores move with every small change of the data."""
        assert isinstance(runner, SignRunner)
        folds = runner.folds
        train, val = np.flatnonzero(folds.train), np.flatnonzero(folds.validation)
        x_train = self.head_inputs(runner, train, None, name)
        x_val = self.head_inputs(runner, val, None, name)
        y_train, y_val = folds.labels[train], folds.labels[val]
        categorical = self._head_categorical(runner, name)
        seed = self.settings.seed
        head = TreeHead(Boosting(seed=seed)).fit(x_train, y_train, x_val, y_val, categorical)
        if not self.cross_fitted_:
            self.heads_[name] = head
            return head.predict_logit(x_val)
        oof, parts = self._fold_logits(
            head, x_train.__getitem__, y_train, (x_val, y_val), folds.fold[train], categorical
        )
        self.heads_[name] = TreeHead.pooled([head, *parts])
        return np.concatenate([self.heads_[name].predict_logit(x_val), oof])

    def _fold_logits(
        self,
        head: TreeHead,
        inputs: Callable[[np.ndarray], np.ndarray],
        y_train: np.ndarray,
        validation: tuple[np.ndarray, np.ndarray],
        groups: np.ndarray,
        categorical: list[int],
    ) -> tuple[np.ndarray, list[TreeHead]]:
        """The training users' logits, each from a model fitted without its group.

        ``inputs`` gives the inputs of training users at the positions it is given
        (built as needed, so that no more than one group's complement is held at a
        time); a model per group of ``groups`` (one per training user) is fitted on
        the other groups' users, with its own seed and early stopping on
        ``validation`` (its inputs and labels). A group whose complement lacks an
        outcome is scored by ``head``, the model of every training user. Returns the
        logits and the fold models."""
        oof = np.zeros(len(y_train))
        parts: list[TreeHead] = []
        for k in np.unique(groups):
            inside, outside = np.flatnonzero(groups != k), np.flatnonzero(groups == k)
            model = head
            if len(np.unique(y_train[inside])) == 2:
                model = TreeHead(Boosting(seed=self.settings.seed + 1 + int(k))).fit(
                    inputs(inside), y_train[inside], *validation, categorical
                )
                parts.append(model)
            oof[outside] = model.predict_logit(inputs(outside))
        return oof, parts

    def _out_of_fold(self, runner: SignRunner | MessagePassingRunner) -> pd.DataFrame:
        """``out_of_fold_`` of a model whose heads were not cross-fitted: the kept
        candidate's calibrated probability of every training user, from
        ``out_of_fold_models`` models each fitted without the user's group of folds
        (``fold mod out_of_fold_models``); ``out_of_fold_models_`` counts them."""
        assert isinstance(runner, SignRunner)
        folds = runner.folds
        train, val = np.flatnonzero(folds.train), np.flatnonzero(folds.validation)
        y_train = folds.labels[train]
        groups = folds.fold[train] % self.settings.out_of_fold_models
        logits: dict[str, np.ndarray] = {}
        fitted = 0
        for name in HEADS if self.selected_ == "blend" else (self.selected_,):

            def rows(at: np.ndarray, name: str = name) -> np.ndarray:
                return self.head_inputs(runner, train[at], None, name)

            validation = (self.head_inputs(runner, val, None, name), folds.labels[val])
            logits[name], parts = self._fold_logits(
                self.heads_[name],
                rows,
                y_train,
                validation,
                groups,
                self._head_categorical(runner, name),
            )
            fitted += len(parts)
            del validation, parts
        self.out_of_fold_models_ = fitted
        z = self._blended(logits) if self.selected_ == "blend" else logits[self.selected_]
        return pd.DataFrame(
            {
                "user_idx": train,
                "label": y_train,
                "logit": z,
                "proba": _calibrate(self.calibrator_, z),
            }
        )

    def _fit_blend(self, logits: dict[str, np.ndarray], n_val: int) -> np.ndarray:
        """Standardize each tree head's log-odds on the validation window (its first
        ``n_val`` logits) and average them; return the blended logits."""
        self.blend_ = {
            name: (float(logits[name][:n_val].mean()), float(logits[name][:n_val].std()) or 1.0)
            for name in HEADS
        }
        return self._blended({name: logits[name] for name in HEADS})

    def _blended(self, logits: dict[str, np.ndarray]) -> np.ndarray:
        """The mean of the heads' log-odds, each standardized as at fit time."""
        return np.mean(
            [(z - self.blend_[name][0]) / self.blend_[name][1] for name, z in logits.items()],
            axis=0,
        )

    def _fit_network(
        self,
        runner: SignRunner | MessagePassingRunner,
        tables: GraphTables,
        folds: LabelFolds,
        feature_views: FeatureViews | None,
        fit_frame: pd.DataFrame | None,
    ) -> np.ndarray:
        """Fit the network (on the boosted encoder when ``booster``), stopping early on
        the validation window's average precision; return the validation logits."""
        y, train = folds.labels, folds.train
        if self.settings.booster:
            source = self.booster_source(tables)
            x_train = source(fit_frame, runner.booster_extra, np.flatnonzero(train))
            n_num = len(self.builder_.attribute_columns_)
            self.boosters_ = ViewBoosters(
                n_num,
                len(self.builder_.categorical_),
                replace(VIEW_BOOSTING, seed=self.settings.seed),
            ).fit(x_train, folds, tables.users["user_id"])
            del x_train
        runner.attach_scorer(self._scorer(tables, feature_views, folds, runner.booster_extra))
        self.net_ = runner.new_net()
        best_state, best_ap, best_epoch, stale = None, -1.0, 0, 0
        rng = np.random.default_rng(self.settings.seed)
        n_pos = float(np.nansum(y[train]))
        n_neg = float(train.sum() - n_pos)
        weight = {"sqrt": np.sqrt(n_neg / n_pos), "balanced": n_neg / n_pos, "none": 1.0}
        loss_fn = torch.nn.BCEWithLogitsLoss(
            pos_weight=torch.tensor(float(weight[self.settings.pos_weight]))
        )
        optimizer = torch.optim.AdamW(
            self.net_.parameters(),
            lr=self.settings.learning_rate,
            weight_decay=self.settings.weight_decay,
        )
        val_idx = np.flatnonzero(folds.validation)
        epoch = 0
        if self.boosters_ is not None and self.settings.architecture == "sign":
            # The untrained residual net is the booster itself: a candidate too.
            _, best_ap = _metrics(y[val_idx], runner.own_logits(val_idx))
            best_state = {k: v.detach().clone() for k, v in self.net_.state_dict().items()}
            self.history_.append({"epoch": 0, "loss": float("nan"), "val_auc_pr": best_ap})
        for epoch in range(1, self.settings.max_epochs + 1):
            self.net_.train()
            total, count = 0.0, 0
            for logits, target in runner.train_batches(np.flatnonzero(train), rng):
                loss = loss_fn(logits, target)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(target)
                count += len(target)
            auc, ap = _metrics(y[val_idx], runner.own_logits(val_idx))
            self.history_.append(
                {
                    "epoch": epoch,
                    "loss": total / max(count, 1),
                    "val_auc_pr": ap,
                    "val_auc_roc": auc,
                }
            )
            if ap > best_ap + 1e-5:
                best_ap, best_epoch, stale = ap, epoch, 0
                best_state = {k: v.detach().clone() for k, v in self.net_.state_dict().items()}
            else:
                stale += 1
                if stale >= self.settings.patience:
                    break
        assert best_state is not None
        self.net_.load_state_dict(best_state)
        self.best_epoch_, self.epochs_run_ = best_epoch, epoch
        return runner.own_logits(val_idx)

    def _record(
        self,
        tables: GraphTables,
        folds: LabelFolds,
        judged: pd.DataFrame,
        clock: float,
        stages: dict[str, float],
    ) -> TrainingRecord:
        """The record of a fit; its validation metrics are the selected candidate's,
        calibrated, on the users that judged the candidates."""
        as_of = folds.as_of
        y, train, val = folds.labels, folds.train, folds.validation
        auc, ap = _metrics(judged["label"].to_numpy(), judged["proba"].to_numpy())
        return TrainingRecord(
            trained_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            as_of=as_of.isoformat(),
            architecture=self.settings.architecture,
            n_users=tables.num_users,
            n_train=int(train.sum()),
            n_validation=int(val.sum()),
            train_bad_rate=float(np.nanmean(y[train])),
            validation_bad_rate=float(np.nanmean(y[val])),
            data_fingerprint=_data_fingerprint(tables, folds),
            best_epoch=int(getattr(self, "best_epoch_", 0)),
            epochs_run=int(getattr(self, "epochs_run_", 0)),
            seconds=time.perf_counter() - clock,
            validation_auc_roc=auc,
            validation_auc_pr=ap,
            validation_brier=float(
                brier_score_loss(judged["label"].to_numpy(), judged["proba"].to_numpy())
            ),
            feature_columns=list(self.builder_.feature_columns_),
            versions=_versions(),
            stage_seconds=stages,
            selected=self.selected_,
            candidates={k: dict(v) for k, v in self.candidates_.items()},
            cross_fitted=self.cross_fitted_,
            label_share=float(folds.label_share(np.flatnonzero(train)).mean()),
            head_models=max((len(h.models_) for h in self.heads_.values()), default=1),
            out_of_fold_models=self.out_of_fold_models_,
            incumbent=self.incumbent_,
        )

    # -- prediction ------------------------------------------------------------------
    def predict_proba(
        self,
        tables: GraphTables,
        as_of: Any,
        *,
        folds: LabelFolds | None = None,
        feature_views: FeatureViews | None = None,
        rows: np.ndarray | None = None,
        inputs: SignRunner | MessagePassingRunner | None = None,
    ) -> np.ndarray:
        """Calibrated probabilities, ``(n_users, 2)``: column 1 is the probability of bad.

        Parameters
        ----------
        tables : GraphTables
        as_of : timestamp
            Snapshot date; the label inputs see labels dated before it only.
        folds : LabelFolds, optional
            The label views to average (:meth:`scoring_folds`, whose ``labels`` and
            ``reference_time`` restrict the labels, e.g. to those known at the
            training date, or move the reference instants). Default:
            :meth:`scoring_folds` of ``tables`` as of ``as_of``.
        feature_views : FeatureViews, optional
            Required when the model was trained with graph features; computed on the
            same ``folds``.
        rows : np.ndarray, optional
            int positions of the users to score (``(len(rows), 2)`` is returned, in
            their order): every user's inputs are still built, since a user's inputs
            read its neighbours', but only these are scored (an online call scores its
            applicants, not their neighbourhood).
        inputs : SignRunner or MessagePassingRunner, optional
            :meth:`prepare` of the same arguments, when the caller has it (an online
            call explains its applicants with the same inputs): not built again.
        """
        proba, _ = self._predict(tables, as_of, folds, feature_views, rows, inputs)
        return np.stack([1.0 - proba, proba], axis=1)

    def decision_function(
        self,
        tables: GraphTables,
        as_of: Any,
        *,
        folds: LabelFolds | None = None,
        feature_views: FeatureViews | None = None,
    ) -> np.ndarray:
        """Uncalibrated logits averaged over the label views, ``(n_users,)``."""
        _, logit = self._predict(tables, as_of, folds, feature_views)
        return logit

    def _predict(
        self,
        tables: GraphTables,
        as_of: Any,
        folds: LabelFolds | None,
        feature_views: FeatureViews | None,
        rows: np.ndarray | None = None,
        inputs: SignRunner | MessagePassingRunner | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        with _Threads(self.settings.num_threads):
            runner = (
                inputs
                if inputs is not None
                else self.prepare(tables, as_of, folds=folds, feature_views=feature_views)
            )
            weights = runner.folds.view_weights()
            if rows is not None:
                rows = np.asarray(rows, dtype=np.int64)
                # average_views scores the users a view weighs: weigh none but ``rows``.
                scored = np.zeros(len(weights), dtype=bool)
                scored[rows] = True
                weights[~scored] = 0.0
            proba, logit = average_views(
                functools.partial(self.view_logits, runner),
                weights,
                self.calibrate,
                chunk_size=runner.chunk_size,
            )
            return (proba, logit) if rows is None else (proba[rows], logit[rows])

    def view_logits(
        self, runner: SignRunner | MessagePassingRunner, v: int, rows: np.ndarray
    ) -> np.ndarray:
        """Raw logits of users ``rows`` under view ``v`` of ``runner`` (from
        :meth:`prepare`), from the selected candidate."""
        if self.selected_ == "gnn":
            return runner.view_logits(v, rows)
        assert isinstance(runner, SignRunner)
        logits = {
            name: self.heads_[name].predict_logit(self.head_inputs(runner, rows, v, name))
            for name in self.tree_heads()
        }
        if self.selected_ == "blend":
            return self._blended(logits)
        return logits[self.selected_]

    def tree_heads(self) -> tuple[str, ...]:
        """The tree heads the selected candidate reads (none for the network)."""
        if self.selected_ == "blend":
            return HEADS
        return (self.selected_,) if self.selected_ in HEADS else ()

    # -- the tree heads' inputs ---------------------------------------------------------
    def head_inputs(
        self, runner: SignRunner, rows: np.ndarray, v: int | None, name: str
    ) -> np.ndarray:
        """float32 inputs of tree head ``name`` for users ``rows`` under view ``v``
        (None: each labelled user's own view).

        The propagation model's inputs (static blocks, then the label-derived ones),
        then the raw numeric attributes (NaN kept: trees need no imputation) and the
        category codes, restricted to the head's columns.

        Assembled a chunk of rows at a time into the one array returned: for every
        training user at once, the full row and its selection would hold the inputs
        three times over.
        """
        raw, codes = self._raw_attributes(runner)
        columns = self._head_columns(name, runner)
        out = np.empty((len(rows), len(columns)), dtype=np.float32)
        for start in range(0, len(rows), runner.chunk_size):
            chunk = rows[start : start + runner.chunk_size]
            x = runner.own_inputs(chunk) if v is None else runner.view_inputs(v, chunk)
            full = np.concatenate([x, raw[chunk], codes[chunk].astype(np.float32)], axis=1)
            out[start : start + len(chunk)] = full[:, columns]
        return out

    def _raw_attributes(self, runner: SignRunner) -> tuple[np.ndarray, np.ndarray]:
        """The raw numeric attributes and category codes of every user (kept on the runner)."""
        cached = getattr(runner, "raw_attributes", None)
        if cached is None:
            users = runner.tables.users
            raw = (
                users[self.builder_.attribute_columns_]
                .astype("float64")
                .to_numpy(dtype=np.float32, na_value=np.nan)
            )
            cached = (raw, runner.inputs.x_cat)
            runner.raw_attributes = cached
        return cached

    def _head_columns(self, name: str, runner: SignRunner) -> np.ndarray:
        """Positions, in :meth:`head_inputs`' full row, of the columns head ``name`` reads."""
        inputs = runner.inputs
        n_model = inputs.static.shape[1] + sum(runner.block_dims[len(inputs.static_blocks) :])
        n_raw = len(self.builder_.attribute_columns_) + inputs.x_cat.shape[1]
        if name == "graph":
            return np.arange(n_model + n_raw)
        keep, start = [], 0
        for block, width in inputs.static_blocks:
            if block in _OWN_BLOCKS:
                keep.append(np.arange(start, start + width))
            start += width
        keep.append(np.arange(n_model, n_model + n_raw))
        return np.concatenate(keep)

    def _head_categorical(self, runner: SignRunner, name: str) -> list[int]:
        """Positions of the category codes among head ``name``'s columns (they come last)."""
        n_cols = len(self._head_columns(name, runner))
        n_cat = runner.inputs.x_cat.shape[1]
        return list(range(n_cols - n_cat, n_cols))

    def calibrate(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of raw logits (float64, same shape)."""
        self._check_fitted()
        return _calibrate(self.calibrator_, np.asarray(logits, dtype=np.float64))

    def prepare(
        self,
        tables: GraphTables,
        as_of: Any,
        *,
        folds: LabelFolds | None = None,
        feature_views: FeatureViews | None = None,
    ) -> SignRunner | MessagePassingRunner:
        """The model's inputs for scoring ``tables`` as of ``as_of`` (see :mod:`.runners`).

        Used by :meth:`predict_proba` and by :mod:`riskgraph.gnn.explain`; the
        runner's ``folds`` are the scoring label views (default :meth:`scoring_folds`).
        """
        self._check_fitted()
        as_of = as_utc(as_of)
        if folds is None:
            folds = self.scoring_folds(tables, as_of)
        if self.builder_.feature_columns_ and feature_views is None:
            raise ModelError(
                "this model was trained with graph features: pass feature_views= "
                "(graph_feature_views(tables, model.scoring_folds(tables, as_of)))"
            )
        if feature_views is not None:
            feature_views.check(folds)
        runner = self._runner(tables, as_of, folds, feature_views)
        if self.selected_ != "gnn":
            runner.attach_scorer(None)
            return runner
        runner.attach_scorer(self._scorer(tables, feature_views, folds, runner.booster_extra))
        if isinstance(runner, SignRunner):
            runner.check_net()
        return runner

    def scoring_folds(
        self,
        tables: GraphTables,
        as_of: Any,
        labels: Any = None,
        reference_time: pd.Series | None = None,
    ) -> LabelFolds:
        """The label views a prediction as of ``as_of`` uses (compute feature views on these)."""
        return scoring_folds(
            tables, as_of, self.settings.label_split, labels=labels, reference_time=reference_time
        )

    def booster_source(
        self, tables: GraphTables
    ) -> Callable[[pd.DataFrame | None, np.ndarray | None, np.ndarray], np.ndarray]:
        """``source(frame, extra, rows)`` -> the booster inputs of users ``rows``
        (:func:`~riskgraph.gnn.boost.booster_inputs`), attributes encoded once."""
        raw = (
            tables.users[self.builder_.attribute_columns_]
            .astype("float64")
            .to_numpy(dtype=np.float32, na_value=np.nan)
        )
        _, x_cat = self.builder_.attribute_inputs(tables)
        attributes = UserAttributes(raw, x_cat)
        columns = self.builder_.feature_columns_

        def source(
            frame: pd.DataFrame | None, extra: np.ndarray | None, rows: np.ndarray
        ) -> np.ndarray:
            return booster_inputs(attributes, frame, columns, extra, rows)

        return source

    def _scorer(
        self,
        tables: GraphTables,
        feature_views: FeatureViews | None,
        folds: LabelFolds,
        extra: np.ndarray | None,
    ) -> Scorer | None:
        """Booster log-odds per label view (None without boosters).

        ``extra``: label-free inputs appended to the booster inputs (the propagation
        model's static blocks: neighbours' attributes, identifier sharing).
        """
        boosters = self.boosters_
        if boosters is None:
            return None
        source = self.booster_source(tables)
        cache: dict[tuple[int, int], np.ndarray] = {}
        chunk = 131_072  # the inputs of a million users at once would take gigabytes

        def score(v: int) -> np.ndarray:
            k = folds.view_fold(v)
            # Without graph features a booster's inputs are the same in every view
            # of its fold: score once per fold.
            key = (k, -1 if feature_views is None else v)
            if key not in cache:
                frame = None if feature_views is None else feature_views.frames[v]
                if feature_views is not None:
                    cache.clear()  # one view at a time: they are large at scale
                n = tables.num_users
                cache[key] = np.concatenate(
                    [
                        boosters.predict_logit(
                            k, source(frame, extra, np.arange(s, min(s + chunk, n)))
                        )
                        for s in range(0, n, chunk)
                    ]
                    or [np.zeros(0, dtype=np.float32)]
                )
            return cache[key]

        return score

    def _runner(
        self,
        tables: GraphTables,
        as_of: pd.Timestamp,
        folds: LabelFolds,
        feature_views: FeatureViews | None,
    ) -> SignRunner | MessagePassingRunner:
        if self.settings.architecture == "sign":
            # builds its snapshot itself, to let it go before its blocks are built
            return SignRunner(self, tables, as_of, folds, feature_views)
        data = self.builder_.transform(tables, as_of=as_of)
        return MessagePassingRunner(self, tables, data, folds, feature_views)

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted model to ``path`` (one file; parent folders are created)."""
        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        net = getattr(self, "net_", None)
        payload = {
            "format": MODEL_FORMAT,
            "params": _flat_settings(self.settings),
            "builder": self.builder_.state_dict(),
            "net_config": getattr(self, "net_config_", None),
            "state_dict": None if net is None else net.state_dict(),
            "heads": {name: head.state_dict() for name, head in self.heads_.items()},
            "blend": {name: list(scale) for name, scale in self.blend_.items()},
            "selected": self.selected_,
            "candidates": self.candidates_,
            "calibrator": self.calibrator_,
            "boosters": None if self.boosters_ is None else self.boosters_.state_dict(),
            "record": asdict(self.record_),
            "history": self.history_,
        }
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> GraphRiskModel:
        """Read a model written by :meth:`save`.

        Raises
        ------
        ModelError
            When the file is missing, unreadable or not a riskgraph GNN model.
        """
        path = Path(path)
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError as exc:
            raise ModelError(f"{path}: model file not found") from exc
        except Exception as exc:  # corrupt file, or a pickle that is not plain data
            raise ModelError(f"{path}: cannot read the model file ({exc})") from exc
        found = payload.get("format") if isinstance(payload, dict) else None
        if isinstance(found, str) and found.startswith("riskgraph-gnn/") and found != MODEL_FORMAT:
            raise StaleModelError(
                f"{path}: GNN model format {found!r}, this version reads {MODEL_FORMAT!r}"
            )
        if found != MODEL_FORMAT:
            raise ModelError(f"{path}: not a riskgraph GNN model (expected format {MODEL_FORMAT})")
        params = dict(payload["params"])
        params["fanout"] = tuple(params["fanout"])
        if params.get("candidates") is not None:
            params["candidates"] = tuple(params["candidates"])
        model = cls(GraphRiskConfig(**params))
        model.builder_ = HeteroGraphBuilder.from_state_dict(payload["builder"])
        if payload["net_config"] is not None:
            model.net_config_ = payload["net_config"]
            model.net_ = make_net(model.settings.architecture, model.net_config_)
            model.net_.load_state_dict(payload["state_dict"])
            model.net_.eval()
        model.heads_ = {
            name: TreeHead.from_state_dict(state) for name, state in payload["heads"].items()
        }
        model.blend_ = {name: (float(a), float(b)) for name, (a, b) in payload["blend"].items()}
        model.selected_ = str(payload["selected"])
        model.candidates_ = {k: dict(v) for k, v in payload["candidates"].items()}
        model.calibrator_ = payload["calibrator"]
        boosters = payload.get("boosters")
        model.boosters_ = None if boosters is None else ViewBoosters.from_state_dict(boosters)
        model.record_ = TrainingRecord(**payload["record"])
        model.history_ = list(payload["history"])
        return model


#: Bootstrap resamples of the validation window behind the selection's standard errors.
_SELECTION_RESAMPLES = 200


def _select(
    logits: dict[str, np.ndarray], y: np.ndarray, seed: int, incumbent: str | None = None
) -> tuple[str, dict[str, dict[str, float]]]:
    """The simplest candidate within one standard error of the best on both AUC-ROC and
    AUC-PR (the one-standard-error rule), or the ``incumbent`` while it stays within
    :data:`INCUMBENT_MARGIN_SE` of the best on both.

    A more complex candidate must earn its place: on a validation window of a few
    hundred users the scores of equally good models differ by chance, and taking the
    largest would prefer whichever model reads the most columns. The standard error is
    that of the paired difference to the best candidate of that metric, from bootstrap
    resamples of the validation users.

    Both metrics, because the night's score serves both uses: AUC-PR weighs the top of
    the ranking (the fraud queue), AUC-ROC all of it (every cut-off of the credit
    score). A simpler model that keeps up on the top but ranks the rest clearly worse
    is not as good, and the top of a window of a few hundred users is the noisier of
    the two to choose by. Where no candidate is within one standard error on both, the
    one whose larger shortfall is smallest is kept.

    A retrain must also earn a switch. Where two candidates sit about one standard
    error apart, a retrain on nearly the same data lands on either side by chance, and
    a switch of candidate moves every score; last night's candidate therefore stays
    until another beats it by more than twice the noise, a band wide enough that such
    chance does not cross it and narrow enough that a real change of the data does.

    Returns
    -------
    name : str
    margins : dict[str, dict[str, float]]
        Per candidate, ``{"auc_roc": ..., "auc_pr": ...}``: its score minus the best
        candidate's, in standard errors.
    """
    order = [c for c in CANDIDATES if c in logits]
    rng = np.random.default_rng(seed)
    n = len(y)
    # A resample as the count of times each user is drawn: the AUC of a resample is
    # the count-weighted AUC of the window (tied copies share their threshold).
    counts = np.stack(
        [np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(_SELECTION_RESAMPLES)]
    ).astype(np.int32)
    drawn_bad = counts @ (y == 1).astype(np.int64)
    counts = counts[(drawn_bad > 0) & (drawn_bad < n)]
    measured = {c: _metrics(y, logits[c]) for c in order}  # (AUC-ROC, AUC-PR)
    margins: dict[str, dict[str, float]] = {c: {} for c in order}
    for metric, position, weighted in (
        ("auc_roc", 0, _weighted_auc_roc),
        ("auc_pr", 1, _weighted_average_precision),
    ):
        score = {c: measured[c][position] for c in order}
        best = max(order, key=lambda c: (-1.0 if np.isnan(score[c]) else score[c], -order.index(c)))
        boot = np.stack([weighted(y, logits[c], counts) for c in order], axis=1)
        for i, c in enumerate(order):
            diff = boot[:, i] - boot[:, order.index(best)]
            se = max(float(diff.std()), 1e-9) if len(diff) > 1 else 1e-9
            margins[c][metric] = float((score[c] - score[best]) / se)
    return _keep(margins, incumbent), margins


def _keep(margins: dict[str, dict[str, float]], incumbent: str | None = None) -> str:
    """The candidate :func:`_select` keeps, from each one's margins (in standard errors
    behind the best, per metric; candidates in order of simplicity): a candidate is as
    far behind as its worse metric."""
    order = list(margins)
    shortfall = {c: min(margins[c].values()) for c in order}
    if incumbent in shortfall and shortfall[incumbent] >= -INCUMBENT_MARGIN_SE:
        return incumbent
    within = [c for c in order if shortfall[c] >= -1.0]
    if within:
        return within[0]
    return max(order, key=lambda c: (shortfall[c], -order.index(c)))


def _weighted_auc_roc(
    y: np.ndarray, score: np.ndarray, weights: np.ndarray, chunk: int = 25
) -> np.ndarray:
    """``roc_auc_score(y, score, sample_weight=w)`` for every row ``w`` of ``weights``,
    from one sort of ``score``.

    The chance that a bad user outranks a good one, weighted, a tie counting half: per
    threshold (one per distinct score, lowest first), the bad weight at it times the
    good weight below it plus half the good weight at it.
    """
    out = np.empty(len(weights))
    for start, bad_below, all_below in _threshold_sums(y, score, weights, chunk, False):
        good_below = all_below - bad_below
        bad_at = np.diff(bad_below, axis=1, prepend=0.0)
        good_at = np.diff(good_below, axis=1, prepend=0.0)
        wins = (bad_at * (good_below - 0.5 * good_at)).sum(axis=1)
        out[start : start + len(wins)] = wins / (bad_below[:, -1] * good_below[:, -1])
    return out


def _weighted_average_precision(
    y: np.ndarray, score: np.ndarray, weights: np.ndarray, chunk: int = 25
) -> np.ndarray:
    """``average_precision_score(y, score, sample_weight=w)`` for every row ``w`` of
    ``weights``, from one sort of ``score``.

    Same thresholds as scikit-learn (one per distinct score, highest first) and the
    same sum: recall steps times the precision at each threshold.
    """
    out = np.empty(len(weights))
    for start, tps, drawn in _threshold_sums(y, score, weights, chunk, True):
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(drawn > 0, tps / drawn, 0.0)
        recall_step = np.diff(tps, axis=1, prepend=0.0) / tps[:, -1:]
        out[start : start + len(tps)] = (recall_step * precision).sum(axis=1)
    return out


def _threshold_sums(
    y: np.ndarray, score: np.ndarray, weights: np.ndarray, chunk: int, highest_first: bool
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Per ``chunk`` rows of ``weights`` (from row ``start``): the cumulative weight of
    the bad users and of all users up to each threshold, one per distinct score, in
    the order of ``highest_first``; ``(start, bad, all)``, each ``(rows, thresholds)``.
    Chunks bound the ``(chunk, n)`` cumulative sums."""
    order = np.argsort(score, kind="mergesort")
    if highest_first:
        order = order[::-1]
    s, bad = score[order], (y[order] == 1).astype(np.float64)
    ends = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last row of each threshold
    for start in range(0, len(weights), chunk):
        w = weights[start : start + chunk][:, order].astype(np.float64)
        yield start, np.cumsum(w * bad, axis=1)[:, ends], np.cumsum(w, axis=1)[:, ends]


def _flat_settings(settings: GraphRiskConfig) -> dict[str, Any]:
    """The settings as plain data for the model file (sorted by name, lists for tuples)."""
    flat = asdict(settings)
    flat["fanout"] = list(settings.fanout)
    if settings.candidates is not None:
        flat["candidates"] = list(settings.candidates)
    return dict(sorted(flat.items()))


# -- calibration ---------------------------------------------------------------------------
def _fit_calibrator(kind: str, z: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    if kind == "platt":
        lr = LogisticRegression(C=1e4, max_iter=1000).fit(z.reshape(-1, 1), y.astype(int))
        return {"kind": "platt", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(z, y)
    return {
        "kind": "isotonic",
        "x": [float(v) for v in iso.X_thresholds_],
        "y": [float(v) for v in iso.y_thresholds_],
    }


def _calibration_margin_se(
    incumbent: dict[str, Any], tonight: dict[str, Any], z: np.ndarray, y: np.ndarray
) -> float:
    """How much better ``tonight``'s calibration fits ``(z, y)`` than ``incumbent``'s:
    the users' paired log-loss differences, in standard errors of their mean."""
    sign = 2.0 * np.asarray(y, dtype=np.float64) - 1.0
    losses = []
    for cal in (incumbent, tonight):
        p = np.clip(_calibrate(cal, z), 1e-9, 1.0 - 1e-9)
        losses.append(-np.log(np.where(sign > 0, p, 1.0 - p)))
    return paired_margin_se(losses[0] - losses[1])


def _calibrate(cal: dict[str, Any], z: np.ndarray) -> np.ndarray:
    if cal["kind"] == "platt":
        return 1.0 / (1.0 + np.exp(-(cal["a"] * z + cal["b"])))
    return np.interp(z, np.asarray(cal["x"]), np.asarray(cal["y"]))


# -- helpers ---------------------------------------------------------------------------------
class _Threads:
    """Context manager: torch intra-op threads set for the duration, then restored."""

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.before = torch.get_num_threads()

    def __enter__(self) -> None:
        if self.n:
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.before)


def _versions() -> dict[str, str]:
    import torch_geometric

    from riskgraph import __version__

    return {
        "riskgraph": __version__,
        "torch": str(torch.__version__),
        "torch_geometric": str(torch_geometric.__version__),
        "python": platform.python_version(),
    }
