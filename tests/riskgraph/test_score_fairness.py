"""fairness_report: rates by group, gaps, unknown outcomes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from riskgraph.errors import ConfigError
from riskgraph.score import fairness_report
from riskgraph.score.fairness import FairnessConfig


def _report():
    # Region a: 4 users, 2 approved (one bad, one unknown) -> approval 0.5, bad rate 1.0.
    # Region b: 2 users, 2 approved (both good) -> approval 1.0, bad rate 0.0.
    decision = ["approve", "approve", "decline", "review", "approve", "approve"]
    label = [1, np.nan, 1, 0, 0, 0]
    groups = pd.DataFrame(
        {"region": ["a", "a", "a", "a", "b", "b"], "age_band": ["18-24"] * 3 + ["25-34"] * 3}
    )
    return fairness_report(decision, label, groups)


def test_rates_by_group():
    r = _report()
    region = r.summary["region"]
    assert region["approval_rate"]["by_group"] == {"a": 0.5, "b": 1.0}
    assert region["bad_rate_approved"]["by_group"] == {"a": 1.0, "b": 0.0}
    assert region["approval_rate"]["overall"] == pytest.approx(4 / 6)
    # Overall bad rate among approved with a known outcome: 1 of 3.
    assert region["bad_rate_approved"]["overall"] == pytest.approx(1 / 3)


def test_largest_gaps_name_the_groups():
    region = _report().summary["region"]["approval_rate"]
    assert region["difference"] == 0.5
    assert region["ratio"] == 0.5
    assert (region["highest"], region["lowest"]) == ("b", "a")
    gaps = _report().largest_gaps()
    assert gaps.iloc[0]["difference"] == pytest.approx(1.0)  # bad rate, region
    assert set(gaps["attribute"]) == {"region", "age_band"}


def test_table_rows_and_counts():
    table = _report().table
    row = table[(table["attribute"] == "region") & (table["group"] == "a")].iloc[0]
    assert (row["users"], row["approved_labelled"]) == (4, 1)
    assert set(table["group"]) == {"a", "b", "18-24", "25-34", "overall"}


def test_summary_is_json_ready_and_missing_attribute_skipped():
    r = fairness_report(["approve"], [np.nan], pd.DataFrame({"region": ["a"]}))
    text = json.dumps(r.summary)
    assert "age_band" not in r.summary
    assert json.loads(text)["region"]["bad_rate_approved"]["difference"] is None


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"decision \(2\), label \(1\) and groups \(1\)"):
        fairness_report(["approve", "review"], [0], pd.DataFrame({"region": ["a"]}))


def test_a_numeric_protected_attribute_is_audited_by_bands():
    rng = np.random.default_rng(0)
    age = rng.integers(18, 80, 1000).astype(float)
    age[:10] = np.nan
    decision = np.where(age > 40, "approve", "decline")
    report = fairness_report(decision, np.zeros(1000), pd.DataFrame({"age": age}), ("age",))
    groups = report.table.loc[report.table["attribute"] == "age", "group"].tolist()
    assert len(groups) == 7 and groups[-2:] == ["missing", "overall"]
    assert groups[0].startswith("18-")
    assert report.summary["age"]["approval_rate"]["difference"] > 0.9


def test_protected_attributes_are_named_and_audited_after_the_defaults():
    config = FairnessConfig(protected=("age", "region")).validate()
    assert config.audited == ("age_band", "region", "age")
    with pytest.raises(ConfigError, match=r"fairness.protected: 'label' cannot be protected"):
        FairnessConfig(protected=("label",)).validate()
