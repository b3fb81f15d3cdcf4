"""Rejects files: safe to open in a spreadsheet, readable by owner and group only."""

from __future__ import annotations

import stat
from pathlib import Path

import pandas as pd

from riskgraph.loaders import load_input, write_rejects
from riskgraph.loaders.rejects import spreadsheet_safe

KEY = "rejects-test-key-0123456789"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_cells_that_a_spreadsheet_would_run_get_a_quote(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "users.csv").write_text(
        "user_id,registered_at,note\n"
        '=CMD(),bad,"=HYPERLINK(""http://x"")"\n'
        "+1,bad,@SUM(A1)\n"
        "-2,bad,ok\n"
        '"\tu",bad,"\rx"\n'
        "plain,bad,a=b\n",
        "utf-8",
    )
    rejects_dir = tmp_path / "rejects"
    load_input(d, hmac_key=KEY, rejects_dir=rejects_dir)
    on_disk = pd.read_csv(rejects_dir / "users.csv", dtype=str, keep_default_na=False)
    assert on_disk["user_id"].tolist() == ["'=CMD()", "'+1", "'-2", "'\tu", "plain"]
    assert on_disk["note"].tolist() == [
        '\'=HYPERLINK("http://x")',
        "'@SUM(A1)",
        "ok",
        "'\rx",
        "a=b",
    ]
    assert on_disk["line"].tolist() == ["2", "3", "4", "5", "6"]  # numbers stay numbers
    assert on_disk["reason"].str.startswith("unparsable registered_at").all()


def test_spreadsheet_safe_leaves_numbers_and_missing_values_alone():
    table = pd.DataFrame(
        {"line": [2, 3], "amount": [-1.5, 2.0], "text": pd.array(["-x", None], dtype="string")}
    )
    safe = spreadsheet_safe(table)
    assert safe["line"].tolist() == [2, 3] and safe["amount"].tolist() == [-1.5, 2.0]
    assert safe["text"].tolist()[0] == "'-x" and pd.isna(safe["text"].tolist()[1])
    assert table["text"].tolist()[0] == "-x"  # the input is not changed


def test_rejects_are_owner_and_group_only(tmp_path):
    rejects_dir = tmp_path / "new" / "rejects"
    write_rejects({"users": pd.DataFrame({"line": [2], "reason": ["empty user_id"]})}, rejects_dir)
    assert mode(rejects_dir) == 0o750
    assert mode(rejects_dir.parent) == 0o750
    assert mode(rejects_dir / "users.csv") == 0o640
