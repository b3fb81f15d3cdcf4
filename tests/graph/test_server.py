"""The local Neo4j server: install, start, status, Browser, auth, stop (real server)."""

from __future__ import annotations

import json
import shutil
import socket
import stat
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest
from typer.testing import CliRunner

from riskgraph.cli import app
from riskgraph.errors import ConfigError, Neo4jError, Neo4jUnavailableError
from riskgraph.graph import server
from riskgraph.graph.connection import (
    ConnectionSettings,
    check_connection,
    open_driver,
    resolve_connection,
)
from riskgraph.graph.reader import read_graph
from riskgraph.graph.writer import write_graph
from riskgraph.loaders import empty_graph_tables


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- settings (no server) -------------------------------------------------------------------
def test_settings_resolve_environment_then_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("RISKGRAPH_NEO4J_HOME", str(tmp_path / "inst"))
    monkeypatch.setenv("RISKGRAPH_NEO4J_BOLT_PORT", "27687")
    monkeypatch.delenv("RISKGRAPH_NEO4J_HTTP_PORT", raising=False)
    settings = server.ServerSettings.resolve()
    assert settings.home == tmp_path / "inst"
    assert settings.bolt_uri == "bolt://127.0.0.1:27687"
    assert settings.browser_url == "http://127.0.0.1:7474/browser/"
    # an argument beats the environment
    assert server.ServerSettings.resolve(bolt_port=17000).bolt_port == 17000


def test_settings_reject_bad_port_and_size(monkeypatch):
    monkeypatch.setenv("RISKGRAPH_NEO4J_BOLT_PORT", "seven")
    with pytest.raises(ConfigError, match="RISKGRAPH_NEO4J_BOLT_PORT='seven'"):
        server.ServerSettings.resolve()
    monkeypatch.delenv("RISKGRAPH_NEO4J_BOLT_PORT")
    with pytest.raises(ConfigError, match="memory size '2 GB'"):
        server.ServerSettings.resolve(heap="2 GB")
    with pytest.raises(ConfigError, match="both 7474"):
        server.ServerSettings.resolve(bolt_port=7474, http_port=7474)


