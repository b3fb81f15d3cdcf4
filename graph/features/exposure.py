"""Exposure to known-bad users: who around a user has already defaulted or been caught.

Per relation (shared device, shared account, social tie, shared application device,
and all of them together): how many users are within one hop, how many of them and of
the users within two hops carry a known bad label, and which share of the labelled
ones that is. On top, a personalized PageRank seeded on the known-bad users measures
closeness to them over any number of hops through users, devices and accounts.

A user's own label never counts, whatever ``labels`` holds:

* hop counts skip the user itself (a two-hop walk back to oneself is dropped);
* the PageRank score of a user in fold ``f`` is taken from a run seeded only on the
  bad users of the *other* folds (folds are a fixed hash of the user id), so the
  user's own seed, and every return walk to it, is absent from its own score. The
  linearity of PageRank would allow subtracting the self-contribution instead, but
  that needs the diagonal of the PageRank matrix, one solve per bad user; the fold
  scheme is exact at ``ppr_folds`` solves (done together as one sparse product per
  round), and every user, in training and tonight, sees the same share of the labels.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from riskgraph.errors import ConfigError
from riskgraph.graph.features.adjacency import (
    RELATIONS,
    GraphSnapshot,
    binary,
    co_user_matrix,
    identifier_degrees,
    sparse_digest,
)
from riskgraph.graph.features.pagerank import PowerIteration, personalized_pagerank

__all__ = [
    "EXPOSURE_FEATURES",
    "EXPOSURE_RELATIONS",
    "ExposureConfig",
    "ExposureGraph",
    "exposure_to_known_bad",
    "hop_counts",
    "label_folds",
    "ppr_exposure",
    "two_hop_pairs",
]

#: Relations with their own exposure features; ``any`` is their union.
EXPOSURE_RELATIONS = (*RELATIONS, "any")

_HOP_FEATURES = ("users_1hop", "bad_1hop", "bad_share_1hop", "bad_2hop", "bad_share_2hop")

#: Per-user exposure feature columns, in output order.
EXPOSURE_FEATURES = (
    *(f"{rel}_{name}" for rel in EXPOSURE_RELATIONS for name in _HOP_FEATURES),
    "bad_ppr",
)


@dataclass(frozen=True)
class ExposureConfig:
    """Settings of the exposure features.

    Parameters
    ----------
    max_sharing : int, default 50
        A device or account links the users on it only when at most this many users
        share it. Above that (internet-cafe PCs, shop demo phones) "shares a device
        with 3 users who defaulted" would say nothing about the applicant. Likewise a
        user with more links than this links nobody at two hops.
    ppr_damping : float, default 0.85
        Probability that the PageRank walker follows a link rather than jumping back
        to a known-bad user (networkx ``alpha``).
    ppr_folds : int, default 4
        Number of hash folds of the own-label exclusion (module docstring): each user's
        score is seeded on the bad users of the other ``ppr_folds - 1`` folds.
    ppr_tol : float, default 1e-6
        Convergence tolerance: every column's L1 change in a round below this share
        of its seed mass. At least 1e-6: the iteration runs in single precision, whose
        rounding alone moves the scores by about 6e-8 of the mass per round.
    ppr_max_iter : int, default 300
    """

    max_sharing: int = 50
    ppr_damping: float = 0.85
    ppr_folds: int = 4
    ppr_tol: float = 1e-6
    ppr_max_iter: int = 300

    def validate(self) -> ExposureConfig:
        """Check every setting; return ``self``.

        Raises
        ------
        ConfigError
            Naming the setting, its value and the allowed range.
        """
        for f in fields(self):
            value = getattr(self, f.name)
            accepts, expected = _EXPOSURE_RULES.get(f.name, _POSITIVE)
            if not accepts(value):
                raise ConfigError(f"ExposureConfig.{f.name} = {value!r}: expected {expected}")
        return self


def _integer_from_two(value: object) -> bool:
    return isinstance(value, int) and value >= 2


_POSITIVE: tuple[Callable[[Any], bool], str] = (lambda v: v > 0, "> 0")
#: Each setting's test and what it expects; every other setting must be positive.
_EXPOSURE_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "ppr_damping": (lambda v: 0.0 <= v < 1.0, "0..<1"),
    "ppr_folds": (_integer_from_two, "an integer >= 2"),
    "max_sharing": (_integer_from_two, "an integer >= 2"),
    "ppr_tol": (
        lambda v: v >= 1e-6,
        ">= 1e-6 (the iteration runs in single precision)",
    ),
}


def hop_counts(
    adjacency: sp.csr_array, labels: np.ndarray, max_links: int | None = None
) -> dict[str, np.ndarray]:
    """Users, bad users and shares within one and two hops, never counting oneself.

    Parameters
    ----------
    adjacency : scipy.sparse.csr_array
        ``(n, n)`` 0/1, symmetric, no diagonal.
    labels : np.ndarray
        ``float64`` ``(n,)``: 1 bad, 0 good, NaN unknown.
    max_links : int, optional
        Two hops go through other users with at most this many links: a user with
        hundreds of contacts links nobody at two hops, as a public PC links nobody at
        one (None: through everyone).

    Returns
    -------
    dict
        ``users_1hop`` (int64), ``bad_1hop`` and ``bad_2hop`` (int64: distinct bad users
        within one / two hops), ``bad_share_1hop`` and ``bad_share_2hop`` (float64:
        bad among the labelled users within the hops, NaN when none is labelled).

    Notes
    -----
    The two-hop counts only materialize the columns of labelled users:
    ``(A + A[:, m] A[m, :])[:, labelled]`` with ``m`` the users of at most
    ``max_links`` links, at cost at most ``max_links`` times the links: it grows with
    the links, not with the two-hop paths of a dense graph.

    Examples
    --------
    Path 0 - 1 - 2 where user 2 is bad: user 0 has it two hops away, user 1 one hop.

    >>> from riskgraph.graph.features.adjacency import binary_matrix
    >>> a = binary_matrix(np.array([0, 1, 1, 2]), np.array([1, 0, 2, 1]), (3, 3))
    >>> h = hop_counts(a, np.array([np.nan, np.nan, 1.0]))
    >>> h["bad_1hop"].tolist(), h["bad_2hop"].tolist()
    ([0, 1, 0], [1, 1, 0])

    With at most one link allowed, user 1 (two links) carries nobody two hops:

    >>> hop_counts(a, np.array([np.nan, np.nan, 1.0]), max_links=1)["bad_2hop"].tolist()
    [0, 1, 0]
    """
    known = ~np.isnan(labels)
    return _hop_counts(adjacency, labels, two_hop_pairs(adjacency, known, max_links))


def two_hop_pairs(
    adjacency: sp.csr_array, targets: np.ndarray, max_links: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(user, target)`` pairs within two hops, ``user != target``, for the users of
    the boolean mask ``targets`` (see :func:`hop_counts` for the hops and the cost).

    A pair does not depend on which other users are targets: the pairs of a subset
    of ``targets`` are those whose target is in it.
    """
    n = adjacency.shape[0]
    users_1hop = np.diff(adjacency.indptr)
    target_idx = np.flatnonzero(targets)
    # Symmetric: the target columns are the transposed target rows (cheap to slice).
    to_targets = sp.csr_array(adjacency[target_idx].T)
    # Two hops only through users of few links: rows of the others are left out of the
    # middle factor, so A[:, m] A[m, targets] costs at most max_links per link.
    middle = to_targets
    if max_links is not None:
        hub = users_1hop > max_links
        middle = sp.csr_array(to_targets.multiply((~hub).astype(np.float32)[:, None]))
    two = binary(to_targets + adjacency @ middle)
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(two.indptr))
    target = target_idx[two.indices]
    not_self = target != rows
    # int32 halves what a night holds for its five relations across the views
    return rows[not_self].astype(np.int32), target[not_self].astype(np.int32)


