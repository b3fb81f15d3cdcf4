"""Risky links: which associations drive a user's GNN risk, and through what.

For every user above a risk threshold, :func:`risky_links` lists the other users
whose inputs raise that user's score, with the identifier or tie that links them
(CONTRACT.md, ``associations.parquet``: ``user_id``, ``other_user_id``,
``via_type`` in ``device``, ``account``, ``social``, ``application_device``,
``via_id``, ``score``), plus ``evidence``, a path check against known-bad users.

Attribution method
------------------
Every neighbour-dependent input of the propagation model is a weighted sum over
links: ``mean_r(x)[u] = sum_i M_r[u, i] * sum_{v shares i, v != u} x[v]``, likewise
the known-bad counts and the co-user counts (one per link), and the 2-hop inputs
are sums over first-hop neighbours ``v`` of ``v``'s own first-hop means. The contribution of the link ``(u, v, via i)`` is
gradient times input: the gradient of ``u``'s logit with respect to each such input
column (autograd through the network), times the part of that column that the link
carries (baseline: the link absent, i.e. 0). This decomposes the first-order change
of ``u``'s logit exactly over its links; 2-hop influence is credited to the
first-hop link it travels through.

When the night's model is a tree head (``tabular``, ``graph`` or their ``blend``),
LightGBM's TreeSHAP gives each input column's contribution, which is split over the
links in proportion to the part of the column each link carries
(:func:`_tree_gradients`). When it is the network, its boosted encoder's share is
attributed the same way and multiplied by the gradient of the logit with respect to
the booster's score. Columns of the user's own row, its community and the graph risk
features are not split into links: the scorecard's reason codes quote them. Scores
are in log-odds, under the label view the user weighs most (its own view when
labelled; the first of its bucket's views otherwise, which differ only in the fold of
labels they hide); a positive score raises the risk.

Identifiers shared by more than ``max_sharing`` users (public devices) are left
out: they carry almost no weight and would list thousands of strangers.

Cross-check: ``evidence`` is ``"known_bad"`` when the other user has a known bad
label (visible to the model), ``"bad_within_2"`` when the other user shares an
identifier or tie with a known-bad user other than the scored user, else ``""``.
:func:`evidence_agreement` measures how much more often the top links carry such
evidence than links at random.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from riskgraph.errors import ModelError
from riskgraph.gnn.blocks import ACTIVITY_CORE, LABEL_BLOCK_WIDTH, SPREAD_RELATIONS, label_channels
from riskgraph.gnn.communities import COMMUNITY_BLOCK_WIDTH
from riskgraph.gnn.propagation import RELATIONS, UserGraph
from riskgraph.gnn.protocol import FeatureViews, LabelFolds
from riskgraph.gnn.runners import MessagePassingRunner, SignRunner
from riskgraph.gnn.train import GraphRiskModel
from riskgraph.loaders.tables import GraphTables

__all__ = ["ASSOCIATION_COLUMNS", "evidence_agreement", "risky_links"]

#: Columns of ``associations.parquet`` (CONTRACT.md), then the path evidence.
ASSOCIATION_COLUMNS = ["user_id", "other_user_id", "via_type", "via_id", "score", "evidence"]


def _column_offsets(runner: SignRunner) -> dict[str, int]:
    """Start column of each block in the model input."""
    offsets, pos = {}, 0
    for name, width in runner.inputs.static_blocks:
        offsets[name] = pos
        pos += width
    offsets["labels"] = pos
    pos += LABEL_BLOCK_WIDTH
    if runner.communities is not None:
        offsets["communities"] = pos
        pos += COMMUNITY_BLOCK_WIDTH
    if runner.scorer is not None:
        offsets["score"] = pos
    return offsets


def _triples(
    graph: UserGraph, relation: str, users: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Links of ``users`` via ``relation``: (row in users, identifier, other user,
    mean weight, count weight); hub identifiers left out."""
    if relation == "social":
        a = graph.social[users].tocoo()
        deg = np.asarray(graph.social.sum(axis=1)).ravel()
        w = 1.0 / np.maximum(deg[users[a.row]], 1.0)
        return a.row, np.full(len(a.row), -1), a.col, w, np.ones(len(a.row))
    mean_w, count_w = graph.link_weights(relation)
    b = graph.incidence[relation]
    users_per_id = np.asarray(b.sum(axis=0)).ravel()
    m = mean_w[users].tocoo()
    c = np.asarray(count_w[users][m.row, m.col]).ravel()
    keep = (users_per_id[m.col] <= graph.max_sharing) & (m.data > 0)
    row, ident, w, c = m.row[keep], m.col[keep], m.data[keep], c[keep]
    bt = b.T.tocsr()
    counts = np.diff(bt.indptr)[ident]
    starts = np.repeat(bt.indptr[ident], counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    other = bt.indices[starts + within]
    row, ident = np.repeat(row, counts), np.repeat(ident, counts)
    w, c = np.repeat(w, counts), np.repeat(c, counts)
    keep = other != users[row]
    return row[keep], ident[keep], other[keep], w[keep], c[keep]


#: Users whose gradients are taken at once: the backward pass holds every block
#: encoder's outputs and their gradients per user, and a tree head's contributions are
#: turned into gradients through several float64 arrays as wide as its inputs, so the
#: chunk bounds the peak.
_GRADIENT_CHUNK = 4_096


def _explained_view(weights: np.ndarray) -> np.ndarray:
    """The label view each user is explained under: the one it weighs most.

    A labelled user has one view; an unlabelled user averages its bucket's ``K``
    views, which differ only in the fold of labels they hide, so one of them tells
    the same story of its links at a ``K``-th of the cost.
    """
    return np.argmax(weights, axis=1)


def _gradients(runner: SignRunner, v: int, users: np.ndarray) -> np.ndarray:
    """d logit / d input of ``users`` under view ``v``: float32 ``(len(users), width)``.

    For the network, as autograd gives it (float64 would be 0.7 GB for the 270,000
    users a million-user night explains; the products promote each chunk's rows).
    For a tree head, TreeSHAP's contribution of each input column read as a
    gradient (:func:`_tree_gradients`), so that the same per-link products split
    each column's contribution over its links.
    """
    model = runner.model
    if model.tree_heads():
        return _tree_gradients(runner, v, users)
    net = model.net_
    net.eval()
    out = np.empty((len(users), sum(runner.block_dims)), dtype=np.float32)
    # chunks of users bound the autograd activations
    for lo in range(0, len(users), _GRADIENT_CHUNK):
        chunk = users[lo : lo + _GRADIENT_CHUNK]
        x = torch.from_numpy(runner.view_inputs(v, chunk)).requires_grad_(True)
        logits = net(x, torch.from_numpy(runner.inputs.x_cat[chunk]))
        logits.sum().backward()
        assert x.grad is not None
        out[lo : lo + len(chunk)] = x.grad.numpy()
    return out


def _count_columns(runner: SignRunner) -> np.ndarray:
    """Positions, in the model input, of the ``log1p`` counts that links add to: known
    bad and good neighbours per relation, their two-hop counts, co-users per
    identifier relation and the social degree."""
    off = _column_offsets(runner)
    cols = [off["labels"] + 4 * i + j for i in range(len(RELATIONS)) for j in (2, 3)]
    cols += [off["labels"] + 4 * len(RELATIONS) + 4 + j for j in range(4)]
    cols += [off["identifiers"] + 3 * i + 1 for i in range(len(_SHARING))]
    cols.append(off["identifiers"] + 3 * len(_SHARING))
    return np.asarray(cols, dtype=np.int64)


def _tree_gradients(runner: SignRunner, v: int, users: np.ndarray) -> np.ndarray:
    """TreeSHAP of the selected tree head, as gradients of the model input.

    A column that is a sum over links (a neighbour mean: ``x = sum of parts``) gets
    ``phi / x``, so that a link's part times it is the link's share of the column's
    contribution ``phi``; a ``log1p`` count ``x = log1p(n)`` gets
    ``phi * (1 + n) / n``, which the link products divide by ``1 + n``: each of the
    ``n`` counted neighbours then carries ``phi / n``. Columns the head does not read,
    and the raw attributes, get 0.
    """
    model = runner.model
    width = sum(runner.block_dims)
    out = np.zeros((len(users), width), dtype=np.float32)
    count_columns = _count_columns(runner)
    for name in model.tree_heads():
        # a blend's log-odds is the mean of its heads' standardized log-odds
        scale = 1.0
        if model.selected_ == "blend":
            scale = 1.0 / (model.blend_[name][1] * len(model.tree_heads()))
        columns = model._head_columns(name, runner)
        inside = columns < width  # raw attributes and codes come after the model's inputs
        counts = np.isin(columns, count_columns)
        for lo in range(0, len(users), _GRADIENT_CHUNK):
            chunk = users[lo : lo + _GRADIENT_CHUNK]
            x = model.head_inputs(runner, chunk, v, name)
            phi = model.heads_[name].contributions(x)[:, :-1] * scale
            xv = x.astype(np.float64)
            n = np.expm1(np.where(counts[None, :], xv, 0.0))
            with np.errstate(divide="ignore", invalid="ignore"):
                linear = np.where(np.abs(xv) > 1e-6, phi / xv, 0.0)
                count = np.where(n > 1e-6, phi * (1.0 + n) / n, 0.0)
            g = np.where(counts[None, :], count, linear)
            out[lo : lo + len(chunk), columns[inside]] += g[:, inside].astype(np.float32)
    return out


@dataclass(frozen=True)
class _ViewTerms:
    """What the contributions of links read under one view (see the module notes)."""

    g: np.ndarray  # d logit / d input of the explained users
    off: dict[str, int]
    own: np.ndarray
    first: np.ndarray
    social_first: np.ndarray
    lab: np.ndarray
    lab_first: np.ndarray
    score: np.ndarray | None
    score_first: np.ndarray | None
    view_block: np.ndarray
    ratio: np.ndarray | None
    phi: np.ndarray
    g_base: np.ndarray
    lab_count: dict[str, np.ndarray]  # known bad / good counted once, per 2-hop relation
    spread: tuple[np.ndarray, ...] | None  # the spread block's inputs, its first hop


#: Links whose contributions are computed at once: each link holds a float64 gradient
#: row as wide as the model's inputs, so all links at once grow with the explained
#: users times their links; chunks bound it.
_LINK_CHUNK = 32_768

#: Explained users whose gradients are held at once (a multiple of the gradients' own
#: chunk, :data:`_GRADIENT_CHUNK`).
_USER_CHUNK = 8 * _GRADIENT_CHUNK


def _view_contributions(
    runner: SignRunner, v: int, users: np.ndarray, links: dict[str, tuple[np.ndarray, ...]]
) -> dict[str, np.ndarray]:
    """Per relation, the contribution of each link of ``users`` under view ``v``.

    The gradients, and the encoder's SHAP shares, are as wide as the model's inputs
    for every explained user: they are computed for :data:`_USER_CHUNK` users at a
    time, with those users' links, so that the stage's memory does not grow with the
    users explained. Each user's and each link's figures do not depend on the chunk.
    """
    inputs = runner.inputs
    graph = inputs.graph
    lab = label_channels(runner.folds.view(v)).astype(np.float64)
    score = score_first = None
    if runner.scorer is not None:
        score = runner.scorer(v).astype(np.float64).reshape(-1, 1)
        score_first = graph.mean("identifier", score).astype(np.float64)
    view = _ViewTerms(
        g=np.empty((0, 0), dtype=np.float32),
        off=_column_offsets(runner),
        # float32 as stored: each chunk's rows are promoted in the products, not a
        # float64 copy of every user's inputs
        own=inputs.own,
        first=inputs.first_hop,
        social_first=inputs.block("mean:social"),
        lab=lab,
        lab_first=graph.mean("identifier", lab).astype(np.float64),
        score=score,
        score_first=score_first,
        view_block=runner.view_block(v),
        ratio=None,
        phi=np.empty((0, 0)),
        g_base=np.empty((0, 0)),
        lab_count={r: graph.count(r, lab).astype(np.float64) for r in ("identifier", "social")},
        spread=_spread_inputs(runner),
    )
    # each relation's links grouped by their user, so that a chunk of users reads a slice
    order = {r: np.argsort(links[r][0], kind="stable") for r in RELATIONS}
    bounds = {r: links[r][0][order[r]] for r in RELATIONS}
    out = {r: np.zeros(len(links[r][0])) for r in RELATIONS}
    for lo in range(0, len(users), _USER_CHUNK):
        mine = users[lo : lo + _USER_CHUNK]
        g = _gradients(runner, v, mine)
        ratio, phi, g_base = _booster_shares(runner, v, mine, g)
        terms = replace(view, g=g, ratio=ratio, phi=phi, g_base=g_base)
        for r in RELATIONS:
            row, _, other, w, c = links[r]
            a, b = np.searchsorted(bounds[r], [lo, lo + len(mine)])
            picked = order[r][a:b]
            for start in range(0, len(picked), _LINK_CHUNK):
                at = picked[start : start + _LINK_CHUNK]
                part = _LinkChunk(row[at] - lo, other[at], w[at], c[at])
                out[r][at] = _link_contributions(runner, mine, terms, r, part)
    return out


def _spread_inputs(runner: SignRunner) -> tuple[np.ndarray, ...] | None:
    """What the ``spread`` block averages (identifiers, activity core, profile: three
    views of the static inputs) and its first hop per relation of
    :data:`SPREAD_RELATIONS`; None without it."""
    inputs = runner.inputs
    names = [name for name, _ in inputs.static_blocks]
    if "spread" not in names:
        return None
    spread = inputs.block("spread")
    width = spread.shape[1] // (2 * len(SPREAD_RELATIONS))
    return (
        inputs.block("identifiers"),
        inputs.block("activity")[:, :ACTIVITY_CORE],
        inputs.block("profile"),
        *(spread[:, i * width : (i + 1) * width] for i in range(len(SPREAD_RELATIONS))),
    )


class _LinkChunk(NamedTuple):
    """Links ``(users[row], other)`` of one relation: their weights in the mean ``w``
    and in the counts ``c``."""

    row: np.ndarray
    other: np.ndarray
    w: np.ndarray
    c: np.ndarray


def _link_contributions(
    runner: SignRunner, users: np.ndarray, t: _ViewTerms, r: str, links: _LinkChunk
) -> np.ndarray:
    """Contribution of the ``links`` of relation ``r``."""
    row, other, w, c = links
    r_i = RELATIONS.index(r)
    a = t.own.shape[1]
    off = t.off
    contrib = np.zeros(len(row))
    # first hop: attributes, label means, label counts (log1p), score means
    gs = t.g[row].astype(np.float64)
    s = off[f"mean:{r}"]
    contrib += w * np.einsum("ij,ij->i", gs[:, s : s + a], t.own[other])
    s = off["labels"] + 4 * r_i
    contrib += w * np.einsum("ij,ij->i", gs[:, s : s + 2], t.lab[other])
    # d log1p(n)/dn = 1 / (1 + n), n the current count of the scored user
    n_now = np.expm1(t.view_block[users[row], 4 * r_i + 2 : 4 * r_i + 4].astype(np.float64))
    contrib += c * np.einsum("ij,ij->i", gs[:, s + 2 : s + 4] / (1.0 + n_now), t.lab[other])
    if t.score is not None:
        s = off["score"] + 1 + r_i
        contrib += w * gs[:, s] * t.score[other, 0]
    # second hop through this link: identifier->identifier and social->identifier,
    # and social->social (the other user's own social mean)
    hop = {"identifier": 0, "social": 1}.get(r)
    if hop is not None:
        s = off["hop2"] + hop * a
        contrib += w * np.einsum("ij,ij->i", gs[:, s : s + a], t.first[other])
        if r == "social":
            s = off["hop2"] + 2 * a
            contrib += w * np.einsum("ij,ij->i", gs[:, s : s + a], t.social_first[other])
        s = off["labels"] + 4 * len(RELATIONS) + 2 * hop
        contrib += w * np.einsum("ij,ij->i", gs[:, s : s + 2], t.lab_first[other])
        if t.score_first is not None:
            s = off["score"] + 1 + len(RELATIONS) + hop
            contrib += w * gs[:, s] * t.score_first[other, 0]
        # two-hop counts: the link brings in the other user's own known neighbours
        s = off["labels"] + 4 * len(RELATIONS) + 4 + 2 * hop
        n2_now = np.expm1(t.view_block[users[row], s - off["labels"] : s - off["labels"] + 2])
        once = t.lab_count[r][other]
        contrib += c * np.einsum("ij,ij->i", gs[:, s : s + 2] / (1.0 + n2_now), once)
        if t.spread is not None:
            # neighbours' identifiers, activity and profile, and their first hop over
            # the same relation
            ident, act, prof, *first = t.spread
            sw = first[0].shape[1]
            s = off["spread"] + hop * sw
            other_row = np.concatenate([ident[other], act[other], prof[other]], axis=1)
            contrib += w * np.einsum("ij,ij->i", gs[:, s : s + sw], other_row)
            s = off["spread"] + (len(SPREAD_RELATIONS) + hop) * sw
            contrib += w * np.einsum("ij,ij->i", gs[:, s : s + sw], first[hop][other])
    # identifier sharing: each link adds one co-user (or tie) to a log1p count
    s = off["identifiers"] + (3 * _SHARING.index(r) + 1 if r in _SHARING else 3 * len(_SHARING))
    count_now = np.expm1(runner.inputs.static[users[row], s].astype(np.float64))
    contrib += gs[:, s] / (1.0 + count_now)
    if t.ratio is not None:
        # the same inputs as read by the boosted encoder (TreeSHAP, split by link)
        gb = t.g_base[row].astype(np.float64)
        u = off[f"mean:{r}"]
        contrib += gb * w * np.einsum("ij,ij->i", t.ratio[row, u : u + a], t.own[other])
        if hop is not None:
            u = off["hop2"] + hop * a
            contrib += gb * w * np.einsum("ij,ij->i", t.ratio[row, u : u + a], t.first[other])
        if r == "social":
            u = off["hop2"] + 2 * a
            second = t.social_first[other]
            contrib += gb * w * np.einsum("ij,ij->i", t.ratio[row, u : u + a], second)
        contrib += gb * t.phi[row, s] / np.maximum(count_now, 1.0)
    return contrib


def _booster_shares(
    runner: SignRunner, v: int, users: np.ndarray, g: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """TreeSHAP of the boosted encoder over the label-free blocks it reads.

    Returns ``ratio`` (SHAP value / input value per static column, 0 where the input
    is 0: the share of a column's SHAP value one unit of it carries), ``phi`` (the
    SHAP values) and ``g_base`` (d logit / d booster score), or ``ratio=None`` when
    the boosters read no propagated input.
    """
    model = runner.model
    empty = np.zeros((0, 0))
    if runner.scorer is None or model.boosters_ is None or model.settings.booster_inputs != "graph":
        return None, empty, empty
    static = runner.inputs.static
    views = runner.feature_views
    frame = None if views is None else views.frames[v]
    x = model.booster_source(runner.tables)(frame, static, users)
    phi = model.boosters_.contributions(runner.folds.view_fold(v), x)[:, :-1]
    phi = phi[:, x.shape[1] - static.shape[1] :]  # the static blocks come last
    values = static[users].astype(np.float64)
    safe = np.abs(values) > 1e-6
    ratio = np.where(safe, phi / np.where(safe, values, 1.0), 0.0)
    assert runner.base_column is not None
    return ratio, phi, g[:, runner.base_column]


# Relations of the ``identifiers`` block, three columns each (ids, co-users, largest
# sharing), then the social degree (see UserGraph.structure).
_SHARING = ("device", "account", "application_device", "identifier")


def _no_links() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _DTYPES.items()})


