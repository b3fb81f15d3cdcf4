"""Run-to-run monitoring: population stability (PSI) and the post-approval watchlist.

The watchlist is how an open credit line gets reviewed days after approval instead
of months later: users whose score fell since the previous run, with the reasons
that appeared or went away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskgraph.errors import ConfigError

__all__ = [
    "CHANGES_COLUMNS",
    "WatchlistConfig",
    "population_stability_index",
    "score_changes",
    "stability_table",
]

#: Columns of changes.parquet (CONTRACT.md), in order.
CHANGES_COLUMNS = ("user_id", "previous_score", "credit_score", "delta", "reasons_changed")


@dataclass(frozen=True)
class WatchlistConfig:
    """Which score moves reach ``changes.parquet`` (config table ``[watchlist]``).

    Parameters
    ----------
    min_abs_delta : int, default 20
        Smallest score move (points, either direction) that is listed.
    max_rows : int, default 10000
        At most this many users, largest falls first, then largest rises.
    """

    min_abs_delta: int = 20
    max_rows: int = 10_000

    def validate(self) -> WatchlistConfig:
        if self.min_abs_delta < 0:
            raise ConfigError(f"watchlist.min_abs_delta = {self.min_abs_delta}: expected >= 0")
        if self.max_rows < 1:
            raise ConfigError(f"watchlist.max_rows = {self.max_rows}: expected >= 1")
        return self


def population_stability_index(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """PSI of ``actual`` against ``expected`` over ``expected``'s quantile bins.

    ``PSI = sum((a - e) * ln(a / e))`` over bins, with empty bins floored at 0.5
    observations so that the logarithm stays finite. Missing values form their own
    bin. Rule of thumb: < 0.1 stable, 0.1-0.25 watch, > 0.25 shifted.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=5000)
    >>> population_stability_index(x, rng.normal(size=5000)) < 0.02
    True
    >>> population_stability_index(x, rng.normal(1.0, size=5000)) > 0.25
    True
    """
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    e_valid, a_valid = expected[~np.isnan(expected)], actual[~np.isnan(actual)]
    if len(expected) == 0 or len(actual) == 0:
        return float("nan")
    if len(e_valid):
        edges = np.unique(np.quantile(e_valid, np.linspace(0, 1, bins + 1)[1:-1]))
    else:
        edges = np.array([])
    e_counts = np.append(
        np.bincount(np.searchsorted(edges, e_valid, side="right"), minlength=len(edges) + 1),
        len(expected) - len(e_valid),
    ).astype(np.float64)
    a_counts = np.append(
        np.bincount(np.searchsorted(edges, a_valid, side="right"), minlength=len(edges) + 1),
        len(actual) - len(a_valid),
    ).astype(np.float64)
    e_share = np.maximum(e_counts, 0.5) / max(len(expected), 1)
    a_share = np.maximum(a_counts, 0.5) / max(len(actual), 1)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def stability_table(
    previous: pd.DataFrame, current: pd.DataFrame, columns: list[str]
) -> pd.DataFrame:
    """PSI of each column between two runs: ``column``, ``psi``, sorted high to low.

    Boolean columns are compared as 0/1; columns absent from either run are skipped.
    """
    rows = []
    for column in columns:
        if column not in previous.columns or column not in current.columns:
            continue
        before, after = previous[column], current[column]
        if not (pd.api.types.is_numeric_dtype(before) or pd.api.types.is_bool_dtype(before)):
            continue
        rows.append(
            {
                "column": column,
                "psi": population_stability_index(
                    before.astype("float64").to_numpy(), after.astype("float64").to_numpy()
                ),
            }
        )
    table = pd.DataFrame(rows, columns=["column", "psi"])
    return table.sort_values("psi", ascending=False, ignore_index=True)


def score_changes(
    previous: pd.DataFrame, current: pd.DataFrame, config: WatchlistConfig | None = None
) -> pd.DataFrame:
    """Users whose credit score moved since the previous run, largest falls first.

    Parameters
    ----------
    previous, current : pd.DataFrame
        ``scores.parquet`` of the previous and of this run (``user_id``,
        ``credit_score``, ``reason_1..3``).
    config : WatchlistConfig, optional

    Returns
    -------
    pd.DataFrame
        :data:`CHANGES_COLUMNS`: ``delta = credit_score - previous_score`` (negative
        when the score fell) and ``reasons_changed``, e.g. ``"new: applied at 7
        lending platforms in the last 30 days | gone: no credit history yet"``.
        Users new tonight have no previous score and are not listed.
    """
    config = (config or WatchlistConfig()).validate()
    reason_columns = [c for c in ("reason_1", "reason_2", "reason_3") if c in current.columns]
    merged = current[["user_id", "credit_score", *reason_columns]].merge(
        previous[["user_id", "credit_score", *reason_columns]],
        on="user_id",
        suffixes=("", "_prev"),
        how="inner",
    )
    delta = merged["credit_score"].astype("int64") - merged["credit_score_prev"].astype("int64")
    keep = delta.abs() >= config.min_abs_delta
    merged, delta = merged.loc[keep], delta.loc[keep]
    changes = pd.DataFrame(
        {
            "user_id": merged["user_id"].astype("string"),
            "previous_score": merged["credit_score_prev"].astype("int64"),
            "credit_score": merged["credit_score"].astype("int64"),
            "delta": delta.astype("int64"),
            "reasons_changed": _reasons_changed(merged, reason_columns),
        }
    )
    # Falls first (most negative delta), then rises; ties by user for a stable order.
    changes = changes.sort_values(["delta", "user_id"], ignore_index=True)
    falls, rises = changes[changes["delta"] < 0], changes[changes["delta"] > 0]
    rises = rises.sort_values(["delta", "user_id"], ascending=[False, True])
    ordered = pd.concat([falls, rises], ignore_index=True).head(config.max_rows)
    return ordered.reset_index(drop=True)


def _reasons_changed(merged: pd.DataFrame, reason_columns: list[str]) -> pd.Series:
    """``new: ... | gone: ...``, each list in reason order (most important first)."""

    def rows(suffix: str) -> list[list[str]]:
        cols = [f"{c}{suffix}" for c in reason_columns]
        values = merged[cols].astype("object").to_numpy() if cols else np.empty((len(merged), 0))
        return [[v for v in row if isinstance(v, str) and v] for row in values]

    texts = []
    for now, before in zip(rows(""), rows("_prev"), strict=True):
        parts = []
        appeared = [r for r in now if r not in before]
        went = [r for r in before if r not in now]
        if appeared:
            parts.append("new: " + "; ".join(appeared))
        if went:
            parts.append("gone: " + "; ".join(went))
        texts.append(" | ".join(parts))
    return pd.Series(texts, index=merged.index, dtype="string")
