"""Monitoring: the model against its development sample, the watchlist of score moves.

**As a model validator would** (:func:`model_monitoring`): each night the score's
population stability index (PSI) and each scorecard characteristic's (CSI) against
the development sample stored with the model at training
(:class:`~riskgraph.score.development.DevelopmentSample`) and against the previous
night; the score's discrimination (KS, Gini) and the bad rate by score band, on the
development sample out of fold and on the labels that matured since training. A PSI
or CSI over :data:`WATCH` (0.1) is flagged "watch", over :data:`SHIFTED` (0.25)
"shifted".

**The watchlist** is how an open credit line gets reviewed days after approval instead
of months later: users whose score fell since the previous run, with the reasons
that appeared or went away.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskgraph.errors import ConfigError
from riskgraph.score.development import SCORE_RANGE, DevelopmentSample, score_histogram

__all__ = [
    "CHANGES_COLUMNS",
    "SHIFTED",
    "WATCH",
    "ModelMonitoring",
    "MonitoringConfig",
    "WatchlistConfig",
    "model_monitoring",
    "population_stability_index",
    "psi_of_counts",
    "ranking_of_counts",
    "score_changes",
    "stability_flag",
    "stability_table",
]

#: PSI/CSI above which a distribution is flagged "watch", and "shifted".
WATCH = 0.1
SHIFTED = 0.25

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


@dataclass(frozen=True)
class MonitoringConfig:
    """Which users the model monitoring compares (config table ``[monitoring]``).

    Parameters
    ----------
    applicant_days : int, default 30
        The development sample is applicants measured at their first application;
        the comparable users tonight are the applicants whose first application
        falls in the last ``applicant_days`` days (users who applied long ago are
        rescored every night, with activity windows that have emptied since).
    min_applicants : int, default 100
        With fewer such applicants, every user scored tonight is compared (and the
        report says so).
    """

    applicant_days: int = 30
    min_applicants: int = 100

    def validate(self) -> MonitoringConfig:
        if self.applicant_days < 1:
            raise ConfigError(f"monitoring.applicant_days = {self.applicant_days}: expected >= 1")
        if self.min_applicants < 1:
            raise ConfigError(f"monitoring.min_applicants = {self.min_applicants}: expected >= 1")
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


def psi_of_counts(expected: Any, actual: Any) -> float:
    """PSI of two distributions over the same bins, given as counts.

    Empty bins are floored at 0.5 observations so that the logarithm stays finite;
    NaN when either side is empty.

    Examples
    --------
    >>> round(psi_of_counts([50, 50], [50, 50]), 6)
    0.0
    >>> round(psi_of_counts([50, 50], [80, 20]), 3)
    0.416
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.sum() == 0 or a.sum() == 0:
        return float("nan")
    e_share = np.maximum(e, 0.5) / e.sum()
    a_share = np.maximum(a, 0.5) / a.sum()
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def stability_flag(value: float) -> str:
    """``"stable"`` below :data:`WATCH`, ``"watch"`` up to :data:`SHIFTED`, ``"shifted"``
    above; ``""`` for NaN (nothing to compare)."""
    if value is None or np.isnan(value):
        return ""
    return "stable" if value < WATCH else "watch" if value < SHIFTED else "shifted"


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


# -- the model against its development sample ---------------------------------------
_LOW, _HIGH = SCORE_RANGE
#: Score bands: deciles of the development sample's scores.
_BANDS = 10


def ranking_of_counts(good: Any, bad: Any) -> dict[str, float]:
    """KS and Gini of the credit score from users per score, good and bad.

    Parameters
    ----------
    good, bad : array-like
        ``(601,)`` users per credit score 350..950 (higher is better).

    Returns
    -------
    dict
        ``users``, ``bad_rate``, ``ks`` (largest gap between the cumulative score
        distributions of bad and good users) and ``gini`` (``2 AUC - 1``, ties
        counted half); NaN without both outcomes.
    """
    g = np.asarray(good, dtype=np.float64)
    b = np.asarray(bad, dtype=np.float64)
    n_good, n_bad = g.sum(), b.sum()
    out = {"users": int(n_good + n_bad), "bad_rate": float("nan"), "ks": float("nan")}
    out["gini"] = float("nan")
    if n_good + n_bad:
        out["bad_rate"] = float(n_bad / (n_good + n_bad))
    if n_good == 0 or n_bad == 0:
        return out
    cum_good, cum_bad = np.cumsum(g) / n_good, np.cumsum(b) / n_bad
    out["ks"] = float(np.max(np.abs(cum_bad - cum_good)))
    # AUC: a good user scores above a bad one (higher is better), ties count half.
    below_good = cum_bad - b / n_bad  # bad users scoring strictly below each score
    auc = float(np.sum(g / n_good * (below_good + 0.5 * b / n_bad)))
    out["gini"] = 2.0 * auc - 1.0
    return out


