"""One exit-code table (``riskgraph.cli.EXIT_CODES``), a test per row, and the README's.

A failure a person can fix prints one ``error:`` line (and its notes) and no
traceback; only a bug (70) logs its traceback.
"""

from __future__ import annotations

import errno
import logging
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from riskgraph import cli, errors

README = Path(__file__).resolve().parents[2] / "README.md"

ROWS = [
    (errors.ConfigError("bad setting"), 78),
    (errors.Neo4jAuthError("refused the login"), 78),  # not 75: a retry never helps
    (errors.InputError("bad input"), 65),
    (errors.OutputError("cannot write"), 73),
    (errors.Neo4jUnavailableError("gone"), 75),
    (errors.RunLockedError("locked"), 75),
    (errors.ProviderError("no complete nightly run"), 66),  # serve: nothing to answer from
    (errors.ModelError("a bug of ours"), 70),
    (ValueError("a bug of ours"), 70),
]


@pytest.mark.parametrize(("error", "code"), ROWS, ids=[type(e).__name__ for e, _ in ROWS])
def test_each_failure_exits_with_its_code(error, code, capsys, caplog):
    error.add_note("a note")
    with caplog.at_level(logging.ERROR), pytest.raises(typer.Exit) as info, cli._exits():
        raise error
    assert info.value.exit_code == code == cli.exit_code(error)
    stderr = capsys.readouterr().err
    if code == cli.EXIT_SOFTWARE:
        assert stderr == ""
        assert caplog.records[-1].exc_info is not None  # the traceback, for the bug report
    else:
        assert stderr == f"error: {error}\n  a note\n"
        assert not caplog.records


def test_a_full_or_read_only_output_is_an_output_error(tmp_path, capsys):
    with pytest.raises(typer.Exit) as info, cli._exits(output=tmp_path):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert info.value.exit_code == 73
    assert "the output cannot be created or written: No space left on device" in (
        capsys.readouterr().err
    )
    with pytest.raises(typer.Exit) as info, cli._exits(output=None):
        raise OSError(errno.ENOSPC, "No space left on device")  # where, nobody said: a bug
    assert info.value.exit_code == 70


def test_the_readme_lists_exactly_these_codes():
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| code | meaning | what to do |") :].split("\n\n")[0]
    listed = {int(code) for code in re.findall(r"^\| (\d+) \|", table, flags=re.MULTILINE)}
    assert listed == {0, cli.EXIT_SOFTWARE} | {code for _, code in cli.EXIT_CODES}


def test_nightly_with_an_unreadable_date_is_a_configuration_error(tmp_path):
    result = CliRunner().invoke(
        cli.app, ["nightly", "--input", str(tmp_path), "--out", str(tmp_path), "--date", "1/2/26"]
    )
    assert result.exit_code == 78
    assert "--date '1/2/26': expected YYYY-MM-DD" in result.output
    assert "Traceback" not in result.output


def test_validate_needs_no_neo4j_and_no_key(tmp_path, monkeypatch):
    monkeypatch.delenv("RISKGRAPH_HMAC_KEY", raising=False)
    monkeypatch.delenv("RISKGRAPH_CONFIG", raising=False)
    monkeypatch.setenv("RISKGRAPH_NEO4J_URI", "bolt://127.0.0.1:9")
    monkeypatch.setenv("RISKGRAPH_NEO4J_PASSWORD", "x")
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "in"
    source.mkdir()
    (source / "users.csv").write_text("user_id,registered_at\nu1,2024-01-01\n")
    (source / "user_accounts.csv").write_text("user_id,account_id\nghost,6222020200001234567\n")
    args = ["validate", "--input", str(source), "--rejects", str(tmp_path / "rej")]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert "usable, 1 users" in result.output
    rejected = (tmp_path / "rej" / "user_accounts.csv").read_text()
    assert "unknown user_id 'ghost'" in rejected
    assert "6222020200001234567" not in rejected  # pseudonymized with a throwaway key
    (source / "users.csv").write_text("user_id,registered_at\nu1,someday\n")
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 65
    assert "none of its 1 user rows is usable" in result.output
