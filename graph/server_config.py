"""The local Neo4j server's configuration: settings, ``neo4j.conf``, its password.

:class:`ServerSettings` says where an instance lives (``RISKGRAPH_NEO4J_HOME``) and how it
runs (ports, heap, page cache); the configuration file is written from them at every
install and start, and the password of user ``neo4j`` is generated once (mode 0600).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from riskgraph.errors import ConfigError, Neo4jError, Neo4jUnavailableError

__all__ = [
    "DEFAULT_BOLT_PORT",
    "DEFAULT_HEAP",
    "DEFAULT_HTTP_PORT",
    "DEFAULT_PAGECACHE",
    "ENV_BOLT_PORT",
    "ENV_HEAP",
    "ENV_HOME",
    "ENV_HTTP_PORT",
    "ENV_PAGECACHE",
    "NEO4J_VERSION",
    "USER",
    "ServerSettings",
    "read_password",
]

#: The Neo4j release that ``install`` resolves (the 5.26 LTS line).
NEO4J_VERSION = "5.26.0"


DEFAULT_BOLT_PORT = 7687


DEFAULT_HTTP_PORT = 7474


# Sized for a machine the server shares with the nightly job's Python process: the heap
# covers the default UNWIND batches with room to spare, and the page cache holds the store
# of the largest population the job targets (figures in docs/neo4j.md and docs/nightly.md).
DEFAULT_HEAP = "2g"


DEFAULT_PAGECACHE = "2g"


USER = "neo4j"


ENV_HOME = "RISKGRAPH_NEO4J_HOME"


ENV_BOLT_PORT = "RISKGRAPH_NEO4J_BOLT_PORT"


ENV_HTTP_PORT = "RISKGRAPH_NEO4J_HTTP_PORT"


ENV_HEAP = "RISKGRAPH_NEO4J_HEAP"


ENV_PAGECACHE = "RISKGRAPH_NEO4J_PAGECACHE"


_SIZE_PATTERN = re.compile(r"^[1-9][0-9]*[kmgKMG]?$")


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
    # "--" ends the options: a password that begins with "-" (one generated password
    # in 64 does) is the password, not an unknown option.
    _write_secret(arguments, f'--\n"{quoted}"')
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
