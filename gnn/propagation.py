"""Relation-wise propagation of user inputs over the lending graph (SIGN-style).

A precomputed-propagation model (SIGN, Frasca et al. 2020; SGC, Wu et al. 2019)
spends its graph work once, in sparse matrix products, and then trains a plain MLP
on the propagated inputs: on a 2-core CPU this is orders of magnitude cheaper than
message passing over sampled subgraphs, and every propagated column stays a linear
function of the neighbours' inputs, which makes exact per-link attributions
possible (:mod:`riskgraph.gnn.explain`).

Relations between users
-----------------------
=====================  =====================================================
relation               users ``u`` and ``v`` are linked when they share
=====================  =====================================================
``device``             a device both used (``user_devices``)
``account``            a linked account (phone, card, wallet)
``social``             a social tie (either direction)
``application_device`` a device both filed applications from
``identifier``         any device (used or filed from) or account
=====================  =====================================================

For an identifier relation with user-identifier incidence ``B``, the *mean*
operator averages, over the identifiers of ``u`` that someone else shares, the mean
input of the *other* users of that identifier (the user itself is always left
out): a family tablet shared by two counts as much as a ring's burner phone shared
by eight, and a public PC shared by 4,000 dilutes each of its users to nothing.
The *count* operator sums the other users' inputs over shared identifiers that at
most ``max_sharing`` users share (hubs excluded), e.g. the number of known-bad users
met through devices. Social ties use the row-normalised and the plain adjacency.

All operators are ``O(nnz * columns)`` sparse products (scipy, float32).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric.data import HeteroData

from riskgraph.errors import ModelError

__all__ = [
    "IDENTIFIER_RELATIONS",
    "RELATIONS",
    "UserGraph",
    "user_graph",
]

#: Relations with identifiers in between (``via_type`` of a risky link).
IDENTIFIER_RELATIONS = ("device", "account", "application_device")
#: Every relation the operators propagate over.
RELATIONS = ("device", "account", "social", "application_device", "identifier")


def _incidence(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> sp.csr_matrix:
    """Binary CSR incidence with duplicate pairs merged."""
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_rows, n_cols))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


@dataclass
class UserGraph:
    """User-identifier incidences and the social adjacency of one snapshot.

    Attributes
    ----------
    incidence : dict[str, scipy.sparse.csr_matrix]
        Binary ``(n_users, n_ids)`` per identifier relation (``device``, ``account``,
        ``application_device``, ``identifier``). The ``identifier`` id space is
        devices then accounts.
    social : scipy.sparse.csr_matrix
        Binary symmetric ``(n_users, n_users)``, no self-loops.
    max_sharing : int
        Identifiers shared by more users are hubs: left out of the count operator.
    """

    incidence: dict[str, sp.csr_matrix]
    social: sp.csr_matrix
    max_sharing: int

    def __post_init__(self) -> None:
        self._cache: dict[str, tuple[np.ndarray, ...]] = {}
        self._transposed = {r: b.T.tocsr() for r, b in self.incidence.items()}

    @property
    def num_users(self) -> int:
        return self.social.shape[0]

    def _weights(self, relation: str) -> tuple[np.ndarray, ...]:
        """Per-identifier weights and per-user normalisers of one relation (cached)."""
        if relation not in self._cache:
            b = self.incidence[relation]
            users_per_id = np.asarray(b.sum(axis=0)).ravel()
            shared = users_per_id >= 2
            mean_w = np.where(shared, 1.0 / np.maximum(users_per_id - 1, 1), 0.0).astype(np.float32)
            count_w = (shared & (users_per_id <= self.max_sharing)).astype(np.float32)
            n_shared = b @ shared.astype(np.float32)
            self_mean = b @ mean_w
            self_count = b @ count_w
            self._cache[relation] = (users_per_id, mean_w, count_w, n_shared, self_mean, self_count)
        return self._cache[relation]

    def mean(self, relation: str, x: np.ndarray) -> np.ndarray:
        """Mean input of the other users linked to each user via ``relation``.

        Parameters
        ----------
        relation : str
            One of :data:`RELATIONS`.
        x : np.ndarray
            float32 ``(n_users, f)``.

        Returns
        -------
        np.ndarray
            float32 ``(n_users, f)``; 0 for a user with no link of that relation.
        """
        x = _as_matrix(x, self.num_users)
        if relation == "social":
            deg = np.asarray(self.social.sum(axis=1)).ravel()
            out = self.social @ x
            return (out / np.maximum(deg, 1.0)[:, None]).astype(np.float32)
        _, mean_w, _, n_shared, self_mean, _ = self._weights(relation)
        b, bt = self.incidence[relation], self._transposed[relation]
        # In place where the dtype allows: temporaries of every user add up.
        per_id = bt @ x
        per_id *= mean_w[:, None]
        out = b @ per_id
        del per_id
        out -= x * self_mean[:, None]
        out /= np.maximum(n_shared, 1.0)[:, None]
        return out.astype(np.float32, copy=False)

    def count(self, relation: str, x: np.ndarray) -> np.ndarray:
        """Sum of the other users' inputs over shared non-hub identifiers (or ties).

        Returns
        -------
        np.ndarray
            float32 ``(n_users, f)``.
        """
        x = _as_matrix(x, self.num_users)
        if relation == "social":
            return (self.social @ x).astype(np.float32)
        _, _, count_w, _, _, self_count = self._weights(relation)
        b, bt = self.incidence[relation], self._transposed[relation]
        out = b @ ((bt @ x) * count_w[:, None]) - x * self_count[:, None]
        return out.astype(np.float32)

    def link_weights(self, relation: str) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Per-identifier weights of :meth:`mean` and :meth:`count`, as incidences.

        ``mean(r, x)[u] = sum_i M[u, i] * (sum of x over the other users of i)`` and
        likewise for ``count`` with ``C``: what :mod:`riskgraph.gnn.explain` splits
        into per-link contributions.

        Returns
        -------
        M, C : scipy.sparse.csr_matrix
            float32 ``(n_users, n_ids)``.
        """
        if relation == "social":
            raise ModelError("link_weights: social ties have no identifier in between")
        _, mean_w, count_w, n_shared, _, _ = self._weights(relation)
        b = self.incidence[relation]
        scale = sp.diags((1.0 / np.maximum(n_shared, 1.0)).astype(np.float32))
        return (scale @ b @ sp.diags(mean_w)).tocsr(), (b @ sp.diags(count_w)).tocsr()

    def structure(self) -> tuple[np.ndarray, list[str]]:
        """Label-free structural inputs per user.

        Returns
        -------
        x : np.ndarray
            float32 ``(n_users, 13)``: per identifier relation ``log1p`` of the
            identifiers held, of the other users met through them, and of the largest
            sharing; ``log1p`` of the social degree.
        names : list[str]
        """
        cols, names = [], []
        for r in ("device", "account", "application_device", "identifier"):
            users_per_id, *_ = self._weights(r)
            b = self.incidence[r]
            others = np.maximum(users_per_id - 1, 0).astype(np.float32)
            if b.shape[1]:
                biggest = b.multiply(users_per_id[None, :].astype(np.float32)).max(axis=1)
                biggest = np.asarray(biggest.todense()).ravel()
            else:  # no identifier of this kind in the graph at all
                biggest = np.zeros(b.shape[0], dtype=np.float32)
            cols += [np.asarray(b.sum(axis=1)).ravel(), b @ others, biggest]
            names += [f"{r}:ids", f"{r}:co_users", f"{r}:max_sharing"]
        cols.append(np.asarray(self.social.sum(axis=1)).ravel())
        names.append("social:degree")
        return np.log1p(np.stack(cols, axis=1)).astype(np.float32), names


