"""Who may read what riskgraph writes: its owner and group, nobody else.

Outputs hold scores, decisions and pseudonymized identifiers of real applicants, and
rejects hold input rows as they were: files are created ``0640`` and directories
``0750`` (a stricter umask makes them stricter still).

Examples
--------
>>> oct(FILE_MODE), oct(DIR_MODE)
('0o640', '0o750')
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "make_private_dir", "open_private", "restrict_tree"]

#: Mode of every output file: owner reads and writes, group reads.
FILE_MODE = 0o640
#: Mode of every output directory: owner enters and writes, group enters and reads.
DIR_MODE = 0o750


def make_private_dir(path: str | Path) -> Path:
    """``mkdir -p`` with :data:`DIR_MODE` for every directory it creates.

    Directories that exist already keep their mode: the caller may have chosen them.
    """
    path = Path(path)
    missing = []
    for directory in (path, *path.parents):
        if directory.exists():
            break
        missing.append(directory)
    for directory in reversed(missing):
        directory.mkdir(mode=DIR_MODE, exist_ok=True)
    return path


def open_private(path: str | Path) -> int:
    """Create (or truncate) ``path`` with :data:`FILE_MODE` and return its descriptor.

    The mode is set at creation, so the file is never readable by others, not even
    for a moment.
    """
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)


def restrict_tree(root: str | Path) -> None:
    """Give ``root`` and everything below it :data:`DIR_MODE` / :data:`FILE_MODE`.

    For trees written by libraries that create files with their own modes (Parquet,
    torch), before they are published. Symbolic links are left alone.
    """
    mask = _umask()
    root = Path(root)
    os.chmod(root, DIR_MODE & ~mask)
    for directory, subdirectories, files in os.walk(root):
        for name in subdirectories:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                os.chmod(path, DIR_MODE & ~mask)
        for name in files:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                os.chmod(path, FILE_MODE & ~mask)


def _umask() -> int:
    """The process umask, read without changing it where the kernel tells it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere it can only be read by setting it
    os.umask(mask)
    return mask
