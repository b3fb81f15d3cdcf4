"""``compute_graph_features``: every graph risk feature of every user, as of a date.

Input is a :class:`~riskgraph.loaders.tables.GraphTables` and an ``as_of`` instant;
output is one row per user. Only what happened strictly before ``as_of`` exists
(links without a timestamp count; users registered at or after ``as_of`` are absent
from the graph and get empty features), and label-derived features only see the
``labels`` passed in, never the user's own, never one dated at or after ``as_of``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskgraph.errors import ConfigError
from riskgraph.graph.features.adjacency import graph_snapshot
from riskgraph.graph.features.borrowing import BorrowingConfig, multi_platform_borrowing
from riskgraph.graph.features.catalog import FEATURE_CATALOG
from riskgraph.graph.features.exposure import ExposureConfig, ExposureGraph
from riskgraph.graph.features.hubs import identifier_sharing
from riskgraph.graph.features.labels import check_labels, visible_labels
from riskgraph.graph.features.rings import RingConfig, ring_structure, shared_identifier_rings
from riskgraph.graph.features.timeline import check_as_of, check_reference_time, to_micros
from riskgraph.loaders.tables import GraphTables

__all__ = [
    "FeatureConfig",
    "GraphFeatures",
    "compute_graph_feature_views",
    "compute_graph_features",
]


@dataclass(frozen=True)
class FeatureConfig:
    """All settings of the graph features, one frozen dataclass per family.

    Parameters
    ----------
    rings : RingConfig
        Ring formation (``max_sharing`` K = 20) and the ``ring_flag`` thresholds;
        ``rings.max_sharing`` is also the hub threshold.
    exposure : ExposureConfig
        Sharing cap of the exposure relations (50) and the PageRank settings.
    borrowing : BorrowingConfig
        Multi-borrowing thresholds and the co-application window.

    Examples
    --------
    >>> FeatureConfig(rings=RingConfig(max_sharing=10)).validate().rings.max_sharing
    10
    """

    rings: RingConfig = field(default_factory=RingConfig)
    exposure: ExposureConfig = field(default_factory=ExposureConfig)
    borrowing: BorrowingConfig = field(default_factory=BorrowingConfig)

    def validate(self) -> FeatureConfig:
        """Validate every part; return ``self``.

        Raises
        ------
        ConfigError
            Naming the setting, its value and the allowed range.
        """
        self.rings.validate()
        self.exposure.validate()
        self.borrowing.validate()
        return self


@dataclass(frozen=True)
class GraphFeatures:
    """What :func:`compute_graph_features` returns.

    Attributes
    ----------
    features : DataFrame
        One row per user in ``tables.users`` order (RangeIndex = user position):
        ``user_id``, then every feature of :data:`FEATURE_CATALOG`, in catalogue order,
        with the catalogue's dtypes.
    rings : DataFrame
        One row per ring (:data:`~riskgraph.graph.features.rings.RING_COLUMNS`), sorted
        by ``ring_id``: what the ``Ring`` nodes in Neo4j get.
    as_of : pandas.Timestamp
    timings : dict[str, float]
        Seconds per stage (snapshot, rings, hubs, exposure, borrowing).
    """

    features: pd.DataFrame
    rings: pd.DataFrame
    as_of: pd.Timestamp
    timings: dict[str, float]


def compute_graph_features(
    tables: GraphTables,
    as_of: Any,
    *,
    labels: Any = None,
    reference_time: Any = None,
    config: FeatureConfig | None = None,
) -> GraphFeatures:
    """Compute every graph risk feature of every user as of ``as_of``.

    Parameters
    ----------
    tables : GraphTables
    as_of : timezone-aware Timestamp
        Only events strictly before it exist.
    labels : array-like, shape ``(n_users,)``, optional
        1 bad, 0 good, NaN unknown; default :func:`visible_labels` ``(users, as_of)``.
        Training passes out-of-fold labels here. Labels the users table dates at or
        after ``as_of`` are hidden even when passed; a user's own label never reaches
        its own features.
    reference_time : array-like of UTC timestamps, shape ``(n_users,)``, optional
        Per-user instant (<= ``as_of``, NaT = ``as_of``) at which the windowed activity
        features (applications, platforms, 24-hour maximum, amounts) are measured.
    config : FeatureConfig, optional

    Returns
    -------
    GraphFeatures

    Raises
    ------
    FeatureError
        On a naive ``as_of``, or ``labels`` / ``reference_time`` of the wrong length
        or with invalid values.
    ConfigError
        On an invalid setting.

    Examples
    --------
    >>> gf = compute_graph_features(tables, pd.Timestamp("2024-06-01", tz="UTC"))  # doctest: +SKIP
    >>> gf.features.loc[gf.features["ring_flag"], ["user_id", "ring_id", "ring_size"]]  # doctest: +SKIP
    """
    return next(
        compute_graph_feature_views(
            tables, as_of, [labels], reference_time=reference_time, config=config
        )
    )


def compute_graph_feature_views(
    tables: GraphTables,
    as_of: Any,
    label_views: Iterable[Any],
    *,
    reference_time: Any = None,
    config: FeatureConfig | None = None,
    batch_size: int = 4,
) -> Iterator[GraphFeatures]:
    """:func:`compute_graph_features` under each of several label vectors, lazily.

    Yields, in order, exactly what ``compute_graph_features(tables, as_of,
    labels=labels, reference_time=reference_time, config=config)`` returns for each
    ``labels`` of ``label_views`` (``None`` for the visible labels). What does not
    depend on the labels (the snapshot, identifier sharing, borrowing, the exposure
    matrices, the rings with their burst thresholds) is computed once, and the
    PageRank runs of ``batch_size`` views go through one iteration: the training
    protocol's 30 label views cost about half of 30 separate calls.

    Parameters
    ----------
    label_views : iterable of array-like
        Each ``(n_users,)``, as ``labels`` of :func:`compute_graph_features`.
    batch_size : int, default 4
        Views whose PageRank runs share an iteration; each view adds ``ppr_folds``
        columns over users and shared identifiers to its arrays.

    Raises
    ------
    FeatureError, ConfigError
        As :func:`compute_graph_features`.
    """
    config = (config or FeatureConfig()).validate()
    if batch_size < 1:
        raise ConfigError(f"batch_size = {batch_size!r}: expected >= 1")
    as_of = check_as_of(as_of)
    as_of_us = int(to_micros(pd.DatetimeIndex([as_of]))[0])
    users = tables.users
    n = len(users)
    reference_us = check_reference_time(reference_time, n, as_of)

    shared: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(timings: dict[str, float], stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - clock
        clock = now

    snapshot = graph_snapshot(tables, as_of_us)
    user_ids = users["user_id"].reset_index(drop=True)
    lap(shared, "snapshot")
    hub_features = identifier_sharing(snapshot, config.rings.max_sharing)
    lap(shared, "hubs")
    borrowing = multi_platform_borrowing(snapshot, reference_us, config.borrowing)
    lap(shared, "borrowing")
    exposure_graph = ExposureGraph(snapshot, user_ids, config.exposure)
    lap(shared, "exposure")
    rings_of = ring_structure(snapshot, user_ids, config.rings)
    lap(shared, "rings")

    def prepared(labels: Any) -> np.ndarray:
        values = visible_labels(users, as_of) if labels is None else labels
        values = check_labels(values, users, as_of)
        # A user registered at or after as_of does not exist yet: neither does its label.
        values[~snapshot.active] = np.nan
        return values

    def view(labels: np.ndarray, ppr: np.ndarray, timings: dict[str, float]) -> GraphFeatures:
        ring_features, rings = shared_identifier_rings(
            snapshot, user_ids, labels, config.rings, structure=rings_of
        )
        lap(timings, "rings")
        exposure = exposure_graph.features(labels, ppr)
        lap(timings, "exposure")
        parts = (ring_features, hub_features, exposure, borrowing)
        return GraphFeatures(
            features=_feature_frame(user_ids, parts), rings=rings, as_of=as_of, timings=timings
        )

    views = iter(label_views)
    while batch := [prepared(labels) for labels in itertools.islice(views, batch_size)]:
        ppr_time: dict[str, float] = {}
        bad_ppr = exposure_graph.bad_ppr(batch)
        lap(ppr_time, "exposure")
        for labels, ppr in zip(batch, bad_ppr, strict=True):
            timings = dict(shared)
            timings["exposure"] += ppr_time["exposure"] / len(batch)
            # yielded straight from the call: no local of this generator keeps the
            # view's frames while the consumer works on it
            yield view(labels, ppr, timings)


def _feature_frame(user_ids: pd.Series, parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """``user_id`` and the :data:`FEATURE_CATALOG` columns of ``parts`` in catalogue
    order and dtypes, in one frame built at once (0.5 GB at a million users)."""
    columns = {name: part[name] for part in parts for name in part.columns}
    dtypes: dict[str, Any] = {name: spec.dtype for name, spec in FEATURE_CATALOG.items()}
    typed = {name: columns[name].astype(dtype) for name, dtype in dtypes.items()}
    return pd.DataFrame({"user_id": user_ids.astype("string"), **typed})
