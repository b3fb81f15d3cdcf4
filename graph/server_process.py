"""The local Neo4j server as a process: start, stop, status.

The server is launched directly (``java ... CommunityEntryPoint``), its pid and ports
recorded under ``HOME/run``; start waits until a real Bolt login succeeds.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from riskgraph.errors import Neo4jError, Neo4jUnavailableError
from riskgraph.graph.server_config import (
    _JVM_OPTIONS,
    ENV_BOLT_PORT,
    ENV_HTTP_PORT,
    NEO4J_VERSION,
    USER,
    ServerSettings,
    _java,
    _neo4j_env,
    _tail_file,
    _write_conf,
    read_password,
)
from riskgraph.graph.server_install import (
    is_installed,
)

__all__ = [
    "ServerStatus",
    "running_pid",
    "running_settings",
    "start",
    "status",
    "stop",
]

_ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"


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
