"""Lifecycle of the local Neo4j 5.26 community server: install, start, stop, status.

The server lives in one *instance directory* (``home``)::

    home/
      maven/pom.xml     the pom that resolves the jars (copied from the package)
      lib/              the server and Browser jars, resolved from Maven Central by ``mvn``
      conf/neo4j.conf   generated from :class:`ServerSettings` at every start
      data/ logs/ run/  database files, logs (neo4j.log = the JVM's console), pid file
      password          the generated password of user ``neo4j`` (mode 0600)
      install.json      what ``install`` resolved, and its comparison with the official lib/

Several instances can run side by side: each has its own ``home`` and ports
(``RISKGRAPH_NEO4J_HOME``, ``RISKGRAPH_NEO4J_BOLT_PORT``, ``RISKGRAPH_NEO4J_HTTP_PORT``).
Neo4j binds 127.0.0.1 only, with authentication on.

Examples
--------
>>> settings = ServerSettings.resolve(home="/tmp/rg-neo4j", bolt_port=17687, http_port=17474)
>>> settings.bolt_uri, settings.browser_url
('bolt://127.0.0.1:17687', 'http://127.0.0.1:17474/browser/')
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import TypedDict

import platformdirs
import psutil

from riskgraph.errors import ConfigError, Neo4jError, Neo4jUnavailableError

__all__ = [
    "NEO4J_VERSION",
    "InstallReport",
    "ServerSettings",
    "ServerStatus",
    "install",
    "is_installed",
    "read_password",
    "running_pid",
    "running_settings",
    "start",
    "status",
    "stop",
]

#: The Neo4j release that ``install`` resolves (the 5.26 LTS line).
NEO4J_VERSION = "5.26.0"

DEFAULT_BOLT_PORT = 7687
DEFAULT_HTTP_PORT = 7474
# Sized for the 2-core / 24 GB machine the nightly job runs on, which it shares with the
# Python process (GraphTables of 1M users take several GB): 2 GB heap covers UNWIND batches
# of 10k rows with room to spare, 2 GB page cache holds the store of 1M users / 10M edges.
DEFAULT_HEAP = "2g"
DEFAULT_PAGECACHE = "2g"
USER = "neo4j"

ENV_HOME = "RISKGRAPH_NEO4J_HOME"
ENV_BOLT_PORT = "RISKGRAPH_NEO4J_BOLT_PORT"
ENV_HTTP_PORT = "RISKGRAPH_NEO4J_HTTP_PORT"
ENV_HEAP = "RISKGRAPH_NEO4J_HEAP"
ENV_PAGECACHE = "RISKGRAPH_NEO4J_PAGECACHE"

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

_SIZE_PATTERN = re.compile(r"^[1-9][0-9]*[kmgKMG]?$")
_ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
_ADMIN_ENTRY_POINT = "org.neo4j.server.startup.Neo4jAdminBoot"
# The JVM options of the official neo4j.conf (server.jvm.additional) that matter when the
# server is launched directly rather than through bin/neo4j. AlwaysPreTouch is left out on
# purpose: on a shared machine it would commit the whole heap up front.
_JVM_OPTIONS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
)


@dataclass(frozen=True)
class ServerSettings:
    """Where the local instance lives and how it runs.

    Build it with :meth:`resolve`, which applies option > environment > default.

    Parameters
    ----------
    home : Path
        The instance directory.
    bolt_port, http_port : int
        Ports on 127.0.0.1 for Bolt and for HTTP (Neo4j Browser).
    heap, pagecache : str
        JVM heap and page cache sizes, e.g. ``"2g"``, ``"512m"``.
    """

    home: Path
    bolt_port: int = DEFAULT_BOLT_PORT
    http_port: int = DEFAULT_HTTP_PORT
    heap: str = DEFAULT_HEAP
    pagecache: str = DEFAULT_PAGECACHE

    @classmethod
    def resolve(
        cls,
        home: str | Path | None = None,
        *,
        bolt_port: int | None = None,
        http_port: int | None = None,
        heap: str | None = None,
        pagecache: str | None = None,
    ) -> ServerSettings:
        """Settings from the arguments, else the environment, else the defaults.

        Raises
        ------
        ConfigError
            When a port or size (from an argument or the environment) is invalid.
        """
        env = os.environ
        if home is None:
            home = env.get(ENV_HOME) or Path(platformdirs.user_data_dir("riskgraph")) / "neo4j"
        settings = cls(
            home=Path(home).expanduser().absolute(),
            bolt_port=_port(bolt_port, ENV_BOLT_PORT, DEFAULT_BOLT_PORT),
            http_port=_port(http_port, ENV_HTTP_PORT, DEFAULT_HTTP_PORT),
            heap=_size(heap, ENV_HEAP, DEFAULT_HEAP),
            pagecache=_size(pagecache, ENV_PAGECACHE, DEFAULT_PAGECACHE),
        )
        if settings.bolt_port == settings.http_port:
            raise ConfigError(
                f"Bolt and HTTP ports are both {settings.bolt_port}; "
                f"set {ENV_BOLT_PORT} and {ENV_HTTP_PORT} to different ports"
            )
        return settings

    # -- layout ----------------------------------------------------------------
    @property
    def lib_dir(self) -> Path:
        return self.home / "lib"

    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def password_file(self) -> Path:
        return self.home / "password"

    @property
    def pid_file(self) -> Path:
        return self.home / "run" / "neo4j.pid"

    @property
    def log_file(self) -> Path:
        """The server's console output (what ``bin/neo4j`` writes to ``neo4j.log``)."""
        return self.logs_dir / "neo4j.log"

    @property
    def bolt_uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def browser_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/browser/"


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