def risky_links(
    model: GraphRiskModel,
    tables: GraphTables,
    as_of: Any,
    *,
    users: Sequence[str] | None = None,
    risk: np.ndarray | None = None,
    threshold: float = 0.5,
    top_k: int = 5,
    min_score: float | None = 0.0,
    folds: LabelFolds | None = None,
    feature_views: FeatureViews | None = None,
    inputs: SignRunner | MessagePassingRunner | None = None,
) -> pd.DataFrame:
    """The associations that drive each high-risk user's GNN score.

    Parameters
    ----------
    model : GraphRiskModel
        Fitted, ``architecture="sign"``.
    tables : GraphTables
    as_of : timestamp
    users : sequence of str, optional
        Explain these users; default: every user whose risk is at least ``threshold``.
    risk : np.ndarray, optional
        float ``(n_users,)`` calibrated risk already computed (default: predicted).
    threshold : float, default 0.5
    top_k : int, default 5
        Links kept per user (the largest scores).
    min_score : float or None, default 0.0
        Keep links scoring above it (None: every link, e.g. for
        :func:`evidence_agreement`).
    folds, feature_views, inputs
        As for :meth:`GraphRiskModel.predict_proba` (``inputs``: the model's inputs
        already prepared on the same arguments, not built again).

    Returns
    -------
    pandas.DataFrame
        :data:`ASSOCIATION_COLUMNS`; one row per (user, other user, identifier),
        sorted by user then score descending.
    """
    if model.settings.architecture != "sign":
        raise ModelError(
            f"risky links need a 'sign' model (exact link attributions); got {model.settings.architecture!r}"
        )
    if top_k < 1:
        raise ModelError(f"top_k = {top_k!r}: expected >= 1")
    if users is not None and len(users) == 0:
        # Nobody to explain (an online call's approved applicants): no model inputs.
        return _no_links()
    runner = (
        inputs
        if inputs is not None
        else model.prepare(tables, as_of, folds=folds, feature_views=feature_views)
    )
    assert isinstance(runner, SignRunner)
    ids = tables.users["user_id"].astype(str).to_numpy()
    if users is not None:
        pos = pd.Index(ids).get_indexer(pd.Index([str(u) for u in users]))
        if (pos < 0).any():
            missing = np.asarray(users, dtype=object)[pos < 0]
            raise ModelError(f"risky_links: unknown user ids, e.g. {missing[0]!r}")
        selected = pos.astype(np.int64)
    else:
        if risk is None:
            from riskgraph.gnn.inference import average_views

            risk, _ = average_views(
                runner.view_logits, runner.folds.view_weights(), model.calibrate
            )
        selected = np.flatnonzero(np.asarray(risk) >= threshold)
    if len(selected) == 0:
        return _no_links()
    graph = runner.inputs.graph
    links = {r: _triples(graph, r, selected) for r in RELATIONS}
    view = _explained_view(runner.folds.view_weights()[selected])
    total = {r: np.zeros(len(links[r][0])) for r in RELATIONS}
    with torch.enable_grad():
        for v in np.unique(view):
            mine = view == v
            position = np.cumsum(mine) - 1
            keep = {r: mine[links[r][0]] for r in RELATIONS}
            sub = {
                r: (position[links[r][0][keep[r]]], *(a[keep[r]] for a in links[r][1:]))
                for r in RELATIONS
            }
            contrib = _view_contributions(runner, int(v), selected[mine], sub)
            for r in RELATIONS:
                total[r][keep[r]] = contrib[r]
    # The model's inputs (the largest arrays of the stage) are not needed to assemble
    # the table: let them go before it.
    labels = runner.folds.labels
    del runner
    frame = _assemble(tables, graph, selected, links, total)
    if min_score is not None:
        frame = frame[frame["score"] > min_score]
    frame = (
        frame.sort_values(["user_id", "score"], ascending=[True, False], kind="stable")
        .groupby("user_id", sort=False)
        .head(top_k)
        .reset_index(drop=True)
    )
    frame["evidence"] = _evidence(graph, labels, tables, frame)
    return frame[ASSOCIATION_COLUMNS].astype(_DTYPES)


