"""A pure-PyTorch heterogeneous neighbour sampler behind PyG's ``BaseSampler``.

PyG's own :class:`~torch_geometric.sampler.NeighborSampler` needs ``pyg-lib`` or
``torch-sparse``, which this project cannot require (DESIGN.md, "Chosen
dependencies"). :class:`HeteroNeighborSampler` implements the same contract in
plain PyTorch, so it plugs into :class:`torch_geometric.loader.NodeLoader` and the
mini-batches it yields are ordinary ``HeteroData`` objects.

Semantics (those of PyG's sampler)
----------------------------------
For edge type ``(src, rel, dst)`` messages flow ``src -> dst``, so a node of type
``dst`` in the frontier samples among its *incoming* ``rel`` edges. Hop ``l``
expands only the nodes first reached at hop ``l - 1`` (the seeds at hop 0), taking
``num_neighbors[edge_type][l]`` distinct neighbours uniformly at random without
replacement, or all of them when it has no more than that (``-1`` means all).
Nodes reached more than once keep one local index per type. Seeds come first in
``node[input_type]``, in input order.

Complexity: each hop costs ``O(frontier * fan-out)`` plus, for frontier nodes with
between ``fan-out`` and ``4 * fan-out`` neighbours, ``O(degree)``; a hub with a
million neighbours costs the same as one with a hundred.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.sampler import (
    BaseSampler,
    EdgeSamplerInput,
    HeteroSamplerOutput,
    NodeSamplerInput,
)

from riskgraph.errors import ModelError

__all__ = ["HeteroNeighborSampler", "sample_neighbors"]

EdgeType = tuple[str, str, str]


def sample_neighbors(
    colptr: Tensor, nodes: Tensor, k: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Sample up to ``k`` distinct incoming edges of each node of a CSC graph.

    Parameters
    ----------
    colptr : Tensor
        int64 ``(n_dst + 1,)``: node ``v``'s incoming edges are the CSC positions
        ``colptr[v]:colptr[v + 1]``.
    nodes : Tensor
        int64 ``(b,)``: the destination nodes to expand.
    k : int
        Fan-out; ``-1`` (or any negative) takes every neighbour.
    generator : torch.Generator, optional
        Source of randomness (makes sampling reproducible).

    Returns
    -------
    owner : Tensor
        int64 ``(s,)``: for each sampled edge, its position in ``nodes``.
    position : Tensor
        int64 ``(s,)``: the CSC position of the sampled edge.

    Examples
    --------
    >>> colptr = torch.tensor([0, 3, 3, 4])  # node 0: 3 edges, node 1: none, node 2: 1
    >>> owner, pos = sample_neighbors(colptr, torch.tensor([0, 1, 2]), k=5)
    >>> owner.tolist(), pos.tolist()
    ([0, 0, 0, 2], [0, 1, 2, 3])
    """
    start = colptr[nodes]
    deg = colptr[nodes + 1] - start
    if k < 0:
        return _expand_all(torch.arange(nodes.numel()), start, deg)
    small = deg <= k
    owners, positions = [], []
    if bool(small.any()):
        idx = small.nonzero().view(-1)
        o, p = _expand_all(idx, start[idx], deg[idx])
        owners.append(o)
        positions.append(p)
    # Moderately larger neighbourhoods: random keys, keep the k smallest per node.
    mid = (~small) & (deg < 4 * k)
    if bool(mid.any()):
        idx = mid.nonzero().view(-1)
        o, p = _expand_all(idx, start[idx], deg[idx])
        segment = _repeat(torch.arange(idx.numel()), deg[idx])
        keys = segment.to(torch.float64) + torch.rand(
            p.numel(), generator=generator, dtype=torch.float64
        )
        order = torch.argsort(keys)
        seg_sorted = segment[order]
        first = torch.zeros(idx.numel() + 1, dtype=torch.long)
        first[1:] = torch.cumsum(deg[idx], 0)
        rank = torch.arange(order.numel()) - first[seg_sorted]
        chosen = order[rank < k]
        chosen = chosen.sort().values  # stable CSC order within a node
        owners.append(o[chosen])
        positions.append(p[chosen])
    # Large neighbourhoods: draw k offsets, redraw rows that drew a duplicate;
    # with degree >= 4k a row repeats with probability below 1 - exp(-k/8).
    big = deg >= 4 * k
    if bool(big.any()) and k > 0:
        idx = big.nonzero().view(-1)
        d = deg[idx].view(-1, 1)
        offsets = (torch.rand(idx.numel(), k, generator=generator, dtype=torch.float64) * d).long()
        for _ in range(1000):
            srt = offsets.sort(dim=1).values
            dup = (srt[:, 1:] == srt[:, :-1]).any(dim=1)
            if not bool(dup.any()):
                break
            redo = dup.nonzero().view(-1)
            offsets[redo] = (
                torch.rand(redo.numel(), k, generator=generator, dtype=torch.float64) * d[redo]
            ).long()
        offsets = offsets.sort(dim=1).values
        owners.append(idx.view(-1, 1).expand(-1, k).reshape(-1))
        positions.append((start[idx].view(-1, 1) + offsets).reshape(-1))
    if not owners:
        empty = torch.empty(0, dtype=torch.long)
        return empty, empty
    owner = torch.cat(owners)
    position = torch.cat(positions)
    order = torch.argsort(owner * (colptr[-1] + 1) + position)
    return owner[order], position[order]