@dataclass(frozen=True)
class ServerStatus:
    """State of a Neo4j server as ``riskgraph neo4j status`` reports it.

    ``version`` and ``edition`` come from ``CALL dbms.components()``; they are None when
    the server does not answer, and ``error`` then says why. ``password_file`` and
    ``home`` are None for a server given by ``RISKGRAPH_NEO4J_URI``.
    """

    running: bool
    version: str | None
    edition: str | None
    bolt_uri: str
    browser_url: str | None
    user: str
    password_file: str | None
    home: str | None = None
    pid: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


# -- install -----------------------------------------------------------------------------
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


def _write_conf(settings: ServerSettings) -> None:
    lines = [
        "# Generated by riskgraph from its settings at every install and start; edits are lost.",
        "server.default_listen_address=127.0.0.1",
        "server.default_advertised_address=127.0.0.1",
        f"server.bolt.listen_address=127.0.0.1:{settings.bolt_port}",
        f"server.bolt.advertised_address=127.0.0.1:{settings.bolt_port}",
        "server.bolt.tls_level=DISABLED",
        "server.http.enabled=true",
        f"server.http.listen_address=127.0.0.1:{settings.http_port}",
        f"server.http.advertised_address=127.0.0.1:{settings.http_port}",
        "server.https.enabled=false",
        "dbms.security.auth_enabled=true",
        f"server.memory.heap.initial_size={settings.heap}",
        f"server.memory.heap.max_size={settings.heap}",
        f"server.memory.pagecache.size={settings.pagecache}",
        "server.directories.data=data",
        "server.directories.logs=logs",
        "server.directories.run=run",
        "server.directories.import=import",
        "server.directories.plugins=plugins",
        # No anonymous usage reports to neo4j.com from a machine holding credit data.
        "dbms.usage_report.enabled=false",
        "",
    ]
    settings.conf_dir.mkdir(parents=True, exist_ok=True)
    (settings.conf_dir / "neo4j.conf").write_text("\n".join(lines), encoding="utf-8")


def _ensure_password(settings: ServerSettings, java: str) -> None:
    """Generate the password file and hand the password to Neo4j before its first start."""
    system_db = settings.data_dir / "databases" / "system"
    if not settings.password_file.exists():
        if system_db.exists():
            raise Neo4jError(
                f"{settings.password_file} is missing but the database in {settings.data_dir} "
                "already has a password; restore the file, or delete "
                f"{settings.data_dir} to start from an empty database"
            )
        _write_secret(settings.password_file, secrets.token_urlsafe(24))
    if system_db.exists():
        return  # the password is already in the system database
    password = read_password(settings)
    # Never on a command line, which every local user can read (ps, /proc/<pid>/cmdline):
    # neo4j-admin takes its arguments from an "@file" (picocli), written 0600 inside the
    # 0700 instance directory and removed as soon as it has been read.
    arguments = settings.home / "run" / "set-initial-password.args"
    arguments.parent.mkdir(exist_ok=True)
    arguments.unlink(missing_ok=True)
    quoted = password.replace("\\", "\\\\").replace('"', '\\"')
    _write_secret(arguments, f'"{quoted}"')
    try:
        done = subprocess.run(
            [
                java,
                "-cp",
                str(settings.lib_dir / "*"),
                _ADMIN_ENTRY_POINT,
                "dbms",
                "set-initial-password",
                f"@{arguments}",
            ],
            env=_neo4j_env(settings),
            cwd=settings.home,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        arguments.unlink(missing_ok=True)
    if done.returncode != 0:
        # neo4j-admin does not echo the password; redact it anyway before showing output.
        tail = _tail_text((done.stdout + done.stderr).replace(password, "***"), 20)
        raise Neo4jError(f"setting the initial Neo4j password failed:\n{tail}")


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value + "\n")