def test_connection_from_environment_needs_password(monkeypatch):
    monkeypatch.setenv("RISKGRAPH_NEO4J_URI", "bolt://db.example:7687")
    monkeypatch.delenv("RISKGRAPH_NEO4J_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="RISKGRAPH_NEO4J_PASSWORD is not"):
        resolve_connection()
    monkeypatch.setenv("RISKGRAPH_NEO4J_PASSWORD", "s3cret")
    conn = resolve_connection()
    assert (conn.uri, conn.user, conn.password) == ("bolt://db.example:7687", "neo4j", "s3cret")
    assert "s3cret" not in repr(conn)


def test_no_local_instance_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("RISKGRAPH_NEO4J_URI", raising=False)
    with pytest.raises(
        Neo4jUnavailableError, match=r"no Neo4j installed in .*riskgraph neo4j install"
    ):
        resolve_connection(tmp_path / "nothing")


def test_nothing_listening_is_unavailable():
    conn = ConnectionSettings(uri=f"bolt://127.0.0.1:{free_port()}", user="neo4j", password="x")
    with pytest.raises(Neo4jUnavailableError, match="does not answer"):
        check_connection(conn)


def test_write_and_read_without_a_server_raise_unavailable():
    dead = neo4j.GraphDatabase.driver(
        f"bolt://127.0.0.1:{free_port()}",
        auth=("neo4j", "x"),
        connection_timeout=2,
        max_transaction_retry_time=0.5,  # no server will come: do not retry for 30 s
    )
    with dead:
        with pytest.raises(Neo4jUnavailableError, match=r"preparing the schema .* failed"):
            write_graph(dead, empty_graph_tables())
        with pytest.raises(Neo4jUnavailableError, match=r"reading the graph .* failed"):
            read_graph(dead)


def test_start_before_install_is_refused(tmp_path):
    settings = server.ServerSettings.resolve(tmp_path / "empty")
    with pytest.raises(Neo4jError, match=r"not installed in .*riskgraph neo4j install"):
        server.start(settings)
    assert server.stop(settings) is False


def test_missing_java_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(Neo4jError, match="java not found"):
        server.install(server.ServerSettings.resolve(tmp_path / "inst"))


def test_missing_mvn_is_one_clear_line(monkeypatch, tmp_path):
    java = shutil.which("java")
    if java is None:
        pytest.skip("needs java on PATH (the java-missing case is tested above)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(java)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(Neo4jError, match="mvn not found on PATH"):
        server.install(server.ServerSettings.resolve(tmp_path / "inst"))


# -- the running local instance ----------------------------------------------------------------
@pytest.mark.neo4j
def test_status_reports_526_community(local_neo4j):
    state = server.status(local_neo4j)
    assert state.running and state.pid == server.running_pid(local_neo4j)
    assert state.version is not None and state.version.startswith("5.26")
    assert state.edition == "community"
    assert state.bolt_uri == local_neo4j.bolt_uri


@pytest.mark.neo4j
def test_status_json_has_contract_fields(local_neo4j, monkeypatch):
    monkeypatch.delenv("RISKGRAPH_NEO4J_URI", raising=False)
    result = CliRunner().invoke(app, ["neo4j", "status", "--json", "--home", str(local_neo4j.home)])
    assert result.exit_code == 0, result.output
    fields = json.loads(result.output)
    assert fields["version"].startswith("5.26")
    assert fields["bolt_uri"] == local_neo4j.bolt_uri
    assert fields["browser_url"] == local_neo4j.browser_url
    assert fields["user"] == "neo4j"
    assert fields["password_file"] == str(local_neo4j.password_file)
    assert server.read_password(local_neo4j) not in result.output


@pytest.mark.neo4j
def test_browser_page_is_served(local_neo4j):
    with urllib.request.urlopen(local_neo4j.browser_url, timeout=10) as response:
        page = response.read().decode("utf-8")
    assert response.status == 200
    assert "<title>Neo4j Browser</title>" in page


@pytest.mark.neo4j
def test_wrong_password_is_refused(local_neo4j):
    conn = ConnectionSettings(uri=local_neo4j.bolt_uri, user="neo4j", password="not-the-password")
    with pytest.raises(Neo4jUnavailableError, match="refused the login of user 'neo4j'"):
        check_connection(conn)


@pytest.mark.neo4j
def test_generated_password_file_is_private_and_works(local_neo4j):
    mode = stat.S_IMODE(local_neo4j.password_file.stat().st_mode)
    assert mode == 0o600
    password = server.read_password(local_neo4j)
    assert len(password) >= 24
    conn = ConnectionSettings(uri=local_neo4j.bolt_uri, user="neo4j", password=password)
    with open_driver(conn) as driver:
        records, _, _ = driver.execute_query("RETURN 1 AS one")
    assert records[0]["one"] == 1


@pytest.mark.neo4j
@pytest.mark.slow
def test_a_generated_password_that_begins_with_a_dash_is_set_and_works(
    local_neo4j, tmp_path, monkeypatch
):
    # One generated password in 64 begins with "-": neo4j-admin must not read it as an
    # option (it printed its usage and the install failed).
    from riskgraph.graph import server_config

    monkeypatch.setattr(server_config.secrets, "token_urlsafe", lambda n: "-" + "x1_-" * 8)
    settings = server.ServerSettings.resolve(
        tmp_path / "neo4j", bolt_port=free_port(), http_port=free_port(), heap="256m",
        pagecache="64m",
    )  # fmt: skip
    server.install(settings)
    try:
        server.start(settings)
        password = server.read_password(settings)
        assert password.startswith("-")
        conn = ConnectionSettings(uri=settings.bolt_uri, user="neo4j", password=password)
        with open_driver(conn) as driver:
            records, _, _ = driver.execute_query("RETURN 1 AS one")
        assert records[0]["one"] == 1
    finally:
        server.stop(settings)


@pytest.mark.neo4j
def test_second_install_reuses_the_jars(local_neo4j):
    before = {p.name: p.stat().st_mtime_ns for p in local_neo4j.lib_dir.iterdir()}
    report = server.install(local_neo4j)
    after = {p.name: p.stat().st_mtime_ns for p in local_neo4j.lib_dir.iterdir()}
    assert report.reused
    assert after == before  # nothing re-resolved or copied
    if report.reference is not None:  # ../shared beside the checkout lists the official lib/
        assert report.missing == [] and report.extra == []
        assert "extra neo4j-browser-5.24.0.jar" in report.known_differences


@pytest.mark.neo4j
def test_start_when_running_is_a_no_op(local_neo4j):
    pid = server.running_pid(local_neo4j)
    state = server.start(local_neo4j)
    assert state.pid == pid and state.version is not None


# -- a second, private instance: start/stop cycle and failures ---------------------------------
#: The command lines the spare installation ran (see ``spare_home``).
SPARE_INSTALL_COMMANDS: list[list[str]] = []


@pytest.fixture(scope="module")
def spare_home(local_neo4j, tmp_path_factory) -> Iterator[server.ServerSettings]:
    """A second installation with small memory on free ports (the jars come from ~/.m2).

    Every command line its install runs is recorded in ``SPARE_INSTALL_COMMANDS``.
    """
    settings = server.ServerSettings.resolve(
        tmp_path_factory.mktemp("spare") / "neo4j",
        bolt_port=free_port(),
        http_port=free_port(),
        heap="256m",
        pagecache="64m",
    )
    run = subprocess.run

    def recording(command, *args, **kwargs):
        SPARE_INSTALL_COMMANDS.append([str(part) for part in command])
        return run(command, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess, "run", recording)  # the installer's Maven and Java
        server.install(settings)
    yield settings
    server.stop(settings)
    shutil.rmtree(settings.home, ignore_errors=True)


@pytest.mark.neo4j
@pytest.mark.slow
def test_start_refuses_a_port_in_use(spare_home):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = server.ServerSettings.resolve(
            spare_home.home, bolt_port=port, http_port=spare_home.http_port
        )
        with pytest.raises(Neo4jError, match=f"port {port} on 127.0.0.1 is already in use"):
            server.start(settings)
    assert server.running_pid(spare_home) is None


@pytest.mark.neo4j
@pytest.mark.slow
def test_failed_start_shows_the_log_tail(spare_home):
    # A heap too small for the JVM makes java exit at once: start must say so, with the log.
    settings = server.ServerSettings.resolve(
        spare_home.home,
        bolt_port=spare_home.bolt_port,
        http_port=spare_home.http_port,
        heap="1k",
    )
    with pytest.raises(Neo4jError, match=r"(?s)exited with code .*last lines of .*neo4j\.log"):
        server.start(settings, timeout=60)
    assert server.running_pid(spare_home) is None
    assert not settings.pid_file.exists()


@pytest.mark.neo4j
@pytest.mark.slow
def test_start_then_stop_cleanly(spare_home):
    state = server.start(spare_home)
    assert state.version is not None and state.version.startswith("5.26")
    pid = state.pid
    assert pid is not None and spare_home.pid_file.read_text().strip() == str(pid)
    assert server.stop(spare_home) is True
    assert server.running_pid(spare_home) is None
    assert not spare_home.pid_file.exists()
    assert "Stopped." in Path(spare_home.log_file).read_text(encoding="utf-8")
    assert server.stop(spare_home) is False


@pytest.mark.neo4j
@pytest.mark.slow
def test_install_never_puts_the_password_on_a_command_line(spare_home):
    password = server.read_password(spare_home)
    assert any("set-initial-password" in command for command in SPARE_INSTALL_COMMANDS)
    for command in SPARE_INSTALL_COMMANDS:
        assert not any(password in part for part in command), command
    assert not list((spare_home.home / "run").glob("*.args"))  # the argument file is gone
    state = server.start(spare_home)  # logs in with the password file: it was set
    try:
        assert state.version is not None
    finally:
        server.stop(spare_home)
