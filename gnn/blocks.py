"""The input blocks of the propagation model, per user.

``SignInputs`` holds, for every user of one snapshot, the label-free blocks
(computed once) and builds the label blocks of any label view on demand:

==================  ======================================================  =======
block               columns                                                 labels?
==================  ======================================================  =======
``own``             the user's encoded attributes                           no
``mean:<r>``        mean attributes of the other users linked via ``r``     no
                    (one block per relation of :data:`RELATIONS`)
``hop2``            identifier->identifier and identifier->social 2-hop     no
                    means of the attributes
``identifiers``     per identifier relation: identifiers held, co-users,    no
                    largest sharing; social degree (log1p)
``activity``        the user's own applications up to its reference time   no
``labels``          per relation: mean and log1p count of known-bad and     yes
                    known-good neighbours; 2-hop means of both
``features``        the graph risk features of the same label view          yes
==================  ======================================================  =======

Propagated attributes use the one-hot categories as well as the numbers. Label
blocks are built only from the view they are given (fold-masked labels), and graph
features are never propagated: a neighbour's feature may contain this user's own
label (DESIGN.md, "Train the way you serve").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from torch_geometric.data import HeteroData

from riskgraph.gnn.hetero import to_epoch_seconds
from riskgraph.gnn.propagation import RELATIONS, UserGraph

__all__ = [
    "LABEL_BLOCK_WIDTH",
    "SCORE_BLOCK_WIDTH",
    "SignInputs",
    "activity_inputs",
    "label_channels",
    "one_hot",
]

_DAY = 86_400
#: Columns of :meth:`SignInputs.label_block` and :meth:`SignInputs.score_block`.
LABEL_BLOCK_WIDTH = 4 * len(RELATIONS) + 4
SCORE_BLOCK_WIDTH = 3 + len(RELATIONS)


def one_hot(x_cat: np.ndarray, sizes: list[int]) -> np.ndarray:
    """float32 ``(n, sum(sizes))`` one-hot of each categorical column (code 0 = missing)."""
    n = x_cat.shape[0]
    parts = [np.eye(s, dtype=np.float32)[x_cat[:, i]] for i, s in enumerate(sizes)]
    return np.concatenate(parts, axis=1) if parts else np.zeros((n, 0), dtype=np.float32)


def label_channels(labels: np.ndarray) -> np.ndarray:
    """float32 ``(n, 2)``: 1 where the label is a visible bad / a visible good."""
    return np.stack([labels == 1.0, labels == 0.0], axis=1).astype(np.float32)


def activity_inputs(
    data: HeteroData, reference_time: pd.Series, n_status: int, n_platform: int
) -> tuple[np.ndarray, list[str]]:
    """Each user's applications strictly before its own reference time.

    Parameters
    ----------
    data : HeteroData
        Snapshot with ``(user, submitted, application)`` and ``(application, to,
        platform)`` edges and application ``x`` / ``x_cat``.
    reference_time : pandas.Series
        UTC datetimes, one per user.
    n_status, n_platform : int
        Codes of the application status and platform vocabularies.

    Returns
    -------
    x : np.ndarray
        float32 ``(n_users, 7 + n_status + n_platform)``: log1p applications ever,
        in the last 7 and 30 days, distinct platforms ever and in the last 30 days,
        mean scaled amount, days since the first application (log1p), then the
        share of applications per status and per platform.
    names : list[str]
    """
    n_users = int(data["user"].num_nodes)
    n_app = int(data["application"].num_nodes)
    ei = data["user", "submitted", "application"].edge_index.numpy()
    t = data["user", "submitted", "application"].edge_time.numpy()
    ref = to_epoch_seconds(reference_time)
    users, apps = ei[0], ei[1]
    keep = t < ref[users]
    users, apps, t = users[keep], apps[keep], t[keep]
    age = (ref[users] - t) / _DAY
    plat = np.zeros(n_app, dtype=np.int64)
    to = data["application", "to", "platform"].edge_index.numpy()
    plat[to[0]] = data["platform"].x_cat.numpy()[to[1], 0]
    status = data["application"].x_cat.numpy()[:, 0]
    amount = data["application"].x.numpy()[:, 0]

    def per_user(weights: np.ndarray) -> np.ndarray:
        return np.bincount(users, weights=weights, minlength=n_users)

    ones = np.ones(len(users))
    n_all = per_user(ones)
    n7 = per_user((age < 7).astype(float))
    n30 = per_user((age < 30).astype(float))

    def distinct(mask: np.ndarray) -> np.ndarray:
        m = sp.csr_matrix(
            (ones[mask], (users[mask], plat[apps][mask])), shape=(n_users, n_platform)
        )
        m.sum_duplicates()
        return np.diff(m.indptr).astype(float)

    d_all = distinct(np.ones(len(users), dtype=bool))
    d30 = distinct(age < 30)
    mean_amount = per_user(amount[apps]) / np.maximum(n_all, 1)
    first = np.zeros(n_users)
    if len(users):
        oldest = pd.Series(age).groupby(users).max()
        first[oldest.index.to_numpy()] = oldest.to_numpy()
    x = np.empty((n_users, 7 + n_status + n_platform), dtype=np.float32)
    x[:, :5] = np.log1p(np.stack([n_all, n7, n30, d_all, d30], axis=1))
    x[:, 5] = mean_amount
    x[:, 6] = np.log1p(first)
    # The shares in float32 straight away (float64 tables of a million users take 1 GB);
    # counts are exact in float32, so each quotient rounds as float64-then-float32 would.
    denom = np.maximum(n_all, 1).astype(np.float32)[:, None]
    ones32 = np.ones(len(users), dtype=np.float32)
    for start, codes, width in (
        (7, status[apps], n_status),
        (7 + n_status, plat[apps], n_platform),
    ):
        shares = sp.csr_matrix((ones32, (users, codes)), shape=(n_users, width)).toarray()
        np.divide(shares, denom, out=x[:, start : start + width])
    names = ["apps", "apps_7d", "apps_30d", "platforms", "platforms_30d", "amount_mean",
             "days_since_first_app"]  # fmt: skip
    names += [f"status:{i}" for i in range(n_status)] + [f"platform:{i}" for i in range(n_platform)]
    return x, names


@dataclass
class SignInputs:
    """Every user's propagation-model inputs for one snapshot.

    Attributes
    ----------
    graph : UserGraph
    own : np.ndarray
        float32 ``(n_users, a)``: encoded attributes with one-hot categories (the
        propagated input ``P``; a view of ``static``).
    x_cat : np.ndarray
        int64 ``(n_users, c)``: category codes (embedded by the model).
    first_hop : np.ndarray
        float32 ``(n_users, a)``: ``mean_identifier(P)`` (a view of ``static``), for
        2-hop attributions.
    static : np.ndarray
        float32 ``(n_users, s)``: every label-free block side by side.
    static_blocks : list[tuple[str, int]]
        Name and width of each label-free block.
    """

    graph: UserGraph
    own: np.ndarray
    x_cat: np.ndarray
    first_hop: np.ndarray
    static: np.ndarray
    static_blocks: list[tuple[str, int]]

    @classmethod
    def build(
        cls,
        graph: UserGraph,
        activity: np.ndarray,
        attributes: np.ndarray,
        x_cat: np.ndarray,
        category_sizes: list[int],
    ) -> SignInputs:
        """Compute the label-free blocks (see the module table).

        ``activity`` is :func:`activity_inputs` of the same snapshot. Every block is
        written straight into one preallocated ``static`` array and ``own`` /
        ``first_hop`` are views of it: at a million users a list of blocks plus their
        concatenation would hold the 1.2 GB of inputs three times over.
        """
        own = np.concatenate([attributes, one_hot(x_cat, category_sizes)], axis=1)
        own = own.astype(np.float32, copy=False)
        structure, _ = graph.structure()
        a = own.shape[1]
        widths = [("own", a), *[(f"mean:{r}", a) for r in RELATIONS], ("hop2", 2 * a),
                  ("identifiers", structure.shape[1]), ("activity", activity.shape[1])]  # fmt: skip
        ends = np.cumsum([w for _, w in widths]).tolist()
        starts = {name: end - w for (name, w), end in zip(widths, ends, strict=True)}
        static = np.empty((graph.num_users, ends[-1]), dtype=np.float32)

        def columns(name: str, width: int, at: int = 0) -> np.ndarray:
            return static[:, starts[name] + at : starts[name] + at + width]

        columns("own", a)[:] = own
        first_hop = own
        for r in RELATIONS:
            mean = graph.mean(r, own)
            columns(f"mean:{r}", a)[:] = mean
            if r == "identifier":
                first_hop = mean  # contiguous, for the 2-hop products below
        columns("hop2", a)[:] = graph.mean("identifier", first_hop)
        columns("hop2", a, at=a)[:] = graph.mean("social", first_hop)
        columns("identifiers", structure.shape[1])[:] = structure
        columns("activity", activity.shape[1])[:] = activity
        return cls(
            graph=graph,
            own=columns("own", a),
            x_cat=x_cat,
            first_hop=columns("mean:identifier", a),
            static=static,
            static_blocks=[(name, w) for name, w in widths if w],
        )

    def score_block(self, score: np.ndarray) -> np.ndarray:
        """float32 ``(n_users, 3 + len(RELATIONS))``: a per-user score of one view (the
        booster's log-odds), its mean over the neighbours per relation, and 2-hop means."""
        s = np.asarray(score, dtype=np.float32).reshape(-1, 1)
        cols = [s] + [self.graph.mean(r, s) for r in RELATIONS]
        first = cols[1 + RELATIONS.index("identifier")]
        cols.append(self.graph.mean("identifier", first))
        cols.append(self.graph.mean("social", first))
        return np.concatenate(cols, axis=1).astype(np.float32)

    def block(self, name: str) -> np.ndarray:
        """The label-free block ``name`` (a view of :attr:`static`)."""
        start = 0
        for block, width in self.static_blocks:
            if block == name:
                return self.static[:, start : start + width]
            start += width
        raise KeyError(name)

    def label_block(self, labels: np.ndarray) -> np.ndarray:
        """float32 ``(n_users, 4 * len(RELATIONS) + 4)`` label inputs of one view.

        ``labels`` must already be the view (fold-masked visible labels).
        """
        lab = label_channels(labels)
        cols = []
        for r in RELATIONS:
            cols.append(self.graph.mean(r, lab))
            cols.append(np.log1p(self.graph.count(r, lab)))
        first = self.graph.mean("identifier", lab)
        cols.append(self.graph.mean("identifier", first))
        cols.append(self.graph.mean("social", first))
        return np.concatenate(cols, axis=1).astype(np.float32)
