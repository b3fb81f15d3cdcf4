"""``HeteroData`` from :class:`GraphTables`: node features, both edge directions, time.

:class:`HeteroGraphBuilder` is a scikit-learn style transformer. ``fit`` learns how to
turn user attributes and graph risk features into model inputs (which numeric columns
to log-compress, clipping bounds, means and scales, category vocabularies); the
fitted state is plain data (:meth:`HeteroGraphBuilder.state_dict`) saved inside the
model file, so scoring tonight encodes inputs exactly as training did.
``transform`` builds the :class:`torch_geometric.data.HeteroData` of a graph
snapshot as of a date.

Node types and inputs
---------------------
==============  ==========================================================  =========
node type       ``x`` (float32)                                             ``x_cat``
==============  ==========================================================  =========
user            scaled numeric attributes (and graph features when given),  string
                then a 0/1 indicator per column that had missing values     attributes
device          log1p users, log1p applications filed from it               --
account         log1p users                                                 type
platform        log1p applications                                          platform
application     scaled log amount, amount-missing indicator                 status
address         log1p users                                                 --
==============  ==========================================================  =========

Node and edge types follow the schema (:mod:`riskgraph.loaders.schema`): an identifier
node type's ``x`` counts, per relationship ending there, the links the snapshot holds.

Category codes: 0 = missing, 1 = a value not seen (or too rare) at fit time, then
the fitted vocabulary. Labels are *never* stored in the ``HeteroData``: label inputs
are a separate, fold-masked channel (:mod:`riskgraph.gnn.protocol`), so that a
snapshot cannot leak a label by accident.

Edge types (every relation in both directions; social ties are symmetric)
-------------------------------------------------------------------------
``(user, uses, device)``, ``(user, owns, account)``, ``(user, knows, user)``,
``(user, submitted, application)``, ``(application, to, platform)``,
``(application, from_device, device)``, ``(user, lives_at, address)`` and the
``rev_*`` reverse of each directed one. The address node and edge types (an optional
input table) are there only when the graph holds addresses: on a graph without any,
the models see exactly the other types. Every edge store carries ``edge_time`` (int64 epoch seconds of
``first_seen`` / ``linked_at`` / ``created_at`` / ``applied_at``; a missing time is
:data:`ALWAYS`, i.e. known since forever) for temporal neighbour sampling;
``knows`` carries ``edge_attr_cat`` (tie type code) and ``edge_weight`` (the tie's
weight, NaN when not given); its first half is the ties as given (source to
destination), the second half the same ties reversed.

Time: with ``as_of``, edges and applications dated at or after ``as_of`` are left out,
and so are all links of users registered at or after it (architecture.md, "Time");
every node keeps its index, so user row ``i`` of the ``HeteroData`` is row ``i`` of
``tables.users``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import HeteroData

from riskgraph.errors import ModelError
from riskgraph.loaders import schema
from riskgraph.loaders.tables import NO_INDEX, GraphTables

__all__ = [
    "ALWAYS",
    "EDGE_TYPES",
    "NODE_TYPES",
    "HeteroGraphBuilder",
    "as_utc",
    "numeric_feature_columns",
    "to_epoch_seconds",
]

#: Every node type of the schema (an optional table's only when the graph holds some).
NODE_TYPES = tuple(node.hetero for node in schema.NODE_TYPES.values())


def _edge_types() -> tuple[tuple[str, str, str], ...]:
    out = []
    for rel in schema.RELATIONSHIPS.values():
        out.append(rel.edge_type)
        if not rel.symmetric:
            a, name, b = rel.edge_type
            out.append((b, f"rev_{name}", a))
    return tuple(out)


#: Every edge type the builder emits, forward then reverse (a symmetric relation, social
#: ties, holds both directions under one type), in schema order; an optional table's
#: only when the graph holds some of its nodes.
EDGE_TYPES: tuple[tuple[str, str, str], ...] = _edge_types()
# The order edges are added in: ties last, the order the builder has always used, which
# sets the order (and so the initial values) of the message-passing networks' weights.
_EDGE_ORDER = sorted(schema.RELATIONSHIPS.values(), key=lambda r: r.symmetric)


def _user_columns() -> dict[str, list[str]]:
    """Per table, its index columns into users: a row exists only once its users do."""
    out: dict[str, list[str]] = {}
    for rel in schema.RELATIONSHIPS.values():
        for end in (rel.start, rel.end):
            if end.column is not None and end.node == "users":
                out.setdefault(rel.table, []).append(end.column)
    return out


_USER_COLUMNS = _user_columns()
# Node types with a categorical input: the column (and vocabulary) it is.
_NODE_CATEGORIES = {"account": "account_type", "platform": "platform_id", "application": "status"}

#: ``edge_time`` of an edge whose timestamp is missing: visible at any time.
ALWAYS = np.iinfo(np.int64).min // 2

# Category code reserved for a missing value and for a value outside the vocabulary.
_MISSING, _OTHER = 0, 1

# Columns of a graph-feature frame that identify rather than describe a user.
_ID_COLUMNS = frozenset({"user_id", "ring_id"})


def as_utc(value: Any, name: str = "as_of") -> pd.Timestamp:
    """``value`` as a timezone-aware UTC :class:`pandas.Timestamp`.

    Raises
    ------
    ModelError
        When ``value`` cannot be read as a timestamp (names the parameter).
    """
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{name} = {value!r}: expected a date or timestamp") from exc
    if ts is pd.NaT:
        raise ModelError(f"{name} = {value!r}: expected a date or timestamp, got NaT")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def to_epoch_seconds(values: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """int64 epoch seconds of a UTC datetime column, :data:`ALWAYS` where missing."""
    series = pd.Series(values)
    out = np.full(len(series), ALWAYS, dtype=np.int64)
    ok = series.notna().to_numpy()
    if ok.any():
        out[ok] = (
            (series[ok].dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[s]"))
            .to_numpy()
            .astype(np.int64)
        )
    return out


def numeric_feature_columns(features: pd.DataFrame) -> list[str]:
    """Columns of a graph-feature frame usable as model inputs (numbers and flags)."""
    out = []
    for column in features.columns:
        if column in _ID_COLUMNS:
            continue
        dtype = features[column].dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            out.append(str(column))
    return out


def _float(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").astype("float64").to_numpy(na_value=np.nan)


def _fit_numeric(values: np.ndarray, clip: float) -> dict[str, float | bool]:
    """Learn the encoding of one numeric column (see :meth:`HeteroGraphBuilder.fit`)."""
    finite = values[np.isfinite(values)]
    missing = bool((~np.isfinite(values)).any())
    if finite.size == 0:
        return {"log": False, "lo": 0.0, "hi": 0.0, "mean": 0.0, "std": 1.0, "missing": missing}
    # Heavy right tails (counts, amounts) are log-compressed so that a few extreme
    # users do not squash everyone else into one value after scaling.
    skew = float(pd.Series(finite).skew()) if finite.size > 2 else 0.0
    use_log = bool(np.isfinite(skew) and abs(skew) > 2.0)
    if use_log:
        finite = np.sign(finite) * np.log1p(np.abs(finite))
    lo, hi = np.quantile(finite, [clip, 1.0 - clip]) if clip > 0 else (finite.min(), finite.max())
    clipped = np.clip(finite, lo, hi)
    std = float(clipped.std())
    return {
        "log": use_log,
        "lo": float(lo),
        "hi": float(hi),
        "mean": float(clipped.mean()),
        "std": std if std > 1e-12 else 1.0,
        "missing": missing,
    }


def _encode_numeric(values: np.ndarray, spec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Scaled values (missing -> 0, the mean) and the 0/1 missing indicator."""
    missing = ~np.isfinite(values)
    v = np.where(missing, 0.0, values)
    if spec["log"]:
        v = np.sign(v) * np.log1p(np.abs(v))
    v = (np.clip(v, spec["lo"], spec["hi"]) - spec["mean"]) / spec["std"]
    v[missing] = 0.0
    return v, missing.astype(np.float64)


