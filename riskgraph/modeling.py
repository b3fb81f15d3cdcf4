"""The nightly job's models: the GNN and the scorecard, trained and saved together.

Training follows the protocol of :mod:`riskgraph.gnn.protocol` (DESIGN.md, "Train
the way you serve"): labels visible before the training date, split into K hash
folds; every training user's label-derived inputs see only the other folds' labels;
the latest labelled users form the validation window for early stopping and
calibration; activity is measured up to each user's first application.

Scoring tonight uses the same K label views (each user's prediction sees the same
share of the known labels as the training users did) and measures activity as of
tonight, so that a burst of applications after approval moves the score (the
watchlist). The features an investigator reads (``features.parquet``) and the
numbers the reason sentences quote are computed with every visible label.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from riskgraph.errors import ConfigError, InputError, ModelError, StaleModelError
from riskgraph.gnn.config import CANDIDATES, HEADS, GraphRiskConfig
from riskgraph.gnn.explain import risky_links
from riskgraph.gnn.protocol import (
    CLOCKS,
    FeatureSource,
    FeatureViews,
    LabelFolds,
    graph_feature_views,
    iter_feature_views,
    own_view_features,
    split_labels,
)
from riskgraph.gnn.runners import MessagePassingRunner, SignRunner
from riskgraph.gnn.train import GraphRiskModel
from riskgraph.graph.features import FeatureConfig, GraphFeatures, feature_catalog
from riskgraph.loaders.tables import GraphTables
from riskgraph.score import CreditScorecard, DecisionPolicy, build_score_frame, score_users
from riskgraph.score.scoring import ScoreResult, average_points

__all__ = ["MIN_LABELLED", "ModelConfig", "RiskModels", "TonightScores", "require_labels"]

_GNN_FILE = "gnn.pt"
_SCORECARD_FILE = "scorecard.pkl"
_RECORD_FILE = "model.json"


#: Fewest labelled users the models are trained on.
MIN_LABELLED = 50
#: Fewest labelled users of each outcome: one to learn from, one in the validation window
#: to judge the candidates and calibrate by.
MIN_PER_OUTCOME = 2


def require_labels(labels: np.ndarray, as_of: pd.Timestamp) -> None:
    """Raise :class:`InputError` unless ``labels`` (visible labels, NaN unknown) hold at
    least :data:`MIN_LABELLED` users, :data:`MIN_PER_OUTCOME` of each outcome among
    them: too few labels is a property of the input, which the next nights' labels
    mend, not a bug."""
    known = labels[~np.isnan(labels)]
    bad = int(known.sum())
    if known.size >= MIN_LABELLED and min(bad, known.size - bad) >= MIN_PER_OUTCOME:
        return
    raise InputError(
        f"users: nothing to train the models on as of {as_of.date()}: {known.size:,} users "
        f"have a label known before it ({bad:,} bad); training needs at least "
        f"{MIN_LABELLED} labelled users, {MIN_PER_OUTCOME} of each outcome among them "
        "(columns label, with label_at before the run date)"
    )


#: The graph model's defaults: the settings below that it shares default to these.
_GRAPH_MODEL = GraphRiskConfig()


@dataclass(frozen=True)
class ModelConfig:
    """How the models are trained (config file table ``[model]``).

    Parameters
    ----------
    seed : int, default 0
        Seeds the folds, the GNN's weights and batch order.
    n_folds : int, default 5
        Label views K.
    validation_fraction : float, default 0.2
        Latest share of the labelled users kept for early stopping and calibration.
    time_buckets : int, default 6
        Point-in-time buckets of the label views: a training user sees only the labels
        shown before its bucket began (``label_clock``). ``1``: every view shows all
        labels but its fold's, as tonight's scoring does (model.json's ``label_share``
        says how much of them the buckets showed; docs/model.md, section 3).
    label_clock : {"application", "label"}, default "application"
        When a label is shown to the buckets from: ``"application"``, the labelled
        user's first application (a training user sees the labels, known tonight, of
        the users who applied before its bucket, as an applicant does tonight);
        ``"label"``, the label's own time (only what was known when it applied).
    gnn_graph_features : bool, default False
        Give the GNN the graph risk features as inputs as well as the graph.
    booster_inputs : {"own", "graph"}, default "own"
        What the GNN's boosted encoder reads besides the attributes
        (:class:`~riskgraph.gnn.train.GraphRiskModel`): ``"own"`` the user's own
        applications; ``"graph"`` every label-free propagated block as well. Both
        rank alike on the synthetic population, and ``"graph"`` costs more booster
        training and a TreeSHAP pass for every explained user, which the nightly at a
        million users cannot afford.
    candidates : tuple of str, default ("tabular", "graph", "blend")
        The graph models fitted each training night; the one with the best average
        precision on the validation window gives ``gnn_risk``
        (:class:`~riskgraph.gnn.train.GraphRiskModel`): ``"tabular"`` boosted trees on
        each user's own row, ``"graph"`` boosted trees on the user's row, its
        neighbours' and its community's, ``"blend"`` the mean of the two,
        ``"gnn"`` the propagation network (not in the default: in the robustness suite
        it lost to the ``graph`` head or changed no ranking that matters, and it is the
        costliest step of a night; add it where the validation window is large and the
        night has the time, docs/model.md).
    communities : bool, default True
        Give the graph models each user's community and its known record.
    scorecard_rows : {"validation", "labelled"}, default "validation"
        Which labelled users fit the scorecard: those whose ``gnn_risk`` the graph
        model made without their label (the validation window, and the training users
        out of fold: see ``out_of_fold_models``), or every labelled user, scored by the
        graph model trained on them (trees fit their training users far better than
        they predict new ones, and the scorecard would trust the score too much).
    out_of_fold_models : int, default 2
        When the graph model's heads are not cross-fitted, the tree candidate it keeps
        is fitted this many times more, each without one group of folds, so that the
        training users get an out-of-fold ``gnn_risk`` and fit the scorecard beside the
        validation window (:class:`~riskgraph.gnn.config.GraphRiskConfig`). The window
        alone holds the latest labels, the earliest outcomes: a scorecard fitted there
        weighs the graph features by what early defaulters look like. 0: the window
        alone.
    num_threads : int or None, default None
        Torch threads while training and scoring (None: torch's default).
    """

    seed: int = _GRAPH_MODEL.seed
    n_folds: int = _GRAPH_MODEL.n_folds
    validation_fraction: float = _GRAPH_MODEL.validation_fraction
    time_buckets: int = _GRAPH_MODEL.time_buckets
    label_clock: str = _GRAPH_MODEL.label_clock
    gnn_graph_features: bool = False
    booster_inputs: Literal["own", "graph"] = _GRAPH_MODEL.booster_inputs
    candidates: tuple[str, ...] = _GRAPH_MODEL.candidate_list
    communities: bool = _GRAPH_MODEL.communities
    scorecard_rows: Literal["labelled", "validation"] = "validation"
    out_of_fold_models: int = _GRAPH_MODEL.out_of_fold_models
    num_threads: int | None = _GRAPH_MODEL.num_threads

    def gnn_config(self) -> GraphRiskConfig:
        """The graph model's settings: these, the graph model's defaults for the rest."""
        # "labelled" fits the scorecard on every labelled user in sample: no fold models
        in_sample = self.scorecard_rows == "labelled"
        return replace(
            _GRAPH_MODEL,
            seed=self.seed,
            n_folds=self.n_folds,
            validation_fraction=self.validation_fraction,
            time_buckets=self.time_buckets,
            label_clock=self.label_clock,
            booster_inputs=self.booster_inputs,
            candidates=tuple(self.candidates),
            communities=self.communities,
            out_of_fold_models=0 if in_sample else self.out_of_fold_models,
            num_threads=self.num_threads,
        )

    def validate(self) -> ModelConfig:
        """Check every setting; return ``self``.

        Raises
        ------
        ConfigError
            Naming the setting, its value and what is allowed.
        """
        if not isinstance(self.n_folds, int) or self.n_folds < 2:
            raise ConfigError(f"model.n_folds = {self.n_folds!r}: expected an integer >= 2")
        if not isinstance(self.time_buckets, int) or self.time_buckets < 1:
            raise ConfigError(
                f"model.time_buckets = {self.time_buckets!r}: expected an integer >= 1"
            )
        if not 0.0 < self.validation_fraction < 1.0:
            raise ConfigError(
                f"model.validation_fraction = {self.validation_fraction!r}: expected in (0, 1)"
            )
        oof = self.out_of_fold_models
        if not isinstance(oof, int) or not (oof == 0 or 2 <= oof <= self.n_folds):
            raise ConfigError(
                f"model.out_of_fold_models = {oof!r}: expected 0 or an integer from 2 to "
                f"n_folds ({self.n_folds})"
            )
        unknown = [c for c in self.candidates if c not in CANDIDATES]
        if not self.candidates or unknown:
            raise ConfigError(
                f"model.candidates = {list(self.candidates)!r}: expected a non-empty list of "
                f"{list(CANDIDATES)}"
            )
        if "blend" in self.candidates and not all(h in self.candidates for h in HEADS):
            raise ConfigError(
                f"model.candidates = {list(self.candidates)!r}: 'blend' averages "
                f"{list(HEADS)}; list both"
            )
        for name, allowed in (
            ("booster_inputs", ("own", "graph")),
            ("scorecard_rows", ("labelled", "validation")),
            ("label_clock", CLOCKS),
        ):
            if getattr(self, name) not in allowed:
                raise ConfigError(
                    f"model.{name} = {getattr(self, name)!r}: expected one of {list(allowed)}"
                )
        return self


@dataclass(frozen=True)
class TonightScores:
    """What :meth:`RiskModels.score` returns.

    Attributes
    ----------
    gnn_risk : np.ndarray
        float64 ``(n_users,)``: the GNN's calibrated probability, every user scored.
    result : ScoreResult
        Scores, reasons and flags of every user scored (all, or the ``rows`` asked
        for, in their order).
    gnn_views : FeatureViews or None
        The graph feature views the GNN used (None when it uses the graph alone);
        :meth:`RiskModels.risky_links` needs the same.
    inputs : SignRunner or MessagePassingRunner or None
        The graph model's inputs, kept when only some users were scored (``rows``):
        :meth:`RiskModels.risky_links` reads them instead of building them again.
        None for a whole night, whose inputs are the stage's largest arrays.
    """

    gnn_risk: np.ndarray
    result: ScoreResult
    gnn_views: FeatureViews | None = field(default=None, repr=False)
    inputs: SignRunner | MessagePassingRunner | None = field(default=None, repr=False)


class RiskModels:
    """The GNN (``gnn_risk``) and the credit scorecard on top of it.

    Parameters
    ----------
    config : ModelConfig, optional
    features : FeatureConfig, optional
        Graph feature settings used for the models' inputs.

    Attributes
    ----------
    gnn_ : GraphRiskModel
    scorecard_ : CreditScorecard
    record_ : dict
        Training date, data fingerprint, label counts, validation metrics, settings.
    """

    def __init__(
        self, config: ModelConfig | None = None, features: FeatureConfig | None = None
    ) -> None:
        self.config = config
        self.features = features

    def fit(
        self,
        tables: GraphTables,
        as_of: pd.Timestamp,
        *,
        incumbent: str | None = None,
        incumbent_calibrator: dict[str, Any] | None = None,
        incumbent_scorecard: CreditScorecard | None = None,
    ) -> RiskModels:
        """Train both models on the labels visible before ``as_of``.

        Parameters
        ----------
        incumbent : str, optional
            The graph model's candidate in the models being replaced
            (:meth:`recorded_candidate`): it stays unless another validates better
            beyond the noise, so that a retrain on nearly the same data does not
            switch models by chance (:meth:`GraphRiskModel.fit`).
        incumbent_calibrator : dict, optional
            The graph model's calibration in the models being replaced
            (:meth:`recorded_calibrator`): it stays while it still fits
            (:meth:`GraphRiskModel.fit`).
        incumbent_scorecard : CreditScorecard, optional
            The scorecard being replaced (:meth:`recorded_scorecard`): its weights
            stay while they still fit (:meth:`CreditScorecard.fit`).

        Raises
        ------
        InputError
            When fewer than :data:`MIN_LABELLED` users are labelled, or only one
            outcome is (:func:`require_labels`).
        """
        cfg = self.config or ModelConfig()
        gnn_config = cfg.gnn_config()
        folds = split_labels(tables, as_of, gnn_config.label_split)
        require_labels(folds.labels, as_of)
        gnn_views = (
            graph_feature_views(tables, folds, FeatureSource(config=self.features))
            if cfg.gnn_graph_features
            else None
        )
        gnn = GraphRiskModel(gnn_config).fit(
            tables,
            as_of,
            folds=folds,
            feature_views=gnn_views,
            incumbent=incumbent,
            incumbent_calibrator=incumbent_calibrator,
        )
        rows, gnn_train = self._scorecard_rows(gnn, tables, as_of, folds, gnn_views)
        # The scorecard needs its users' own views only (never all K * B views), and
        # only now: held through the GNN's training it raised the training's peak.
        own_features = (
            gnn_views.own_view(folds)
            if gnn_views is not None
            else own_view_features(tables, folds, FeatureSource(config=self.features), rows=rows)
        )
        del gnn_views
        frame = build_score_frame(tables.users, own_features, gnn_train)
        scorecard = CreditScorecard().fit(
            frame[rows], folds.labels[rows].astype(int), incumbent=incumbent_scorecard
        )
        self.gnn_ = gnn
        self.scorecard_ = scorecard
        self.record_ = {
            "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "as_of": as_of.isoformat(),
            "data_fingerprint": _fingerprint(tables),
            "labelled_users": int(folds.labelled.sum()),
            "bad_users": int(np.nansum(folds.labels[folds.labelled])),
            "scorecard_users": int(rows.sum()),
            "cross_fitted": gnn.cross_fitted_,
            "label_share": gnn.record_.label_share,
            # 1 when no label had arrived before the latest bucket (the fold is hidden only)
            "label_buckets": folds.n_buckets,
            "gnn_validation_auc_roc": gnn.record_.validation_auc_roc,
            "gnn_validation_auc_pr": gnn.record_.validation_auc_pr,
            "gnn_validation_brier": gnn.record_.validation_brier,
            "candidate": gnn.selected_,
            "incumbent": gnn.record_.incumbent,
            "calibrator": gnn.calibrator_,
            "calibrator_kept": gnn.calibrator_kept_,
            "candidates": gnn.candidates_,
            "head_models": gnn.record_.head_models,
            "out_of_fold_models": gnn.record_.out_of_fold_models,
            "scorecard_kept_weights": scorecard.kept_weights_,
            "scorecard_variable_scale": scorecard.variable_scale_,
            # null on a first night (JSON has no NaN)
            "scorecard_incumbent_margin_se": (
                None if np.isnan(scorecard.incumbent_margin_se_) else scorecard.incumbent_margin_se_
            ),
            "config": asdict(cfg),
        }
        return self

    def _scorecard_rows(
        self,
        gnn: GraphRiskModel,
        tables: GraphTables,
        as_of: pd.Timestamp,
        folds: LabelFolds,
        gnn_views: FeatureViews | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The users the scorecard is fitted on and their ``gnn_risk``.

        ``"validation"``: the users whose probability the graph model made without
        their label (the validation window, and the training users out of fold: its
        cross-fitted heads' or its ``out_of_fold_models``); ``"labelled"``: every
        labelled user, each scored on its own view by the fitted model.
        """
        cfg = self.config or ModelConfig()
        n = tables.num_users
        if cfg.scorecard_rows == "labelled":
            risk = gnn.predict_proba(tables, as_of, folds=folds, feature_views=gnn_views)[:, 1]
            return folds.labelled, risk
        judged = pd.concat([gnn.validation_, gnn.out_of_fold_], ignore_index=True)
        rows = np.zeros(n, dtype=bool)
        rows[judged["user_idx"].to_numpy()] = True
        risk = np.full(n, np.nan)
        risk[judged["user_idx"].to_numpy()] = judged["proba"].to_numpy()
        return rows, risk

    def score(
        self,
        tables: GraphTables,
        as_of: pd.Timestamp,
        features: GraphFeatures,
        policy: DecisionPolicy | None = None,
        *,
        rows: np.ndarray | None = None,
    ) -> TonightScores:
        """Score every user of ``tables`` (or those at ``rows``) as of ``as_of``.

        Parameters
        ----------
        features : GraphFeatures
            Computed with every label visible tonight (what the reasons quote).
        rows : np.ndarray, optional
            int positions of the users to score, in the order returned. The inputs
            of every user are still built (a user's read its neighbours'); the models
            run on these users only, as an online call needs for its applicants.
        """
        self._check_fitted()
        cfg = self.config or ModelConfig()
        tonight = pd.Series(pd.Timestamp(as_of), index=range(tables.num_users))
        folds = self.gnn_.scoring_folds(tables, as_of, reference_time=tonight)
        gnn_views = None
        if cfg.gnn_graph_features:
            gnn_views = graph_feature_views(
                tables, folds, FeatureSource(config=self.features), as_of=as_of
            )
        # Some users only (an online call): few enough that their inputs are kept for
        # risky_links, which would otherwise build them again.
        inputs = (
            None
            if rows is None
            else self.gnn_.prepare(tables, as_of, folds=folds, feature_views=gnn_views)
        )
        gnn_risk = self.gnn_.predict_proba(
            tables, as_of, folds=folds, feature_views=gnn_views, rows=rows, inputs=inputs
        )[:, 1]
        users = tables.users if rows is None else tables.users.iloc[rows]
        # Scored one view at a time, before the full frame is built: never hold the K
        # feature views and K score frames, nor a view beside the full frame. ``map``
        # keeps no reference to a feature view once its score frame is built. Views
        # that show the same labels are scored once.
        distinct, weights = folds.distinct_views()
        if rows is not None:
            weights = weights[rows]
        view_frames = (
            (gnn_views.frames[v] for v in distinct)
            if gnn_views is not None
            else iter_feature_views(
                tables, folds, FeatureSource(config=self.features), as_of=as_of, only=distinct
            )
        )
        frames = map(functools.partial(build_score_frame, users, gnn_risk=gnn_risk), view_frames)
        index = pd.Index(users["user_id"].astype("string"), name="user_id")
        points = average_points(self.scorecard_, frames, weights, index)
        full = build_score_frame(users, features.features, gnn_risk)
        # Reasons quote the thresholds of tonight's feature settings.
        catalog = feature_catalog(self.features)
        result = score_users(
            self.scorecard_, full, features.features, policy, points=points, catalog=catalog
        )
        return TonightScores(gnn_risk=gnn_risk, result=result, gnn_views=gnn_views, inputs=inputs)

    def risky_links(
        self,
        tables: GraphTables,
        as_of: pd.Timestamp,
        users: list[str],
        gnn_views: FeatureViews | None = None,
        top_k: int = 5,
        inputs: SignRunner | MessagePassingRunner | None = None,
    ) -> pd.DataFrame:
        """The associations behind the GNN risk of ``users`` (associations.parquet rows).

        ``gnn_views`` is :attr:`TonightScores.gnn_views` of the same scoring (only
        that: the caller need not keep tonight's scores of every user for this), and
        ``inputs`` its :attr:`TonightScores.inputs` where kept.
        See :func:`riskgraph.gnn.explain.risky_links` for the attribution method.
        """
        self._check_fitted()
        return risky_links(
            self.gnn_,
            tables,
            as_of,
            users=users,
            top_k=top_k,
            feature_views=gnn_views,
            inputs=inputs,
        )

    # -- persistence -------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write both models and their record into ``directory``."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.gnn_.save(directory / _GNN_FILE)
        self.scorecard_.save(directory / _SCORECARD_FILE)
        (directory / _RECORD_FILE).write_text(json.dumps(self.record_, indent=2, default=str))
        return directory

    @classmethod
    def load(cls, directory: str | Path, features: FeatureConfig | None = None) -> RiskModels:
        """Read models written by :meth:`save`.

        Raises
        ------
        ModelError
            When a file is missing or unreadable.
        StaleModelError
            When they were written in a format this version does not read.
        """
        directory = Path(directory)
        missing = [
            f for f in (_GNN_FILE, _SCORECARD_FILE, _RECORD_FILE) if not (directory / f).is_file()
        ]
        if missing:
            raise ModelError(f"{directory}: saved model incomplete, missing {missing}")
        record = json.loads((directory / _RECORD_FILE).read_text())
        settings = dict(record["config"])
        if "candidates" in settings:
            settings["candidates"] = tuple(settings["candidates"])
        try:
            config = ModelConfig(**settings)
        except TypeError as exc:
            raise StaleModelError(
                f"{directory / _RECORD_FILE}: saved with model settings this version does not "
                f"know ({exc})"
            ) from exc
        models = cls(config, features)
        models.gnn_ = GraphRiskModel.load(directory / _GNN_FILE)
        models.scorecard_ = CreditScorecard.load(directory / _SCORECARD_FILE)
        models.record_ = record
        return models

    @staticmethod
    def exists(directory: str | Path) -> bool:
        return (Path(directory) / _RECORD_FILE).is_file()

    @staticmethod
    def recorded_candidate(directory: str | Path) -> str | None:
        """The graph model's candidate that models saved in ``directory`` chose, from
        their record alone (readable after an upgrade made the models themselves
        stale); None when there are none or their record does not say."""
        candidate = _record_of(directory).get("candidate")
        return candidate if isinstance(candidate, str) else None

    @staticmethod
    def recorded_calibrator(directory: str | Path) -> dict[str, Any] | None:
        """The graph model's calibration in models saved in ``directory``, from their
        record alone; None when there are none or their record does not hold it
        (records written before it did)."""
        calibrator = _record_of(directory).get("calibrator")
        return calibrator if isinstance(calibrator, dict) else None

    @staticmethod
    def recorded_scorecard(directory: str | Path) -> CreditScorecard | None:
        """The scorecard of models saved in ``directory``; None when there are none, or
        when it cannot be read or was written in a format this version does not read
        (tonight's scorecard is then fitted afresh)."""
        path = Path(directory) / _SCORECARD_FILE
        if not path.is_file():
            return None
        try:
            return CreditScorecard.load(path)
        except ModelError:  # StaleModelError included
            return None

    def _check_fitted(self) -> None:
        if not hasattr(self, "gnn_"):
            raise ModelError("RiskModels is not fitted: call fit() or RiskModels.load()")


def _record_of(directory: str | Path) -> dict[str, Any]:
    """The record (model.json) of models saved in ``directory``; empty when there is
    none or it cannot be read."""
    try:
        record = json.loads((Path(directory) / _RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _fingerprint(tables: GraphTables) -> str:
    """A short hash of what the models were trained on: sizes and the labels."""
    digest = hashlib.sha256()
    for name, table in tables.tables():
        digest.update(f"{name}:{len(table)};".encode())
    labels = tables.users[["user_id", "label", "label_at"]]
    digest.update(pd.util.hash_pandas_object(labels, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]
