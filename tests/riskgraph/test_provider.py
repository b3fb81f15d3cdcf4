"""FeatureProvider and `riskgraph explain`: lookups, missing users, incomplete roots."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from riskgraph.cli import app
from riskgraph.errors import ProviderError
from riskgraph.provider import FeatureProvider
from riskgraph.runs import RUN_MANIFEST, OutputRoot

DAY = dt.date(2026, 6, 1)


def _scores(ids: list[str], shift: int = 0) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "user_id": ids,
            "risk_score": np.linspace(0.01, 0.5, n),
            "credit_score": np.arange(700, 700 - n, -1) + shift,
            "gnn_risk": np.linspace(0.02, 0.6, n),
            "decision": ["approve"] * (n - 1) + ["decline"],
            "multi_borrowing": [False] * (n - 1) + [True],
            "ring_id": [None] * (n - 1) + ["ring-00000000000000ab"],
            "reason_1": ["shares a device with 3 users who defaulted"] * n,
            "reason_2": [None] * (n - 1) + ["no credit history yet"],
            "reason_3": [None] * n,
        }
    )


def publish(
    root: Path, date: dt.date, ids: list[str], *, shift: int = 0, links: bool = True
) -> None:
    out = OutputRoot(root)
    staging = out.new_staging(date)
    _scores(ids, shift).to_parquet(staging / "scores.parquet", index=False)
    pd.DataFrame(
        {"user_id": ids, "device_bad_1hop": np.arange(len(ids)), "ring_size": np.zeros(len(ids))}
    ).to_parquet(staging / "features.parquet", index=False)
    if links:
        pd.DataFrame(
            {
                "user_id": [ids[-1], ids[-1], ids[0]],
                "other_user_id": [ids[0], ids[1], ids[1]],
                "via_type": ["device", "account", "social"],
                "via_id": ["D1", "A9", None],
                "score": [0.2, 0.9, 0.1],
            }
        ).to_parquet(staging / "associations.parquet", index=False)
    (staging / RUN_MANIFEST).write_text(json.dumps({"run_date": date.isoformat()}))
    out.publish(staging, date)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    publish(tmp_path, DAY, ["U1", "U2", "U3", "U4"])
    return tmp_path


def test_features_in_the_order_asked(root):
    fp = FeatureProvider(root)
    got = fp.features(["U3", "U1", "U3"])
    assert got.index.name == "user_id"
    assert got.index.tolist() == ["U3", "U1", "U3"]
    assert got["device_bad_1hop"].tolist() == [2, 0, 2]
    assert "user_id" not in got.columns
    assert fp.run_date == DAY


def test_preload_reads_everything_once(root):
    fp = FeatureProvider(root).preload()
    (root / "latest" / "features.parquet").unlink()  # already in memory
    assert fp.features(["U2"]).loc["U2", "device_bad_1hop"] == 1


def test_scores_columns(root):
    got = FeatureProvider(root).scores(["U4"])
    assert got.loc["U4", "decision"] == "decline"
    assert got.loc["U4", "credit_score"] == 697
    assert list(got.columns) == [c for c in _scores(["x"]).columns if c != "user_id"]


def test_missing_users_are_named(root):
    fp = FeatureProvider(root)
    with pytest.raises(
        ProviderError, match=r"2 of 3 user ids not in the run 2026-06-01: 'X9', 'X7'"
    ):
        fp.features(["U1", "X9", "X7"])
    many = [f"Z{i}" for i in range(15)]
    with pytest.raises(ProviderError, match=r"15 of 15 .*'Z0', .*'Z9' and 5 more"):
        fp.scores(many)


def test_a_bare_string_is_refused(root):
    with pytest.raises(ProviderError, match="single string 'U1'"):
        FeatureProvider(root).features("U1")


def test_empty_output_root(tmp_path):
    with pytest.raises(ProviderError, match=r"no complete nightly run; run `riskgraph nightly"):
        FeatureProvider(tmp_path)


def test_output_root_with_only_a_crashed_run(tmp_path):
    # A run directory without run.json (and a leftover staging dir) is not complete.
    (tmp_path / "runs" / DAY.isoformat()).mkdir(parents=True)
    (tmp_path / "runs" / DAY.isoformat() / "scores.parquet").write_bytes(b"partial")
    (tmp_path / "runs" / ".staging-2026-06-02-x").mkdir()
    with pytest.raises(ProviderError, match="no complete nightly run"):
        FeatureProvider(tmp_path)


def test_latest_missing_but_complete_runs_exist(root):
    (root / "latest").unlink()
    with pytest.raises(ProviderError, match="complete runs exist for 2026-06-01 but 'latest'"):
        FeatureProvider(root)


def test_explain_reasons_and_links(root):
    e = FeatureProvider(root).explain("U4")
    assert e.credit_score == 697 and e.decision == "decline"
    assert e.reasons == ["shares a device with 3 users who defaulted", "no credit history yet"]
    assert e.ring_id == "ring-00000000000000ab" and e.multi_borrowing
    assert e.associations["other_user_id"].tolist() == ["U2", "U1"]  # strongest first
    assert FeatureProvider(root).explain("U2").associations.empty
    assert json.loads(json.dumps(e.to_dict()))["associations"][0]["via_id"] == "A9"


def test_explain_without_associations_file(tmp_path):
    publish(tmp_path, DAY, ["U1", "U2"], links=False)
    assert FeatureProvider(tmp_path).explain("U1").associations.empty


def test_snapshot_until_refresh(root):
    fp = FeatureProvider(root)
    assert fp.scores(["U1"]).loc["U1", "credit_score"] == 700
    publish(root, DAY + dt.timedelta(days=1), ["U1", "U5"], shift=10)
    assert fp.scores(["U1"]).loc["U1", "credit_score"] == 700
    assert fp.refresh() is True
    assert fp.scores(["U5"]).loc["U5", "credit_score"] == 709


def test_cli_explain_prints_score_reasons_and_links(root):
    result = CliRunner().invoke(app, ["explain", "U4", "--out", str(root)])
    assert result.exit_code == 0, result.output
    assert "credit score 697" in result.output
    assert "DECLINE" in result.output
    assert "no credit history yet" in result.output
    assert "shared account" in result.output


def test_cli_explain_json(root):
    result = CliRunner().invoke(app, ["explain", "U1", "--out", str(root), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["credit_score"] == 700


def test_cli_explain_unknown_user_is_one_line_exit_1(root):
    result = CliRunner().invoke(app, ["explain", "NOPE", "--out", str(root)])
    assert result.exit_code == 1
    assert "error: scores: 1 of 1 user ids not in the run 2026-06-01: 'NOPE'" in result.output
    assert "Traceback" not in result.output