def _as_matrix(x: np.ndarray, n: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[0] != n:
        raise ModelError(f"propagation input has {x.shape[0]} rows, expected {n} (one per user)")
    return x


def user_graph(data: HeteroData, max_sharing: int = 50) -> UserGraph:
    """The user-level relations of a ``HeteroData`` snapshot.

    Parameters
    ----------
    data : HeteroData
        As built by :class:`riskgraph.gnn.hetero.HeteroGraphBuilder`.
    max_sharing : int, default 50
        Identifiers shared by more users are hubs (left out of counts).

    Returns
    -------
    UserGraph
    """
    if max_sharing < 2:
        raise ModelError(f"max_sharing = {max_sharing!r}: expected >= 2")
    n_users = int(data["user"].num_nodes)
    n_dev = int(data["device"].num_nodes)
    n_acc = int(data["account"].num_nodes)

    def edges(et: tuple[str, str, str]) -> tuple[np.ndarray, np.ndarray]:
        if et not in data.edge_types:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        ei: torch.Tensor = data[et].edge_index
        return ei[0].numpy(), ei[1].numpy()

    ud_u, ud_d = edges(("user", "uses", "device"))
    ua_u, ua_a = edges(("user", "owns", "account"))
    sub_u, sub_a = edges(("user", "submitted", "application"))
    fd_a, fd_d = edges(("application", "from_device", "device"))
    n_app = int(data["application"].num_nodes)
    # user of each application, then the device each application was filed from
    app_user = np.full(n_app, -1, dtype=np.int64)
    app_user[sub_a] = sub_u
    ad_u, ad_d = app_user[fd_a], fd_d
    ok = ad_u >= 0
    ad_u, ad_d = ad_u[ok], ad_d[ok]
    incidence = {
        "device": _incidence(ud_u, ud_d, n_users, n_dev),
        "account": _incidence(ua_u, ua_a, n_users, n_acc),
        "application_device": _incidence(ad_u, ad_d, n_users, n_dev),
        "identifier": _incidence(
            np.concatenate([ud_u, ad_u, ua_u]),
            np.concatenate([ud_d, ad_d, ua_a + n_dev]),
            n_users,
            n_dev + n_acc,
        ),
    }
    s_src, s_dst = edges(("user", "knows", "user"))
    keep = s_src != s_dst
    social = _incidence(
        np.concatenate([s_src[keep], s_dst[keep]]),
        np.concatenate([s_dst[keep], s_src[keep]]),
        n_users,
        n_users,
    )
    return UserGraph(incidence=incidence, social=social, max_sharing=max_sharing)
