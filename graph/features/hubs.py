"""Hub features: how widely shared a user's devices and accounts are.

Identifiers used by more than ``max_sharing`` users (internet-cafe PCs, a phone shop's
demo phone, a family tablet passed round a big household) do not join a ring; these
features keep what they say: how many of a user's identifiers are shared at all, how
many are hubs, and how many users the busiest one has.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskgraph.graph.features.adjacency import GraphSnapshot, identifier_degrees, row_max

__all__ = ["HUB_FEATURES", "identifier_sharing"]

#: Per-user hub feature columns, in output order.
HUB_FEATURES = ("shared_identifiers", "hub_identifiers", "max_identifier_users")


def identifier_sharing(snapshot: GraphSnapshot, max_sharing: int) -> pd.DataFrame:
    """Per user: shared identifiers, hub identifiers, users on the busiest identifier.

    Parameters
    ----------
    snapshot : GraphSnapshot
    max_sharing : int
        Identifiers with more users than this are hubs (``RingConfig.max_sharing``).

    Returns
    -------
    DataFrame
        ``(n_users, 3)``: ``shared_identifiers`` (the user's devices and accounts that
        at least one other user also has), ``hub_identifiers`` (those with more than
        ``max_sharing`` users) and ``max_identifier_users`` (users on the user's
        busiest identifier, the user included; 0 when the user has none).
    """
    incidence = snapshot.identifiers()
    degree = identifier_degrees(incidence)
    shared = (degree >= 2).astype(np.float32)
    hub = (degree > max_sharing).astype(np.float32)
    return pd.DataFrame(
        {
            "shared_identifiers": (incidence @ shared).astype(np.int64),
            "hub_identifiers": (incidence @ hub).astype(np.int64),
            "max_identifier_users": row_max(incidence, degree, empty=0.0).astype(np.int64),
        }
    )
