"""The users within a few hops of some users, and their rows, from id-keyed tables.

The online scorer's ``"neighbourhood"`` scope runs the nightly feature code on the
applicants' few-hop neighbourhood of last night's graph. A hop crosses a shared
identifier of the schema (a device used or applied from, an account, an address) or a
social tie; an identifier with more than ``cap`` users (a hub) is not crossed, as the
batch exposure features do not count through it.

:class:`NeighbourhoodIndex` indexes the rows once (sparse user-identifier incidence,
ties, the rows of each user), so that a walk costs what the neighbourhood holds, not
what the graph holds: the scorer opens it when it reads last night's graph, the first
walk builds it, and every later call walks it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from riskgraph.loaders.merge import IdRows, named_ids
from riskgraph.loaders.schema import IDENTIFIER_TABLES, INPUT_TABLES, NODE_TYPES, references_into

__all__ = ["IDENTIFIER_NODES", "NeighbourhoodIndex", "neighbourhood"]

# The identifier node tables (devices, accounts, addresses): a hop from user to user
# crosses one of these or a tie.
IDENTIFIER_NODES = tuple(t.node.table for t in IDENTIFIER_TABLES)


@dataclass(frozen=True)
class _WalkIndex:
    """The structures a walk reads (see :attr:`NeighbourhoodIndex._walks`)."""

    shared: list[tuple[sp.csr_matrix, sp.csr_matrix]]
    ties: tuple[sp.csr_matrix, sp.csr_matrix]
    refs: dict[str, list[np.ndarray]]
    rows_of_user: dict[str, sp.csr_matrix]
    node_keys: dict[str, _HashedIds]


class NeighbourhoodIndex:
    """Id-keyed tables indexed for :meth:`walk` and :meth:`rows`.

    Parameters
    ----------
    rows : dict of str to DataFrame
        Id-keyed tables (:func:`riskgraph.loaders.merge.id_rows`): ``users`` and
        ``social`` required, the other tables of the schema optional.
    cap : int
        Identifiers with more than ``cap`` users (hubs) are not crossed.
    """

    def __init__(self, rows: Mapping[str, pd.DataFrame], cap: int) -> None:
        self.source = {name: _one_chunk(frame) for name, frame in rows.items()}
        self.cap = cap
        self.users = _id_index(self.source["users"]["user_id"])

    @functools.cached_property
    def _walks(self) -> _WalkIndex:
        """What :meth:`walk` and :meth:`rows` read, built on their first call: a scorer
        that only asks whether a user is known (the ``"graph"`` scope) never pays for it."""
        rows, n = self.source, len(self.users)
        # Per identifier of the schema, the users x identifiers incidence of its
        # non-hub identifiers, and its transpose (identifier -> users).
        shared = [m for node in IDENTIFIER_NODES if (m := self._incidence(node)) is not None]
        so = rows["social"]
        src, dst = self._positions(so["src_user_id"]), self._positions(so["dst_user_id"])
        ok = (src >= 0) & (dst >= 0)
        ties = sp.csr_matrix(
            (np.ones(int(ok.sum()), dtype=np.int8), (src[ok], dst[ok])), shape=(n, n)
        )
        # Per table with user references: each reference column's user positions, and
        # the rows of every user under the first one.
        refs: dict[str, list[np.ndarray]] = {}
        rows_of_user: dict[str, sp.csr_matrix] = {}
        for name, frame in rows.items():
            columns = ("user_id",) if name == "users" else _user_references(name)
            if not columns:
                continue
            positions = [self._positions(frame[c]) for c in columns]
            first = positions[0]
            ok = first >= 0
            refs[name] = positions
            rows_of_user[name] = sp.csr_matrix(
                (np.ones(int(ok.sum()), dtype=np.int8), (first[ok], np.flatnonzero(ok))),
                shape=(n, len(frame)),
            )
        # Node tables without an input table of their own: their rows by id.
        node_keys = {
            node: _HashedIds(rows[node][NODE_TYPES[node].key.name])
            for node, node_type in NODE_TYPES.items()
            if node_type.source is None and node in rows
        }
        return _WalkIndex(shared, (ties, ties.T.tocsr()), refs, rows_of_user, node_keys)

    def prepare(self) -> None:
        """Build what :meth:`walk` and :meth:`rows` read now, not on their first call."""
        _ = self._walks

    def _positions(self, ids: pd.Series) -> np.ndarray:
        """int64 positions in ``users`` of ``ids``; -1 for a missing or unknown id."""
        values = ids.astype("string").to_numpy(dtype=object, na_value=None)
        return self.users.get_indexer(values).astype(np.int64)

    def _incidence(self, node: str) -> tuple[sp.csr_matrix, sp.csr_matrix] | None:
        """Users x identifiers of ``node`` (hubs left out), and its transpose."""
        key = NODE_TYPES[node].key.name
        held = [
            self.source[rel.table][[str(end.input), "user_id"]].rename(
                columns={str(end.input): key}
            )
            for rel, end in references_into(node)
            if rel.table in self.source
        ]
        if not held:  # an optional table no part has
            return None
        pairs = pd.concat(held, ignore_index=True).dropna().drop_duplicates()
        user = self._positions(pairs["user_id"])
        ident, _ = pd.factorize(pairs[key])
        sizes = np.bincount(ident, minlength=int(ident.max(initial=-1)) + 1)
        keep = (sizes[ident] <= self.cap) & (user >= 0)
        incidence = sp.csr_matrix(
            (np.ones(int(keep.sum()), dtype=np.int8), (user[keep], ident[keep])),
            shape=(len(self.users), len(sizes)),
        )
        return incidence, incidence.T.tocsr()

    def walk(self, seeds: Iterable[str], hops: int) -> np.ndarray:
        """Positions in ``users`` of the users within ``hops`` hops of ``seeds``
        (seeds the rows do not hold are left out), sorted."""
        index = self._walks
        start = self.users.get_indexer(pd.unique(pd.Series(list(seeds), dtype=object).astype(str)))
        reached = np.zeros(len(self.users), dtype=bool)
        frontier = np.unique(start[start >= 0])
        reached[frontier] = True
        for _ in range(hops):
            if not len(frontier):
                break
            found = [ties[frontier].indices for ties in index.ties]
            for incidence, holders in index.shared:
                idents = np.unique(incidence[frontier].indices)
                found.append(holders[idents].indices)
            candidates = np.unique(np.concatenate(found))
            frontier = candidates[~reached[candidates]]
            reached[frontier] = True
        return np.flatnonzero(reached)

    def rows(self, users: np.ndarray) -> IdRows:
        """The rows of ``users`` (positions, from :meth:`walk`): their rows of every
        table (identifiers, applications), the ties between them, and the identifiers
        those rows name; each table in the order of the indexed rows."""
        index = self._walks
        reached = np.zeros(len(self.users), dtype=bool)
        reached[users] = True
        out = dict(self.source)
        for name, positions in index.refs.items():
            rows = np.sort(index.rows_of_user[name][users].indices)
            for other in positions[1:]:
                at = other[rows]
                rows = rows[(at >= 0) & reached[np.maximum(at, 0)]]
            out[name] = self.source[name].iloc[rows].reset_index(drop=True)
        for node, keys in index.node_keys.items():
            # Only the identifiers the kept rows name (their properties kept); the
            # graph is rebuilt from the edges (graph_from_id_rows).
            found = keys.get_indexer(np.asarray(named_ids(out, node), dtype=object))
            out[node] = self.source[node].iloc[np.unique(found[found >= 0])]
        return out


def neighbourhood(
    rows: Mapping[str, pd.DataFrame], seeds: list[str], *, hops: int, cap: int
) -> IdRows:
    """The rows of the users within ``hops`` hops of ``seeds``.

    Parameters
    ----------
    rows : dict of str to DataFrame
        Id-keyed tables (:func:`riskgraph.loaders.merge.id_rows`).
    seeds : list of str
        The users to start from.
    hops : int
    cap : int
        Identifiers with more than ``cap`` users (hubs) are not crossed.

    Returns
    -------
    dict of str to DataFrame
        The users reached, their rows of every table (identifiers, applications), the
        ties between them, and the identifiers those rows name. Walking many times over
        the same rows: build one :class:`NeighbourhoodIndex`.
    """
    index = NeighbourhoodIndex(rows, cap)
    return index.rows(index.walk(seeds, hops))


def _one_chunk(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every Arrow-backed column in one chunk: taking a few rows of a
    column of many chunks (as read in batches, or from Parquet) costs the whole column."""
    out = frame
    for column in frame.columns:
        values = frame[column].array
        if not isinstance(values, pd.arrays.ArrowExtensionArray):
            continue
        chunked = values.__arrow_array__()
        if chunked.num_chunks > 1:
            if out is frame:
                out = frame.copy(deep=False)
            out[column] = pd.array(chunked.combine_chunks(), dtype=frame[column].dtype)
    return out


