"""Strong simple references for the robustness suite (benchmarks/suite.py).

Three models a careful analyst would build in an afternoon, each a LightGBM on one
frame of per-user columns, trained on the same labelled users the product sees and
early-stopped on the same validation users:

``tabular``
    Each user's own row: attributes, registration age, its own degree per relation
    (devices, accounts per type, ties in and out per type, applications, platforms,
    application devices), sums and means of tie weights, application amounts.
``xgb_graph``
    GADBench's XGB-Graph recipe (Tang et al., NeurIPS 2023): the own row plus
    parameter-free means of the neighbours' own rows over one and two hops, per
    relation, plus known-bad and known-good neighbour counts from out-of-fold labels.
``community``
    Leiden communities of the user graph (social ties and shared identifiers;
    python-igraph + leidenalg) with the out-of-fold community bad rate, plus the own row.

Label-derived columns are out-of-fold: the labelled users are split into five
random folds; a labelled user's columns see the other folds' labels only, and an
unlabelled user is scored on each of the five views and its predictions averaged
(each view shows four fifths of the labels, as in training).

These are written here, independently of the product's model code, so that the
suite compares the product against something it does not share code with; only the
contract loader (``build_graph_tables``) is shared, so both read the same input the
same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
import scipy.sparse as sp

from riskgraph.loaders import GraphTables

__all__ = ["REFERENCES", "ReferenceSplit", "fit_references"]

REFERENCES = ("tabular", "xgb_graph", "community")
N_FOLDS = 5
TOP_CATEGORIES = 8


@dataclass(frozen=True)
class ReferenceSplit:
    """Which users the references train, validate and are scored on.

    Attributes
    ----------
    labels : np.ndarray
        float64 ``(n_users,)``: the labels the product sees (NaN = unknown).
    validation : np.ndarray
        bool ``(n_users,)``: labelled users kept for early stopping.
    test : np.ndarray
        int64: positions of the users to score.
    """

    labels: np.ndarray
    validation: np.ndarray
    test: np.ndarray


# -- the own row ---------------------------------------------------------------------------
def _visible(times: pd.Series, as_of: pd.Timestamp) -> np.ndarray:
    """Rows whose time is before ``as_of`` (a missing time is always known)."""
    return (times.isna() | (times < as_of)).to_numpy()


def _counts(idx: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(idx, weights=weights, minlength=n).astype(np.float64)


def _top(values: pd.Series) -> list[str]:
    return [str(v) for v in values.dropna().value_counts().index[:TOP_CATEGORIES]]


def own_row(tables: GraphTables, as_of: pd.Timestamp) -> pd.DataFrame:
    """Each user's own columns as of ``as_of`` (numbers only; categories as codes).

    Returns
    -------
    pd.DataFrame
        ``(n_users, p)`` float64, RangeIndex in user order.
    """
    users = tables.users
    n = len(users)
    cols: dict[str, np.ndarray] = {}
    for c in tables.attribute_columns:
        s = users[c]
        if pd.api.types.is_numeric_dtype(s.dtype):
            cols[f"attr:{c}"] = s.astype("float64").to_numpy(na_value=np.nan)
        else:
            codes = s.astype("category").cat.codes.to_numpy().astype(np.float64)
            cols[f"cat:{c}"] = np.where(codes < 0, np.nan, codes)
    cols["registration_age_days"] = (
        as_of - users["registered_at"]
    ).dt.total_seconds().to_numpy() / 86400.0

    ud = tables.user_devices[_visible(tables.user_devices["first_seen"], as_of)]
    cols["devices"] = _counts(ud["user_idx"].to_numpy(), n)
    ua = tables.user_accounts[_visible(tables.user_accounts["linked_at"], as_of)]
    cols["accounts"] = _counts(ua["user_idx"].to_numpy(), n)
    types = tables.accounts["account_type"].to_numpy()[ua["account_idx"].to_numpy()]
    for t in _top(pd.Series(types)):
        cols[f"accounts:{t}"] = _counts(ua["user_idx"].to_numpy()[types == t], n)

    so = tables.social[_visible(tables.social["created_at"], as_of)]
    src, dst = so["src_idx"].to_numpy(), so["dst_idx"].to_numpy()
    w = so["weight"].to_numpy(dtype=np.float64, na_value=np.nan)
    has_w = ~np.isnan(w)
    cols["ties_out"], cols["ties_in"] = _counts(src, n), _counts(dst, n)
    if has_w.any():
        w0 = np.where(has_w, w, 0.0)
        cols["tie_weight_out"] = _counts(src, n, w0)
        cols["tie_weight_in"] = _counts(dst, n, w0)
        for name, side in (("out", src), ("in", dst)):
            k = _counts(side, n, has_w.astype(np.float64))
            cols[f"tie_weight_mean_{name}"] = np.divide(
                cols[f"tie_weight_{name}"], k, out=np.full(n, np.nan), where=k > 0
            )
    kinds = so["tie_type"].astype("string").to_numpy(dtype=object, na_value=None)
    for t in _top(so["tie_type"]):
        sel = kinds == t
        cols[f"ties:{t}"] = _counts(src[sel], n) + _counts(dst[sel], n)

    apps = tables.applications[tables.applications["applied_at"] < as_of]
    au = apps["user_idx"].to_numpy()
    cols["applications"] = _counts(au, n)
    if len(apps):
        cols["platforms"] = _counts(
            apps.drop_duplicates(["user_idx", "platform_idx"])["user_idx"].to_numpy(), n
        )
        with_dev = apps[apps["device_idx"] >= 0]
        cols["application_devices"] = _counts(
            with_dev.drop_duplicates(["user_idx", "device_idx"])["user_idx"].to_numpy(), n
        )
        amount = apps["amount"].to_numpy(dtype=np.float64, na_value=np.nan)
        ok = ~np.isnan(amount)
        cols["amount_sum"] = _counts(au[ok], n, amount[ok])
        cols["amount_mean"] = np.divide(
            cols["amount_sum"], _counts(au[ok], n), out=np.full(n, np.nan),
            where=_counts(au[ok], n) > 0,
        )  # fmt: skip
        days = (as_of - apps["applied_at"]).dt.total_seconds().to_numpy() / 86400.0
        first = pd.Series(days).groupby(au).max()
        last = pd.Series(days).groupby(au).min()
        cols["days_since_first_application"] = np.full(n, np.nan)
        cols["days_since_first_application"][first.index.to_numpy()] = first.to_numpy()
        cols["days_since_last_application"] = np.full(n, np.nan)
        cols["days_since_last_application"][last.index.to_numpy()] = last.to_numpy()
        status = apps["status"].astype("string").to_numpy(dtype=object, na_value=None)
        for t in _top(apps["status"]):
            cols[f"applications:{t}"] = _counts(au[status == t], n)
    return pd.DataFrame(cols)


# -- relations between users ----------------------------------------------------------------
def _incidence(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(n_rows, n_cols))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def relations(tables: GraphTables, as_of: pd.Timestamp) -> dict[str, sp.csr_matrix]:
    """User-identifier incidences (``device``, ``account``, ``application_device``) and
    the symmetric social adjacency (``social``), as of ``as_of``."""
    n = tables.num_users
    ud = tables.user_devices[_visible(tables.user_devices["first_seen"], as_of)]
    ua = tables.user_accounts[_visible(tables.user_accounts["linked_at"], as_of)]
    apps = tables.applications[
        (tables.applications["applied_at"] < as_of) & (tables.applications["device_idx"] >= 0)
    ]
    so = tables.social[_visible(tables.social["created_at"], as_of)]
    src, dst = so["src_idx"].to_numpy(), so["dst_idx"].to_numpy()
    keep = src != dst
    social = _incidence(
        np.concatenate([src[keep], dst[keep]]), np.concatenate([dst[keep], src[keep]]), n, n
    )
    n_dev, n_acc = len(tables.devices), len(tables.accounts)
    return {
        "device": _incidence(ud["user_idx"].to_numpy(), ud["device_idx"].to_numpy(), n, n_dev),
        "account": _incidence(ua["user_idx"].to_numpy(), ua["account_idx"].to_numpy(), n, n_acc),
        "application_device": _incidence(
            apps["user_idx"].to_numpy(), apps["device_idx"].to_numpy(), n, n_dev
        ),
        "social": social,
    }


def _neighbour_sum(rel: str, m: sp.csr_matrix, x: np.ndarray) -> np.ndarray:
    """Sum of ``x`` over each user's neighbours (other users sharing an identifier,
    counted once per shared identifier; or social neighbours)."""
    if rel == "social":
        return m @ x
    return m @ (m.T @ x) - x * np.asarray(m.sum(axis=1))


def _neighbour_mean(rel: str, m: sp.csr_matrix, x: np.ndarray) -> np.ndarray:
    ones = np.ones((m.shape[0], 1))
    total = _neighbour_sum(rel, m, x)
    count = _neighbour_sum(rel, m, ones)
    return np.divide(total, count, out=np.full_like(total, np.nan), where=count > 0)


def neighbour_means(rels: dict[str, sp.csr_matrix], own: pd.DataFrame) -> pd.DataFrame:
    """Means of the neighbours' own rows over one and two hops, per relation."""
    x = own.to_numpy(dtype=np.float64)
    filled = np.where(np.isnan(x), np.nanmean(np.where(np.isnan(x), np.nan, x), axis=0), x)
    filled = np.nan_to_num(filled)
    blocks = []
    for rel, m in rels.items():
        if m.nnz == 0:
            continue
        hop1 = _neighbour_mean(rel, m, filled)
        hop2 = _neighbour_mean(rel, m, np.nan_to_num(hop1))
        for hop, block in (("1", hop1), ("2", hop2)):
            blocks.append(pd.DataFrame(block, columns=[f"{rel}{hop}:{c}" for c in own.columns]))
    return pd.concat(blocks, axis=1) if blocks else pd.DataFrame(index=own.index)