def _fit_vocabulary(values: pd.Series, max_categories: int, min_count: int) -> list[str]:
    counts = values.dropna().astype(str).value_counts()
    counts = counts[counts >= min_count]
    # Most frequent first, ties by name, so the vocabulary is deterministic.
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_categories]
    return [k for k, _ in ordered]


def _encode_category(values: pd.Series, vocabulary: Sequence[str]) -> np.ndarray:
    codes = pd.Index(list(vocabulary)).get_indexer(values.astype("string").fillna("").to_numpy())
    out = np.where(codes >= 0, codes + 2, _OTHER).astype(np.int64)
    out[values.isna().to_numpy()] = _MISSING
    return out


class HeteroGraphBuilder:
    """Turn :class:`GraphTables` (plus graph features) into a ``HeteroData`` snapshot.

    Parameters
    ----------
    max_categories : int, default 32
        Largest vocabulary kept per categorical column; rarer values share the
        "other" code.
    min_category_count : int, default 5
        Values seen fewer times at fit time are "other".
    clip_quantile : float, default 0.001
        Numeric inputs are clipped to the ``[q, 1 - q]`` quantiles seen at fit time.

    Attributes
    ----------
    numeric_ : dict[str, dict]
        Per numeric user column (attributes first, then graph features): whether it
        is log-compressed, clipping bounds, mean, scale, and whether it had missing
        values (then it gets an indicator column).
    categorical_ : dict[str, list[str]]
        Vocabulary per categorical user attribute.
    feature_columns_ : list[str]
        Graph-feature columns the builder was fitted with (may be empty).
    vocabularies_ : dict[str, list[str]]
        ``account_type``, ``status``, ``tie_type`` and ``platform_id`` vocabularies.

    Examples
    --------
    >>> from riskgraph.loaders.tables import empty_graph_tables
    >>> b = HeteroGraphBuilder().fit(empty_graph_tables())
    >>> b.transform(empty_graph_tables())["user"].x.shape
    torch.Size([0, 0])
    """

    def __init__(
        self, max_categories: int = 32, min_category_count: int = 5, clip_quantile: float = 0.001
    ) -> None:
        self.max_categories = max_categories
        self.min_category_count = min_category_count
        self.clip_quantile = clip_quantile

    # -- fitting -----------------------------------------------------------------
    def fit(
        self,
        tables: GraphTables,
        features: pd.DataFrame | None = None,
        as_of: Any = None,
    ) -> HeteroGraphBuilder:
        """Learn the input encodings from users registered before ``as_of``.

        Parameters
        ----------
        tables : GraphTables
        features : DataFrame, optional
            Graph risk features, one row per user in ``tables.users`` order; every
            numeric or boolean column except ids becomes an input.
        as_of : timestamp, optional
            Only users registered before it inform the encodings.

        Returns
        -------
        self
        """
        if not 0.0 <= self.clip_quantile < 0.5:
            raise ModelError(
                f"HeteroGraphBuilder.clip_quantile = {self.clip_quantile!r}: expected in [0, 0.5)"
            )
        if self.max_categories < 1 or self.min_category_count < 1:
            raise ModelError(
                "HeteroGraphBuilder.max_categories and min_category_count must be >= 1, got "
                f"{self.max_categories!r} and {self.min_category_count!r}"
            )
        users = tables.users
        keep = np.ones(len(users), dtype=bool)
        if as_of is not None:
            reg = users["registered_at"]
            keep = (reg < as_utc(as_of)).fillna(True).to_numpy()
        features = self._check_features(tables, features, fitting=True)

        self.numeric_: dict[str, dict[str, Any]] = {}
        self.categorical_: dict[str, list[str]] = {}
        for column in tables.attribute_columns:
            series = users[column]
            if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(
                series.dtype
            ):
                self.numeric_[column] = _fit_numeric(_float(series)[keep], self.clip_quantile)
            else:
                self.categorical_[column] = _fit_vocabulary(
                    series[keep], self.max_categories, self.min_category_count
                )
        self.feature_columns_ = [] if features is None else numeric_feature_columns(features)
        for column in self.feature_columns_:
            assert features is not None
            self.numeric_[f"feature:{column}"] = _fit_numeric(
                _float(features[column])[keep], self.clip_quantile
            )
        self.vocabularies_ = {
            "account_type": _fit_vocabulary(
                tables.accounts["account_type"], self.max_categories, self.min_category_count
            ),
            "status": _fit_vocabulary(
                tables.applications["status"], self.max_categories, self.min_category_count
            ),
            "tie_type": _fit_vocabulary(
                tables.social["tie_type"], self.max_categories, self.min_category_count
            ),
            # Platforms are few; each gets its own embedding when seen at all.
            "platform_id": sorted(tables.platforms["platform_id"].astype(str).tolist())[:4096],
        }
        apps = tables.applications
        app_keep = np.ones(len(apps), dtype=bool)
        if as_of is not None:
            app_keep = (apps["applied_at"] < as_utc(as_of)).fillna(True).to_numpy()
        amounts = _float(apps["amount"])[app_keep]
        # Amounts are always log-compressed (they span orders of magnitude).
        self.amount_ = _fit_numeric(np.log1p(np.clip(amounts, 0.0, None)), self.clip_quantile)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "numeric_"):
            raise ModelError("HeteroGraphBuilder is not fitted: call fit() first")

    def _check_features(
        self, tables: GraphTables, features: pd.DataFrame | None, fitting: bool = False
    ) -> pd.DataFrame | None:
        if features is None:
            if not fitting and self.feature_columns_:
                raise ModelError(
                    "graph features missing: the model was fitted with "
                    f"{len(self.feature_columns_)} feature columns (e.g. "
                    f"{self.feature_columns_[0]!r}); pass features="
                )
            return None
        if len(features) != tables.num_users:
            raise ModelError(
                f"graph features have {len(features)} rows, expected one per user "
                f"({tables.num_users}) in tables.users order"
            )
        if "user_id" in features.columns:
            ids = features["user_id"].astype(str).to_numpy()
            expected = tables.users["user_id"].astype(str).to_numpy()
            if not np.array_equal(ids, expected):
                first = int(np.flatnonzero(ids != expected)[0])
                raise ModelError(
                    f"graph features row {first} has user_id {ids[first]!r}, expected "
                    f"{expected[first]!r}: rows must follow tables.users"
                )
        if not fitting:
            absent = [c for c in self.feature_columns_ if c not in features.columns]
            if absent:
                raise ModelError(
                    f"graph features lack column {absent[0]!r} the model was fitted with "
                    f"({len(absent)} missing in all)"
                )
        return features

    # -- encoding ----------------------------------------------------------------
    def attribute_inputs(self, tables: GraphTables) -> tuple[np.ndarray, np.ndarray]:
        """The encoded user attributes (label-free; safe to propagate to neighbours).

        Returns
        -------
        x : np.ndarray
            float32 ``(n_users, len(attribute_names_))``: scaled numeric attributes,
            then their missing indicators.
        x_cat : np.ndarray
            int64 ``(n_users, n_categorical)``: category codes, one column per
            categorical attribute (in ``categorical_`` order).
        """
        self._check_fitted()
        users = tables.users
        columns = {}
        for name, spec in self.numeric_.items():
            if name.startswith("feature:"):
                continue
            if name not in users.columns:
                raise ModelError(
                    f"users table lacks attribute column {name!r} the model was fitted with"
                )
            columns[name] = (_float(users[name]), spec)
        x = _encode_block(columns, len(users))
        cats = []
        for name, vocab in self.categorical_.items():
            if name not in users.columns:
                raise ModelError(
                    f"users table lacks attribute column {name!r} the model was fitted with"
                )
            cats.append(_encode_category(users[name], vocab))
        x_cat = np.stack(cats, axis=1) if cats else np.zeros((len(users), 0), dtype=np.int64)
        return x, x_cat

    def feature_inputs(self, tables: GraphTables, features: pd.DataFrame | None) -> np.ndarray:
        """The encoded graph features (may be label-derived: never propagate them).

        Returns
        -------
        np.ndarray
            float32 ``(n_users, len(feature_names_))``: scaled features, then missing
            indicators; ``(n_users, 0)`` when the builder was fitted without features.
        """
        self._check_fitted()
        features = self._check_features(tables, features)
        columns = {}
        for name, spec in self.numeric_.items():
            if name.startswith("feature:"):
                assert features is not None
                columns[name] = (_float(features[name.removeprefix("feature:")]), spec)
        return _encode_block(columns, tables.num_users)

    @property
    def attribute_columns_(self) -> list[str]:
        """Numeric user attribute columns, in encoding order."""
        return [k for k in self.numeric_ if not k.startswith("feature:")]

    @property
    def attribute_names_(self) -> list[str]:
        """Names of the :meth:`attribute_inputs` columns."""
        return _block_names(
            {k: v for k, v in self.numeric_.items() if not k.startswith("feature:")}
        )

    @property
    def feature_names_(self) -> list[str]:
        """Names of the :meth:`feature_inputs` columns."""
        return _block_names({k: v for k, v in self.numeric_.items() if k.startswith("feature:")})

    @property
    def category_sizes(self) -> list[int]:
        """Number of codes (vocabulary + missing + other) per user categorical column."""
        self._check_fitted()
        return [len(v) + 2 for v in self.categorical_.values()]

    def vocabulary_size(self, name: str) -> int:
        """Number of codes of ``account_type``, ``status``, ``tie_type`` or ``platform_id``."""
        self._check_fitted()
        return len(self.vocabularies_[name]) + 2

    def transform(
        self, tables: GraphTables, features: pd.DataFrame | None = None, as_of: Any = None
    ) -> HeteroData:
        """Build the ``HeteroData`` snapshot of ``tables`` as of ``as_of``.

        Parameters
        ----------
        tables : GraphTables
        features : DataFrame, optional
            Graph features (of one label view) to append to the user inputs. The
            models add them per view themselves; leave out to get label-free inputs.
        as_of : timestamp, optional
            Leave out edges and applications dated at or after it.

        Returns
        -------
        HeteroData
            Node stores with ``x`` (float32 ``(n, f)``), ``x_cat`` (int64 ``(n, c)``)
            and ``num_nodes``; edge stores with ``edge_index`` (int64 ``(2, m)``) and
            ``edge_time`` (int64 ``(m,)``).
        """
        self._check_fitted()
        cutoff = np.iinfo(np.int64).max
        if as_of is not None:
            cutoff = int(to_epoch_seconds(pd.Series([as_utc(as_of)]))[0])
        data = HeteroData()
        x, x_cat = self.attribute_inputs(tables)
        if features is not None:
            x = np.concatenate([x, self.feature_inputs(tables, features)], axis=1)
        data["user"].x = torch.from_numpy(x)
        data["user"].x_cat = torch.from_numpy(x_cat)
        data["user"].num_nodes = tables.num_users

        # A user registered at or after as_of does not exist yet, nor do its links.
        active = to_epoch_seconds(tables.users["registered_at"]) < cutoff
        present = [r for r in _EDGE_ORDER if _in_graph(tables, r)]
        edges = {r.rel_type: _edges(tables, r, cutoff, active) for r in present}
        for name, node in schema.NODE_TYPES.items():
            if node.hetero != "user" and _in_graph(tables, node):
                self._add_nodes(
                    data, tables, node, [edges[r.rel_type] for r in present if r.end.node == name]
                )
        for rel in present:
            e = edges[rel.rel_type]
            if rel.symmetric:
                _add_ties(data, rel, e, self._tie_inputs(tables, e.keep))
            else:
                _add_pair(data, rel.edge_type, e)
        return data

    def _add_nodes(
        self,
        data: HeteroData,
        tables: GraphTables,
        node: schema.NodeType,
        incoming: list[_Edges],
    ) -> None:
        """The node store of ``node``: an application's amount, any other node's links
        of each relationship ending there (``incoming``), and a category where it has one."""
        store = data[node.hetero]
        table = getattr(tables, node.table)
        if node.hetero == "application":
            amount, amount_missing = _encode_numeric(
                np.log1p(np.clip(_float(table["amount"]), 0.0, None)), self.amount_
            )
            store.x = torch.from_numpy(
                np.stack([amount, amount_missing], axis=1).astype(np.float32)
            )
        else:
            store.x = _log_columns(
                *(np.bincount(e.dst[e.keep], minlength=len(table)) for e in incoming)
            )
        category = _NODE_CATEGORIES.get(node.hetero)
        if category is not None:
            codes = _encode_category(table[category], self.vocabularies_[category])
            store.x_cat = torch.from_numpy(codes).view(-1, 1)
        store.num_nodes = len(table)

    def _tie_inputs(self, tables: GraphTables, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tie-type codes and weights (NaN when not given) of the kept social ties."""
        so = tables.social
        tie = _encode_category(so["tie_type"], self.vocabularies_["tie_type"])[keep]
        return tie, _float(so["weight"])[keep].astype(np.float32)

    # -- persistence ---------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The fitted state as plain Python data (safe for ``torch.load(weights_only=True)``)."""
        self._check_fitted()
        return {
            "params": {
                "max_categories": self.max_categories,
                "min_category_count": self.min_category_count,
                "clip_quantile": self.clip_quantile,
            },
            "numeric": self.numeric_,
            "categorical": self.categorical_,
            "feature_columns": self.feature_columns_,
            "vocabularies": self.vocabularies_,
            "amount": self.amount_,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> HeteroGraphBuilder:
        """Rebuild a fitted builder from :meth:`state_dict`."""
        try:
            out = cls(**state["params"])
            out.numeric_ = dict(state["numeric"])
            out.categorical_ = {k: list(v) for k, v in state["categorical"].items()}
            out.feature_columns_ = list(state["feature_columns"])
            out.vocabularies_ = {k: list(v) for k, v in state["vocabularies"].items()}
            out.amount_ = dict(state["amount"])
        except (KeyError, TypeError) as exc:
            raise ModelError(f"HeteroGraphBuilder state is incomplete: {exc!r}") from exc
        return out


def _encode_block(columns: dict[str, tuple[np.ndarray, dict[str, Any]]], n: int) -> np.ndarray:
    """Scaled columns, then the missing indicators of those fitted with missing values."""
    values, indicators = [], []
    for raw, spec in columns.values():
        v, miss = _encode_numeric(raw, spec)
        values.append(v)
        if spec["missing"]:
            indicators.append(miss)
    cols = values + indicators
    return np.stack(cols, axis=1).astype(np.float32) if cols else np.zeros((n, 0), np.float32)


def _block_names(specs: dict[str, dict[str, Any]]) -> list[str]:
    return list(specs) + [f"{k}:missing" for k, v in specs.items() if v["missing"]]


def _log_columns(*counts: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.log1p(np.stack(counts, axis=1).astype(np.float32)))


@dataclass(frozen=True)
class _Edges:
    """The rows of one relationship: node positions at both ends, time, kept or not."""

    src: np.ndarray
    dst: np.ndarray
    time: np.ndarray
    keep: np.ndarray


def _in_graph(tables: GraphTables, item: schema.NodeType | schema.Relationship) -> bool:
    """Whether a node or relationship type belongs in the ``HeteroData`` of ``tables``:
    always, unless it is of an optional table and the graph holds none of its nodes."""
    nodes = (
        [item]
        if isinstance(item, schema.NodeType)
        else [
            schema.NODE_TYPES[item.start.node],
            schema.NODE_TYPES[item.end.node],
        ]
    )
    return all(
        n.table not in schema.OPTIONAL_TABLES or len(getattr(tables, n.table)) for n in nodes
    )


def _edges(
    tables: GraphTables, rel: schema.Relationship, cutoff: int, active: np.ndarray
) -> _Edges:
    """Rows of ``rel`` dated before ``cutoff`` whose users are ``active`` (for a
    relationship an application carries, the application's user), with an end."""
    table = getattr(tables, rel.table)
    rows = np.arange(len(table), dtype=np.int64)
    src, dst = (
        rows if end.column is None else table[end.column].to_numpy() for end in (rel.start, rel.end)
    )
    time = (
        to_epoch_seconds(table[rel.time])
        if rel.time is not None
        else np.full(len(table), ALWAYS, dtype=np.int64)
    )
    keep = time < cutoff
    for column in _USER_COLUMNS.get(rel.table, ()):
        keep &= active[table[column].to_numpy()]
    if rel.optional:
        keep &= (src != NO_INDEX) & (dst != NO_INDEX)
    return _Edges(src, dst, time, keep)


def _add_ties(
    data: HeteroData, rel: schema.Relationship, e: _Edges, inputs: tuple[np.ndarray, np.ndarray]
) -> None:
    """Add a symmetric relation: the edges as given, then the same edges reversed."""
    src, dst, t = e.src[e.keep], e.dst[e.keep], e.time[e.keep]
    tie, weight = inputs
    store = data[rel.edge_type]
    store.edge_index = torch.from_numpy(
        np.stack([np.concatenate([src, dst]), np.concatenate([dst, src])]).astype(np.int64)
    )
    store.edge_time = torch.from_numpy(np.concatenate([t, t]))
    store.edge_attr_cat = torch.from_numpy(np.concatenate([tie, tie]))
    store.edge_weight = torch.from_numpy(np.concatenate([weight, weight]))


def _add_pair(data: HeteroData, edge_type: tuple[str, str, str], e: _Edges) -> None:
    """Add ``edge_type`` and its ``rev_`` reverse: the rows of ``e`` it keeps."""
    s = np.asarray(e.src, dtype=np.int64)[e.keep]
    d = np.asarray(e.dst, dtype=np.int64)[e.keep]
    t = torch.from_numpy(np.ascontiguousarray(e.time[e.keep]))
    fwd = data[edge_type]
    fwd.edge_index = torch.from_numpy(np.stack([s, d]))
    fwd.edge_time = t
    a, rel, b = edge_type
    rev = data[b, f"rev_{rel}", a]
    rev.edge_index = torch.from_numpy(np.stack([d, s]))
    rev.edge_time = t.clone()