_DTYPES = {
    "user_id": "string",
    "other_user_id": "string",
    "via_type": "string",
    "via_id": "string",
    "score": "float64",
    "evidence": "string",
}


def _assemble(
    tables: GraphTables,
    graph: UserGraph,
    selected: np.ndarray,
    links: dict[str, tuple[np.ndarray, ...]],
    total: dict[str, np.ndarray],
) -> pd.DataFrame:
    """One row per (user, other, via_type, via_id), summing the relations' shares."""
    ids = tables.users["user_id"].astype(str).to_numpy()
    devices = tables.devices["device_id"].astype(str).to_numpy()
    accounts = tables.accounts["account_id"].astype(str).to_numpy()
    n_dev = len(devices)
    device_inc = graph.incidence["device"]
    parts = []
    for r in RELATIONS:
        row, ident, other, _, _ = links[r]
        if len(row) == 0:
            continue
        u = selected[row]
        if r == "social":
            via_type = np.full(len(row), "social", dtype=object)
            via_id = _tie_types(tables, u, other)
        elif r == "account":
            via_type = np.full(len(row), "account", dtype=object)
            via_id = accounts[ident]
        elif r in ("device", "application_device"):
            via_type = np.full(len(row), r, dtype=object)
            via_id = devices[ident]
        else:  # the union of identifiers: credit the kind of link it is
            is_dev = ident < n_dev
            dev = np.where(is_dev, ident, 0)
            both_used = (
                is_dev
                & (np.asarray(device_inc[u, dev]).ravel() > 0)
                & (np.asarray(device_inc[other, dev]).ravel() > 0)
            )
            via_type = np.where(
                is_dev, np.where(both_used, "device", "application_device"), "account"
            ).astype(object)
            via_id = np.empty(len(ident), dtype=object)
            via_id[is_dev] = devices[ident[is_dev]]
            via_id[~is_dev] = accounts[ident[~is_dev] - n_dev]
        parts.append(
            pd.DataFrame(
                {
                    "user_id": ids[u],
                    "other_user_id": ids[other],
                    "via_type": via_type,
                    "via_id": via_id,
                    "score": total[r],
                }
            )
        )
    if not parts:  # none of the explained users has a link (e.g. an input of users alone)
        return pd.DataFrame(
            {
                c: pd.Series(dtype=_DTYPES[c])
                for c in ("user_id", "other_user_id", "via_type", "via_id", "score")
            }
        )
    frame = pd.concat(parts, ignore_index=True)
    return frame.groupby(
        ["user_id", "other_user_id", "via_type", "via_id"], as_index=False, sort=False
    )["score"].sum()


