"""The training protocol: which labels each user's inputs may see (DESIGN.md, "Train
the way you serve").

A model that uses neighbours' labels as inputs (the GNN's label channel, the graph
features' exposure and ring bad rates) must see, for the users it trains on, inputs
distributed like those of the users it scores tonight. Leave-one-out is not enough
(dropping a bad user's own label lowers its neighbourhood's bad rate, so the model
learns the signal backwards), and neither is masking labels by the training date
alone: a training user's ring-mates were mostly labelled *after* that user applied,
so as of the training date its neighbourhood is full of known-bad users, while a new
applicant's ring tonight has no labels yet. (On the synthetic population 5.5% of the
training users had a known-bad ring-mate as of ``D`` against 0.2% of the users who
applied after ``D``; LightGBM trained that way lost a third of its AUC-PR.)
The protocol here:

1. **Visible labels** as of ``D``: ``label_at < D`` only; the rest is unknown
   (:func:`riskgraph.graph.features.labels.visible_labels`, the one rule for features
   and models).
2. **Folds**: every user gets a fold ``0..K-1`` from a keyed hash of its ``user_id``
   (stable across nights: a user never changes fold as the population grows).
3. **Point in time**: the labelled users are cut into ``B`` buckets by reference
   time (their first application); a user in bucket ``b`` sees the labels (known
   as of ``D``) of the users who applied before its bucket began, as tonight's
   applicants see those of the users who applied before them. The *clock* says when
   a label is shown from: ``"application"`` (the default), the labelled user's
   reference time; ``"label"``, the label's own time (what was known when the
   training user applied).
4. **Views**: view ``(k, b)`` is the visible labels with fold ``k`` hidden and those
   shown from bucket ``b``'s start or later hidden. A labelled user in fold ``k`` and
   bucket ``b`` is trained on view ``(k, b)`` - its own label and its fold-mates'
   are hidden, every other fold's shown before its bucket are seen: the
   *out-of-fold*, point-in-time labels.
5. **Same density at scoring**: scoring folds have one bucket (every label known
   tonight); tonight's users are scored on every fold's view and the predictions
   averaged, so each sees ``(K-1)/K`` of the known labels, as in training; a
   labelled user is scored on its own fold's view.
6. **Time-based validation**: the bad users and the good users whose reference time
   is latest (the same share of each, so that a rare outcome is in it too) form the
   validation window for early stopping and calibration; they are never training
   targets.
7. **Reference time**: activity is measured up to each user's own first application
   (plus a day), or ``D`` for users who have not applied: old users and new
   applicants are measured alike. Without any application (an input without the
   optional applications table) the reference is the registration (plus a day).

:func:`split_labels` makes the plan (the folds, buckets and validation window) once;
:func:`graph_feature_views` computes the graph features of every view of it, and
:meth:`riskgraph.gnn.train.GraphRiskModel.fit` trains on it
(:meth:`riskgraph.modeling.RiskModels.fit`, the nightly job's one training path,
passes the same plan to the graph model and the scorecard).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from riskgraph.errors import ModelError
from riskgraph.gnn.hetero import as_utc, to_epoch_seconds
from riskgraph.graph.features.labels import visible_labels
from riskgraph.loaders.tables import GraphTables

if TYPE_CHECKING:
    from riskgraph.graph.features import FeatureConfig

__all__ = [
    "CLOCKS",
    "FeatureSource",
    "FeatureViews",
    "LabelFolds",
    "LabelSplit",
    "assign_folds",
    "graph_feature_views",
    "iter_feature_views",
    "own_view_features",
    "reference_times",
    "scoring_folds",
    "split_labels",
]

#: When a label is shown to the point-in-time buckets from (:class:`LabelSplit`).
CLOCKS = ("application", "label")

#: Key of the hash that orders users whose reference times tie (16 characters).
_VALIDATION_KEY = "rgvalidation0000"

#: ``compute(tables, as_of, labels=..., reference_time=...) -> DataFrame``
FeatureFunction = Callable[..., pd.DataFrame]


def assign_folds(user_ids: pd.Series, n_folds: int, seed: int = 0) -> np.ndarray:
    """Fold ``0..n_folds-1`` of every user, from a keyed hash of its id.

    Examples
    --------
    >>> f = assign_folds(pd.Series(["a", "b", "c"]), 5)
    >>> bool(((f >= 0) & (f < 5)).all()), assign_folds(pd.Series(["b"]), 5)[0] == f[1]
    (True, True)
    """
    if n_folds < 2:
        raise ModelError(f"n_folds = {n_folds!r}: expected >= 2")
    # hash_array takes a 16-character key: "rgfold" + the seed in ten digits.
    key = f"rgfold{seed % 10**10:010d}"
    hashed = pd.util.hash_array(user_ids.astype(str).to_numpy(dtype=object), hash_key=key)
    return (hashed % np.uint64(n_folds)).astype(np.int64)


def reference_times(tables: GraphTables, as_of: Any, lag: str = "1D") -> pd.Series:
    """Each user's reference instant: first application before ``as_of`` plus ``lag``,
    capped at ``as_of``; ``as_of`` for users who have not applied.

    An input without applications (the table is optional) has no application moment:
    each user's reference is then its registration plus ``lag`` (capped at ``as_of``),
    the moment the lender first knew of it.

    Returns
    -------
    pandas.Series
        ``datetime64[us, UTC]``, one per user in ``tables.users`` order.
    """
    as_of = as_utc(as_of)
    apps = tables.applications
    before = apps.loc[apps["applied_at"] < as_of, ["user_idx", "applied_at"]]
    out = pd.Series(as_of, index=pd.RangeIndex(tables.num_users), dtype="datetime64[us, UTC]")
    if before.empty:
        registered = tables.users["registered_at"].astype("datetime64[us, UTC]")
        ref = (registered + pd.Timedelta(lag)).clip(upper=as_of).fillna(as_of)
        return pd.Series(ref.to_numpy(), index=out.index, dtype="datetime64[us, UTC]")
    first = before.groupby("user_idx")["applied_at"].min()
    ref = (first + pd.Timedelta(lag)).clip(upper=as_of)
    out.loc[ref.index.to_numpy()] = ref.to_numpy()
    return out


@dataclass(frozen=True)
class LabelFolds:
    """Visible labels as of a date, split into folds, time buckets and a validation window.

    Views are numbered ``v = b * n_folds + k`` for fold ``k`` and bucket ``b``.

    Attributes
    ----------
    as_of : pandas.Timestamp
    labels : np.ndarray
        float64 ``(n_users,)``: visible labels (NaN = unknown).
    shown_at : np.ndarray
        int64 ``(n_users,)``: epoch seconds from which each visible label is shown to
        the buckets (its clock: the label's time, or the labelled user's reference
        time where earlier; the maximum int64 for users without a visible label).
    fold : np.ndarray
        int64 ``(n_users,)``: every user's fold (hash of its id).
    bucket : np.ndarray
        int64 ``(n_users,)``: every user's time bucket.
    cutoffs : list[pandas.Timestamp]
        Per bucket, the instant before which its labels were known.
    validation : np.ndarray
        bool ``(n_users,)``: labelled users of the latest window.
    reference_time : pandas.Series
        ``datetime64[us, UTC]`` per user.
    n_folds : int
    seed : int
    """

    as_of: pd.Timestamp
    labels: np.ndarray
    shown_at: np.ndarray
    fold: np.ndarray
    bucket: np.ndarray
    cutoffs: list[pd.Timestamp]
    validation: np.ndarray
    reference_time: pd.Series
    n_folds: int
    seed: int

    @property
    def labelled(self) -> np.ndarray:
        """bool ``(n_users,)``: a label is visible."""
        return ~np.isnan(self.labels)

    @property
    def train(self) -> np.ndarray:
        """bool ``(n_users,)``: labelled and not in the validation window."""
        return self.labelled & ~self.validation

    @property
    def n_buckets(self) -> int:
        return len(self.cutoffs)

    @property
    def n_views(self) -> int:
        return self.n_folds * self.n_buckets

    @functools.cached_property
    def cutoff_seconds(self) -> np.ndarray:
        """int64 ``(n_buckets,)``: :attr:`cutoffs` in epoch seconds, as :attr:`shown_at`
        (converted once: every view reads it)."""
        return to_epoch_seconds(pd.Series(self.cutoffs, dtype="datetime64[us, UTC]"))

    def view_fold(self, v: int) -> int:
        """The fold whose labels view ``v`` hides."""
        return v % self.n_folds

    def view(self, v: int) -> np.ndarray:
        """The labels view ``v`` shows (float64 ``(n_users,)``, NaN = hidden)."""
        if not 0 <= v < self.n_views:
            raise ModelError(f"label view {v!r} out of range [0, {self.n_views})")
        k, b = v % self.n_folds, v // self.n_folds
        cutoff = int(self.cutoff_seconds[b])
        out = self.labels.copy()
        out[(self.fold == k) | (self.shown_at >= cutoff)] = np.nan
        return out

    def views(self) -> Iterator[np.ndarray]:
        """Every view, in order."""
        for v in range(self.n_views):
            yield self.view(v)

    def own_view(self) -> np.ndarray:
        """int64 ``(n_users,)``: the view of every user's own fold and bucket."""
        return self.bucket * self.n_folds + self.fold

    def label_share(self, users: np.ndarray) -> np.ndarray:
        """float64 ``(len(users),)``: the share of tonight's labels each user's own view shows.

        Tonight's view of fold ``k`` shows every visible label outside fold ``k``; the
        own view of a labelled user of fold ``k`` and bucket ``b`` shows those shown
        before bucket ``b`` began (:attr:`shown_at`). A user of the first bucket was
        trained and is judged with next to no labels around it; tonight's applicants
        are scored with all of them. The share says how much a user's inputs look like
        tonight's.
        """
        users = np.asarray(users, dtype=np.int64)
        labelled = self.labelled
        cutoffs = self.cutoff_seconds
        shown = np.zeros((self.n_folds, self.n_buckets))
        tonight = np.zeros(self.n_folds)
        for k in range(self.n_folds):
            known = np.sort(self.shown_at[labelled & (self.fold != k)])
            tonight[k] = len(known)
            shown[k] = np.searchsorted(known, cutoffs, side="left")
        k, b = self.fold[users], self.bucket[users]
        return shown[k, b] / np.maximum(tonight[k], 1.0)

    def view_weights(self) -> np.ndarray:
        """float32 ``(n_users, n_views)``: how each user's prediction averages the views.

        A labelled user takes its own view (the one it was trained on); every other
        user averages the ``K`` fold views of its bucket, so each prediction sees the
        same share of the known labels as training did.
        """
        n = len(self.labels)
        w = np.zeros((n, self.n_views), dtype=np.float32)
        rows = np.arange(n)
        for k in range(self.n_folds):
            w[rows, self.bucket * self.n_folds + k] = 1.0 / self.n_folds
        lab = np.flatnonzero(self.labelled)
        w[lab] = 0.0
        w[lab, self.own_view()[lab]] = 1.0
        return w

    def distinct_views(self) -> tuple[np.ndarray, np.ndarray]:
        """The views that show different labels, and :meth:`view_weights` over them.

        Views that hide different users can still show the same labels: in a small
        graph (an online call's neighbourhood) the hidden folds often hold no
        labelled user. Features computed on such views are the same, so each set of
        them is computed once, under the set's summed weight.

        Returns
        -------
        first : np.ndarray
            int64 ``(m,)``: the first view of each set of views showing the same
            labels, in view order.
        weights : np.ndarray
            float64 ``(n_users, m)``: column ``j`` sums the weights of the views of
            set ``j`` (in float64, so that it weighs a set as its views together did).
        """
        sets: dict[bytes, int] = {}
        group = np.empty(self.n_views, dtype=np.int64)
        for v in range(self.n_views):
            # A view hides labels only, so which labels it shows identifies it.
            key = np.packbits(~np.isnan(self.view(v))).tobytes()
            group[v] = sets.setdefault(key, len(sets))
        first = np.array([int(np.argmax(group == j)) for j in range(len(sets))], dtype=np.int64)
        full = self.view_weights()
        weights = np.zeros((len(full), len(sets)), dtype=np.float64)
        for v in range(self.n_views):
            weights[:, group[v]] += full[:, v]
        return first, weights

    def with_validation(self, validation: np.ndarray) -> LabelFolds:
        """These folds with an explicit validation set (its labelled users) instead of
        the time window, for data without timestamps (e.g. a stratified split).

        Raises
        ------
        ModelError
            When ``validation`` is not one bool per user.
        """
        given = np.asarray(validation, dtype=bool)
        if given.shape != self.labels.shape:
            raise ModelError(f"validation has shape {given.shape}; expected ({len(self.labels)},)")
        return replace(self, validation=given & self.labelled)

    def fingerprint(self) -> str:
        """A short digest of folds, buckets, labels and when they are shown (checks
        feature views match)."""
        parts = [
            self.fold.astype(np.float64),
            self.bucket.astype(np.float64),
            np.nan_to_num(self.labels, nan=-1.0),
            self.cutoff_seconds.astype(np.float64),
            self.shown_at.astype(np.float64),
        ]
        h = pd.util.hash_array(np.concatenate(parts))
        return f"{int(h.sum(dtype=np.uint64)):016x}-{self.n_views}-{len(self.labels)}"


