"""How a model's inputs are assembled per label view, for training and scoring.

A *runner* binds a :class:`~riskgraph.gnn.train.GraphRiskModel` to one graph
snapshot and one :class:`~riskgraph.gnn.protocol.LabelFolds`. It keeps the
label-free inputs once and builds the label-derived inputs of a view (label
channels, the booster's scores, graph features) only from that view, so that no
input of a user carries a label the view hides. Training batches take every user's
inputs from its own view; scoring takes any view (the estimator averages them).

* :class:`SignRunner`: the propagation model (full-graph, exact).
* :class:`MessagePassingRunner`: the sampled-subgraph models (``sage``, ``rgcn``,
  ``hgt``); every batch holds seeds of a single view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import HeteroData
from torch_geometric.loader import NodeLoader

from riskgraph.errors import ModelError
from riskgraph.gnn.blocks import (
    LABEL_BLOCK_WIDTH,
    SCORE_BLOCK_WIDTH,
    SignInputs,
    UserAttributes,
    activity_inputs,
    label_channels,
    profile_inputs,
)
from riskgraph.gnn.communities import COMMUNITY_BLOCK_WIDTH, community_block, user_communities
from riskgraph.gnn.inference import forward_chunks
from riskgraph.gnn.propagation import UserGraph, user_graph
from riskgraph.gnn.protocol import FeatureViews, LabelFolds
from riskgraph.gnn.sampler import HeteroNeighborSampler
from riskgraph.loaders.tables import GraphTables

if TYPE_CHECKING:
    from riskgraph.gnn.train import GraphRiskModel

__all__ = ["MessagePassingRunner", "SignRunner", "make_net"]

#: ``scorer(v)`` -> float32 ``(n_users,)`` booster log-odds under view ``v``.
Scorer = Callable[[int], np.ndarray]


def make_net(architecture: str, config: dict) -> torch.nn.Module:  # type: ignore[type-arg]
    """Build the network of ``architecture`` from its saved configuration."""
    from riskgraph.gnn.models import HeteroMessagePassingNet, SignRiskNet

    if architecture == "sign":
        return SignRiskNet(
            config["block_dims"],
            config["category_sizes"],
            config["hidden"],
            config["dropout"],
            config.get("base_column"),
        )
    edge_types = [tuple(et) for et in config["edge_types"]]
    return HeteroMessagePassingNet(
        (list(config["node_types"]), edge_types),  # type: ignore[arg-type]
        dict(config["in_dims"]),
        {k: list(v) for k, v in config["category_sizes"].items()},
        conv=architecture,
        hidden=config["hidden"],
        num_layers=config["num_layers"],
        dropout=config["dropout"],
    )


def _snapshot_inputs(
    model: GraphRiskModel, tables: GraphTables, as_of: pd.Timestamp, reference_time: pd.Series
) -> tuple[UserGraph, np.ndarray, np.ndarray]:
    """The user graph, the activity and the profile blocks of the snapshot of
    ``tables`` as of ``as_of``.

    The ``HeteroData`` they are read from is let go when this returns, before the
    propagated blocks (larger still) are built.
    """
    builder = model.builder_
    data = builder.transform(tables, as_of=as_of)
    activity, _ = activity_inputs(
        data,
        reference_time,
        builder.vocabulary_size("status"),
        builder.vocabulary_size("platform_id"),
    )
    profile, _ = profile_inputs(
        data,
        reference_time,
        tables.users["registered_at"],
        builder.vocabulary_size("account_type"),
        builder.vocabulary_size("tie_type"),
    )
    return user_graph(data, model.settings.max_sharing), activity, profile


class SignRunner:
    """Inputs of the propagation model for one snapshot and one set of folds."""

    chunk_size = 65_536

    def __init__(
        self,
        model: GraphRiskModel,
        tables: GraphTables,
        as_of: pd.Timestamp,
        folds: LabelFolds,
        feature_views: FeatureViews | None,
    ) -> None:
        builder = model.builder_
        self.model = model
        self.folds = folds
        self.tables = tables
        self.feature_views = feature_views
        graph, activity, profile = _snapshot_inputs(model, tables, as_of, folds.reference_time)
        attributes = UserAttributes(*builder.attribute_inputs(tables))
        self.inputs = SignInputs.build(
            graph, activity, attributes, builder.category_sizes, profile=profile
        )
        del activity, profile
        #: Raw numeric attributes and category codes of every user, for the tree heads
        #: (filled on first use by :meth:`GraphRiskModel.head_inputs`).
        self.raw_attributes: tuple[np.ndarray, np.ndarray] | None = None
        #: Community of every user (label-free; None when the model reads none).
        self.communities: np.ndarray | None = (
            user_communities(graph, seed=model.settings.seed)
            if model.settings.communities
            else None
        )
        #: Label-free inputs the boosters add to the user's own attributes (a view of
        #: the static inputs: the boosters read them a chunk of rows at a time).
        self.booster_extra: np.ndarray | None = (
            self.inputs.static
            if model.settings.booster_inputs == "graph"
            else self.inputs.block("activity")
        )
        self.scorer: Scorer | None = None
        self.base_column: int | None = None
        self._cached: tuple[int, np.ndarray] | None = None
        #: Labelled users' own-view label-derived inputs and each user's row in them
        #: (built once).
        self._own: tuple[np.ndarray, np.ndarray] | None = None

    def attach_scorer(self, scorer: Scorer | None) -> None:
        """Use ``scorer`` (booster scores per view) and fix the input layout."""
        self.scorer = scorer
        self._cached, self._own = None, None
        self.block_dims = [w for _, w in self.inputs.static_blocks] + [LABEL_BLOCK_WIDTH]
        if self.communities is not None:
            self.block_dims.append(COMMUNITY_BLOCK_WIDTH)
        if scorer is not None:
            # the booster's own score opens the score block, right after the labels
            # (and the community block)
            self.base_column = self.inputs.static.shape[1] + sum(self.label_widths())
            self.block_dims.append(SCORE_BLOCK_WIDTH)
        if self.feature_views is not None:
            self.block_dims.append(len(self.model.builder_.feature_names_))

    def check_net(self) -> None:
        """Raise :class:`ModelError` unless the inputs fit the trained network."""
        config = getattr(self.model, "net_config_", None)
        if config is not None and config["block_dims"] != self.block_dims:
            raise ModelError(
                f"input blocks {self.block_dims} differ from the trained model's "
                f"{config['block_dims']}: the graph's vocabularies changed"
            )

    def new_net(self) -> torch.nn.Module:
        m = self.model
        m.net_config_ = {
            "block_dims": self.block_dims,
            "category_sizes": m.builder_.category_sizes,
            "hidden": m.settings.hidden,
            "dropout": m.settings.dropout,
            "base_column": self.base_column,
        }
        return make_net("sign", m.net_config_)

    def label_widths(self) -> list[int]:
        """Widths of the label-derived blocks every model reads (labels, communities)."""
        return [LABEL_BLOCK_WIDTH] + (
            [COMMUNITY_BLOCK_WIDTH] if self.communities is not None else []
        )

    def label_inputs(self, v: int) -> list[np.ndarray]:
        """The label block (and the community block) of view ``v``."""
        labels = self.folds.view(v)
        parts = [self.inputs.label_block(labels)]
        if self.communities is not None:
            parts.append(community_block(self.communities, labels))
        return parts

    def view_block(self, v: int) -> np.ndarray:
        """float32 ``(n_users, w)``: every label-derived input of view ``v``."""
        if self._cached is not None and self._cached[0] == v:
            return self._cached[1]
        parts = self.label_inputs(v)
        if self.scorer is not None:
            parts.append(self.inputs.score_block(self.scorer(v)))
        if self.feature_views is not None:
            parts.append(
                self.model.builder_.feature_inputs(self.tables, self.feature_views.frames[v])
            )
        block = np.concatenate(parts, axis=1).astype(np.float32)
        self._cached = (v, block)
        return block

    def own_inputs(self, rows: np.ndarray) -> np.ndarray:
        """Inputs of labelled users ``rows``, each from its own view.

        The label-derived part of the labelled users' rows is assembled once; the
        label-free part is read from :attr:`SignInputs.static` on each call (a copy of
        it would hold the labelled users' part of the static array twice). A user
        outside ``folds.labelled`` has no own view and raises ``ModelError``.
        """
        if self._own is None:
            folds = self.folds
            labelled = np.flatnonzero(folds.labelled)
            own = folds.own_view()[labelled]
            static_w = self.inputs.static.shape[1]
            out = np.empty((len(labelled), sum(self.block_dims) - static_w), dtype=np.float32)
            for v in np.unique(own):
                at = np.flatnonzero(own == v)
                out[at] = self.view_block(int(v))[labelled[at]]
            position = np.full(len(folds.labelled), -1, dtype=np.int64)
            position[labelled] = np.arange(len(labelled))
            self._own = (position, out)
        position, out = self._own
        at = position[rows]
        if (at < 0).any():
            raise ModelError("own_inputs: only labelled users have an own label view")
        return np.concatenate([self.inputs.static[rows], out[at]], axis=1)

    def train_batches(
        self, rows: np.ndarray, rng: np.random.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        y = self.folds.labels.astype(np.float32)
        order = rows[rng.permutation(len(rows))]
        bs = self.model.settings.batch_size
        net = self.model.net_
        for s in range(0, len(order), bs):
            b = order[s : s + bs]
            logits = net(
                torch.from_numpy(self.own_inputs(b)), torch.from_numpy(self.inputs.x_cat[b])
            )
            yield logits, torch.from_numpy(y[b])

    def own_logits(self, rows: np.ndarray) -> np.ndarray:
        """Logits of labelled users ``rows``, each on its own view."""
        return forward_chunks(
            self.model.net_, self.own_inputs(rows), self.inputs.x_cat[rows], self.chunk_size
        )

    def view_inputs(self, v: int, rows: np.ndarray) -> np.ndarray:
        return np.concatenate([self.inputs.static[rows], self.view_block(v)[rows]], axis=1)

    def view_logits(self, v: int, rows: np.ndarray) -> np.ndarray:
        return forward_chunks(
            self.model.net_, self.view_inputs(v, rows), self.inputs.x_cat[rows], self.chunk_size
        )


class MessagePassingRunner:
    """Sampled-subgraph batches for the message-passing architectures.

    Memory: graph features are encoded for every view at once; meant for the
    architecture comparison, not for a million users.
    """

    chunk_size = 4096

    def __init__(
        self,
        model: GraphRiskModel,
        tables: GraphTables,
        data: HeteroData,
        folds: LabelFolds,
        feature_views: FeatureViews | None,
    ) -> None:
        self.model = model
        self.folds = folds
        self.data = data
        self.tables = tables
        self.feature_views = feature_views
        self.booster_extra: np.ndarray | None = None
        self.sampler = HeteroNeighborSampler(
            data, [int(k) for k in model.settings.fanout], seed=model.settings.seed
        )
        self._inputs: dict[int, torch.Tensor] = {}
        self.scorer: Scorer | None = None

    def attach_scorer(self, scorer: Scorer | None) -> None:
        self.scorer = scorer
        self._inputs = {}

    def user_inputs(self, v: int) -> torch.Tensor:
        """float32 ``(n_users, w)``: label channels, booster score, features of view ``v``."""
        if v not in self._inputs:
            parts = [label_channels(self.folds.view(v))]
            if self.scorer is not None:
                parts.append(self.scorer(v).reshape(-1, 1))
            if self.feature_views is not None:
                parts.append(
                    self.model.builder_.feature_inputs(self.tables, self.feature_views.frames[v])
                )
            self._inputs[v] = torch.from_numpy(np.concatenate(parts, axis=1).astype(np.float32))
        return self._inputs[v]

    def new_net(self) -> torch.nn.Module:
        m = self.model
        data = self.data
        in_dims = {t: int(data[t].x.shape[1]) for t in data.node_types if "x" in data[t]}
        in_dims["user"] += int(self.user_inputs(0).shape[1])
        m.net_config_ = {
            "node_types": list(data.node_types),
            "edge_types": [list(et) for et in data.edge_types],
            "in_dims": in_dims,
            "category_sizes": {
                "user": m.builder_.category_sizes,
                "account": [m.builder_.vocabulary_size("account_type")],
                "platform": [m.builder_.vocabulary_size("platform_id")],
                "application": [m.builder_.vocabulary_size("status")],
            },
            "hidden": m.settings.hidden,
            "num_layers": len(m.settings.fanout),
            "dropout": m.settings.dropout,
        }
        return make_net(m.settings.architecture, m.net_config_)

    def _loader(
        self, seeds: np.ndarray, shuffle: bool, generator: torch.Generator | None
    ) -> NodeLoader:
        return NodeLoader(
            self.data,
            self.sampler,
            input_nodes=("user", torch.from_numpy(seeds)),
            batch_size=self.model.settings.batch_size if shuffle else self.chunk_size,
            shuffle=shuffle,
            generator=generator,
        )

    def _forward(self, batch: HeteroData, v: int) -> torch.Tensor:
        n_id = batch["user"].n_id
        x = {t: batch[t].x for t in batch.node_types if "x" in batch[t]}
        x["user"] = torch.cat([batch["user"].x, self.user_inputs(v)[n_id]], dim=1)
        x_cat = {t: batch[t].x_cat for t in batch.node_types if "x_cat" in batch[t]}
        return self.model.net_(x, x_cat, batch.edge_index_dict, int(batch["user"].batch_size))

    def train_batches(
        self, rows: np.ndarray, rng: np.random.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # Every batch holds seeds of one view, whose hidden labels the inputs lack.
        gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        own = self.folds.own_view()[rows]
        iters = {int(v): iter(self._loader(rows[own == v], True, gen)) for v in np.unique(own)}
        y = torch.from_numpy(self.folds.labels.astype(np.float32))
        while iters:
            v = int(rng.choice(sorted(iters)))
            try:
                batch = next(iters[v])
            except StopIteration:
                del iters[v]
                continue
            seeds = batch["user"].n_id[: batch["user"].batch_size]
            yield self._forward(batch, v), y[seeds]

    def view_logits(self, v: int, rows: np.ndarray) -> np.ndarray:
        self.model.net_.eval()
        self.sampler.reset()
        out = []
        with torch.no_grad():
            for batch in self._loader(rows, False, None):
                out.append(self._forward(batch, v).double().numpy())
        return np.concatenate(out) if out else np.empty(0)

    def own_logits(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty(len(rows))
        own = self.folds.own_view()[rows]
        for v in np.unique(own):
            sel = np.flatnonzero(own == v)
            out[sel] = self.view_logits(int(v), rows[sel])
        return out