def _tie_types(tables: GraphTables, u: np.ndarray, other: np.ndarray) -> np.ndarray:
    so = tables.social
    key = pd.MultiIndex.from_arrays(
        [
            np.concatenate([so["src_idx"].to_numpy(), so["dst_idx"].to_numpy()]),
            np.concatenate([so["dst_idx"].to_numpy(), so["src_idx"].to_numpy()]),
        ]
    )
    tie = np.concatenate([so["tie_type"].to_numpy(dtype=object, na_value="tie")] * 2)
    lookup = pd.Series(tie, index=key)
    lookup = lookup[~lookup.index.duplicated()]
    pos = lookup.index.get_indexer(pd.MultiIndex.from_arrays([u, other]))
    return np.where(pos >= 0, lookup.to_numpy()[np.maximum(pos, 0)], "tie")


def _neighbours(graph: UserGraph) -> sp.csr_matrix:
    """Binary user-user adjacency over any shared non-hub identifier or social tie."""
    b = graph.incidence["identifier"]
    users_per_id = np.asarray(b.sum(axis=0)).ravel()
    b = b @ sp.diags((users_per_id <= graph.max_sharing).astype(np.float32))
    adj = (b @ b.T + graph.social).tocsr()
    adj.setdiag(0)
    adj.eliminate_zeros()
    adj.data[:] = 1.0
    return adj