@dataclass(frozen=True)
class LabelSplit:
    """How the labelled users are split for training: the protocol's settings.

    Parameters
    ----------
    n_folds : int, default 5
        Label views ``K`` (hash folds of the user ids).
    validation_fraction : float, default 0.2
        Share of the bad users and of the good users, latest reference times first,
        held out for early stopping and calibration (0 for none).
    time_buckets : int, default 6
        Point-in-time buckets of the labelled users' reference times (quantiles);
        1 turns the point-in-time masking off, and so does a split where no label
        had arrived before the latest bucket began.
    clock : {"application", "label"}, default "application"
        When a label is shown to the buckets from: the labelled user's reference
        time (a training user sees the labels, known as of the date, of those who
        applied before its bucket, as tonight's applicants see those of the users
        before them), or the label's own time (only what was known when it applied).
    seed : int, default 0
        Keys the fold hash.
    """

    n_folds: int = 5
    validation_fraction: float = 0.2
    time_buckets: int = 6
    clock: str = "application"
    seed: int = 0

    def for_scoring(self) -> LabelSplit:
        """The same folds with one bucket and no validation window (see :func:`scoring_folds`)."""
        return replace(self, validation_fraction=0.0, time_buckets=1)


def split_labels(
    tables: GraphTables,
    as_of: Any,
    split: LabelSplit | None = None,
    *,
    labels: Any = None,
    reference_time: pd.Series | None = None,
) -> LabelFolds:
    """Training folds as of ``as_of``: folds, time buckets and the validation window.

    For scoring use :func:`scoring_folds` (one bucket: every label known tonight). For
    an explicit validation set instead of the time window (data without timestamps,
    e.g. a stratified split) use ``validation_fraction=0`` and
    :meth:`LabelFolds.with_validation`.

    Parameters
    ----------
    tables : GraphTables
    as_of : timestamp
        Labels with ``label_at >= as_of`` are hidden, whatever ``labels`` says.
    split : LabelSplit, optional
        Folds, validation share, time buckets and seed (default ``LabelSplit()``).
    labels : array-like, optional
        ``(n_users,)`` labels to use instead of the users table's (still masked by
        ``label_at``); e.g. the labels visible at an earlier date.
    reference_time : pandas.Series, optional
        Default :func:`reference_times`.

    Returns
    -------
    LabelFolds
    """
    split = split or LabelSplit()
    as_of = as_utc(as_of)
    if not 0.0 <= split.validation_fraction < 1.0:
        raise ModelError(f"validation_fraction = {split.validation_fraction!r}: expected in [0, 1)")
    if split.clock not in CLOCKS:
        raise ModelError(f"clock = {split.clock!r}: expected one of {list(CLOCKS)}")
    users = tables.users
    visible = _visible_labels(users, as_of, labels)
    ref = reference_times(tables, as_of) if reference_time is None else reference_time
    if len(ref) != len(users):
        raise ModelError(f"reference_time has {len(ref)} rows, expected {len(users)}")
    ref = pd.Series(pd.to_datetime(ref, utc=True).to_numpy(), dtype="datetime64[us, UTC]")
    validation = _validation_window(users, visible, ref, split.validation_fraction)
    bucket, cutoffs = _time_buckets(ref, ~np.isnan(visible), as_of, split.time_buckets)
    label_at = to_epoch_seconds(users["label_at"])
    label_at[np.isnan(visible)] = np.iinfo(np.int64).max
    if (label_at >= to_epoch_seconds(pd.Series([cutoffs[-1]]))[0]).all():
        # No label had arrived before the latest bucket began (a young portfolio,
        # labels that arrive after the training users' span). By the label clock no
        # view would show one, and every label-reading input would be 0 in training;
        # by the application clock only the earliest buckets' labels would be shown,
        # to the few users after them. The views then hide the fold only.
        bucket, cutoffs = np.zeros(len(users), dtype=np.int64), [as_of]
    shown_at = label_at
    if split.clock == "application":
        shown_at = np.minimum(label_at, to_epoch_seconds(ref))
        shown_at[np.isnan(visible)] = np.iinfo(np.int64).max
    return LabelFolds(
        as_of=as_of,
        labels=visible,
        shown_at=shown_at,
        fold=assign_folds(users["user_id"], split.n_folds, split.seed),
        bucket=bucket,
        cutoffs=cutoffs,
        validation=validation,
        reference_time=ref,
        n_folds=split.n_folds,
        seed=split.seed,
    )


