"""The credit score: scorecard, reason codes, decisions, fairness.

Typical use (what the nightly job does)::

    frame = build_score_frame(tables.users, gf.features, gnn_risk)
    model = CreditScorecard().fit(frame.loc[train_ids], y_train)
    result = score_users(model, frame, gf.features, DecisionPolicy())
    result.scores            # the rows of scores.parquet
    fairness_report(result.scores["decision"], labels, tables.users).summary
"""

from __future__ import annotations

from riskgraph.score.decisions import DECISIONS, DecisionPolicy, decide
from riskgraph.score.fairness import FairnessReport, fairness_report
from riskgraph.score.logistic import SignConstrainedLogisticRegression
from riskgraph.score.reasons import points_lost, reason_codes, top_reasons
from riskgraph.score.scaling import ScoreScaling
from riskgraph.score.scorecard import BinningSettings, CreditScorecard
from riskgraph.score.scoring import (
    REASON_DETAIL_COLUMNS,
    SCORE_COLUMNS,
    ScoreResult,
    build_score_frame,
    score_users,
)
from riskgraph.score.thin_file import NO_CREDIT_HISTORY, ThinFileRule
from riskgraph.score.variables import GNN_RISK, VariableSpec, describe_variables

__all__ = [
    "DECISIONS",
    "GNN_RISK",
    "NO_CREDIT_HISTORY",
    "REASON_DETAIL_COLUMNS",
    "SCORE_COLUMNS",
    "BinningSettings",
    "CreditScorecard",
    "DecisionPolicy",
    "FairnessReport",
    "ScoreResult",
    "ScoreScaling",
    "SignConstrainedLogisticRegression",
    "ThinFileRule",
    "VariableSpec",
    "build_score_frame",
    "decide",
    "describe_variables",
    "fairness_report",
    "points_lost",
    "reason_codes",
    "score_users",
    "top_reasons",
]
