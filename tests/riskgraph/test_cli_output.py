"""The command line for a scheduler: one log line per record, defaults in the help,
``--version``."""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys

import pytest
from typer.testing import CliRunner

from riskgraph import __version__
from riskgraph.cli import LOG_LINE, LineFormatter, app

LINE = re.compile(LOG_LINE)


def _record(message: str, stage: str | None = None, exc_info=None) -> logging.LogRecord:
    record = logging.LogRecord(
        "riskgraph.nightly", logging.INFO, __file__, 1, message, (), exc_info
    )
    if stage is not None:
        record.stage = stage
    return record


def test_a_record_is_one_line_with_time_level_stage_and_message():
    line = LineFormatter().format(_record("done in 7.8 s", stage="score"))
    match = LINE.match(line)
    assert match, line
    assert dt.datetime.fromisoformat(match["time"]).utcoffset() is not None
    assert (match["level"], match["stage"], match["message"]) == ("INFO", "score", "done in 7.8 s")
    # Without a stage of its own, the logger names it.
    assert LINE.match(LineFormatter().format(_record("run is complete")))["stage"] == "nightly"


def test_a_traceback_stays_on_the_records_line():
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        line = LineFormatter().format(_record("the nightly run failed", exc_info=sys.exc_info()))
    assert "\n" not in line
    assert LINE.match(line)
    assert "Traceback (most recent call last):\\n" in line and "ValueError: bad\\nvalue" in line


@pytest.mark.parametrize(
    ("command", "default"),
    [
        (["nightly", "--help"], "[default: today]"),
        (["nightly", "--help"], "[default: ./riskgraph.toml]"),
        (["generate", "--help"], "[default: OUT/../truth.parquet]"),
    ],
)
def test_help_texts_keep_their_defaults(command, default):
    result = CliRunner().invoke(app, command, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert default in result.output


def test_version_option():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == __version__