def _band_edges(score_counts: np.ndarray) -> np.ndarray:
    """Lowest score of each band: deciles of the development scores (bands that
    fall on one score merge)."""
    cumulative = np.cumsum(score_counts) / max(score_counts.sum(), 1)
    starts = [0]
    for q in np.arange(1, _BANDS) / _BANDS:
        start = int(np.searchsorted(cumulative, q, side="right"))
        if start > starts[-1] and start <= _HIGH - _LOW:
            starts.append(start)
    return np.asarray(starts) + _LOW


def _banded(counts: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.add.reduceat(np.asarray(counts, dtype=np.float64), starts - _LOW)


@dataclass(frozen=True)
class ModelMonitoring:
    """What :func:`model_monitoring` measured tonight.

    Attributes
    ----------
    score_psi : dict
        ``development`` and ``previous``: PSI of the credit score over the
        development sample's score bands (NaN when there is nothing to compare).
    bands : pd.DataFrame
        One row per score band: ``band`` ("350-571"), ``development_share``,
        ``tonight_share``, ``previous_share``, ``validation_bad_rate`` (development
        sample, out of fold), ``matured_users`` and ``matured_bad_rate`` (labels
        matured since training, tonight's scores).
    characteristics : pd.DataFrame
        One row per scorecard characteristic: ``characteristic``,
        ``csi_development``, ``csi_previous``, ``flag`` (the worse of the two).
    ranking : dict
        ``validation`` (development sample out of fold) and ``matured``: users, bad
        rate, KS and Gini of the credit score.
    bin_counts : dict[str, list of int]
        Tonight's users per bin of each characteristic (the next night's
        "previous").
    score_counts : list of int
        Tonight's users per credit score 350..950 (the next night's "previous").
    notes : list of str
        What could not be compared, and why.
    """

    score_psi: dict[str, float]
    bands: pd.DataFrame
    characteristics: pd.DataFrame
    ranking: dict[str, dict[str, float]]
    bin_counts: dict[str, list[int]]
    score_counts: list[int]
    notes: list[str]

    @property
    def flags(self) -> list[dict[str, Any]]:
        """Every PSI or CSI at or above :data:`WATCH`: what, against what, value, flag."""
        found = [
            {"what": "credit_score", "against": against, "value": value}
            for against, value in self.score_psi.items()
        ]
        for row in self.characteristics.itertuples(index=False):
            found.append({"what": row.characteristic, "against": "development",
                          "value": row.csi_development})  # fmt: skip
            found.append({"what": row.characteristic, "against": "previous",
                          "value": row.csi_previous})  # fmt: skip
        out = []
        for item in found:
            flag = stability_flag(item["value"])
            if flag in ("watch", "shifted"):
                out.append({**item, "value": float(item["value"]), "flag": flag})
        return sorted(out, key=lambda item: -item["value"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for run.json (NaN becomes None)."""
        return _json_ready(
            {
                "score_psi": self.score_psi,
                "flags": self.flags,
                "characteristics": self.characteristics.to_dict(orient="records"),
                "bands": self.bands.to_dict(orient="records"),
                "ranking": self.ranking,
                "bin_counts": self.bin_counts,
                "score_counts": self.score_counts,
                "notes": self.notes,
            }
        )


def model_monitoring(
    development: DevelopmentSample | None,
    credit_score: Any,
    bins: pd.DataFrame | None,
    *,
    previous: Mapping[str, Any] | None = None,
    matured: pd.DataFrame | None = None,
) -> ModelMonitoring:
    """Tonight's score and characteristics against the development sample and the
    previous night; ranking and bad rate by band on matured labels.

    Parameters
    ----------
    development : DevelopmentSample or None
        Stored with the model (``CreditScorecard.development_``); None for a model
        saved without one (only the previous night is compared then).
    credit_score : array-like
        ``(n,)`` tonight's credit scores.
    bins : pd.DataFrame or None
        ``(n, n_variables)`` tonight's bin of each characteristic
        (``ScoreResult.bins`` of tonight's users).
    previous : mapping, optional
        The previous night's monitoring, from the same model, as run.json keeps it
        (:meth:`ModelMonitoring.to_dict`): its ``score_counts`` (``(601,)``) and
        ``bin_counts`` (:attr:`ModelMonitoring.score_counts`,
        :attr:`ModelMonitoring.bin_counts`); either may be absent.
    matured : pd.DataFrame, optional
        ``credit_score`` and ``label`` of tonight's users whose outcome became known
        since the model was trained.

    Returns
    -------
    ModelMonitoring
    """
    notes: list[str] = []
    tonight = score_histogram(credit_score)
    previous_score_counts = (previous or {}).get("score_counts")
    previous_bin_counts = (previous or {}).get("bin_counts")
    previous_counts = None if previous_score_counts is None else np.asarray(previous_score_counts)
    if development is None:
        notes.append("the model was saved without its development sample: retrain to compare")
        reference = tonight
    else:
        reference = development.score_counts
    starts = _band_edges(reference)
    banded = {
        "development": None if development is None else _banded(reference, starts),
        "tonight": _banded(tonight, starts),
        "previous": None if previous_counts is None else _banded(previous_counts, starts),
    }
    score_psi = {
        against: psi_of_counts(banded[against], banded["tonight"])
        if banded[against] is not None
        else float("nan")
        for against in ("development", "previous")
    }
    ends = np.append(starts[1:] - 1, _HIGH)
    bands = pd.DataFrame({"band": [f"{a}-{b}" for a, b in zip(starts, ends, strict=True)]})
    for name in ("development", "tonight", "previous"):
        counts = banded[name]
        bands[f"{name}_share"] = np.nan if counts is None else counts / max(counts.sum(), 1)
    ranking: dict[str, dict[str, float]] = {}
    if development is not None and development.validation_good is not None:
        good, bad = development.validation_good, development.validation_bad
        ranking["validation"] = ranking_of_counts(good, bad)
        bands["validation_bad_rate"] = _band_bad_rate(good, bad, starts)
    else:
        bands["validation_bad_rate"] = np.nan
    if matured is not None and len(matured):
        label = matured["label"].to_numpy(dtype=np.int64)
        scores = matured["credit_score"].to_numpy()
        good, bad = score_histogram(scores[label == 0]), score_histogram(scores[label == 1])
        ranking["matured"] = ranking_of_counts(good, bad)
        bands["matured_users"] = _banded(good + bad, starts).astype(np.int64)
        bands["matured_bad_rate"] = _band_bad_rate(good, bad, starts)
    else:
        notes.append("no label matured since the model was trained: nothing to rank yet")
        bands["matured_users"] = 0
        bands["matured_bad_rate"] = np.nan

    characteristics, counts_tonight = _characteristic_stability(
        development, bins, previous_bin_counts, notes
    )
    return ModelMonitoring(
        score_psi=score_psi,
        bands=bands,
        characteristics=characteristics,
        ranking=ranking,
        bin_counts=counts_tonight,
        score_counts=tonight.astype(int).tolist(),
        notes=notes,
    )


def _characteristic_stability(
    development: DevelopmentSample | None,
    bins: pd.DataFrame | None,
    previous_bin_counts: dict[str, list[int]] | None,
    notes: list[str],
) -> tuple[pd.DataFrame, dict[str, list[int]]]:
    """Each characteristic's CSI against development and the previous night (worst
    first), and tonight's bin counts; a note in ``notes`` when no previous night
    compares."""
    counts_tonight: dict[str, list[int]] = {}
    rows = []
    if bins is not None:
        same_bins = previous_bin_counts is not None
        for name in bins.columns:
            size = len(development.bin_counts[name]) if development is not None else None
            values = bins[name].to_numpy(dtype=np.int64)
            now = np.bincount(values, minlength=size or (values.max(initial=-1) + 1))
            counts_tonight[name] = now.astype(int).tolist()
            dev = development.bin_counts.get(name) if development is not None else None
            before = (previous_bin_counts or {}).get(name)
            if before is not None and len(before) != len(now):
                before, same_bins = None, False
            rows.append(
                {
                    "characteristic": name,
                    "csi_development": psi_of_counts(dev, now) if dev is not None else np.nan,
                    "csi_previous": psi_of_counts(before, now) if before is not None else np.nan,
                }
            )
        if previous_bin_counts is None or not same_bins:
            notes.append(
                "characteristics not compared with the previous night: no previous night "
                "scored with this model"
            )
    characteristics = pd.DataFrame(
        rows, columns=["characteristic", "csi_development", "csi_previous"]
    )
    worst = characteristics[["csi_development", "csi_previous"]].max(axis=1, skipna=True)
    characteristics["flag"] = [stability_flag(v) for v in worst]
    characteristics = characteristics.sort_values(
        "csi_development", ascending=False, na_position="last", ignore_index=True
    )
    return characteristics, counts_tonight


def _band_bad_rate(good: np.ndarray, bad: np.ndarray, starts: np.ndarray) -> np.ndarray:
    g, b = _banded(good, starts), _banded(bad, starts)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(g + b > 0, b / (g + b), np.nan)


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else float(value)
    return value
