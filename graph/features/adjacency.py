"""The graph as it stood just before ``as_of``, as sparse user-identifier matrices.

Every feature family starts from a :class:`GraphSnapshot`: the users registered
before ``as_of``, their links to devices, accounts and the other identifiers of the
schema (addresses), the devices their applications were filed from, social ties, and
the applications themselves, each restricted to what happened strictly before
``as_of`` (a link without a timestamp counts: nothing says it is new).

Relations between users are *co-use* projections: two users are linked through a
relation when they share an identifier of that kind. Identifiers shared by very many
users (internet-cafe PCs, a phone shop's demo phone) would link thousands of strangers,
so every projection takes a ``max_sharing`` cap: identifiers with more users than
that do not link anyone (they are measured by the hub features instead), which also
bounds the cost of a projection by ``max_sharing * nnz``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from riskgraph.graph.features.timeline import NAT, to_micros
from riskgraph.loaders.schema import IDENTIFIER_TABLES, IdentifierTable
from riskgraph.loaders.tables import NO_INDEX, GraphTables

__all__ = [
    "RELATIONS",
    "GraphSnapshot",
    "binary",
    "binary_matrix",
    "co_user_matrix",
    "drop_diagonal",
    "graph_snapshot",
    "identifier_degrees",
    "row_max",
    "sparse_digest",
]

#: User-to-user relations, in feature-name form.
RELATIONS = ("device", "account", "social", "app_device")


@dataclass(frozen=True)
class GraphSnapshot:
    """What existed strictly before ``as_of``, indexed by the GraphTables node positions.

    Attributes
    ----------
    as_of_us : int
        ``as_of`` in microseconds since the epoch.
    active : np.ndarray
        ``bool`` ``(n_users,)``: registered before ``as_of``. Users registered later
        have no links and no applications in the snapshot.
    registered_us : np.ndarray
        ``int64`` ``(n_users,)``: registration times.
    user_devices, application_devices : scipy.sparse.csr_array
        ``(n_users, n_devices)``, 0/1: devices a user used, and devices a user's
        applications were filed from (an intermediary's device often appears only
        here).
    user_accounts : scipy.sparse.csr_array
        ``(n_users, n_accounts)``, 0/1.
    social : scipy.sparse.csr_array
        ``(n_users, n_users)``, 0/1, symmetric, no diagonal: a tie in either direction.
    app_user, app_platform, app_device, app_time_us : np.ndarray
        ``int64`` ``(n_apps,)``: applications filed before ``as_of``, sorted by user
        then time; ``app_device`` is ``-1`` when unknown.
    app_amount : np.ndarray
        ``float64`` ``(n_apps,)``, NaN when unknown.
    n_platforms : int
    other_identifiers : dict[str, scipy.sparse.csr_array]
        Per node table of every other identifier table of the schema
        (:data:`riskgraph.loaders.schema.IDENTIFIER_TABLES`, e.g. ``addresses``),
        ``(n_users, n_nodes)``, 0/1: a shared one links users like a shared device.
    """

    as_of_us: int
    active: np.ndarray
    registered_us: np.ndarray
    user_devices: sp.csr_array
    application_devices: sp.csr_array
    user_accounts: sp.csr_array
    social: sp.csr_array
    app_user: np.ndarray
    app_platform: np.ndarray
    app_device: np.ndarray
    app_time_us: np.ndarray
    app_amount: np.ndarray
    n_platforms: int
    other_identifiers: dict[str, sp.csr_array] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return len(self.active)

    def identifiers(self) -> sp.csr_array:
        """Every identifier a user holds as one 0/1 matrix: devices (used or applied
        from), accounts, then the other identifiers (:attr:`other_identifiers`).

        Returns
        -------
        scipy.sparse.csr_array
            ``(n_users, n_devices + n_accounts + ...)``: columns ``0..n_devices-1`` are
            devices, the next ``n_accounts`` accounts, then each other identifier
            table's nodes in schema order.
        """
        devices = binary(self.user_devices + self.application_devices)
        others = [m for m in self.other_identifiers.values() if m.shape[1]]
        return sp.hstack([devices, self.user_accounts, *others], format="csr")

    def relation(self, name: str) -> sp.csr_array:
        """The user-identifier matrix of relation ``name`` (not ``social``)."""
        return {
            "device": self.user_devices,
            "account": self.user_accounts,
            "app_device": self.application_devices,
        }[name]


def graph_snapshot(tables: GraphTables, as_of_us: int) -> GraphSnapshot:
    """Restrict ``tables`` to what existed strictly before ``as_of_us``.

    Parameters
    ----------
    tables : GraphTables
    as_of_us : int
        Microseconds since the epoch (UTC).

    Returns
    -------
    GraphSnapshot
    """
    n = tables.num_users
    registered = to_micros(tables.users["registered_at"])
    active = (registered != NAT) & (registered < as_of_us)

    def before(column: pd.Series) -> np.ndarray:
        t = to_micros(column)
        return (t == NAT) | (t < as_of_us)

    def held(table: IdentifierTable) -> sp.csr_array:
        """The user-identifier matrix of one identifier table, as of ``as_of``."""
        links = getattr(tables, table.input)
        keep = active[links["user_idx"].to_numpy()]
        if table.time is not None:
            keep &= before(links[table.time])
        shape = (n, len(getattr(tables, table.node.table)))
        return binary_matrix(
            links["user_idx"].to_numpy()[keep], links[table.index_column].to_numpy()[keep], shape
        )

    held_by = {t.input: held(t) for t in IDENTIFIER_TABLES}
    user_devices, user_accounts = held_by.pop("user_devices"), held_by.pop("user_accounts")
    others = {t.node.table: held_by[t.input] for t in IDENTIFIER_TABLES if t.input in held_by}
    so = tables.social
    src, dst = so["src_idx"].to_numpy(), so["dst_idx"].to_numpy()
    keep = before(so["created_at"]) & active[src] & active[dst] & (src != dst)
    src, dst = src[keep], dst[keep]
    social = binary_matrix(np.concatenate([src, dst]), np.concatenate([dst, src]), (n, n))

    apps = tables.applications
    app_time = to_micros(apps["applied_at"])
    app_user = apps["user_idx"].to_numpy()
    keep = (app_time != NAT) & (app_time < as_of_us) & active[app_user]
    order = np.lexsort((app_time[keep], app_user[keep]))
    app_user = app_user[keep][order]
    app_time = app_time[keep][order]
    app_platform = apps["platform_idx"].to_numpy()[keep][order]
    app_device = apps["device_idx"].to_numpy()[keep][order]
    app_amount = apps["amount"].to_numpy(dtype=np.float64, na_value=np.nan)[keep][order]
    has_device = app_device != NO_INDEX
    application_devices = binary_matrix(
        app_user[has_device], app_device[has_device], (n, len(tables.devices))
    )
    return GraphSnapshot(
        as_of_us=as_of_us,
        active=active,
        registered_us=registered,
        user_devices=user_devices,
        application_devices=application_devices,
        user_accounts=user_accounts,
        social=social,
        app_user=app_user.astype(np.int64),
        app_platform=app_platform.astype(np.int64),
        app_device=app_device.astype(np.int64),
        app_time_us=app_time,
        app_amount=app_amount,
        n_platforms=len(tables.platforms),
        other_identifiers=others,
    )


def binary_matrix(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_array:
    """A 0/1 ``float32`` CSR matrix with a one at every ``(rows[i], cols[i])``.

    Duplicate pairs collapse to a single one.
    """
    data = np.ones(len(rows), dtype=np.float32)
    m = sp.csr_array(
        (data, (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
        shape=shape,
    )
    return binary(m)


def binary(m: sp.csr_array | sp.sparray) -> sp.csr_array:
    """``m`` with every stored nonzero set to one (``float32``), explicit zeros dropped."""
    out = sp.csr_array(m, dtype=np.float32, copy=True)
    out.sum_duplicates()
    out.eliminate_zeros()
    out.data[:] = 1.0
    return out


def identifier_degrees(incidence: sp.csr_array) -> np.ndarray:
    """Number of users on each identifier (column sums of a 0/1 matrix), ``int64``."""
    return np.bincount(incidence.indices, minlength=incidence.shape[1]).astype(np.int64)


def sparse_digest(matrices: Iterable[sp.csr_array | sp.csr_matrix]) -> str:
    """A key of the sparsity patterns of ``matrices`` (shapes, ``indptr``, ``indices``).

    Label-free structures kept between the calls of one night (two-hop pairs,
    communities) are found again by it: equal patterns, equal key.
    """
    # The bytes in order: a sum of per-entry hashes would not see which row holds
    # which column (ties 0-1, 2-3 and ties 0-3, 1-2 would share a key).
    digest = hashlib.blake2b(digest_size=16)
    for m in matrices:
        for part in (np.asarray(m.shape), m.indptr, m.indices):
            digest.update(np.ascontiguousarray(part, dtype=np.int64).tobytes())
            digest.update(b"|")
    return digest.hexdigest()


def drop_diagonal(m: sp.csr_array) -> sp.csr_array:
    """``m`` without its diagonal entries (square CSR)."""
    rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    keep = m.indices != rows
    indptr = np.zeros(m.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[keep], minlength=m.shape[0]), out=indptr[1:])
    return sp.csr_array((m.data[keep], m.indices[keep], indptr), shape=m.shape)


def co_user_matrix(incidence: sp.csr_array, max_sharing: int) -> sp.csr_array:
    """Users linked by sharing an identifier that at most ``max_sharing`` users share.

    Parameters
    ----------
    incidence : scipy.sparse.csr_array
        ``(n_users, n_identifiers)``, 0/1.
    max_sharing : int
        Identifiers with more users than this link nobody.

    Returns
    -------
    scipy.sparse.csr_array
        ``(n_users, n_users)``, 0/1, symmetric, no diagonal.

    Notes
    -----
    Cost ``O(sum of squared degrees)`` of the kept identifiers, at most
    ``max_sharing * nnz(incidence)``.

    Examples
    --------
    >>> b = binary_matrix(np.array([0, 1, 2]), np.array([0, 0, 1]), (3, 2))
    >>> co_user_matrix(b, 10).toarray().astype(int).tolist()
    [[0, 1, 0], [1, 0, 0], [0, 0, 0]]
    """
    degree = identifier_degrees(incidence)
    keep_column = (degree >= 2) & (degree <= max_sharing)
    kept = _mask_columns(incidence, keep_column)
    product = kept @ kept.T
    return binary(drop_diagonal(sp.csr_array(product)))


def _mask_columns(m: sp.csr_array, keep_column: np.ndarray) -> sp.csr_array:
    """``m`` with the entries of the columns where ``keep_column`` is False removed."""
    keep = keep_column[m.indices]
    rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    indptr = np.zeros(m.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[keep], minlength=m.shape[0]), out=indptr[1:])
    return sp.csr_array((m.data[keep], m.indices[keep], indptr), shape=m.shape)


def row_max(m: sp.csr_array, values: np.ndarray, empty: float = 0.0) -> np.ndarray:
    """Per row, the largest ``values[column]`` over the row's stored entries.

    Parameters
    ----------
    m : scipy.sparse.csr_array
        ``(n_rows, n_cols)``.
    values : np.ndarray
        ``(n_cols,)``.
    empty : float
        The result for rows with no entries.

    Returns
    -------
    np.ndarray
        ``float64``, shape ``(n_rows,)``.
    """
    out = np.full(m.shape[0], empty, dtype=np.float64)
    counts = np.diff(m.indptr)
    nonempty = counts > 0
    if m.nnz:
        gathered = values[m.indices].astype(np.float64)
        out[nonempty] = np.maximum.reduceat(gathered, m.indptr[:-1][nonempty])
    return out