def _visible_labels(users: pd.DataFrame, as_of: pd.Timestamp, labels: Any) -> np.ndarray:
    """float64 ``(n_users,)``: the labels visible as of ``as_of`` (``labels`` instead of
    the users table's, where given: still only those visible), checked to be 0, 1 or NaN."""
    visible = visible_labels(users, as_of)
    if labels is not None:
        given = np.asarray(labels, dtype=np.float64)
        if given.shape != visible.shape:
            raise ModelError(
                f"labels has shape {given.shape}; expected ({len(users)},), one per user"
            )
        # Only labels that are also visible as of as_of may pass (no future label).
        visible = np.where(np.isnan(visible), np.nan, given)
    bad = np.flatnonzero(~(np.isnan(visible) | (visible == 0.0) | (visible == 1.0)))
    if len(bad):
        raise ModelError(
            f"labels[{bad[0]}] = {float(visible[bad[0]])!r} (user {users['user_id'].iloc[bad[0]]!r}): "
            "expected 1, 0 or NaN"
        )
    return visible


def _validation_window(
    users: pd.DataFrame, visible: np.ndarray, ref: pd.Series, fraction: float
) -> np.ndarray:
    """bool ``(n_users,)``: the latest ``fraction`` of the bad users and the same share
    of the good ones (none when ``fraction`` rounds to no user)."""
    validation = np.zeros(len(users), dtype=bool)
    if not round(fraction * int((~np.isnan(visible)).sum())):
        return validation
    # The latest share of the bad users and the same share of the good ones: at a
    # base rate under 1% the latest fifth of all labelled users may hold no bad user
    # to stop early or calibrate on, and with two bad users known one of them is.
    for outcome in (1.0, 0.0):
        idx = np.flatnonzero(visible == outcome)
        take = max(1, round(fraction * len(idx))) if len(idx) >= 2 else 0
        if not take:
            continue
        # Latest reference times first. Ties are broken by a keyed hash of the user id,
        # not by the id: where times do not tell users apart (data without dates, users
        # labelled on one day) the window is then a random sample, whereas ids are often
        # in an order that says something (sign-up order, a source system's batches).
        tie = pd.util.hash_array(
            users["user_id"].to_numpy()[idx].astype(str).astype(object), hash_key=_VALIDATION_KEY
        )
        order = np.lexsort((tie, ref.to_numpy()[idx]))
        validation[idx[order[-take:]]] = True
    return validation


