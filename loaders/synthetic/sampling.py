"""Vectorised draws of random group members (a community, a ring, a household).

Also the draws from a group's pool of items (a ring's shared phones or cards).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "GroupIndex",
    "group_starts",
    "pick_from_pools",
    "pool_sizes",
    "rank_in_group",
    "sorted_unique",
]


@dataclass(frozen=True)
class GroupIndex:
    """Users sorted by group, for drawing random members of given groups.

    Attributes
    ----------
    members : np.ndarray
        ``int64``: user indices sorted by group (users in no group, -1, left out).
    start, size : np.ndarray
        ``int64`` ``(n_groups,)``: where each group's members begin in ``members`` and
        how many there are.

    Examples
    --------
    >>> g = GroupIndex.build(np.array([1, 0, 1, -1]), n_groups=2)
    >>> g.members.tolist(), g.size.tolist()
    ([1, 0, 2], [1, 2])
    """

    members: np.ndarray
    start: np.ndarray
    size: np.ndarray

    @classmethod
    def build(cls, group: np.ndarray, n_groups: int) -> GroupIndex:
        """Index users by ``group`` (``int64`` per user, -1 = none)."""
        inside = np.flatnonzero(group >= 0)
        members = inside[np.argsort(group[inside], kind="stable")]
        size = np.bincount(group[inside], minlength=n_groups).astype(np.int64)
        start = group_starts(size)
        return cls(members, start, size)

    def random_member(self, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One uniformly random member of each of ``groups``; -1 for an empty group.

        Parameters
        ----------
        groups : np.ndarray
            ``int64`` ``(m,)``: group numbers.

        Returns
        -------
        np.ndarray
            ``int64`` ``(m,)``: user indices.
        """
        size = self.size[groups]
        offset = (rng.random(len(groups)) * size).astype(np.int64)
        pick = self.members[np.minimum(self.start[groups] + offset, len(self.members) - 1)]
        return np.where(size > 0, pick, -1)


def group_starts(counts: np.ndarray) -> np.ndarray:
    """Offset of each group's first item when groups of ``counts`` items are laid end to end.

    Examples
    --------
    >>> group_starts(np.array([2, 0, 3])).tolist()
    [0, 2, 2]
    """
    counts = np.asarray(counts, dtype=np.int64)
    return np.cumsum(counts) - counts


def sorted_unique(keys: np.ndarray) -> np.ndarray:
    """The distinct values of ``keys``, sorted.

    Same result as ``np.unique``, whose hash-based path in NumPy 2.4 is many times
    slower on millions of ``int64`` keys than a plain sort.

    Examples
    --------
    >>> sorted_unique(np.array([3, 1, 3, 2])).tolist()
    [1, 2, 3]
    """
    ordered = np.sort(keys)
    if len(ordered) == 0:
        return ordered
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]]


def rank_in_group(group: np.ndarray) -> np.ndarray:
    """Position of each item among the items of its group, in the order given.

    Parameters
    ----------
    group : np.ndarray
        ``int64`` ``(m,)``: group numbers, all >= 0.

    Examples
    --------
    >>> rank_in_group(np.array([1, 0, 1, 1, 0])).tolist()
    [0, 0, 1, 2, 1]
    """
    group = np.asarray(group, dtype=np.int64)
    order = np.argsort(group, kind="stable")
    start = group_starts(np.bincount(group))
    rank = np.empty(len(group), dtype=np.int64)
    rank[order] = np.arange(len(group)) - start[group[order]]
    return rank


def pool_sizes(group_size: np.ndarray, members_per_item: int, shared: bool) -> np.ndarray:
    """Items in each group's pool: one per ``members_per_item`` members when shared.

    A group shares at least one item; one that does not share gets one item per member.

    Examples
    --------
    >>> pool_sizes(np.array([1, 8, 9]), 4, shared=True).tolist()
    [1, 2, 3]
    >>> pool_sizes(np.array([1, 8, 9]), 4, shared=False).tolist()
    [1, 8, 9]
    """
    group_size = np.asarray(group_size, dtype=np.int64)
    if not shared:
        return group_size
    return np.maximum(1, -(-group_size // members_per_item))


def pick_from_pools(
    group: np.ndarray,
    pool_start: np.ndarray,
    pool_size: np.ndarray,
    shared: bool,
    rng: np.random.Generator,
) -> np.ndarray:
    """An item of its group's pool for each member.

    Parameters
    ----------
    group : np.ndarray
        ``int64`` ``(m,)``: each member's group.
    pool_start, pool_size : np.ndarray
        ``int64`` ``(n_groups,)``: group ``g``'s items are
        ``pool_start[g] + range(pool_size[g])``.
    shared : bool
        Pick uniformly at random (members then share items); otherwise give each
        member its own item, in order (the pools must hold one item per member, as
        :func:`pool_sizes` makes them), drawing nothing from ``rng``.
    rng : np.random.Generator
        Source of randomness.

    Returns
    -------
    np.ndarray
        ``int64`` ``(m,)``: item indices.
    """
    if not shared:
        return pool_start[group] + rank_in_group(group)
    return pool_start[group] + (rng.random(len(group)) * pool_size[group]).astype(np.int64)