def _repeat(values: Tensor, counts: Tensor) -> Tensor:
    # numpy's repeat is much faster than torch.repeat_interleave on CPU for this.
    return torch.from_numpy(np.repeat(values.numpy(), counts.numpy()))


def _expand_all(idx: Tensor, start: Tensor, deg: Tensor) -> tuple[Tensor, Tensor]:
    """Every CSC position of nodes ``idx`` (with their ``start`` and ``deg``)."""
    owner = _repeat(idx, deg)
    total = owner.numel()
    if total == 0:
        return owner, torch.empty(0, dtype=torch.long)
    first = torch.cumsum(deg, 0) - deg
    within = torch.arange(total) - _repeat(first, deg)
    return owner, _repeat(start, deg) + within


class HeteroNeighborSampler(BaseSampler):
    """Uniform multi-hop neighbour sampling on a ``HeteroData``, in plain PyTorch.

    Parameters
    ----------
    data : HeteroData
        Every edge store needs ``edge_index``; node stores need ``num_nodes``.
    num_neighbors : list[int] or dict[EdgeType, list[int]]
        Fan-out per hop, the same for every edge type or per edge type (edge types
        absent from the dict are not followed). ``-1`` takes every neighbour.
    seed : int, optional
        Seed of the sampler's own random generator; the same seed and the same
        batches give the same subgraphs.

    Examples
    --------
    >>> from torch_geometric.data import HeteroData
    >>> from torch_geometric.loader import NodeLoader
    >>> data = HeteroData()
    >>> data["user"].num_nodes = 3
    >>> data["device"].num_nodes = 1
    >>> data["device", "rev_uses", "user"].edge_index = torch.tensor([[0, 0], [0, 1]])
    >>> data["user", "uses", "device"].edge_index = torch.tensor([[0, 1], [0, 0]])
    >>> sampler = HeteroNeighborSampler(data, [2, 2], seed=0)
    >>> batch = next(iter(NodeLoader(data, sampler, input_nodes=("user", torch.tensor([0])))))
    >>> batch["user"].n_id.tolist(), batch["device"].n_id.tolist()
    ([0, 1], [0])
    """

    def __init__(
        self,
        data: HeteroData,
        num_neighbors: Sequence[int] | Mapping[EdgeType, Sequence[int]],
        seed: int | None = None,
    ) -> None:
        if not isinstance(data, HeteroData):
            raise ModelError(f"HeteroNeighborSampler needs a HeteroData, got {type(data).__name__}")
        self.node_types = list(data.node_types)
        self.num_nodes = {t: int(data[t].num_nodes) for t in self.node_types}
        edge_types = list(data.edge_types)
        if isinstance(num_neighbors, Mapping):
            unknown = [et for et in num_neighbors if et not in edge_types]
            if unknown:
                raise ModelError(
                    f"num_neighbors names edge type {unknown[0]!r}, not in the graph "
                    f"(edge types: {edge_types})"
                )
            fanouts = {et: list(v) for et, v in num_neighbors.items()}
        else:
            fanouts = {et: list(num_neighbors) for et in edge_types}
        hops = {len(v) for v in fanouts.values()}
        if len(hops) > 1:
            raise ModelError(
                f"num_neighbors: every edge type needs the same number of hops, got {sorted(hops)}"
            )
        self.num_hops = hops.pop() if hops else 0
        self.num_neighbors = fanouts
        self.colptr: dict[EdgeType, Tensor] = {}
        self.row: dict[EdgeType, Tensor] = {}
        self.perm: dict[EdgeType, Tensor] = {}
        for et in fanouts:
            src, _, dst = et
            ei = data[et].edge_index
            if ei.numel() and (int(ei[0].max()) >= self.num_nodes[src]
                               or int(ei[1].max()) >= self.num_nodes[dst]):  # fmt: skip
                raise ModelError(f"edge type {et}: edge_index refers past num_nodes")
            # CSC: incoming edges of every destination node, contiguous.
            perm = torch.argsort(ei[1] * max(self.num_nodes[src], 1) + ei[0])
            counts = torch.bincount(ei[1], minlength=self.num_nodes[dst])
            colptr = torch.zeros(self.num_nodes[dst] + 1, dtype=torch.long)
            colptr[1:] = torch.cumsum(counts, 0)
            self.colptr[et] = colptr
            self.row[et] = ei[0][perm].contiguous()
            self.perm[et] = perm
        self.seed = seed
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)
        # Global -> local index per node type, reset after every batch.
        self._local = {t: torch.full((n,), -1, dtype=torch.long) for t, n in self.num_nodes.items()}

    def reset(self, seed: int | None = None) -> None:
        """Restart the random stream (at ``seed``, or the constructor's seed)."""
        seed = self.seed if seed is None else seed
        if seed is not None:
            self.generator.manual_seed(seed)

    def sample_from_nodes(self, index: NodeSamplerInput, **kwargs: Any) -> HeteroSamplerOutput:
        """Sample the subgraph around the seed nodes of ``index`` (see module notes)."""
        input_type = index.input_type
        if input_type not in self.num_nodes:
            raise ModelError(
                f"seed node type {input_type!r} is not in the graph ({self.node_types})"
            )
        seeds = index.node.to(torch.long)
        return self.sample(input_type, seeds, metadata=(index.input_id, index.time))

    def sample(self, input_type: str, seeds: Tensor, metadata: Any = None) -> HeteroSamplerOutput:
        """Sample around ``seeds`` (global indices of ``input_type`` nodes)."""
        self._check_seeds(input_type, seeds)
        nodes: dict[str, list[Tensor]] = {t: [] for t in self.node_types}
        count = {t: 0 for t in self.node_types}
        nodes[input_type].append(seeds)
        self._local[input_type][seeds] = torch.arange(seeds.numel())
        count[input_type] = seeds.numel()
        num_sampled_nodes = {t: [0] * (self.num_hops + 1) for t in self.node_types}
        num_sampled_nodes[input_type][0] = seeds.numel()
        rows: dict[EdgeType, list[Tensor]] = {et: [] for et in self.num_neighbors}
        cols: dict[EdgeType, list[Tensor]] = {et: [] for et in self.num_neighbors}
        edges: dict[EdgeType, list[Tensor]] = {et: [] for et in self.num_neighbors}
        num_sampled_edges = {et: [0] * self.num_hops for et in self.num_neighbors}
        frontier = {t: torch.empty(0, dtype=torch.long) for t in self.node_types}
        frontier[input_type] = seeds
        try:
            for hop in range(self.num_hops):
                found: dict[str, list[Tensor]] = {t: [] for t in self.node_types}
                picks = []
                for et, fanout in self.num_neighbors.items():
                    src, _, dst = et
                    k = fanout[hop]
                    if frontier[dst].numel() == 0 or k == 0:
                        continue
                    owner, pos = sample_neighbors(self.colptr[et], frontier[dst], k, self.generator)
                    picks.append((et, owner, pos))
                    found[src].append(self.row[et][pos])
                new_frontier = self._number_new_nodes(found, count, nodes)
                for t, fresh in new_frontier.items():
                    num_sampled_nodes[t][hop + 1] = fresh.numel()
                for et, owner, pos in picks:
                    src, _, dst = et
                    global_dst = frontier[dst][owner]
                    rows[et].append(self._local[src][self.row[et][pos]])
                    cols[et].append(self._local[dst][global_dst])
                    edges[et].append(self.perm[et][pos])
                    num_sampled_edges[et][hop] = pos.numel()
                frontier = new_frontier
            node = {
                t: torch.cat(v) if v else torch.empty(0, dtype=torch.long) for t, v in nodes.items()
            }
        finally:
            for t, v in nodes.items():
                for part in v:
                    self._local[t][part] = -1

        def cat(parts: list[Tensor]) -> Tensor:
            return torch.cat(parts) if parts else torch.empty(0, dtype=torch.long)

        return HeteroSamplerOutput(
            node=node,
            row={et: cat(v) for et, v in rows.items()},
            col={et: cat(v) for et, v in cols.items()},
            edge={et: cat(v) for et, v in edges.items()},
            batch=None,
            num_sampled_nodes=num_sampled_nodes,
            num_sampled_edges=num_sampled_edges,
            metadata=metadata,
        )

    def _check_seeds(self, input_type: str, seeds: Tensor) -> None:
        if seeds.numel() and (
            int(seeds.min()) < 0 or int(seeds.max()) >= self.num_nodes[input_type]
        ):
            raise ModelError(
                f"seed {input_type} index out of range [0, {self.num_nodes[input_type]})"
            )
        if seeds.unique().numel() != seeds.numel():
            raise ModelError("seed nodes must be distinct within a batch")

    def _number_new_nodes(
        self, found: dict[str, list[Tensor]], count: dict[str, int], nodes: dict[str, list[Tensor]]
    ) -> dict[str, Tensor]:
        """Give the nodes of ``found`` not reached before local ids, after the ``count``
        each type has (sorted, so batches are reproducible); they are the next frontier."""
        frontier = {}
        for t in self.node_types:
            if not found[t]:
                frontier[t] = torch.empty(0, dtype=torch.long)
                continue
            cand = torch.cat(found[t])
            fresh = torch.unique(cand[self._local[t][cand] < 0])
            self._local[t][fresh] = torch.arange(count[t], count[t] + fresh.numel())
            count[t] += fresh.numel()
            nodes[t].append(fresh)
            frontier[t] = fresh
        return frontier

    def sample_from_edges(
        self, index: EdgeSamplerInput, neg_sampling: Any = None
    ) -> HeteroSamplerOutput:
        """Not supported: riskgraph classifies users, it does not predict links."""
        raise ModelError("HeteroNeighborSampler samples from nodes only (no link prediction)")
