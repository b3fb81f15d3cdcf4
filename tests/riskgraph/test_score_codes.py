"""The reason-code table: one meaning per code, every code in docs/score.md."""

from __future__ import annotations

import re
from pathlib import Path

from riskgraph.graph.features import FEATURE_CATALOG
from riskgraph.score.codes import CODES_BEGIN, CODES_END, code_table, code_table_markdown
from riskgraph.score.variables import ATTRIBUTE_SPECS, NETWORK_CODE, NO_CREDIT_HISTORY_CODE

DOCS = Path(__file__).resolve().parents[2] / "docs" / "score.md"


def test_every_code_is_unique_and_every_reason_source_has_one():
    table = code_table()
    assert table["code"].is_unique
    graph = set(table.loc[table["source"] == "graph", "variable"])
    assert graph == {n for n, s in FEATURE_CATALOG.items() if s.kind != "identifier"}
    assert {NETWORK_CODE, NO_CREDIT_HISTORY_CODE, "A:<column>"} <= set(table["code"])
    known = {m.code for m in ATTRIBUTE_SPECS.values() if not m.code.startswith("A:")}
    assert known <= set(table["code"])
    assert all(re.fullmatch(r"[ACRHEBN]\d\d|A:<column>", c) for c in table["code"])


def test_no_reason_sentence_says_a_model_says():
    for reason in code_table()["reason"]:
        assert "model" not in reason, reason


def test_docs_hold_the_current_code_table():
    text = DOCS.read_text(encoding="utf-8")
    generated = text.split(CODES_BEGIN, 1)[1].split(CODES_END, 1)[0]
    assert generated.strip() == code_table_markdown().strip(), (
        "docs/score.md is out of date: run "
        "riskgraph.score.codes.update_code_table_docs('docs/score.md')"
    )
    for code in code_table()["code"]:
        assert f"| {code} |" in generated, code
