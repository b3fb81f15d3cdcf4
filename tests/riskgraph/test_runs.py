"""Output root: atomic publish, latest, lock."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from pathlib import Path

import pytest

from riskgraph.errors import RunError, RunLockedError
from riskgraph.runs import RUN_MANIFEST, OutputRoot

D1, D2 = dt.date(2026, 1, 1), dt.date(2026, 1, 2)


def _complete_staging(out: OutputRoot, date: dt.date, marker: str) -> Path:
    staging = out.new_staging(date)
    (staging / "scores.parquet").write_text(marker)
    (staging / RUN_MANIFEST).write_text("{}")
    return staging


def test_publish_moves_staging_and_points_latest(tmp_path: Path):
    out = OutputRoot(tmp_path / "out")
    out.publish(_complete_staging(out, D1, "one"), D1)
    assert out.latest.resolve() == out.run_dir(D1).resolve()
    out.publish(_complete_staging(out, D2, "two"), D2)
    assert (out.latest / "scores.parquet").read_text() == "two"
    assert out.completed_dates() == [D1, D2]
    assert out.previous_run(D2) == out.run_dir(D1)
    assert not list(out.runs_dir.glob(".staging-*"))


def test_republishing_an_older_date_keeps_latest_on_the_newest(tmp_path: Path):
    out = OutputRoot(tmp_path / "out")
    out.publish(_complete_staging(out, D2, "two"), D2)
    out.publish(_complete_staging(out, D1, "one"), D1)
    assert out.latest_run() == out.run_dir(D2).resolve()
    out.publish(_complete_staging(out, D2, "two again"), D2)  # forced rerun replaces
    assert (out.run_dir(D2) / "scores.parquet").read_text() == "two again"
    assert not list(out.runs_dir.glob(".replaced-*"))


def test_incomplete_staging_is_never_published_and_is_cleaned(tmp_path: Path):
    out = OutputRoot(tmp_path / "out")
    staging = out.new_staging(D1)
    (staging / "scores.parquet").write_text("half")
    with pytest.raises(RunError, match=r"without run\.json"):
        out.publish(staging, D1)
    assert out.completed_dates() == [] and out.latest_run() is None
    out.new_staging(D1)  # the next run removes what a crashed one left
    assert len(list(out.runs_dir.glob(".staging-*"))) == 1


def _hold_lock(root: str, ready, release) -> None:
    with OutputRoot(root).lock():
        ready.set()
        release.wait(10)


def test_lock_refuses_a_second_run(tmp_path: Path):
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path / "out"), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        with (
            pytest.raises(RunLockedError, match="another run is in progress"),
            OutputRoot(tmp_path / "out").lock(),
        ):
            pass
    finally:
        release.set()
        holder.join(10)
    with OutputRoot(tmp_path / "out").lock():  # released when the holder is done
        pass


def test_lock_of_a_killed_process_is_released(tmp_path: Path):
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path / "out"), ready, release))
    holder.start()
    assert ready.wait(30)
    holder.kill()
    holder.join(10)
    with OutputRoot(tmp_path / "out").lock():
        pass
