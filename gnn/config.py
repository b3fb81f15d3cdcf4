"""``GraphRiskConfig``: the settings of :class:`~riskgraph.gnn.train.GraphRiskModel`.

One frozen dataclass holds every hyperparameter of the graph risk model, with its one
default; :class:`riskgraph.modeling.ModelConfig` (the config file's ``[model]`` table)
builds one from the settings it exposes. The label protocol's settings (folds,
validation window, time buckets, seed) default to those of
:class:`~riskgraph.gnn.protocol.LabelSplit`.

Examples
--------
>>> GraphRiskConfig(hidden=16).validate().label_split.n_folds
5
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from riskgraph.errors import ModelError
from riskgraph.gnn.protocol import CLOCKS, LabelSplit

__all__ = ["ARCHITECTURES", "CANDIDATES", "DEFAULT_CANDIDATES", "HEADS", "GraphRiskConfig"]

ARCHITECTURES = ("sign", "sage", "rgcn", "hgt")
#: The tree heads (:class:`~riskgraph.gnn.head.TreeHead`) a model may train: ``tabular``
#: reads the user's own row only, ``graph`` every input of the propagation model.
HEADS = ("tabular", "graph")
#: Every candidate, in the order a tie between them is settled (simplest first).
#: ``blend`` averages the tree heads' standardized log-odds (both must be candidates).
CANDIDATES = (*HEADS, "blend", "gnn")
#: The candidates of the ``"sign"`` architecture unless told otherwise. The network is
#: left out: in the robustness suite it lost to the ``graph`` head or changed no ranking
#: that matters, and it is the costliest step of a training night (docs/model.md,
#: section 2).
DEFAULT_CANDIDATES = (*HEADS, "blend")

_SPLIT = LabelSplit()
#: Settings that name one of a few choices, and those choices.
_CHOICES = {
    "architecture": ARCHITECTURES,
    "pos_weight": ("sqrt", "balanced", "none"),
    "calibration": ("platt", "isotonic"),
    "booster_inputs": ("own", "graph"),
    "label_clock": CLOCKS,
}
#: Settings that count something: integers of at least 1.
_COUNTS = ("hidden", "batch_size", "max_epochs", "patience", "max_sharing", "n_folds",
           "time_buckets")  # fmt: skip


@dataclass(frozen=True)
class GraphRiskConfig:
    """How a :class:`~riskgraph.gnn.train.GraphRiskModel` is built and trained.

    Parameters
    ----------
    architecture : {"sign", "sage", "rgcn", "hgt"}, default "sign"
        ``"sign"``: MLP over precomputed relation-wise propagations (the default,
        chosen by measurement, docs/model.md); the others: message passing on
        sampled subgraphs (:class:`~riskgraph.gnn.models.HeteroMessagePassingNet`).
    hidden : int, default 64
    dropout : float, default 0.2
    learning_rate : float, default 3e-3
    weight_decay : float, default 1e-4
    batch_size : int, default 1024
    max_epochs : int, default 40
    patience : int, default 5
        Stop after this many epochs without a better validation average precision.
    n_folds : int, default 5
        Out-of-fold label views (:mod:`riskgraph.gnn.protocol`).
    time_buckets : int, default 6
        Point-in-time buckets of the training users: each sees only the labels
        shown before its bucket began (:mod:`riskgraph.gnn.protocol`).
    label_clock : {"application", "label"}, default "application"
        When a label is shown to the buckets from: the labelled user's first
        application, or the label's own time (:class:`~riskgraph.gnn.protocol.LabelSplit`).
    validation_fraction : float, default 0.2
        Latest share of the labelled users held out for early stopping and
        calibration.
    fanout : tuple of int, default (10, 5)
        Neighbours per hop for the message-passing architectures.
    max_sharing : int, default 50
        Identifiers shared by more users are hubs (left out of label counts).
    pos_weight : {"sqrt", "balanced", "none"}, default "sqrt"
        Weight of the bad class in the loss: ``sqrt(n_good / n_bad)``,
        ``n_good / n_bad`` or 1. Calibration undoes the shift it causes.
    calibration : {"platt", "isotonic"}, default "platt"
    booster : bool, default True
        Give the GNN a boosted-tree score of each user's own attributes (and graph
        features), one booster per label view (:mod:`riskgraph.gnn.boost`), as an
        input it also propagates to the neighbours.
    booster_inputs : {"own", "graph"}, default "own"
        What the boosters read besides the attributes (and graph features):
        ``"graph"`` every label-free block of the propagation model too
        (neighbours' attributes, identifier sharing, own activity); ``"own"`` the
        user's own application activity only. Both are explained link by link
        (:mod:`riskgraph.gnn.explain`).
    candidates : tuple of str or None, default None
        The models fitted and compared on the validation window (the simplest within
        one standard error of the best AUC-ROC and AUC-PR becomes the model):
        ``"tabular"``, a tree head on each user's own row (attributes, activity,
        profile, identifier sharing); ``"graph"``, a tree head on every input of the
        propagation model (neighbours' means over each relation and two hops,
        known-bad and known-good neighbours, communities);
        ``"blend"``, the mean of the two; ``"gnn"``, the network of ``architecture``.
        None: :data:`DEFAULT_CANDIDATES` (the tree heads and their blend) for
        ``"sign"``, ``("gnn",)`` for the message-passing architectures (the heads read
        the propagation model's inputs).
    communities : bool, default True
        Give the models each user's community (Leiden, label-free) and its known-bad
        and known-good members per label view (:mod:`riskgraph.gnn.communities`).
    cross_fit_below : int, default 100
        When the validation window holds fewer bad users than this, its average
        precision is too noisy to choose by: the tree heads are then also fitted once
        per fold on the other folds' training users, and the candidates are compared
        and calibrated on every labelled user (the training users out of fold). The
        network is not cross-fitted (it would cost ``n_folds`` trainings) and is then
        left out of the comparison when tree heads are candidates.
    out_of_fold_models : int, default 2
        When the tree heads are not cross-fitted, the candidate kept (a tree head or
        their blend) is fitted this many times more, each on the training users
        outside one group of folds, to give every training user a probability made
        without its label (``out_of_fold_``; each group of folds is left out once, so
        at least 2); the fold models are not kept. A model stacked on this one (the
        credit scorecard) can then be fitted on the training users as well as the
        validation window, whose latest labels are the earliest outcomes and unlike
        tonight's applicants'. 0: the validation window only.
    seed : int, default 0
        Seeds the weights, the batch order, the sampler and the folds.
    num_threads : int or None, default None
        ``torch.set_num_threads`` during fit and predict (None: leave as is).
    """

    architecture: str = "sign"
    hidden: int = 64
    dropout: float = 0.2
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    batch_size: int = 1024
    max_epochs: int = 40
    patience: int = 5
    n_folds: int = _SPLIT.n_folds
    time_buckets: int = _SPLIT.time_buckets
    label_clock: str = _SPLIT.clock
    validation_fraction: float = _SPLIT.validation_fraction
    fanout: tuple[int, ...] = (10, 5)
    max_sharing: int = 50
    pos_weight: str = "sqrt"
    calibration: str = "platt"
    booster: bool = True
    booster_inputs: Literal["own", "graph"] = "own"
    candidates: tuple[str, ...] | None = None
    communities: bool = True
    cross_fit_below: int = 100
    out_of_fold_models: int = 2
    seed: int = _SPLIT.seed
    num_threads: int | None = None

    @property
    def label_split(self) -> LabelSplit:
        """The label protocol's settings (:func:`~riskgraph.gnn.protocol.split_labels`)."""
        return LabelSplit(
            n_folds=self.n_folds,
            validation_fraction=self.validation_fraction,
            time_buckets=self.time_buckets,
            clock=self.label_clock,
            seed=self.seed,
        )

    @property
    def candidate_list(self) -> tuple[str, ...]:
        """The candidates a model fits (:attr:`candidates`, or its default)."""
        if self.candidates is not None:
            return tuple(self.candidates)
        return DEFAULT_CANDIDATES if self.architecture == "sign" else ("gnn",)

    def validate(self) -> GraphRiskConfig:
        """Check every setting; return ``self``.

        Raises
        ------
        ModelError
            Naming the setting, its value and what is allowed.
        """
        self._check_choices_and_counts()
        if not 0.0 <= self.dropout < 1.0:
            raise ModelError(f"GraphRiskConfig.dropout = {self.dropout!r}: expected in [0, 1)")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ModelError(
                f"GraphRiskConfig.validation_fraction = {self.validation_fraction!r}: expected "
                "in (0, 1) (early stopping and calibration need a validation window)"
            )
        if not self.fanout or any(int(k) == 0 for k in self.fanout):
            raise ModelError(f"GraphRiskConfig.fanout = {self.fanout!r}: expected non-zero ints")
        oof = self.out_of_fold_models
        if not isinstance(oof, int) or not (oof == 0 or 2 <= oof <= self.n_folds):
            raise ModelError(
                f"GraphRiskConfig.out_of_fold_models = {oof!r}: expected 0 or an integer from "
                f"2 to n_folds ({self.n_folds})"
            )
        self._check_candidates()
        return self

    def _check_choices_and_counts(self) -> None:
        for name, values in _CHOICES.items():
            if getattr(self, name) not in values:
                raise ModelError(
                    f"GraphRiskConfig.{name} = {getattr(self, name)!r}: expected one of {values}"
                )
        for name in _COUNTS:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ModelError(f"GraphRiskConfig.{name} = {value!r}: expected an integer >= 1")

    def _check_candidates(self) -> None:
        given = self.candidate_list
        unknown = [c for c in given if c not in CANDIDATES]
        if not given or unknown:
            raise ModelError(
                f"GraphRiskConfig.candidates = {self.candidates!r}: expected a non-empty "
                f"subset of {CANDIDATES}"
            )
        if "blend" in given and not all(h in given for h in HEADS):
            raise ModelError(
                f"GraphRiskConfig.candidates = {self.candidates!r}: 'blend' averages the "
                f"tree heads {HEADS}; add both"
            )
        if self.architecture != "sign" and any(c in (*HEADS, "blend") for c in given):
            raise ModelError(
                f"GraphRiskConfig.candidates = {self.candidates!r}: the tree heads "
                f"{HEADS} read the propagation model's inputs; architecture "
                f"{self.architecture!r} trains 'gnn' only"
            )
