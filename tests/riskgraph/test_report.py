"""report.html: self-contained, every section present, drift and quality measured."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from riskgraph.report import ReportData, render_report


def _scores(n: int, shift: int, rng: np.random.Generator) -> pd.DataFrame:
    credit = np.clip(rng.normal(650 + shift, 80, n), 350, 950).astype(int)
    decision = np.where(credit >= 620, "approve", np.where(credit < 560, "decline", "review"))
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "risk_score": 1 / (1 + np.exp((credit - 500) / 40)),
            "credit_score": credit,
            "decision": decision,
            "multi_borrowing": rng.random(n) < 0.05,
            "ring_id": pd.Series([None] * n, dtype="string"),
            "reason_1": "x",
        }
    )


def _data(previous: bool) -> ReportData:
    rng = np.random.default_rng(0)
    scores = _scores(500, 0, rng)
    features = pd.DataFrame({"user_id": scores["user_id"], "f": rng.normal(size=500)})
    labelled = pd.DataFrame(
        {
            "risk_score": scores["risk_score"],
            "label": (rng.random(500) < scores["risk_score"]).astype(int),
        }
    )
    rings = pd.DataFrame({"ring_id": ["r1", "r2"], "size": [12, 3], "bad_rate": [0.8, np.nan]})
    data = ReportData(
        run_date=dt.date(2026, 1, 2),
        summary={"users": 500, "rejected": {"users": 2}},
        timings={"load": 1.0, "features": 2.5},
        scores=scores,
        features=features,
        rings=rings,
        labelled=labelled,
        quality_note="users whose label arrived after the model was trained",
        fairness=pd.DataFrame(
            {"attribute": ["region"], "group": ["north"], "approval_rate": [0.5]}
        ),
    )
    if previous:
        data.previous_scores = _scores(500, -40, rng)
        data.previous_features = features.assign(f=features["f"] + 1.0)
        data.previous_date = dt.date(2026, 1, 1)
        data.changes = pd.DataFrame(
            {
                "user_id": ["u1"],
                "previous_score": [700],
                "credit_score": [600],
                "delta": [-100],
                "reasons_changed": ["new: x"],
            }
        )
    return data


def test_report_is_self_contained_with_every_section():
    page = render_report(_data(previous=True))
    for title in (
        "Score distribution",
        "Drift against the previous run",
        "Largest rings",
        "Model quality on labelled users",
        "Fairness",
        "Watchlist",
    ):
        assert f"<h2>{title}" in page
    assert not re.search(r"""(src|href)=["'](http|//)""", page), "no external resources"
    assert page.count("data:image/png;base64,") >= 4
    assert "PSI of the credit score: <b>" in page
    psi = float(re.search(r"PSI of the credit score: <b>([0-9.]+)", page).group(1))
    assert psi > 0.1  # the previous run was shifted by 40 points
    assert "AUC-ROC" in page and "u1" in page


def test_first_run_report_says_there_is_nothing_to_compare():
    page = render_report(_data(previous=False))
    assert "nothing to compare with yet" in page
    assert "the watchlist starts with the next run" in page


def _with_strategy_and_monitoring(data: ReportData) -> ReportData:
    from riskgraph.monitoring import model_monitoring
    from riskgraph.score import DecisionPolicy
    from riskgraph.score.development import DevelopmentSample, score_histogram
    from riskgraph.score.strategy import resolve_cutoffs, strategy_table

    rng = np.random.default_rng(1)
    scores = data.scores
    credit, risk = scores["credit_score"], scores["risk_score"]
    label = (rng.random(len(risk)) < risk).to_numpy().astype(int)
    dev_scores = np.clip(credit.to_numpy() + 30, 350, 950)
    development = DevelopmentSample(
        users=len(credit),
        score_counts=score_histogram(dev_scores),
        bin_counts={"utilization": np.array([300, 200, 0, 0])},
        validation_good=score_histogram(dev_scores[label == 0]),
        validation_bad=score_histogram(dev_scores[label == 1]),
    )
    bins = pd.DataFrame({"utilization": np.where(rng.random(len(credit)) < 0.8, 1, 0)})
    matured = pd.DataFrame({"credit_score": credit, "label": label})
    cutoffs = resolve_cutoffs(DecisionPolicy(approve_rate=0.6), credit, risk)
    data.strategy = strategy_table(credit, risk, development=development, labelled=matured)
    data.cutoffs = cutoffs.to_dict()
    data.monitoring = model_monitoring(development, credit, bins, matured=matured)
    return data


def test_report_shows_the_cut_off_strategy_and_the_monitoring():
    page = render_report(_with_strategy_and_monitoring(_data(previous=True)))
    strategy = page.split("<h2>Cut-off strategy</h2>", 1)[1].split("<h2>", 1)[0]
    assert "resolved tonight from the targets approve rate 60.0%" in strategy
    assert "<th>approve from</th>" in strategy and "data:image/png;base64," in strategy
    monitoring = page.split("<h2>Model monitoring against the development sample</h2>", 1)[1]
    monitoring = monitoring.split("<h2>", 1)[0]
    assert "against the development sample <b>" in monitoring
    # utilization moved from 60% to 20% in its first bin: flagged shifted.
    assert "<td>utilization</td><td>development</td>" in monitoring
    assert "shifted" in monitoring and "KS" in monitoring and "Gini" in monitoring
    assert "development sample, out of fold" in monitoring