def _evidence(
    graph: UserGraph, labels: np.ndarray, tables: GraphTables, frame: pd.DataFrame
) -> np.ndarray:
    if frame.empty:
        return np.empty(0, dtype=object)
    index = pd.Index(tables.users["user_id"].astype(str).to_numpy())
    u = index.get_indexer(frame["user_id"].astype(str))
    v = index.get_indexer(frame["other_user_id"].astype(str))
    bad = (labels == 1.0).astype(np.float32)
    adj = _neighbours(graph)
    # known-bad neighbours of v other than u itself
    n_bad = np.asarray(adj[v] @ bad).ravel() - bad[u] * np.asarray(adj[v, u]).ravel()
    return np.where(bad[v] > 0, "known_bad", np.where(n_bad > 0, "bad_within_2", "")).astype(object)


def evidence_agreement(links: pd.DataFrame, all_links: pd.DataFrame) -> dict[str, float]:
    """Share of links with path evidence among the top links and among all links.

    Parameters
    ----------
    links : DataFrame
        :func:`risky_links` output (the top links).
    all_links : DataFrame
        The same users' links with ``top_k`` large enough to keep them all.

    Returns
    -------
    dict
        ``top_share``, ``all_share`` and their ratio ``lift``.
    """
    top = float((links["evidence"] != "").mean()) if len(links) else float("nan")
    base = float((all_links["evidence"] != "").mean()) if len(all_links) else float("nan")
    return {"top_share": top, "all_share": base, "lift": top / base if base else float("nan")}