def _id_index(ids: pd.Series) -> pd.Index:
    # Object dtype: its hash table is built once and kept; an Arrow-backed string
    # index converts itself to objects on every lookup.
    return pd.Index(ids.astype(str).to_numpy(dtype=object), dtype=object)


class _HashedIds:
    """Positions of ids in a large id column, looked up by their 64-bit hashes.

    A lookup in an object index of a million ids compares Python strings scattered
    over memory; an index of their integer hashes is compact, so a call's few thousand
    lookups cost a fraction of that. Each hit is checked against the id itself: with
    the column's hashes unique, a target whose hash matches another id is absent. A
    column whose hashes collide (all but impossible at 64 bits) is looked up by value.
    """

    def __init__(self, ids: pd.Series) -> None:
        self.ids = ids.astype(str).to_numpy(dtype=object)
        hashes = pd.Index(pd.util.hash_array(self.ids))
        self.hashes = hashes if hashes.is_unique else None
        self.by_value = _id_index(ids) if self.hashes is None else None

    def get_indexer(self, target: np.ndarray) -> np.ndarray:
        """int64 positions of ``target`` (an object array of ids), -1 where absent."""
        if self.hashes is None:
            assert self.by_value is not None
            return self.by_value.get_indexer(target).astype(np.int64)
        found = self.hashes.get_indexer(pd.util.hash_array(target)).astype(np.int64)
        hit = np.flatnonzero(found >= 0)
        found[hit[self.ids[found[hit]] != target[hit]]] = -1
        return found


def _user_references(name: str) -> tuple[str, ...]:
    spec = INPUT_TABLES.get(name)
    return spec.user_references if spec else ()