def _hop_counts(
    adjacency: sp.csr_array, labels: np.ndarray, pairs: tuple[np.ndarray, np.ndarray]
) -> dict[str, np.ndarray]:
    """:func:`hop_counts` from the two-hop pairs of (at least) the labelled users."""
    n = adjacency.shape[0]
    known = ~np.isnan(labels)
    bad = labels == 1.0
    users_1hop = np.diff(adjacency.indptr).astype(np.int64)
    bad_1hop = (adjacency @ bad.astype(np.float32)).round().astype(np.int64)
    known_1hop = (adjacency @ known.astype(np.float32)).round().astype(np.int64)
    rows, target = pairs
    counted = known[target]
    known_2hop = np.bincount(rows[counted], minlength=n)
    bad_2hop = np.bincount(rows[counted & bad[target]], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "users_1hop": users_1hop,
            "bad_1hop": bad_1hop,
            "bad_share_1hop": np.where(known_1hop > 0, bad_1hop / known_1hop, np.nan),
            "bad_2hop": bad_2hop.astype(np.int64),
            "bad_share_2hop": np.where(known_2hop > 0, bad_2hop / known_2hop, np.nan),
        }


def label_folds(user_ids: pd.Series, n_folds: int) -> np.ndarray:
    """A fixed fold ``0..n_folds-1`` per user: a hash of the user id, not of its position.

    The same user keeps its fold from night to night whatever users are added, so its
    PageRank feature does not jump because of a renumbering.
    """
    hashed = pd.util.hash_pandas_object(
        pd.Series(user_ids.to_numpy(dtype=object)), index=False
    ).to_numpy()
    return (hashed % np.uint64(n_folds)).astype(np.int64)


