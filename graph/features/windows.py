"""Grouped time-window counts: the densest window of each group, without a loop over groups.

Both the ring features (how tightly a ring's registrations bunch) and the borrowing
features (most applications in any 24 hours) ask the same question of a set of
``(group, time)`` events: at most how many events of one group fall within ``window``
of each other. Sorting by ``(group, time)`` and one ``searchsorted`` answers it for all
groups at once.
"""

from __future__ import annotations

import numpy as np

__all__ = ["densest_window"]


def densest_window(group: np.ndarray, t: np.ndarray, window: int, n_groups: int) -> np.ndarray:
    """Per group, the most events in any half-open window ``[s, s + window)``.

    Parameters
    ----------
    group : np.ndarray
        ``int64`` ``(m,)``: group of each event, in ``0..n_groups-1``.
    t : np.ndarray
        ``int64`` ``(m,)``: event times in any integer unit (seconds in this package).
    window : int
        Window length, same unit as ``t``; at least 1.
    n_groups : int

    Returns
    -------
    np.ndarray
        ``int64``, shape ``(n_groups,)``; 0 for groups without events.

    Notes
    -----
    ``O(m log m)``. Events of group ``g`` are keyed ``g * span + (t - t.min())`` with
    ``span`` larger than any time difference plus the window, so one sorted array
    holds every group and a window never reaches into the next group.

    Examples
    --------
    >>> densest_window(np.array([0, 0, 0, 1]), np.array([0, 5, 20, 7]), 10, 2).tolist()
    [2, 1]
    """
    out = np.zeros(n_groups, dtype=np.int64)
    if len(t) == 0:
        return out
    t = np.asarray(t, dtype=np.int64)
    group = np.asarray(group, dtype=np.int64)
    rel = t - t.min()
    span = int(rel.max()) + int(window) + 1
    if n_groups * span >= 2**62:
        raise OverflowError(
            f"densest_window: {n_groups} groups x time span {span} overflow int64 keys; "
            "use a coarser time unit"
        )
    key = np.sort(group * span + rel)
    # Events at key .. key + window - 1 lie in the window starting at this event.
    within = np.searchsorted(key, key + (int(window) - 1), side="right") - np.arange(len(key))
    sorted_group = key // span
    np.maximum.at(out, sorted_group, within)
    return out