def _time_buckets(
    ref: pd.Series, labelled: np.ndarray, as_of: pd.Timestamp, time_buckets: int
) -> tuple[np.ndarray, list[pd.Timestamp]]:
    """int64 ``(n_users,)`` point-in-time bucket of every user, and per bucket the
    instant before which its labels were known."""
    if time_buckets < 1:
        raise ModelError(f"time_buckets = {time_buckets!r}: expected >= 1")
    ref_s = to_epoch_seconds(ref)
    as_of_s = int(to_epoch_seconds(pd.Series([as_of]))[0])
    cutoffs = [as_of]
    bucket = np.zeros(len(ref), dtype=np.int64)
    if time_buckets > 1 and labelled.any():
        # Bucket edges at quantiles of the labelled users' reference times; a
        # bucket's labels are those known before its first edge.
        edges = np.unique(
            np.quantile(ref_s[labelled], np.arange(time_buckets) / time_buckets).astype(np.int64)
        )
        edges = edges[edges < as_of_s]
        if len(edges):
            bucket = np.clip(np.searchsorted(edges, ref_s, side="right") - 1, 0, None)
            cutoffs = [pd.Timestamp(int(e), unit="s", tz="UTC") for e in edges]
    return bucket.astype(np.int64), cutoffs


def scoring_folds(
    tables: GraphTables,
    as_of: Any,
    split: LabelSplit | None = None,
    *,
    labels: Any = None,
    reference_time: pd.Series | None = None,
) -> LabelFolds:
    """Folds for scoring as of ``as_of``: one bucket (every label known before
    ``as_of``), no validation window; the folds (``n_folds`` and ``seed`` of
    ``split``) as the model's."""
    return split_labels(
        tables,
        as_of,
        (split or LabelSplit()).for_scoring(),
        labels=labels,
        reference_time=reference_time,
    )