def neighbour_label_counts(rels: dict[str, sp.csr_matrix], labels: np.ndarray) -> pd.DataFrame:
    """Known-bad and known-good neighbours per relation, one and two hops."""
    bad = (labels == 1).astype(np.float64)[:, None]
    good = (labels == 0).astype(np.float64)[:, None]
    cols = {}
    for rel, m in rels.items():
        if m.nnz == 0:
            continue
        for name, y in (("bad", bad), ("good", good)):
            hop1 = _neighbour_sum(rel, m, y)
            cols[f"{rel}1:known_{name}"] = hop1.ravel()
            cols[f"{rel}2:known_{name}"] = _neighbour_sum(rel, m, hop1).ravel()
    return pd.DataFrame(cols)


# -- communities ------------------------------------------------------------------------------
def leiden_communities(
    rels: dict[str, sp.csr_matrix], seed: int = 0, clique_limit: int = 30
) -> np.ndarray:
    """Leiden (modularity) communities of the user graph: social ties, and users who
    share an identifier (a clique when at most ``clique_limit`` share it, weighted
    1 / (k - 1); a star around its first user beyond)."""
    import igraph as ig
    import leidenalg

    n = next(iter(rels.values())).shape[0]
    src, dst, wts = [], [], []
    social = sp.triu(rels["social"], k=1).tocoo()
    src.append(social.row)
    dst.append(social.col)
    wts.append(np.ones(social.nnz))
    for rel in ("device", "account", "application_device"):
        bt = rels[rel].T.tocsr()
        sizes = np.diff(bt.indptr)
        for i in np.flatnonzero(sizes >= 2):
            members = bt.indices[bt.indptr[i] : bt.indptr[i + 1]]
            k = len(members)
            if k <= clique_limit:
                a, b = np.triu_indices(k, 1)
                src.append(members[a])
                dst.append(members[b])
                wts.append(np.full(len(a), 1.0 / (k - 1)))
            else:
                src.append(np.full(k - 1, members[0]))
                dst.append(members[1:])
                wts.append(np.full(k - 1, 1.0 / (k - 1)))
    s, d, w = np.concatenate(src), np.concatenate(dst), np.concatenate(wts)
    graph = ig.Graph(n=n, edges=np.stack([s, d], axis=1).tolist(), directed=False)
    graph.es["weight"] = w.tolist()
    graph = graph.simplify(combine_edges="sum")
    part = leidenalg.find_partition(
        graph, leidenalg.ModularityVertexPartition, weights="weight", seed=seed
    )
    return np.asarray(part.membership, dtype=np.int64)


