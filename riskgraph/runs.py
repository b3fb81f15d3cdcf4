"""The output root: run directories published atomically, ``latest``, and the run lock.

Layout::

    OUT/
      runs/2026-11-21/         one complete run per date (scores.parquet, run.json, ...)
      runs/.staging-.../       a run being written; never read, removed on the next run
      latest -> runs/2026-11-21
      model/                   the saved models (see riskgraph.pipeline)
      failed/2026-11-21/rejects/  the rejected rows of a run of that date that failed,
                               until a run of the date is published
      .lock                    held by the run in progress

A run is written into a staging directory and renamed into ``runs/<date>`` only when
every file is there, so a reader (the feature provider, a person) never sees half a
run, and a crash leaves nothing but a staging directory that the next run removes.
Files are ``0640`` and directories ``0750`` (:mod:`riskgraph.loaders.permissions`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from riskgraph.errors import OutputError, RunError, RunLockedError
from riskgraph.loaders.permissions import make_private_dir, open_private, restrict_tree

__all__ = ["RUN_MANIFEST", "OutputRoot", "output_error", "output_errors", "write_json_atomic"]

#: Written last into a run directory; a run without it is not complete.
RUN_MANIFEST = "run.json"

#: Failures of the file system, not of riskgraph: the output cannot be created or
#: written there (full, over quota, read-only, not permitted, a file in the way).
_OUTPUT_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EFBIG,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.ENOTDIR,
        errno.EEXIST,
        errno.EISDIR,
    }
)


class OutputRoot:
    """Paths and atomic operations on one output root.

    Parameters
    ----------
    root : path
        The ``OUT`` directory (created on demand).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def latest(self) -> Path:
        return self.root / "latest"

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    def run_dir(self, run_date: dt.date) -> Path:
        return self.runs_dir / run_date.isoformat()

    def failed_rejects_dir(self, run_date: dt.date) -> Path:
        """Where the rejected rows of a failed run of ``run_date`` are kept."""
        return self.root / "failed" / run_date.isoformat() / "rejects"

    def is_complete(self, run_date: dt.date) -> bool:
        return (self.run_dir(run_date) / RUN_MANIFEST).is_file()

    def completed_dates(self) -> list[dt.date]:
        """Dates with a complete run, oldest first."""
        if not self.runs_dir.is_dir():
            return []
        dates = []
        for child in self.runs_dir.iterdir():
            try:
                date = dt.date.fromisoformat(child.name)
            except ValueError:
                continue
            if (child / RUN_MANIFEST).is_file():
                dates.append(date)
        return sorted(dates)

    def previous_run(self, run_date: dt.date) -> Path | None:
        """The newest complete run strictly before ``run_date``."""
        earlier = [d for d in self.completed_dates() if d < run_date]
        return self.run_dir(earlier[-1]) if earlier else None

    def latest_run(self) -> Path | None:
        """The run ``latest`` points at, if it is complete."""
        if not self.latest.exists():
            return None
        target = self.latest.resolve()
        return target if (target / RUN_MANIFEST).is_file() else None

    # -- writing ---------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the output root's lock for one run.

        The lock is an ``flock`` on ``OUT/.lock``: the kernel drops it when the process
        dies, so a killed run never leaves a stale lock behind.

        Raises
        ------
        RunLockedError
            When another process holds it.
        """
        path = self.root / ".lock"
        with output_errors(self.root):
            make_private_dir(self.root)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
        with os.fdopen(fd, "r+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise RunLockedError(
                    f"{self.root}: another run is in progress ({holder}); wait for it to finish"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} since {dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}")
            handle.flush()
            try:
                yield
            finally:
                handle.seek(0)
                handle.truncate()
                fcntl.flock(handle, fcntl.LOCK_UN)

    def new_staging(self, run_date: dt.date) -> Path:
        """A fresh, empty staging directory for ``run_date`` (stale ones removed)."""
        with output_errors(self.root):
            make_private_dir(self.runs_dir)
            self.remove_stale_staging()
            prefix = f".staging-{run_date.isoformat()}-"
            return Path(tempfile.mkdtemp(prefix=prefix, dir=self.runs_dir))

    def remove_stale_staging(self) -> None:
        """Remove staging directories left by crashed runs (call with the lock held)."""
        if self.runs_dir.is_dir():
            for child in self.runs_dir.glob(".staging-*"):
                shutil.rmtree(child, ignore_errors=True)
            for child in self.runs_dir.glob(".replaced-*"):
                shutil.rmtree(child, ignore_errors=True)

    def publish(self, staging: Path, run_date: dt.date) -> Path:
        """Move a complete staging directory to ``runs/<date>`` and point ``latest`` at
        the newest complete run.

        An existing run of the same date (a forced rerun) is moved aside first and
        removed after the swap.
        """
        if not (staging / RUN_MANIFEST).is_file():
            raise RunError(f"{staging}: refusing to publish a run without {RUN_MANIFEST}")
        restrict_tree(staging)
        target = self.run_dir(run_date)
        replaced = None
        if target.exists():
            replaced = self.runs_dir / f".replaced-{run_date.isoformat()}-{os.getpid()}"
            os.replace(target, replaced)
        os.replace(staging, target)
        _fsync_dir(self.runs_dir)
        if replaced is not None:
            shutil.rmtree(replaced, ignore_errors=True)
        self.point_latest()
        shutil.rmtree(self.failed_rejects_dir(run_date).parent, ignore_errors=True)
        return target

    def keep_failed_rejects(self, rejects: Path, run_date: dt.date) -> Path | None:
        """Move the rejects of a run that failed out of its staging directory.

        They replace those of an earlier failed run of the date, and stay until a run
        of the date is published. Returns where they are, or None when there were none
        (or they could not be moved: the run's own error matters more).
        """
        target = self.failed_rejects_dir(run_date)
        try:
            shutil.rmtree(target.parent, ignore_errors=True)
            if not rejects.is_dir() or not any(rejects.iterdir()):
                return None
            make_private_dir(target.parent)
            os.replace(rejects, target)
        except OSError:
            return None
        return target

    def point_latest(self) -> None:
        """Point ``latest`` at the newest complete run (atomic symlink swap)."""
        dates = self.completed_dates()
        if not dates:
            return
        link_target = Path("runs") / dates[-1].isoformat()
        tmp = self.root / f".latest-{os.getpid()}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(link_target, target_is_directory=True)
        os.replace(tmp, self.latest)
        _fsync_dir(self.root)


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write ``payload`` as JSON through a temporary file (mode 0640) and a rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    with os.fdopen(open_private(tmp), "w", encoding="utf-8") as handle:
        handle.write(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def output_error(root: Path, exc: OSError) -> OutputError | None:
    """The :class:`OutputError` for a file-system failure while writing under ``root``.

    None when ``exc`` is not one of those (a bug then, not the machine).
    """
    if exc.errno not in _OUTPUT_ERRNOS:
        return None
    where = f" ({exc.filename})" if exc.filename else ""
    return OutputError(
        f"{root}: the output cannot be created or written{where}: {os.strerror(exc.errno)}"
    )


@contextlib.contextmanager
def output_errors(root: Path) -> Iterator[None]:
    """Turn the file-system failures :func:`output_error` knows into its error."""
    try:
        yield
    except OSError as exc:
        error = output_error(root, exc)
        if error is None:
            raise
        raise error from exc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
