"""Installing the local Neo4j server: its jars resolved from Maven Central, checked.

The jars go to ``HOME/lib`` (through ``lib.partial/``, so that an interrupted download
never looks complete); ``install.json`` records them and their comparison with the
official distribution's ``lib/`` (docs/neo4j.md).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TypedDict

from riskgraph.errors import Neo4jError
from riskgraph.graph.server_config import (
    NEO4J_VERSION,
    ServerSettings,
    _ensure_password,
    _java,
    _tail_text,
    _write_conf,
)

__all__ = [
    "InstallReport",
    "install",
    "is_installed",
]

_REFERENCE_LIB_LIST = f"neo4j-{NEO4J_VERSION}-lib.txt"


# Differences from the official lib/ that the Maven resolution is known to have (docs/neo4j.md).
_KNOWN_MISSING = frozenset(
    {
        f"neo4j-push-to-cloud-{NEO4J_VERSION}.jar",
        f"neo4j-browser-{NEO4J_VERSION}.jar",
        f"arrow-bom-{NEO4J_VERSION}.pom",
    }
)


_KNOWN_EXTRA_PATTERN = re.compile(r"^(neo4j-browser-5\.24\.0|asm(-[a-z]+)?-[0-9.]+)\.jar$")


@dataclass(frozen=True)
class InstallReport:
    """What :func:`install` did.

    Attributes
    ----------
    home : Path
    version : str
    reused : bool
        True when the jars were already there and nothing was downloaded or copied.
    jars : int
        Files in ``lib/``.
    missing, extra : list of str
        Files of the official lib/ absent here, and files here absent there, beyond the
        known differences (both empty on a correct installation).
    known_differences : list of str
        The expected differences that were found (see docs/neo4j.md).
    reference : str or None
        The reference list compared against, or None when none was found.
    seconds : float
    """

    home: Path
    version: str
    reused: bool
    jars: int
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    known_differences: list[str] = field(default_factory=list)
    reference: str | None = None
    seconds: float = 0.0


def is_installed(settings: ServerSettings) -> bool:
    """True when ``lib/`` holds every jar that :func:`install` recorded."""
    record = _read_install_record(settings)
    if record is None or record.get("version") != NEO4J_VERSION:
        return False
    files = record.get("files")
    if not isinstance(files, list) or not files:
        return False
    return all((settings.lib_dir / str(f)).is_file() for f in files)


def install(
    settings: ServerSettings,
    *,
    echo: Callable[[str], None] | None = None,
) -> InstallReport:
    """Install Neo4j into ``settings.home``, reusing whatever is already there.

    Resolves the jars from Maven Central with ``mvn`` (about 170 MB on a machine whose
    ``~/.m2`` is empty), compares ``lib/`` with the official distribution's list, writes
    the configuration and sets a generated password (file mode 0600) before the first
    start. A second call finds the jars in place and only checks them.

    Parameters
    ----------
    settings : ServerSettings
    echo : callable, optional
        Receives one-line progress messages.

    Raises
    ------
    Neo4jError
        When Java or mvn is missing, or mvn fails (with the tail of its output).
    """
    say = echo or (lambda _msg: None)
    began = time.monotonic()
    java = _java()
    home = settings.home
    for directory in (home, settings.conf_dir, settings.data_dir, settings.logs_dir):
        directory.mkdir(parents=True, exist_ok=True)
    (home / "run").mkdir(exist_ok=True)
    home.chmod(0o700)  # the password file lives here

    reused = is_installed(settings)
    if reused:
        say(f"Neo4j {NEO4J_VERSION} already installed in {home}; reusing it")
        files = sorted(p.name for p in settings.lib_dir.iterdir())
    else:
        say(f"Resolving Neo4j {NEO4J_VERSION} from Maven Central into {settings.lib_dir}")
        files = _resolve_jars(settings)
    comparison = _compare_with_reference(files)
    _write_install_record(settings, files, comparison)
    _write_conf(settings)
    _ensure_password(settings, java)
    report = InstallReport(
        home=home,
        version=NEO4J_VERSION,
        reused=reused,
        jars=len(files),
        seconds=time.monotonic() - began,
        **comparison,
    )
    if report.reference is None:
        say("No reference list of the official lib/ found; comparison skipped")
    elif report.missing or report.extra:
        say(
            f"lib/ differs from the official {NEO4J_VERSION} lib/: "
            f"missing {report.missing}, extra {report.extra}"
        )
    else:
        say(
            f"lib/ matches the official {NEO4J_VERSION} lib/ except the known differences: "
            + ", ".join(report.known_differences)
        )
    return report


def _resolve_jars(settings: ServerSettings) -> list[str]:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise Neo4jError(
            "mvn not found on PATH: `riskgraph neo4j install` resolves Neo4j from Maven Central "
            "with Maven (e.g. `apt-get install maven`)"
        )
    maven_dir = settings.home / "maven"
    maven_dir.mkdir(exist_ok=True)
    pom = maven_dir / "pom.xml"
    pom.write_bytes(resources.files("riskgraph.graph").joinpath("neo4j-pom.xml").read_bytes())
    # Resolve into a fresh folder and swap it in, so that an interrupted download never
    # leaves a lib/ that looks complete.
    staging = settings.home / "lib.partial"
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
        "-DexcludeTypes=pom",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = _tail_text(done.stdout + done.stderr, 30)
        raise Neo4jError(f"mvn failed (exit {done.returncode}) resolving {pom}:\n{tail}")
    shutil.rmtree(settings.lib_dir, ignore_errors=True)
    staging.rename(settings.lib_dir)
    return sorted(p.name for p in settings.lib_dir.iterdir())


def _reference_list() -> tuple[str, set[str]] | None:
    """The official lib/ listing, from ``../shared`` beside the source checkout."""
    source_root = Path(__file__).resolve().parent.parent
    for candidate in (source_root.parent / "shared" / _REFERENCE_LIB_LIST,):
        if candidate.is_file():
            lines = candidate.read_text(encoding="utf-8").splitlines()
            names = {s.strip() for s in lines if s.strip() and not s.startswith("#")}
            return str(candidate), names
    return None


class _Comparison(TypedDict):
    reference: str | None
    missing: list[str]
    extra: list[str]
    known_differences: list[str]


def _compare_with_reference(files: list[str]) -> _Comparison:
    found = _reference_list()
    if found is None:
        return {"reference": None, "missing": [], "extra": [], "known_differences": []}
    path, reference = found
    have = set(files)
    missing = sorted(reference - have)
    extra = sorted(have - reference)
    known = [f"missing {m}" for m in missing if m in _KNOWN_MISSING]
    known += [f"extra {e}" for e in extra if _KNOWN_EXTRA_PATTERN.match(e)]
    return {
        "reference": path,
        "missing": [m for m in missing if m not in _KNOWN_MISSING],
        "extra": [e for e in extra if not _KNOWN_EXTRA_PATTERN.match(e)],
        "known_differences": known,
    }


def _read_install_record(settings: ServerSettings) -> dict[str, object] | None:
    path = settings.home / "install.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _write_install_record(
    settings: ServerSettings, files: list[str], comparison: _Comparison
) -> None:
    record = {"version": NEO4J_VERSION, "files": files, "comparison": comparison}
    path = settings.home / "install.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
    tmp.replace(path)
