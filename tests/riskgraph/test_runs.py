"""Output root: atomic publish, latest, lock."""

from __future__ import annotations

import datetime as dt
import errno
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from riskgraph.errors import OutputError, RunError, RunLockedError
from riskgraph.runs import RUN_MANIFEST, OutputRoot, output_error

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


def test_published_runs_are_readable_by_owner_and_group_only(tmp_path: Path):
    out = OutputRoot(tmp_path / "out")
    staging = _complete_staging(out, D1, "one")
    (staging / "rejects").mkdir()
    (staging / "rejects" / "users.csv").write_text("line,reason\n")
    os.chmod(staging / "scores.parquet", 0o666)  # as a library may create a file
    run = out.publish(staging, D1)
    modes = {p.relative_to(out.root): stat.S_IMODE(p.stat().st_mode) for p in [*run.rglob("*")]}
    assert modes == {
        Path("runs/2026-01-01/scores.parquet"): 0o640,
        Path("runs/2026-01-01/run.json"): 0o640,
        Path("runs/2026-01-01/rejects"): 0o750,
        Path("runs/2026-01-01/rejects/users.csv"): 0o640,
    }
    for directory in (out.root, out.runs_dir, run):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o750, directory


def test_rejects_of_a_failed_run_are_kept_until_the_date_is_published(tmp_path: Path):
    out = OutputRoot(tmp_path / "out")
    staging = out.new_staging(D1)
    (staging / "rejects").mkdir()
    (staging / "rejects" / "users.csv").write_text("line,reason\n2,empty user_id\n")
    kept = out.keep_failed_rejects(staging / "rejects", D1)
    assert kept == tmp_path / "out" / "failed" / "2026-01-01" / "rejects"
    assert (kept / "users.csv").read_text().endswith("2,empty user_id\n")
    empty = out.new_staging(D1) / "rejects"
    empty.mkdir()
    assert out.keep_failed_rejects(empty, D1) is None  # a failure without rejects...
    assert not kept.exists()  # ...leaves none of an earlier failure behind
    out.keep_failed_rejects(staging / "rejects", D1)
    out.publish(_complete_staging(out, D1, "one"), D1)
    assert not (tmp_path / "out" / "failed" / "2026-01-01").exists()


def test_an_output_root_that_cannot_be_created_is_an_output_error(tmp_path: Path):
    (tmp_path / "a-file").write_text("in the way")
    out = OutputRoot(tmp_path / "a-file" / "out")
    with (
        pytest.raises(OutputError, match=r"a-file/out: the output cannot be created .*directory"),
        out.lock(),
    ):
        pass
    full = OSError(errno.ENOSPC, "No space left on device")
    error = output_error(tmp_path, full)
    assert isinstance(error, OutputError) and "No space left on device" in str(error)
    assert output_error(tmp_path, OSError(errno.ECONNRESET, "reset")) is None  # not the disk
