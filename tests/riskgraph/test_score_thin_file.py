"""ThinFileRule: who has no credit history, and how the frame changes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskgraph.score import NO_CREDIT_HISTORY, ThinFileRule


def _users() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "credit_history_months": [0.0, 36.0, np.nan, 0.0],
            "past_dues": [np.nan, 2.0, np.nan, 1.0],
            "utilization": [np.nan, 0.5, np.nan, np.nan],
            "income_band": ["<3k", "3k-6k", "6k-10k", "<3k"],
        }
    )


def test_thin_means_every_history_column_missing_or_zero_months():
    # Row 3 has 0 months but one past due on record: it has a history.
    assert ThinFileRule().is_thin(_users()).tolist() == [True, False, True, False]


def test_apply_adds_indicator_and_blanks_history_of_thin_rows_only():
    out = ThinFileRule().apply(_users())
    assert out[NO_CREDIT_HISTORY].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert out["credit_history_months"].isna().tolist() == [True, False, True, False]
    assert out.loc[3, "credit_history_months"] == 0.0
    assert out.loc[1, "past_dues"] == 2.0
    # Non-history columns untouched.
    assert out["income_band"].tolist() == _users()["income_band"].tolist()


def test_rule_does_not_apply_without_history_columns():
    frame = pd.DataFrame({"income_band": ["<3k"], "gnn_risk": [0.1]})
    rule = ThinFileRule()
    assert not rule.applies(frame.columns)
    assert rule.is_thin(frame).tolist() == [False]
    assert NO_CREDIT_HISTORY not in rule.apply(frame).columns


def test_custom_history_columns():
    frame = pd.DataFrame({"bureau_score": [np.nan, 700.0]})
    rule = ThinFileRule(history_columns=("bureau_score",), zero_means_none=())
    assert rule.is_thin(frame).tolist() == [True, False]