def read_password(settings: ServerSettings) -> str:
    """The generated password of the local instance.

    Raises
    ------
    Neo4jUnavailableError
        When the instance has no password file (not installed).
    """
    try:
        return settings.password_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise Neo4jUnavailableError(
            f"no Neo4j installed in {settings.home} (no password file); "
            "run `riskgraph neo4j install`, or set RISKGRAPH_NEO4J_URI for another server"
        ) from None


# -- start / stop ------------------------------------------------------------------------
def running_pid(settings: ServerSettings) -> int | None:
    """The pid of this instance's server process, or None when it is not running."""
    try:
        pid = int(settings.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            proc.wait(0)  # our own child that already exited: reap it
            return None
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.TimeoutExpired):
        return None
    # Guard against pid reuse: it must be a Neo4j server of *this* home.
    if _ENTRY_POINT in cmdline and f"--home-dir={settings.home}" in cmdline:
        return pid
    return None


def running_settings(settings: ServerSettings) -> ServerSettings:
    """``settings`` with the ports the running server was started on (unchanged if none)."""
    if running_pid(settings) is None:
        return settings
    return _with_ports(settings, _read_run_state(settings))


def start(
    settings: ServerSettings,
    *,
    timeout: float = 180.0,
    echo: Callable[[str], None] | None = None,
) -> ServerStatus:
    """Start the server (if it is not running) and wait until Bolt accepts the login.

    Parameters
    ----------
    settings : ServerSettings
    timeout : float
        Seconds to wait for Bolt to answer.
    echo : callable, optional
        Receives one-line progress messages.

    Returns
    -------
    ServerStatus

    Raises
    ------
    Neo4jError
        When the instance is not installed, a port is taken by another process, or the
        server exits or does not answer in time (with the tail of its log).
    """
    say = echo or (lambda _msg: None)
    if not is_installed(settings):
        raise Neo4jError(
            f"Neo4j is not installed in {settings.home}; run `riskgraph neo4j install`"
        )
    password = read_password(settings)
    pid = running_pid(settings)
    if pid is not None:
        state = _read_run_state(settings)
        say(f"Neo4j is already running (pid {pid})")
        live = _with_ports(settings, state)
        _wait_for_bolt(live, password, None, timeout)
        return status(live)

    for port, name in ((settings.bolt_port, ENV_BOLT_PORT), (settings.http_port, ENV_HTTP_PORT)):
        if not _port_is_free(port):
            raise Neo4jError(
                f"port {port} on 127.0.0.1 is already in use (another Neo4j instance?); "
                f"stop it or choose another port with {name}"
            )
    java = _java()
    _write_conf(settings)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    settings.pid_file.parent.mkdir(parents=True, exist_ok=True)
    command = [
        java,
        f"-Xms{settings.heap}",
        f"-Xmx{settings.heap}",
        *_JVM_OPTIONS,
        "-cp",
        str(settings.lib_dir / "*"),
        _ENTRY_POINT,
        f"--home-dir={settings.home}",
        f"--config-dir={settings.conf_dir}",
    ]
    say(f"Starting Neo4j {NEO4J_VERSION} from {settings.home}")
    log_offset = settings.log_file.stat().st_size if settings.log_file.exists() else 0
    with settings.log_file.open("ab") as log:
        proc = subprocess.Popen(
            command,
            cwd=settings.home,
            env=_neo4j_env(settings),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the shell that ran `riskgraph neo4j start`
        )
    settings.pid_file.write_text(f"{proc.pid}\n")
    _write_run_state(settings)
    try:
        _wait_for_bolt(settings, password, proc, timeout)
    except Neo4jError as exc:
        _terminate(proc.pid, 30.0)
        settings.pid_file.unlink(missing_ok=True)
        tail = _tail_file(settings.log_file, 25, log_offset)
        raise Neo4jError(f"{exc}\nlast lines of {settings.log_file}:\n{tail}") from None
    say(f"Neo4j is up: Bolt {settings.bolt_uri}, Browser {settings.browser_url}")
    return status(settings)


def stop(
    settings: ServerSettings,
    *,
    timeout: float = 60.0,
    echo: Callable[[str], None] | None = None,
) -> bool:
    """Stop the server: SIGTERM, wait up to ``timeout`` seconds, then SIGKILL.

    Returns
    -------
    bool
        True when a running server was stopped, False when none was running.
    """
    say = echo or (lambda _msg: None)
    pid = running_pid(settings)
    if pid is None:
        settings.pid_file.unlink(missing_ok=True)
        say(f"Neo4j in {settings.home} is not running")
        return False
    say(f"Stopping Neo4j (pid {pid})")
    clean = _terminate(pid, timeout)
    settings.pid_file.unlink(missing_ok=True)
    say("Neo4j stopped" if clean else f"Neo4j did not stop within {timeout:.0f}s; killed it")
    return True


