"""Graph risk features: shared-identifier rings, exposure to known-bad users, multi-platform borrowing.

Examples
--------
>>> from riskgraph.graph.features import compute_graph_features, visible_labels
>>> labels = visible_labels(tables.users, as_of)  # doctest: +SKIP
>>> gf = compute_graph_features(tables, as_of, labels=labels)  # doctest: +SKIP
>>> gf.features.columns[:3].tolist()  # doctest: +SKIP
['user_id', 'ring_id', 'ring_size']
"""

from __future__ import annotations

from riskgraph.errors import FeatureError
from riskgraph.graph.features.borrowing import BorrowingConfig, MultiBorrowingThresholds
from riskgraph.graph.features.catalog import (
    FEATURE_CATALOG,
    FeatureSpec,
    catalog_markdown,
    feature_catalog,
)
from riskgraph.graph.features.compute import (
    FeatureConfig,
    GraphFeatures,
    compute_graph_feature_views,
    compute_graph_features,
)
from riskgraph.graph.features.exposure import ExposureConfig
from riskgraph.graph.features.labels import visible_labels
from riskgraph.graph.features.rings import RING_COLUMNS, RingConfig

__all__ = [
    "FEATURE_CATALOG",
    "RING_COLUMNS",
    "BorrowingConfig",
    "ExposureConfig",
    "FeatureConfig",
    "FeatureError",
    "FeatureSpec",
    "GraphFeatures",
    "MultiBorrowingThresholds",
    "RingConfig",
    "catalog_markdown",
    "compute_graph_feature_views",
    "compute_graph_features",
    "feature_catalog",
    "visible_labels",
]