@dataclass
class _TwoHopPairs:
    """The two-hop pairs of every exposure relation towards the users of ``targets``."""

    targets: np.ndarray
    pairs: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


#: The two-hop pairs of the latest snapshot, by its relations' content: a night computes
#: the features of one snapshot in several calls (tonight's features, training's label
#: views, the scorecard's, scoring, explaining) and the pairs are their costliest
#: label-free step; one entry bounds what is held. The lock keeps two threads of a
#: service from adding the same targets twice (a pair counted twice).
_LATEST_PAIRS: dict[str, _TwoHopPairs] = {}
_PAIRS_LOCK = threading.Lock()


class ExposureGraph:
    """The label-free part of the exposure features of one snapshot, built once.

    The co-user matrix of every relation, the PageRank graph and the PageRank folds
    do not depend on the labels: several label views of the same snapshot (the
    training protocol's) share them, and their PageRank runs go through one
    iteration (:meth:`bad_ppr`).

    Parameters
    ----------
    snapshot : GraphSnapshot
    user_ids : Series
        ``(n_users,)``, in node order (used for the PageRank folds).
    config : ExposureConfig
    """

    def __init__(
        self, snapshot: GraphSnapshot, user_ids: pd.Series, config: ExposureConfig
    ) -> None:
        self.config = config
        self.n_users = snapshot.n_users
        identifiers_co = co_user_matrix(snapshot.identifiers(), config.max_sharing)
        matrices = {
            rel: co_user_matrix(snapshot.relation(rel), config.max_sharing)
            for rel in ("device", "account", "app_device")
        }
        matrices["social"] = snapshot.social
        matrices["any"] = binary(identifiers_co + snapshot.social)
        self.matrices = matrices
        # The PageRank graph: users, and the devices and accounts at least two users
        # share, as nodes; an edge per user-device (used or applied from) and
        # user-account link, and per social tie; unweighted, undirected. An identifier
        # only one user has links nobody: leaving it out changes no path between users
        # and keeps the graph (and every round) small.
        incidence = snapshot.identifiers()
        incidence = incidence[:, np.flatnonzero(identifier_degrees(incidence) >= 2)]
        self.ppr_graph = sp.block_array(
            [[snapshot.social, incidence], [incidence.T, None]], format="csr"
        )
        self.fold = label_folds(user_ids, config.ppr_folds)
        self._key = f"{config.max_sharing}-" + sparse_digest(
            matrices[rel] for rel in EXPOSURE_RELATIONS
        )

    def bad_ppr(self, label_views: Sequence[np.ndarray]) -> list[np.ndarray]:
        """:func:`ppr_exposure` of each label vector, in one PageRank iteration.

        Each column of the iteration stops on its own convergence and its sums never
        depend on the other columns, so the results equal one call per vector.
        """
        n, k = self.n_users, self.config.ppr_folds
        seeds = np.zeros((self.ppr_graph.shape[0], k * len(label_views)), dtype=np.float64)
        for i, labels in enumerate(label_views):
            bad = labels == 1.0
            for f in range(k):  # a loop over folds, not users
                seeds[:n, i * k + f] = bad & (self.fold != f)
        scores = personalized_pagerank(
            self.ppr_graph,
            seeds,
            PowerIteration(
                damping=self.config.ppr_damping,
                tol=self.config.ppr_tol,
                max_iter=self.config.ppr_max_iter,
                # Single precision halves the memory traffic of a round; scores keep
                # about six significant digits, more than a risk feature needs.
                dtype=np.float32,
            ),
        )
        users = np.arange(n)
        return [scores[users, i * k + self.fold] for i in range(len(label_views))]

    def features(self, labels: np.ndarray, bad_ppr: np.ndarray | None = None) -> pd.DataFrame:
        """All exposure features of every user under ``labels``.

        Parameters
        ----------
        labels : np.ndarray
            ``float64`` ``(n_users,)``: 1 bad, 0 good, NaN unknown.
        bad_ppr : np.ndarray, optional
            ``bad_ppr([labels])[0]`` when already computed with other views.

        Returns
        -------
        DataFrame
            ``(n_users, len(EXPOSURE_FEATURES))``, RangeIndex = user position.
        """
        columns: dict[str, np.ndarray] = {}
        pairs = self._two_hop_pairs(~np.isnan(labels))
        for rel in EXPOSURE_RELATIONS:  # five relations, each vectorised over all users
            counts = _hop_counts(self.matrices[rel], labels, pairs[rel])
            for name, values in counts.items():
                columns[f"{rel}_{name}"] = values
        columns["bad_ppr"] = self.bad_ppr([labels])[0] if bad_ppr is None else bad_ppr
        return pd.DataFrame({name: columns[name] for name in EXPOSURE_FEATURES})

    def _two_hop_pairs(self, known: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The two-hop pairs of (at least) the users of ``known``, per relation.

        The views of one snapshot hide different folds and the calls of a night show
        different labels: the pairs of every labelled user seen so far are kept, and
        only the users not seen yet are walked (a pair depends on its target alone, so
        the pairs of the new targets are added to those held).
        """
        with _PAIRS_LOCK:
            held = _LATEST_PAIRS.get(self._key)
            if held is None:
                _LATEST_PAIRS.clear()
                empty = np.empty(0, dtype=np.int32)
                held = _TwoHopPairs(
                    targets=np.zeros(self.n_users, dtype=bool),
                    pairs={rel: (empty, empty) for rel in EXPOSURE_RELATIONS},
                )
                _LATEST_PAIRS[self._key] = held
            new = known & ~held.targets
            if new.any():
                for rel in EXPOSURE_RELATIONS:
                    rows, target = two_hop_pairs(self.matrices[rel], new, self.config.max_sharing)
                    old_rows, old_target = held.pairs[rel]
                    held.pairs[rel] = (
                        np.concatenate([old_rows, rows]),
                        np.concatenate([old_target, target]),
                    )
                held.targets = held.targets | new
            return dict(held.pairs)


def ppr_exposure(
    snapshot: GraphSnapshot, user_ids: pd.Series, labels: np.ndarray, config: ExposureConfig
) -> np.ndarray:
    """Personalized PageRank from the known-bad users, own label excluded by folds.

    See :class:`ExposureGraph` for the graph it walks.

    Returns
    -------
    np.ndarray
        ``float64`` ``(n_users,)``: the user's score in the run seeded on the bad users
        of the other folds (one unit of restart mass per bad user).
    """
    return ExposureGraph(snapshot, user_ids, config).bad_ppr([labels])[0]


def exposure_to_known_bad(
    snapshot: GraphSnapshot, user_ids: pd.Series, labels: np.ndarray, config: ExposureConfig
) -> pd.DataFrame:
    """All exposure features of every user (:meth:`ExposureGraph.features`).

    Parameters
    ----------
    snapshot : GraphSnapshot
    user_ids : Series
        ``(n_users,)``, in node order (used for the PageRank folds).
    labels : np.ndarray
        ``float64`` ``(n_users,)``: 1 bad, 0 good, NaN unknown.
    config : ExposureConfig

    Returns
    -------
    DataFrame
        ``(n_users, len(EXPOSURE_FEATURES))``, RangeIndex = user position.
    """
    return ExposureGraph(snapshot, user_ids, config).features(labels)