def community_columns(community: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Community size, known labels in it and its smoothed bad rate (prior: the base
    rate of the labels given, weight of ten users)."""
    n_comm = int(community.max()) + 1
    size = np.bincount(community, minlength=n_comm).astype(np.float64)
    known = np.bincount(community, weights=(~np.isnan(labels)).astype(float), minlength=n_comm)
    bad = np.bincount(community, weights=np.nan_to_num(labels), minlength=n_comm)
    prior = float(np.nanmean(labels)) if (~np.isnan(labels)).any() else 0.0
    rate = (bad + 10.0 * prior) / (known + 10.0)
    return pd.DataFrame(
        {
            "community_size": size[community],
            "community_known": known[community],
            "community_known_bad": bad[community],
            "community_bad_rate": rate[community],
        }
    )


# -- training ---------------------------------------------------------------------------------
def _booster(seed: int) -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(
        n_estimators=2000,
        learning_rate=0.05,
        num_leaves=31,
        min_child_samples=20,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        random_state=seed,
        n_jobs=2,
        verbose=-1,
    )


def _fit_predict(
    static: pd.DataFrame,
    label_views: list[pd.DataFrame] | None,
    fold: np.ndarray,
    split: ReferenceSplit,
    seed: int,
) -> np.ndarray:
    """Train on the labelled non-validation users (each on its own fold's view),
    early-stop on the validation users, and score the test users (averaged over the
    fold views when there are label columns)."""
    y = split.labels
    labelled = ~np.isnan(y)
    train = np.flatnonzero(labelled & ~split.validation)
    val = np.flatnonzero(split.validation)

    arrays = None if label_views is None else [v.to_numpy() for v in label_views]

    def rows(idx: np.ndarray, view: int | None = None) -> pd.DataFrame:
        part = static.iloc[idx].reset_index(drop=True)
        if label_views is None or arrays is None:
            return _safe_names(part)
        if view is None:  # each labelled user on its own fold's view
            own = np.empty((len(idx), arrays[0].shape[1]))
            for k in np.unique(fold[idx]):
                at = fold[idx] == k
                own[at] = arrays[k][idx[at]]
            extra = pd.DataFrame(own, columns=label_views[0].columns)
        else:
            extra = label_views[view].iloc[idx].reset_index(drop=True)
        return _safe_names(pd.concat([part, extra], axis=1))

    model = _booster(seed).fit(
        rows(train),
        y[train].astype(int),
        eval_X=(rows(val),),
        eval_y=(y[val].astype(int),),
        eval_metric="average_precision",
        callbacks=[lgb.early_stopping(100, verbose=False)],
    )
    if label_views is None:
        return model.predict_proba(rows(split.test))[:, 1]
    return np.mean(
        [model.predict_proba(rows(split.test, k))[:, 1] for k in range(len(label_views))],
        axis=0,
    )


def _safe_names(frame: pd.DataFrame) -> pd.DataFrame:
    """LightGBM refuses JSON's special characters in feature names."""
    frame.columns = ["".join(ch if ch.isalnum() else "_" for ch in str(c)) for c in frame.columns]
    return frame


def _label_views(labels: np.ndarray, fold: np.ndarray, make) -> list[pd.DataFrame]:
    views = []
    for k in range(N_FOLDS):
        shown = labels.copy()
        shown[fold == k] = np.nan
        views.append(make(shown))
    return views


def fit_references(
    tables: GraphTables,
    as_of: pd.Timestamp,
    split: ReferenceSplit,
    seed: int = 0,
    which: tuple[str, ...] = REFERENCES,
) -> dict[str, np.ndarray]:
    """Scores of the test users under each reference, ``{name: (len(test),)}``."""
    rng = np.random.default_rng(seed)
    fold = rng.integers(0, N_FOLDS, size=tables.num_users)
    own = own_row(tables, as_of)
    out: dict[str, np.ndarray] = {}
    if "tabular" in which:
        out["tabular"] = _fit_predict(own, None, fold, split, seed)
    if "xgb_graph" in which or "community" in which:
        rels = relations(tables, as_of)
    if "xgb_graph" in which:
        static = pd.concat([own, neighbour_means(rels, own)], axis=1)
        views = _label_views(split.labels, fold, lambda y: neighbour_label_counts(rels, y))
        out["xgb_graph"] = _fit_predict(static, views, fold, split, seed)
    if "community" in which:
        community = leiden_communities(rels, seed=seed)
        views = _label_views(split.labels, fold, lambda y: community_columns(community, y))
        out["community"] = _fit_predict(own, views, fold, split, seed)
    return out
