"""The GNN architectures compared for user risk (docs/model.md has the measurements).

* :class:`SignRiskNet`: an MLP over precomputed relation-wise propagations
  (SIGN-style, :mod:`riskgraph.gnn.propagation`); one small encoder per block of
  inputs (own attributes, each relation's mean of the neighbours, 2-hop means,
  known-bad counts, structure, graph features), concatenated, then an MLP.
* :class:`HeteroMessagePassingNet`: message passing over sampled subgraphs
  (:mod:`riskgraph.gnn.sampler`) with one of three layers: relation-wise GraphSAGE
  through :class:`~torch_geometric.nn.HeteroConv` (``"sage"``: a weight pair per
  relation), R-GCN with basis decomposition (``"rgcn"``, :class:`RelationalConv`:
  relation weights shared through a few bases, Schlichtkrull et al. 2018), or HGT
  (``"hgt"``, :class:`~torch_geometric.nn.HGTConv`).

(``HeteroConv`` over ``GraphConv(aggr="mean")`` would be R-GCN *without* basis
decomposition, which is the relation-wise GraphSAGE above up to naming: both are
``W_root x_i + sum_r W_r mean_{j in N_r(i)} x_j``.)

Both return one logit per user (the log-odds of bad before calibration).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch_geometric.nn import HeteroConv, HGTConv, SAGEConv
from torch_geometric.utils import scatter

from riskgraph.errors import ModelError

__all__ = ["CategoryEmbedding", "HeteroMessagePassingNet", "RelationalConv", "SignRiskNet"]

EdgeType = tuple[str, str, str]
CONVS = ("sage", "rgcn", "hgt")


class CategoryEmbedding(nn.Module):
    """Embeds each categorical column and concatenates the embeddings.

    Parameters
    ----------
    sizes : sequence of int
        Number of codes per column (code 0 = missing, 1 = other).
    dim : int
        Embedding size per column.
    """

    def __init__(self, sizes: Sequence[int], dim: int = 4) -> None:
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(int(s), dim) for s in sizes)
        self.out_dim = dim * len(self.embeddings)

    def forward(self, codes: Tensor) -> Tensor:
        """``codes`` int64 ``(n, len(sizes))`` -> float ``(n, dim * len(sizes))``."""
        if not len(self.embeddings):
            return codes.new_zeros((codes.shape[0], 0), dtype=torch.float32)
        return torch.cat([e(codes[:, i]) for i, e in enumerate(self.embeddings)], dim=1)


class SignRiskNet(nn.Module):
    """MLP over blocks of precomputed propagated inputs.

    Parameters
    ----------
    block_dims : sequence of int
        Width of each input block; the input matrix is the blocks side by side.
    category_sizes : sequence of int
        Codes per categorical user column.
    hidden : int, default 64
    dropout : float, default 0.2
    base_column : int, optional
        Column of ``x`` holding a base log-odds (the boosted score of the user's own
        inputs). The output is then ``a * x[:, base_column] + b + mlp(x)`` with
        ``a = 1``, ``b = 0`` and the MLP's last layer at zero to start: training
        begins from the base model and learns what the graph adds.

    Examples
    --------
    >>> net = SignRiskNet([3, 2], [5], hidden=8)
    >>> net(torch.zeros(4, 5), torch.zeros(4, 1, dtype=torch.long)).shape
    torch.Size([4])
    """

    def __init__(
        self,
        block_dims: Sequence[int],
        category_sizes: Sequence[int] = (),
        hidden: int = 64,
        dropout: float = 0.2,
        base_column: int | None = None,
    ) -> None:
        super().__init__()
        if not block_dims or min(block_dims) < 1:
            raise ModelError(f"SignRiskNet: block widths must be >= 1, got {list(block_dims)}")
        self.block_dims = [int(d) for d in block_dims]
        self.encoders = nn.ModuleList(
            nn.Sequential(nn.Linear(d, hidden), nn.LayerNorm(hidden), nn.ReLU())
            for d in self.block_dims
        )
        self.categories = CategoryEmbedding(category_sizes)
        width = hidden * len(self.block_dims) + self.categories.out_dim
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(width, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )
        self.base_column = base_column
        if base_column is not None:
            if not 0 <= base_column < sum(self.block_dims):
                raise ModelError(
                    f"SignRiskNet: base_column {base_column} outside the {sum(self.block_dims)} inputs"
                )
            self.base_scale = nn.Parameter(torch.ones(1))
            last = self.head[-1]
            assert isinstance(last, nn.Linear)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def forward(self, x: Tensor, x_cat: Tensor) -> Tensor:
        """``x`` float ``(n, sum(block_dims))``, ``x_cat`` int64 ``(n, c)`` -> logits ``(n,)``."""
        parts = torch.split(x, self.block_dims, dim=1)
        hidden = [enc(p) for enc, p in zip(self.encoders, parts, strict=True)]
        hidden.append(self.categories(x_cat))
        out = self.head(torch.cat(hidden, dim=1)).view(-1)
        if self.base_column is not None:
            out = out + self.base_scale * x[:, self.base_column]
        return out


class RelationalConv(nn.Module):
    """R-GCN layer on a heterogeneous graph, relation weights from shared bases.

    ``h'_i = W_root[type(i)] h_i + sum_r mean_{j in N_r(i)} (sum_b a_rb V_b) h_j + bias``

    Parameters
    ----------
    edge_types : list of (src, rel, dst)
    node_types : list of str
    channels : int
    num_bases : int, default 4
    """

    def __init__(
        self,
        edge_types: Sequence[EdgeType],
        node_types: Sequence[str],
        channels: int,
        num_bases: int = 4,
    ) -> None:
        super().__init__()
        self.edge_types = [tuple(et) for et in edge_types]
        self.root = nn.ModuleDict({t: nn.Linear(channels, channels) for t in node_types})
        self.bases = nn.Parameter(torch.empty(num_bases, channels, channels))
        self.coefficients = nn.Parameter(torch.empty(len(self.edge_types), num_bases))
        nn.init.xavier_uniform_(self.bases)
        nn.init.xavier_uniform_(self.coefficients)

    def forward(
        self, h: dict[str, Tensor], edge_index_dict: dict[EdgeType, Tensor]
    ) -> dict[str, Tensor]:
        out = {t: self.root[t](x) for t, x in h.items()}
        weights = torch.einsum("rb,bio->rio", self.coefficients, self.bases)
        for r, et in enumerate(self.edge_types):
            ei = edge_index_dict.get(et)  # type: ignore[call-overload]
            if ei is None or ei.numel() == 0:
                continue
            src, _, dst = et
            messages = h[src][ei[0]] @ weights[r]
            out[dst] = out[dst] + scatter(
                messages, ei[1], dim=0, dim_size=h[dst].shape[0], reduce="mean"
            )
        return out


class HeteroMessagePassingNet(nn.Module):
    """Message passing on a heterogeneous (sampled) graph, one logit per user.

    Parameters
    ----------
    metadata : (node_types, edge_types)
        As ``HeteroData.metadata()``.
    in_dims : dict[str, int]
        Width of ``x`` per node type.
    category_sizes : dict[str, list[int]]
        Codes per categorical column, per node type with ``x_cat``.
    conv : {"sage", "rgcn", "hgt"}
    hidden : int, default 64
    num_layers : int, default 2
    dropout : float, default 0.2
    """

    def __init__(
        self,
        metadata: tuple[list[str], list[EdgeType]],
        in_dims: dict[str, int],
        category_sizes: dict[str, list[int]],
        conv: str = "sage",
        hidden: int = 64,
        num_layers: int = 2,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if conv not in CONVS:
            raise ModelError(f"conv = {conv!r}: expected one of {CONVS}")
        node_types, edge_types = metadata
        self.node_types = list(node_types)
        self.conv_name = conv
        self.categories = nn.ModuleDict(
            {t: CategoryEmbedding(category_sizes.get(t, [])) for t in self.node_types}
        )
        self.encoders = nn.ModuleDict(
            {
                t: nn.Sequential(
                    nn.Linear(in_dims.get(t, 0) + self.categories[t].out_dim + 1, hidden),
                    nn.ReLU(),
                )
                for t in self.node_types
            }
        )
        self.convs = nn.ModuleList()
        for _ in range(num_layers):
            if conv == "hgt":
                self.convs.append(
                    HGTConv(hidden, hidden, (self.node_types, list(edge_types)), heads=2)
                )
            elif conv == "sage":
                self.convs.append(
                    HeteroConv(
                        {et: SAGEConv((hidden, hidden), hidden) for et in edge_types}, aggr="sum"
                    )
                )
            else:
                self.convs.append(RelationalConv(list(edge_types), self.node_types, hidden))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(
        self,
        x_dict: dict[str, Tensor],
        x_cat_dict: dict[str, Tensor],
        edge_index_dict: dict[EdgeType, Tensor],
        num_users: int,
    ) -> Tensor:
        """Logits ``(num_users,)`` of the first ``num_users`` user nodes (the seeds)."""
        h = {}
        for t in self.node_types:
            n = x_dict[t].shape[0] if t in x_dict else x_cat_dict[t].shape[0]
            parts = [x_dict[t]] if t in x_dict else []
            if t in x_cat_dict:
                parts.append(self.categories[t](x_cat_dict[t]))
            # A constant column gives featureless node types a learnable bias.
            parts.append(torch.ones(n, 1))
            h[t] = self.encoders[t](torch.cat(parts, dim=1))
        edges = {et: ei for et, ei in edge_index_dict.items() if ei.numel()}
        for conv in self.convs:
            out = conv(h, edges)
            # Node types that received no message keep their state (residual).
            h = {t: self.dropout(torch.relu(out[t]) + h[t]) if t in out else h[t] for t in h}
        return self.head(h["user"][:num_users]).view(-1)