@dataclass(frozen=True)
class FeatureViews:
    """Graph features computed once per label view (see module notes).

    Attributes
    ----------
    frames : list[pandas.DataFrame]
        ``frames[v]``: features computed on view ``v``'s labels, one row per user.
    fingerprint : str
        :meth:`LabelFolds.fingerprint` of the folds they were computed with.
    """

    frames: list[pd.DataFrame]
    fingerprint: str

    def own_view(self, folds: LabelFolds) -> pd.DataFrame:
        """Each user's row from its own view (what a model trains on)."""
        self.check(folds)
        return _own_rows(self.frames, folds.own_view())

    #: Former name of :meth:`own_view` (kept for callers written before buckets).
    own_fold = own_view

    def check(self, folds: LabelFolds) -> None:
        """Raise :class:`ModelError` unless these views were computed for ``folds``."""
        if self.fingerprint != folds.fingerprint() or len(self.frames) != folds.n_views:
            raise ModelError(
                "graph feature views were computed for other folds or labels "
                f"({self.fingerprint}) than the model's ({folds.fingerprint()}); "
                "recompute them with graph_feature_views(tables, folds)"
            )


@dataclass(frozen=True)
class FeatureSource:
    """How the graph features of a label view are computed.

    Parameters
    ----------
    compute : callable, optional
        ``compute(tables, as_of, labels=..., reference_time=...)`` returning a
        DataFrame (or an object with a ``.features`` DataFrame), called once per
        view; default: riskgraph's graph features with ``config``
        (:func:`riskgraph.graph.features.compute_graph_feature_views`, which shares
        the label-free work between the views).
    config : FeatureConfig, optional
        Settings of the default features (ignored with ``compute``).
    """

    compute: FeatureFunction | None = None
    config: FeatureConfig | None = None

    def frames(
        self,
        tables: GraphTables,
        as_of: pd.Timestamp,
        label_views: Iterable[np.ndarray],
        reference_time: pd.Series,
    ) -> Iterator[pd.DataFrame]:
        """The features under each of ``label_views``, one frame (a row per user) at a
        time as they are consumed."""
        if self.compute is None:
            from riskgraph.graph.features import compute_graph_feature_views

            # ``yield from map``: no local keeps a view once the consumer lets it go (its
            # index is already the user position)
            yield from map(
                operator.attrgetter("features"),
                compute_graph_feature_views(
                    tables, as_of, label_views, reference_time=reference_time, config=self.config
                ),
            )
            return
        for view in label_views:
            out = self.compute(tables, as_of, labels=view, reference_time=reference_time)
            frame: pd.DataFrame = getattr(out, "features", out)
            yield frame.reset_index(drop=True)