def status(settings: ServerSettings) -> ServerStatus:
    """Whether the local instance runs, and its version as the server reports it."""
    from riskgraph.graph.connection import ConnectionSettings, server_components

    pid = running_pid(settings)
    live = running_settings(settings)
    version = edition = error = None
    if pid is None:
        error = f"Neo4j in {settings.home} is not running; start it with `riskgraph neo4j start`"
    else:
        try:
            conn = ConnectionSettings(
                uri=live.bolt_uri,
                user=USER,
                password=read_password(settings),
                source=f"local instance {settings.home}",
            )
            version, edition = server_components(conn)
        except Neo4jUnavailableError as exc:
            error = str(exc)  # running but not (yet) answering, or no password file
    return ServerStatus(
        running=pid is not None,
        version=version,
        edition=edition,
        bolt_uri=live.bolt_uri,
        browser_url=live.browser_url,
        user=USER,
        password_file=str(settings.password_file),
        home=str(settings.home),
        pid=pid,
        error=error,
    )


# -- helpers -----------------------------------------------------------------------------
def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if java is None or not Path(java).exists():
        raise Neo4jError(
            "java not found (JAVA_HOME unset and no java on PATH): Neo4j 5.26 needs Java 17 "
            "or 21 (e.g. `apt-get install openjdk-17-jre-headless`)"
        )
    return java


def _neo4j_env(settings: ServerSettings) -> dict[str, str]:
    env = dict(os.environ)
    env["NEO4J_HOME"] = str(settings.home)
    env["NEO4J_CONF"] = str(settings.conf_dir)
    return env


def _run_state_file(settings: ServerSettings) -> Path:
    return settings.home / "run" / "riskgraph.json"


def _write_run_state(settings: ServerSettings) -> None:
    state = {"bolt_port": settings.bolt_port, "http_port": settings.http_port}
    _run_state_file(settings).write_text(json.dumps(state), encoding="utf-8")


def _read_run_state(settings: ServerSettings) -> dict[str, int]:
    try:
        state = json.loads(_run_state_file(settings).read_text(encoding="utf-8"))
        return {k: int(state[k]) for k in ("bolt_port", "http_port")}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _with_ports(settings: ServerSettings, state: dict[str, int]) -> ServerSettings:
    """Settings with the ports the running server was started on."""
    return ServerSettings(
        home=settings.home,
        bolt_port=state.get("bolt_port", settings.bolt_port),
        http_port=state.get("http_port", settings.http_port),
        heap=settings.heap,
        pagecache=settings.pagecache,
    )


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As the server does: connections of a stopped server lingering in TIME_WAIT do
        # not make the port busy, a listening socket does.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def _wait_for_bolt(
    settings: ServerSettings, password: str, proc: subprocess.Popen[bytes] | None, timeout: float
) -> None:
    from riskgraph.graph.connection import ConnectionSettings, check_connection

    conn = ConnectionSettings(
        uri=settings.bolt_uri,
        user=USER,
        password=password,
        source=f"local instance {settings.home}",
    )
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise Neo4jError(f"Neo4j exited with code {proc.returncode} during start-up")
        if _listening(settings.bolt_port):  # something listens: try a real login
            try:
                check_connection(conn)
                return
            except Neo4jUnavailableError as exc:
                last = exc
        time.sleep(0.5)
    raise Neo4jError(
        f"Neo4j did not answer on {settings.bolt_uri} within {timeout:.0f}s"
        + (f" ({last})" if last else "")
    )


def _terminate(pid: int, timeout: float) -> bool:
    """SIGTERM, wait, SIGKILL; True when the process ended on SIGTERM."""
    try:
        proc = psutil.Process(pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout)
        return True
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        return False


def _tail_text(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _tail_file(path: Path, lines: int, offset: int = 0) -> str:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return _tail_text(text, lines) or "(empty log)"


def _port(value: int | None, env_name: str, default: int) -> int:
    source = "argument"
    if value is None:
        raw = os.environ.get(env_name)
        if raw is None or raw == "":
            return default
        source = f"environment variable {env_name}"
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{env_name}={raw!r}: expected a port number 1-65535") from None
    if not 1 <= value <= 65535:
        raise ConfigError(f"port {value} from {source}: expected 1-65535")
    return value


def _size(value: str | None, env_name: str, default: str) -> str:
    source = "argument"
    if value is None:
        value = os.environ.get(env_name) or default
        source = f"environment variable {env_name}"
    if not _SIZE_PATTERN.match(value):
        raise ConfigError(f"memory size {value!r} from {source}: expected e.g. 512m or 2g")
    return value
