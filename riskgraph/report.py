"""``report.html``: the run summary a risk analyst opens in the morning.

One self-contained file (plots embedded as PNG data URIs, no scripts, no network):
counts and rejects, the score distribution, the cut-off strategy, model monitoring
against the development sample, drift against the previous run, the largest rings,
model quality on labelled users, fairness, and the watchlist.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from dataclasses import dataclass, field
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on a batch server

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from riskgraph.monitoring import (
    SHIFTED,
    WATCH,
    ModelMonitoring,
    population_stability_index,
    stability_flag,
    stability_table,
)

__all__ = ["ReportData", "render_report"]

_DECISION_COLORS = {"approve": "#3a923a", "review": "#e3a21a", "decline": "#c0392b"}


@dataclass
class ReportData:
    """Everything the report shows; the pipeline fills it from the run's outputs.

    Attributes
    ----------
    run_date : date
    summary : dict
        Headline numbers: ``users``, ``relationships``, ``rejected`` (per table), ...
    timings : dict[str, float]
        Seconds per stage.
    scores : pd.DataFrame
        This run's scores.parquet.
    features : pd.DataFrame
        This run's features.parquet.
    rings : pd.DataFrame
        One row per ring (``ring_id``, ``size``, ``bad_rate``, ``platforms``, ...).
    labelled : pd.DataFrame
        Users with a known outcome to judge the model on: ``risk_score``, ``label``.
    quality_note : str
        Which users ``labelled`` holds and why they are a fair test.
    model : dict
        The model's own record (training date, validation metrics).
    fairness : pd.DataFrame or None
        One row per (attribute, group) with approval and bad rates.
    fairness_gaps : pd.DataFrame or None
    changes : pd.DataFrame
        changes.parquet (the watchlist).
    previous_scores, previous_features : pd.DataFrame or None
        The previous run's outputs, for drift.
    previous_date : date or None
    strategy : pd.DataFrame or None
        The cut-off strategy table (:func:`riskgraph.score.strategy.strategy_table`).
    cutoffs : dict or None
        The cut-offs in force tonight (``ResolvedCutoffs.to_dict()``).
    monitoring : ModelMonitoring or None
        The model against its development sample and the previous night.
    """

    run_date: dt.date
    summary: dict[str, Any]
    timings: dict[str, float]
    scores: pd.DataFrame
    features: pd.DataFrame
    rings: pd.DataFrame
    labelled: pd.DataFrame
    quality_note: str = ""
    model: dict[str, Any] = field(default_factory=dict)
    fairness: pd.DataFrame | None = None
    fairness_gaps: pd.DataFrame | None = None
    changes: pd.DataFrame | None = None
    previous_scores: pd.DataFrame | None = None
    previous_features: pd.DataFrame | None = None
    previous_date: dt.date | None = None
    strategy: pd.DataFrame | None = None
    cutoffs: dict[str, Any] | None = None
    monitoring: ModelMonitoring | None = None


def render_report(data: ReportData, top_features: int = 8) -> str:
    """Render the report as one HTML document (UTF-8 text)."""
    sections = [
        _section("Run", _summary(data)),
        _section("Score distribution", _score_distribution(data)),
        _section("Cut-off strategy", _strategy(data)),
        _section("Model monitoring against the development sample", _monitoring(data)),
        _section("Drift against the previous run", _drift(data, top_features)),
        _section("Largest rings", _rings(data)),
        _section("Model quality on labelled users", _quality(data)),
        _section("Fairness", _fairness(data)),
        _section("Watchlist: largest score moves since the previous run", _watchlist(data)),
    ]
    title = f"riskgraph run {data.run_date.isoformat()}"
    return _PAGE.format(title=html.escape(title), body="\n".join(sections))


# -- sections --------------------------------------------------------------------
def _summary(data: ReportData) -> str:
    rows = [(k.replace("_", " "), _fmt(v)) for k, v in data.summary.items()]
    timing = pd.DataFrame(
        {"stage": list(data.timings), "seconds": [round(v, 1) for v in data.timings.values()]}
    )
    return _kv_table(rows) + "<h3>Stage timings</h3>" + _table(timing)


def _score_distribution(data: ReportData) -> str:
    scores = data.scores
    fig, ax = plt.subplots(figsize=(8, 3.4))
    bins = np.arange(350, 951, 20)
    stacked = [
        scores.loc[scores["decision"] == d, "credit_score"].to_numpy() for d in _DECISION_COLORS
    ]
    ax.hist(
        stacked,
        bins=bins,
        stacked=True,
        color=list(_DECISION_COLORS.values()),
        label=list(_DECISION_COLORS),
    )
    ax.set_xlabel("credit score (350-950, higher is better)")
    ax.set_ylabel("users")
    ax.legend(frameon=False)
    counts = scores["decision"].value_counts().reindex(list(_DECISION_COLORS), fill_value=0)
    table = pd.DataFrame(
        {
            "decision": counts.index,
            "users": counts.to_numpy(),
            "share": [f"{c / max(len(scores), 1):.1%}" for c in counts],
        }
    )
    extra = pd.DataFrame(
        {
            "flag": ["multi_borrowing", "ring member"],
            "users": [int(scores["multi_borrowing"].sum()), int(scores["ring_id"].notna().sum())],
        }
    )
    return _figure(fig) + _table(table) + _table(extra)


def _strategy(data: ReportData) -> str:
    table, cut = data.strategy, data.cutoffs
    if table is None or table.empty or cut is None:
        return "<p>No strategy table in this run.</p>"
    targets = cut.get("targets") or {}
    if targets:
        given = ", ".join(f"{k.replace('_', ' ')} {v:.1%}" for k, v in targets.items())
        how = f"resolved tonight from the targets {html.escape(given)}"
        if cut.get("binding"):
            how += f" (approve from set by {html.escape(cut['binding'].replace('_', ' '))})"
    else:
        how = "fixed in the configuration"
    parts = [
        f"<p>Cut-offs {how}: approve from <b>{cut['approve_from']}</b>, decline below "
        f"<b>{cut['decline_below']}</b>. Tonight they approve {_pct(cut['approve_rate'])}, "
        f"send {_pct(cut['review_rate'])} to review and decline {_pct(cut['decline_rate'])}; "
        f"expected bad rate among the approved {_pct(cut['expected_bad_rate'], 2)}. Graph "
        "flags that send a user to review count as not approved at every cut-off.</p>"
    ]
    parts += [f"<p><b>Note:</b> {html.escape(note)}</p>" for note in cut.get("notes", [])]

    fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.plot(table["cutoff"], table["approval_rate"], color="#3a923a", label="approval rate")
    ax.set_xlabel("cut-off (approve from this credit score)")
    ax.set_ylabel("approval rate")
    ax.set_ylim(0, 1.02)
    bad = ax.twinx()
    bad.plot(table["cutoff"], table["expected_bad_rate"], color="#c0392b",
             label="expected bad rate among the approved")  # fmt: skip
    if table["validation_bad_rate"].notna().any():
        bad.plot(table["cutoff"], table["validation_bad_rate"], ls="--", color="#7f1d1d",
                 label="observed (development sample, out of fold)")  # fmt: skip
    if table["recent_bad_rate"].notna().any():
        bad.plot(table["cutoff"], table["recent_bad_rate"], ls=":", marker=".", color="#e67e22",
                 label="observed (labels matured since training)")  # fmt: skip
    bad.set_ylabel("bad rate among the approved")
    for x, style in ((cut["approve_from"], "-"), (cut["decline_below"], ":")):
        ax.axvline(x, color="#555", ls=style, lw=1)
    lines = ax.get_legend_handles_labels()
    more = bad.get_legend_handles_labels()
    ax.legend(
        lines[0] + more[0],
        lines[1] + more[1],
        frameon=False,
        fontsize=8,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.2),
        ncol=2,
    )
    parts.append(_figure(fig))

    # Cut-offs below every score (or above) approve the same users: not shown.
    rate = table["approval_rate"]
    shown = table[(rate > 0.005) & (rate < rate.max() - 0.005)]
    view = pd.DataFrame(
        {
            "approve from": shown["cutoff"],
            "approval rate": shown["approval_rate"].map(_pct),
            "expected bad rate": shown["expected_bad_rate"].map(lambda v: _pct(v, 2)),
            "observed, development (out of fold)": shown["validation_bad_rate"].map(
                lambda v: _pct(v, 2)
            ),
            "labelled since training": shown["recent_approved"],
            "observed, since training": shown["recent_bad_rate"].map(lambda v: _pct(v, 2)),
        }
    )
    parts.append(
        "<h3>Strategy table</h3><p>Per cut-off every 10 points, from where the approval "
        "rate starts to fall (run.json <code>strategy</code> holds every cut-off).</p>"
        + _table(view)
    )
    return "".join(parts)


def _monitoring(data: ReportData, top: int = 15) -> str:
    m = data.monitoring
    if m is None:
        return "<p>No monitoring in this run.</p>"
    parts = []
    psi = m.score_psi
    parts.append(
        "<p>Population stability index of the credit score over the development sample's "
        f"score bands: against the development sample <b>{_psi_text(psi['development'])}</b>, "
        f"against the previous night <b>{_psi_text(psi['previous'])}</b> "
        f"(below {WATCH:g} stable, {WATCH:g}-{SHIFTED:g} watch, above {SHIFTED:g} shifted).</p>"
    )
    flags = m.flags
    if flags:
        rows = pd.DataFrame(flags)[["what", "against", "value", "flag"]]
        parts.append("<h3>Flagged</h3>" + _table(rows.assign(value=rows["value"].round(3))))
    else:
        parts.append("<p>Nothing flagged: every PSI and CSI is below 0.1.</p>")
    parts += [f"<p><b>Note:</b> {html.escape(note)}</p>" for note in m.notes]

    ranking = [
        (label, m.ranking[key])
        for key, label in (
            ("validation", "development sample, out of fold"),
            ("matured", "labels matured since training"),
        )
        if key in m.ranking
    ]
    if ranking:
        parts.append(
            "<h3>Discrimination of the credit score</h3>"
            + _table(
                pd.DataFrame(
                    {
                        "users": [label for label, _ in ranking],
                        "labelled": [r["users"] for _, r in ranking],
                        "bad rate": [_pct(r["bad_rate"], 2) for _, r in ranking],
                        "KS": [round(r["ks"], 3) for _, r in ranking],
                        "Gini": [round(r["gini"], 3) for _, r in ranking],
                    }
                )
            )
        )

    bands = m.bands
    fig, ax = plt.subplots(figsize=(8, 3.4))
    x = np.arange(len(bands))
    width = 0.27
    for k, (column, label, color) in enumerate(
        (
            ("development_share", "development sample", "#1f5fa8"),
            ("tonight_share", "tonight", "#3a923a"),
            ("previous_share", "previous night", "#999"),
        )
    ):
        if bands[column].notna().any():
            ax.bar(x + (k - 1) * width, bands[column], width, label=label, color=color)
    ax.set_xticks(x, bands["band"], rotation=30, fontsize=8)
    ax.set_xlabel("credit score band (deciles of the development sample)")
    ax.set_ylabel("share of users")
    rate = ax.twinx()
    if bands["validation_bad_rate"].notna().any():
        rate.plot(x, bands["validation_bad_rate"], color="#7f1d1d", marker="o",
                  label="bad rate, development (out of fold)")  # fmt: skip
    if bands["matured_bad_rate"].notna().any():
        rate.plot(x, bands["matured_bad_rate"], color="#e67e22", marker="s",
                  label="bad rate, matured since training")  # fmt: skip
    rate.set_ylabel("bad rate")
    handles = ax.get_legend_handles_labels()
    more = rate.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], frameon=False, fontsize=8)
    fig.tight_layout()
    parts.append("<h3>Score bands</h3>" + _figure(fig))
    view = bands.copy()
    for column in ("development_share", "tonight_share", "previous_share"):
        view[column] = view[column].map(_pct)
    for column in ("validation_bad_rate", "matured_bad_rate"):
        view[column] = view[column].map(lambda v: _pct(v, 2))
    parts.append(_table(view.rename(columns=lambda c: c.replace("_", " "))))

    chars = m.characteristics
    shown = chars.head(top).assign(
        csi_development=lambda t: t["csi_development"].round(3),
        csi_previous=lambda t: t["csi_previous"].round(3),
    )
    rest = len(chars) - len(shown)
    worst_rest = chars.iloc[top:][["csi_development", "csi_previous"]].max().max()
    note = (
        f"<p>{rest} more, each with a CSI of {worst_rest:.3f} or less.</p>"
        if rest and not np.isnan(worst_rest)
        else ""
    )
    parts.append(
        "<h3>Characteristic stability (CSI over each characteristic's scorecard bins)</h3>"
        + _table(shown.rename(columns=lambda c: c.replace("_", " ")))
        + note
    )
    return "".join(parts)


def _pct(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return f"{float(value):.{digits}%}"


def _psi_text(value: float) -> str:
    if value is None or np.isnan(value):
        return "not measurable"
    return f"{value:.3f} ({stability_flag(value)})"


def _drift(data: ReportData, top_features: int) -> str:
    if data.previous_scores is None:
        return "<p>First run on this output root: nothing to compare with yet.</p>"
    before = data.previous_scores["credit_score"].to_numpy(dtype=float)
    after = data.scores["credit_score"].to_numpy(dtype=float)
    psi = population_stability_index(before, after)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    bins = np.arange(350, 951, 20)
    ax.hist(
        before,
        bins=bins,
        histtype="step",
        density=True,
        lw=2,
        label=f"previous ({data.previous_date})",
    )
    ax.hist(
        after, bins=bins, histtype="step", density=True, lw=2, label=f"this run ({data.run_date})"
    )
    ax.set_xlabel("credit score")
    ax.set_ylabel("density")
    ax.legend(frameon=False)
    text = (
        f"<p>Compared with the run of {data.previous_date}. "
        f"PSI of the credit score: <b>{psi:.3f}</b> "
        f"({stability_flag(psi) or 'not measurable'}; &lt; 0.1 stable, 0.1-0.25 watch, "
        "&gt; 0.25 shifted).</p>"
    )
    feature_columns = [c for c in data.features.columns if c != "user_id"]
    table = (
        stability_table(data.previous_features, data.features, feature_columns)
        if (data.previous_features is not None)
        else pd.DataFrame(columns=["column", "psi"])
    )
    table = table.head(top_features).assign(psi=lambda t: t["psi"].round(3))
    return text + _figure(fig) + "<h3>Features that moved most (PSI)</h3>" + _table(table)


_RING_TABLE_COLUMNS = (
    "ring_id",
    "size",
    "bad_rate",
    "known_count",
    "platforms",
    "applications",
    "registration_span_days",
    "shared_identifiers",
)


def _rings(data: ReportData, top: int = 15) -> str:
    rings = data.rings
    if rings is None or rings.empty:
        return "<p>No shared-identifier groups tonight.</p>"
    flagged = rings["flagged"].fillna(False).astype(bool) if "flagged" in rings else None
    fig, ax = plt.subplots(figsize=(8, 3.2))
    rate = rings["bad_rate"].astype(float)
    if flagged is not None:
        ax.scatter(
            rings.loc[~flagged, "size"],
            rate[~flagged],
            s=10,
            alpha=0.4,
            color="#888",
            label="groups not flagged (households, shared tablets)",
        )
        ax.scatter(
            rings.loc[flagged, "size"], rate[flagged], s=22, color="#c0392b", label="flagged rings"
        )
        ax.legend(frameon=False, fontsize=8)
    else:
        ax.scatter(rings["size"], rate, s=12, alpha=0.5, color="#555")
    ax.set_xscale("log")
    ax.set_xlabel("users sharing identifiers (log scale)")
    ax.set_ylabel("known bad rate")
    shown = rings if flagged is None else rings.loc[flagged]
    order = shown.sort_values(["size", "ring_id"], ascending=[False, True]).head(top)
    columns = [c for c in _RING_TABLE_COLUMNS if c in order.columns]
    n_flagged = int(flagged.sum()) if flagged is not None else len(rings)
    return (
        f"<p>{len(rings):,} groups of users sharing devices, accounts or application "
        f"devices; {n_flagged:,} flagged as rings (registered or applying in a burst). "
        "Open one in Neo4j Browser with the queries in docs/browser.md.</p>"
        + _figure(fig)
        + "<h3>Largest flagged rings</h3>"
        + _table(order[columns])
    )


def _quality(data: ReportData) -> str:
    parts = [f"<p>{html.escape(data.quality_note)}</p>"] if data.quality_note else []
    if data.model:
        parts.append("<h3>Model</h3>" + _kv_table([(k, _fmt(v)) for k, v in data.model.items()]))
    labelled = data.labelled
    if labelled is None or labelled["label"].nunique() < 2:
        parts.append("<p>Too few labelled users with both outcomes to measure.</p>")
        return "".join(parts)
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = labelled["label"].to_numpy(dtype=int)
    p = labelled["risk_score"].to_numpy(dtype=float)
    metrics = [
        ("labelled users", f"{len(y):,}"),
        ("bad rate", f"{y.mean():.2%}"),
        ("AUC-ROC", f"{roc_auc_score(y, p):.3f}"),
        ("AUC-PR", f"{average_precision_score(y, p):.3f}"),
        ("Brier score", f"{brier_score_loss(y, p):.4f}"),
    ]
    fig, (roc, rel) = plt.subplots(1, 2, figsize=(8, 3.4))
    fpr, tpr, _ = roc_curve(y, p)
    roc.plot(fpr, tpr, color="#1f5fa8")
    roc.plot([0, 1], [0, 1], ls="--", color="#999")
    roc.set_xlabel("false positive rate")
    roc.set_ylabel("true positive rate")
    roc.set_title("ROC")
    edges = np.unique(np.quantile(p, np.linspace(0, 1, 11)))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    frame = pd.DataFrame({"bin": which, "p": p, "y": y}).groupby("bin").mean()
    rel.plot(frame["p"], frame["y"], marker="o", color="#1f5fa8")
    top = max(float(frame["p"].max()), float(frame["y"].max()), 0.05)
    rel.plot([0, top], [0, top], ls="--", color="#999")
    rel.set_xlabel("predicted probability of bad")
    rel.set_ylabel("observed bad rate")
    rel.set_title("Reliability (deciles)")
    fig.tight_layout()
    parts.append(_kv_table(metrics) + _figure(fig))
    return "".join(parts)


def _fairness(data: ReportData) -> str:
    if data.fairness is None or data.fairness.empty:
        return "<p>No age band or region attribute in the input: nothing to break down.</p>"
    parts = [_table(data.fairness)]
    if data.fairness_gaps is not None and not data.fairness_gaps.empty:
        parts.insert(0, "<h3>Largest gaps</h3>" + _table(data.fairness_gaps.head(6)))
    return "".join(parts)


def _watchlist(data: ReportData, top: int = 25) -> str:
    if data.previous_scores is None:
        return "<p>First run: the watchlist starts with the next run.</p>"
    changes = data.changes if data.changes is not None else pd.DataFrame()
    if changes.empty:
        return "<p>No score moved beyond the watchlist threshold.</p>"
    falls = int((changes["delta"] < 0).sum())
    return f"<p>{falls:,} users fell, {len(changes) - falls:,} rose.</p>" + _table(
        changes.head(top)
    )


# -- html helpers ----------------------------------------------------------------
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1000px; color: #222; }}
h1 {{ font-size: 1.6em; }} h2 {{ border-bottom: 1px solid #ddd; padding-bottom: .2em; }}
table {{ border-collapse: collapse; margin: .6em 0 1.2em; font-size: .9em; }}
th, td {{ border: 1px solid #ddd; padding: .25em .6em; text-align: left; }}
th {{ background: #f4f4f4; }} img {{ max-width: 100%; }}
</style></head><body><h1>{title}</h1>
{body}
</body></html>
"""


def _section(title: str, body: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{body}</section>"


def _figure(fig: plt.Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{encoded}">'


def _table(frame: pd.DataFrame) -> str:
    if frame is None or frame.empty:
        return "<p>(none)</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kv_table(rows: list[tuple[str, str]]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{body}</table>"


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):,.3f}" if abs(float(value)) < 1000 else f"{float(value):,.0f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value)