def graph_feature_views(
    tables: GraphTables,
    folds: LabelFolds,
    source: FeatureSource | None = None,
    as_of: Any = None,
) -> FeatureViews:
    """Compute the graph features once per label view of ``folds``.

    Parameters
    ----------
    tables : GraphTables
    folds : LabelFolds
    source : FeatureSource, optional
        How the features are computed (default riskgraph's graph features with the
        default settings).
    as_of : timestamp, optional
        Structure snapshot date (default ``folds.as_of``).

    Returns
    -------
    FeatureViews

    Notes
    -----
    ``folds.n_views`` computations: ``K`` for scoring folds, ``K * B`` for
    point-in-time training folds.
    """
    frames = list(iter_feature_views(tables, folds, source, as_of))
    return FeatureViews(frames=frames, fingerprint=folds.fingerprint())


def own_view_features(
    tables: GraphTables,
    folds: LabelFolds,
    source: FeatureSource | None = None,
    as_of: Any = None,
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """``graph_feature_views(...).own_view(folds)`` without holding every view.

    Training folds have ``K * B`` views (30 by default), too many to hold at once at
    a million users. Each view is computed in turn and only its own users' rows are
    kept, so two frames are alive at a time. Same arguments as
    :func:`graph_feature_views`, and ``rows`` (bool ``(n_users,)``, labelled users):
    only these users' rows are wanted, so only their views are computed (the others'
    rows are those of the first view computed).
    """
    own = folds.own_view()
    if rows is None:
        views = iter_feature_views(tables, folds, source, as_of)
        return _own_rows(views, own)
    needed = np.unique(own[rows])
    views = iter_feature_views(tables, folds, source, as_of, only=needed)
    position = np.full(folds.n_views, -1, dtype=np.int64)
    position[needed] = np.arange(len(needed))
    return _own_rows(views, np.where(rows, position[own], -1))


def _own_rows(frames: Iterable[pd.DataFrame], own: np.ndarray) -> pd.DataFrame:
    """Each user's row from view ``own[user]`` of ``frames`` (consumed one at a time)."""
    out: pd.DataFrame | None = None
    v = 0  # not enumerate: its reused result tuple would keep the last view alive
    for frame in frames:
        if out is None:
            out = frame.copy()
        else:
            rows = own == v
            if rows.any():
                out.loc[rows] = frame.loc[rows].to_numpy()
        v += 1  # noqa: SIM113 (see above)
        del frame  # not held while the next view is computed
    assert out is not None  # folds have at least one view
    return out


def iter_feature_views(
    tables: GraphTables,
    folds: LabelFolds,
    source: FeatureSource | None = None,
    as_of: Any = None,
    only: np.ndarray | None = None,
) -> Iterator[pd.DataFrame]:
    """The frames of :func:`graph_feature_views`, computed one at a time as they are
    consumed: a consumer that needs one view at a time holds one frame, not
    ``folds.n_views`` of them. Same arguments, and ``only``: these views, in this
    order (default every view)."""
    when = folds.as_of if as_of is None else as_utc(as_of)
    ref = folds.reference_time.clip(upper=when)
    label_views: Iterable[np.ndarray] = folds.views()
    if only is not None:
        label_views = (folds.view(int(v)) for v in only)
    yield from (source or FeatureSource()).frames(tables, when, label_views, ref)
