"""Communities of the user graph, and what the known labels say about each.

Risk clusters beyond two links: a fraud ring recruits in one place, a local economy
goes through hard times together, an intermediary works one neighbourhood. The
community of a user (Leiden, Traag et al. 2019, maximising modularity) is computed
once per snapshot from the label-free user graph: social ties, and users who share
a device or an account (each identifier links its users as a clique weighted
``1 / (k - 1)`` when ``k`` users share it, so a family tablet and a ring's burner
phone weigh alike; identifiers of more than ``max_sharing`` users are hubs and
link nobody, as in the propagation operators).

The label side is per label view (:mod:`riskgraph.gnn.protocol`): a community's
known-bad and known-good members are counted from the view's labels only, so a
user's own label (hidden in every view it is trained or scored on) and its
fold-mates' never reach its community inputs.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from riskgraph.errors import ModelError
from riskgraph.gnn.propagation import UserGraph
from riskgraph.graph.features.adjacency import sparse_digest

__all__ = ["COMMUNITY_BLOCK_WIDTH", "community_block", "user_communities"]

#: Columns of :func:`community_block`.
COMMUNITY_BLOCK_WIDTH = 5

#: Weight, in labelled users, of the view's base rate in a community's bad rate: a
#: community with two labelled members says little, one with two hundred a lot.
PRIOR_USERS = 10.0


def _identifier_edges(graph: UserGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of users sharing a non-hub identifier, weighted ``1 / (k - 1)``."""
    b = graph.incidence["identifier"].tocsc()
    sizes = np.diff(b.indptr)
    src, dst, weight = [np.empty(0, np.int64)], [np.empty(0, np.int64)], [np.empty(0)]
    for k in np.unique(sizes[(sizes >= 2) & (sizes <= graph.max_sharing)]):
        ids = np.flatnonzero(sizes == k)
        members = b.indices[b.indptr[ids][:, None] + np.arange(k)[None, :]]
        a, c = np.triu_indices(int(k), 1)
        src.append(members[:, a].ravel())
        dst.append(members[:, c].ravel())
        weight.append(np.full(len(ids) * len(a), 1.0 / (k - 1)))
    return np.concatenate(src), np.concatenate(dst), np.concatenate(weight)


#: The latest partition, by the graph's content and seed: a night builds the model's
#: inputs of one snapshot several times (training, scoring, explaining) and Leiden is
#: the costliest label-free step; one entry bounds what is held.
_LATEST: dict[str, np.ndarray] = {}


def _graph_key(graph: UserGraph, seed: int) -> str:
    matrices = [graph.social, *(graph.incidence[r] for r in sorted(graph.incidence))]
    return f"{graph.num_users}-{graph.max_sharing}-{seed}-{sparse_digest(matrices)}"


def user_communities(graph: UserGraph, seed: int = 0) -> np.ndarray:
    """Leiden communities (modularity) of the label-free user graph.

    Parameters
    ----------
    graph : UserGraph
    seed : int, default 0
        Seeds Leiden's random order: the same graph and seed give the same partition.

    Returns
    -------
    np.ndarray
        int64 ``(n_users,)``: community of every user, ``0..n_communities-1``; a user
        without links is a community of its own.

    Notes
    -----
    Cost: the social ties plus ``sum k (k - 1) / 2`` pairs over the shared non-hub
    identifiers (at most ``max_sharing / 2`` pairs per user-identifier link), then
    Leiden, which is close to linear in the edges.

    Examples
    --------
    Two triangles joined by one tie are two communities:

    >>> import scipy.sparse as sp
    >>> rows = [0, 1, 2, 0, 3, 4, 5, 3, 2]
    >>> cols = [1, 2, 0, 2, 4, 5, 3, 5, 3]
    >>> s = sp.csr_matrix((np.ones(9, np.float32), (rows, cols)), shape=(6, 6))
    >>> s = ((s + s.T) > 0).astype(np.float32).tocsr()
    >>> empty = sp.csr_matrix((6, 0), dtype=np.float32)
    >>> g = UserGraph({"identifier": empty}, s, 50)
    >>> c = user_communities(g)
    >>> bool(c[0] == c[1] == c[2] != c[3] == c[4] == c[5])
    True
    """
    key = _graph_key(graph, seed)
    if key not in _LATEST:
        _LATEST.clear()
        _LATEST[key] = _leiden(graph, seed)
    return _LATEST[key].copy()


def _leiden(graph: UserGraph, seed: int) -> np.ndarray:
    import igraph as ig
    import leidenalg

    n = graph.num_users
    social = sp.triu(graph.social, k=1).tocoo()
    s_src, s_dst, s_w = _identifier_edges(graph)
    src = np.concatenate([social.row.astype(np.int64), s_src])
    dst = np.concatenate([social.col.astype(np.int64), s_dst])
    weight = np.concatenate([np.ones(social.nnz), s_w])
    if len(src) == 0:
        return np.arange(n, dtype=np.int64)
    # merge parallel edges (a tie and a shared card between the same two users)
    merged = sp.coo_matrix((weight, (np.minimum(src, dst), np.maximum(src, dst))), shape=(n, n))
    merged = merged.tocsr().tocoo()
    g = ig.Graph(n=n, edges=np.stack([merged.row, merged.col], axis=1), directed=False)
    partition = leidenalg.find_partition(
        g, leidenalg.ModularityVertexPartition, weights=merged.data.tolist(), seed=int(seed)
    )
    membership = np.asarray(partition.membership, dtype=np.int64)
    if membership.shape != (n,):
        raise ModelError(f"Leiden returned {membership.shape} memberships for {n} users")
    return membership


def community_block(membership: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Community inputs of one label view.

    Parameters
    ----------
    membership : np.ndarray
        int64 ``(n_users,)`` from :func:`user_communities`.
    labels : np.ndarray
        float ``(n_users,)``: the view's labels (NaN hidden or unknown).

    Returns
    -------
    np.ndarray
        float32 ``(n_users, 5)``: log1p community size, log1p known-bad and known-good
        members, the community's bad rate shrunk towards the view's base rate by
        :data:`PRIOR_USERS`, and its log ratio to that base rate.

    Examples
    --------
    >>> block = community_block(np.array([0, 0, 0, 1]), np.array([np.nan, 1.0, 0.0, 0.0]))
    >>> block.shape, float(np.expm1(block[0, 1]))
    ((4, 5), 1.0)
    """
    n_comm = int(membership.max()) + 1 if len(membership) else 0
    bad = np.bincount(membership, weights=(labels == 1.0), minlength=n_comm)
    good = np.bincount(membership, weights=(labels == 0.0), minlength=n_comm)
    size = np.bincount(membership, minlength=n_comm).astype(np.float64)
    known = bad.sum() + good.sum()
    base = bad.sum() / known if known else 0.0
    rate = (bad + PRIOR_USERS * base) / (bad + good + PRIOR_USERS)
    lift = np.log((rate + 1e-4) / (base + 1e-4))
    block = np.stack([np.log1p(size), np.log1p(bad), np.log1p(good), rate, lift], axis=1)
    return block[membership].astype(np.float32)
