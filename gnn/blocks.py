"""The input blocks of the propagation model, per user.

``SignInputs`` holds, for every user of one snapshot, the label-free blocks
(computed once) and builds the label blocks of any label view on demand:

==================  ======================================================  =======
block               columns                                                 labels?
==================  ======================================================  =======
``own``             the user's encoded attributes                           no
``mean:<r>``        mean attributes of the other users linked via ``r``     no
                    (one block per relation of :data:`RELATIONS`)
``hop2``            identifier->identifier, identifier->social and          no
                    social->social 2-hop means of the attributes
``identifiers``     per identifier relation: identifiers held, co-users,    no
                    largest sharing; social degree (log1p)
``activity``        the user's own applications up to its reference time   no
``profile``         the user's own row beyond its attributes: registration  no
                    age, accounts per type, ties in and out per type, tie
                    weights, largest application amount
``spread``          means of the neighbours' identifiers, activity core     no
                    and profile via shared identifiers and via social ties,
                    and over two hops of each (GADBench's XGB-Graph recipe:
                    what the neighbourhood does, not only who it is)
``labels``          per relation: mean and log1p count of known-bad and     yes
                    known-good neighbours; 2-hop means and log1p counts
``communities``     the user's community (Leiden, label-free) and its       yes
                    known-bad and known-good members under the view
``features``        the graph risk features of the same label view          yes
==================  ======================================================  =======

Propagated attributes use the one-hot categories as well as the numbers. The
label-free blocks are held in half precision (:data:`STATIC_DTYPE`), the label blocks
in float32. Label blocks are built only from the view they are given (fold-masked
labels), and graph features are never propagated: a neighbour's feature may contain
this user's own label (DESIGN.md, "Train the way you serve").
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
    "UserAttributes",
    "activity_inputs",
    "label_channels",
    "one_hot",
    "profile_inputs",
]

_DAY = 86_400
#: Columns of :meth:`SignInputs.label_block` and :meth:`SignInputs.score_block`.
LABEL_BLOCK_WIDTH = 4 * len(RELATIONS) + 8
SCORE_BLOCK_WIDTH = 3 + len(RELATIONS)
#: Columns of the activity block that are spread to the neighbours (the counts,
#: windows, platforms, mean amount and age; not the per-status and per-platform shares).
ACTIVITY_CORE = 7
#: Relations over which the ``spread`` block averages, then each one's two-hop mean.
SPREAD_RELATIONS = ("identifier", "social")
#: Columns averaged at a time while the label-free blocks are built: a mean over a
#: whole block holds a per-identifier temporary of every column at once, beside the
#: blocks themselves. Each column's mean is the same either way.
PROPAGATION_CHUNK = 16
#: dtype of the label-free blocks. They are the widest inputs and every user's are
#: held through training, scoring and explaining; half precision (three significant
#: digits) halves them, and every consumer reads them into float32 or float64 rows.
STATIC_DTYPE = np.float16
_STATIC_MAX = float(np.finfo(STATIC_DTYPE).max)


def _store(out: np.ndarray, values: np.ndarray) -> None:
    """``out[:] = values``, held within the finite range of :data:`STATIC_DTYPE`
    (beyond it a value would become infinite, and so would its neighbours' means)."""
    out[:] = np.clip(values, -_STATIC_MAX, _STATIC_MAX)


def _mean_into(graph: UserGraph, relation: str, x: np.ndarray, out: np.ndarray) -> None:
    """``out[:] = graph.mean(relation, x)``, :data:`PROPAGATION_CHUNK` columns at a time."""
    for start in range(0, x.shape[1], PROPAGATION_CHUNK):
        stop = start + PROPAGATION_CHUNK
        _store(out[:, start:stop], graph.mean(relation, x[:, start:stop]))


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
    # The shares in float32 straight away (a float64 table per share doubles the peak);
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


def profile_inputs(
    data: HeteroData,
    reference_time: pd.Series,
    registered_at: pd.Series,
    n_account_types: int,
    n_tie_types: int,
) -> tuple[np.ndarray, list[str]]:
    """Each user's own row beyond its attributes, from one snapshot.

    What a tabular model reads about a user that is not a user attribute: how long it
    has been registered (at its reference time), which kinds of accounts it links,
    how many ties it has in each direction and of each type, how strong they are
    (the contract's optional ``weight``: a transfer amount, a contact frequency), and
    its largest application amount. Label-free.

    Parameters
    ----------
    data : HeteroData
        Snapshot (:meth:`HeteroGraphBuilder.transform`).
    reference_time, registered_at : pandas.Series
        UTC datetimes, one per user.
    n_account_types, n_tie_types : int
        Codes of the account-type and tie-type vocabularies.

    Returns
    -------
    x : np.ndarray
        float32 ``(n_users, 7 + n_account_types + n_tie_types)``: log1p days
        registered, log1p ties out and in, log1p summed tie weight out and in,
        signed log1p of the mean tie weight (0 without weights), largest scaled
        application amount (0 without applications), log1p accounts per type, log1p
        ties per type.
    names : list[str]
    """
    n_users = int(data["user"].num_nodes)
    ref = to_epoch_seconds(reference_time)
    reg = to_epoch_seconds(registered_at)
    age = np.clip((ref - reg) / _DAY, 0.0, None)

    def counts(idx: np.ndarray, width: int, codes: np.ndarray | None = None) -> np.ndarray:
        if codes is None:
            return np.bincount(idx, minlength=width).astype(np.float64)
        flat = np.bincount(idx * width + codes, minlength=n_users * width)
        return flat.reshape(n_users, width).astype(np.float64)

    ua = data["user", "owns", "account"].edge_index.numpy()
    acc_type = data["account"].x_cat.numpy()[:, 0] if len(ua[1]) else np.zeros(0, np.int64)
    per_type = counts(ua[0], n_account_types, acc_type[ua[1]])

    knows = data["user", "knows", "user"]
    ei = knows.edge_index.numpy()
    half = ei.shape[1] // 2
    src, dst = ei[0, :half], ei[1, :half]
    tie = knows.edge_attr_cat.numpy()[:half]
    weight = knows.edge_weight.numpy()[:half].astype(np.float64)
    has_w = ~np.isnan(weight)
    w = np.where(has_w, weight, 0.0)
    out_deg, in_deg = counts(src, n_users), counts(dst, n_users)
    w_out = np.bincount(src, weights=w, minlength=n_users)
    w_in = np.bincount(dst, weights=w, minlength=n_users)
    n_w = np.bincount(src, weights=has_w, minlength=n_users) + np.bincount(
        dst, weights=has_w, minlength=n_users
    )
    mean_w = np.divide(w_out + w_in, n_w, out=np.zeros(n_users), where=n_w > 0)
    per_tie = counts(src, n_tie_types, tie) + counts(dst, n_tie_types, tie)

    sub = data["user", "submitted", "application"]
    users, apps = sub.edge_index.numpy()
    keep = sub.edge_time.numpy() < ref[users]
    amount = data["application"].x.numpy()[:, 0]
    largest = np.zeros(n_users)
    if keep.any():
        top = pd.Series(amount[apps[keep]]).groupby(users[keep]).max()
        largest[top.index.to_numpy()] = top.to_numpy()

    x = np.empty((n_users, 7 + n_account_types + n_tie_types), dtype=np.float32)
    x[:, 0] = np.log1p(age)
    x[:, 1] = np.log1p(out_deg)
    x[:, 2] = np.log1p(in_deg)
    x[:, 3] = np.log1p(np.clip(w_out, 0.0, None))
    x[:, 4] = np.log1p(np.clip(w_in, 0.0, None))
    # log-compressed like the sums: a weight may be a transfer amount, whose raw mean
    # would dominate the neighbours' means and leave half precision's range
    x[:, 5] = np.sign(mean_w) * np.log1p(np.abs(mean_w))
    x[:, 6] = largest
    x[:, 7 : 7 + n_account_types] = np.log1p(per_type)
    x[:, 7 + n_account_types :] = np.log1p(per_tie)
    names = ["days_registered", "ties_out", "ties_in", "tie_weight_out", "tie_weight_in",
             "tie_weight_mean", "amount_max"]  # fmt: skip
    names += [f"accounts:{i}" for i in range(n_account_types)]
    names += [f"ties:{i}" for i in range(n_tie_types)]
    return x, names


@dataclass(frozen=True)
class UserAttributes:
    """What every user's own row says: numeric attributes and category codes.

    Attributes
    ----------
    numeric : np.ndarray
        float ``(n_users, a)``: the numeric attributes (encoded or raw, as the
        consumer reads them).
    codes : np.ndarray
        int64 ``(n_users, c)``: category codes.
    """

    numeric: np.ndarray
    codes: np.ndarray


@dataclass
class SignInputs:
    """Every user's propagation-model inputs for one snapshot.

    Attributes
    ----------
    graph : UserGraph
    own : np.ndarray
        :data:`STATIC_DTYPE` ``(n_users, a)``: encoded attributes with one-hot categories (the
        propagated input ``P``; a view of ``static``).
    x_cat : np.ndarray
        int64 ``(n_users, c)``: category codes (embedded by the model).
    first_hop : np.ndarray
        :data:`STATIC_DTYPE` ``(n_users, a)``: ``mean_identifier(P)`` (a view of ``static``), for
        2-hop attributions.
    static : np.ndarray
        :data:`STATIC_DTYPE` ``(n_users, s)``: every label-free block side by side.
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
        attributes: UserAttributes,
        category_sizes: list[int],
        profile: np.ndarray | None = None,
    ) -> SignInputs:
        """Compute the label-free blocks (see the module table).

        ``attributes`` holds the encoded attributes and category codes
        (:meth:`~riskgraph.gnn.hetero.HeteroGraphBuilder.attribute_inputs`), each
        code column with ``category_sizes`` values. ``activity`` is
        :func:`activity_inputs` of the same snapshot, ``profile``
        :func:`profile_inputs` (none: no ``profile`` and no ``spread`` block). Every
        block is written straight into one preallocated ``static`` array and ``own`` /
        ``first_hop`` are views of it: at a million users a list of blocks plus their
        concatenation would hold the inputs three times over.
        """
        x_cat = attributes.codes
        own = np.concatenate([attributes.numeric, one_hot(x_cat, category_sizes)], axis=1)
        own = own.astype(np.float32, copy=False)
        structure, _ = graph.structure()
        a = own.shape[1]
        n_profile = 0 if profile is None else profile.shape[1]
        spread_w = 0 if profile is None else structure.shape[1] + ACTIVITY_CORE + n_profile
        widths = [("own", a), *[(f"mean:{r}", a) for r in RELATIONS], ("hop2", 3 * a),
                  ("identifiers", structure.shape[1]), ("activity", activity.shape[1]),
                  ("profile", n_profile), ("spread", 4 * spread_w)]  # fmt: skip
        ends = np.cumsum([w for _, w in widths]).tolist()
        starts = {name: end - w for (name, w), end in zip(widths, ends, strict=True)}
        static = np.empty((graph.num_users, ends[-1]), dtype=STATIC_DTYPE)

        def columns(name: str, width: int, at: int = 0) -> np.ndarray:
            return static[:, starts[name] + at : starts[name] + at + width]

        _store(columns("own", a), own)
        own = columns("own", a)
        for r in RELATIONS:
            _mean_into(graph, r, own, columns(f"mean:{r}", a))
        first_hop = columns("mean:identifier", a)
        _mean_into(graph, "identifier", first_hop, columns("hop2", a))
        _mean_into(graph, "social", first_hop, columns("hop2", a, at=a))
        # A contact's contacts: where risk spreads along social ties (a local economy,
        # a recruiter's circle) the second social hop says what the first cannot.
        _mean_into(graph, "social", columns("mean:social", a), columns("hop2", a, at=2 * a))
        _store(columns("identifiers", structure.shape[1]), structure)
        _store(columns("activity", activity.shape[1]), activity)
        if profile is not None:
            _store(columns("profile", n_profile), profile)
            # the stored values, which the explanation reads back
            row = np.concatenate(
                [
                    columns("identifiers", structure.shape[1]),
                    columns("activity", ACTIVITY_CORE),
                    columns("profile", n_profile),
                ],
                axis=1,
            )
            for i, r in enumerate(SPREAD_RELATIONS):
                _mean_into(graph, r, row, columns("spread", spread_w, at=i * spread_w))
            del row
            for i, r in enumerate(SPREAD_RELATIONS):
                first = columns("spread", spread_w, at=i * spread_w)
                at = (2 + i) * spread_w
                _mean_into(graph, r, first, columns("spread", spread_w, at=at))
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
        """float32 ``(n_users, LABEL_BLOCK_WIDTH)`` label inputs of one view: per relation
        the mean and log1p count of known-bad and known-good neighbours, the 2-hop
        means (identifier then identifier, identifier then social) and the 2-hop log1p
        counts (identifier twice, social twice).

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
        # Two-hop counts (walks of two links, hubs left out): a ring-mate's ring-mates,
        # a contact's contacts; computed as two products, so the cost grows with the
        # links, not with the two-hop paths.
        for r in ("identifier", "social"):
            cols.append(np.log1p(self.graph.count(r, self.graph.count(r, lab))))
        return np.concatenate(cols, axis=1).astype(np.float32)
