"""Shared fixtures: a real Neo4j server for the tests marked ``neo4j``.

Which server:

* ``RISKGRAPH_TEST_NEO4J_URI`` (with ``RISKGRAPH_TEST_NEO4J_USER``, default ``neo4j``,
  and ``RISKGRAPH_TEST_NEO4J_PASSWORD``) when set;
* otherwise a local ``riskgraph neo4j`` instance: the one ``RISKGRAPH_NEO4J_HOME``
  names, else a test instance of its own (``<user data dir>/riskgraph/neo4j-test`` on
  Bolt 17687 and HTTP 17474, so that it never meets the demo's database on 7687);
  ``RISKGRAPH_NEO4J_BOLT_PORT`` / ``_HTTP_PORT`` override the ports. Installed and
  started for the session if it is not running, and stopped at the end only if it
  was started here.

``neo4j_db`` wipes the database before each test. It refuses to wipe a database that
holds data the tests did not write (no ``RiskgraphTestMarker`` node), and it never
wipes the server named by ``RISKGRAPH_NEO4J_URI`` unless that is also the test URI.

``neo4j_dump(driver)`` returns the whole database as sorted text, for checks that two
states are equal (loading twice, a rerun after a crash).

``neo4j_proxy`` relays TCP to the test server; ``cut()`` drops every connection and
stops listening, as a server that goes away mid-run does.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import neo4j
import platformdirs
import pytest

from riskgraph.graph import cypher, server
from riskgraph.graph.connection import ENV_URI, ConnectionSettings, open_driver

ENV_TEST_URI = "RISKGRAPH_TEST_NEO4J_URI"
ENV_TEST_USER = "RISKGRAPH_TEST_NEO4J_USER"
ENV_TEST_PASSWORD = "RISKGRAPH_TEST_NEO4J_PASSWORD"
TEST_HOME = Path(platformdirs.user_data_dir("riskgraph")) / "neo4j-test"
TEST_BOLT_PORT, TEST_HTTP_PORT = 17687, 17474


def _test_instance() -> server.ServerSettings:
    """The instance ``RISKGRAPH_NEO4J_HOME`` names, else the tests' own."""
    if os.environ.get(server.ENV_HOME):
        return server.ServerSettings.resolve()
    return server.ServerSettings.resolve(
        TEST_HOME,
        bolt_port=None if os.environ.get(server.ENV_BOLT_PORT) else TEST_BOLT_PORT,
        http_port=None if os.environ.get(server.ENV_HTTP_PORT) else TEST_HTTP_PORT,
    )


@pytest.fixture(scope="session")
def local_neo4j() -> Iterator[server.ServerSettings]:
    """The local instance, running; started (and later stopped) here if it was not."""
    settings = _test_instance()
    started_here = False
    if server.running_pid(settings) is None:
        server.install(settings)
        server.start(settings)
        started_here = True
    try:
        yield server.running_settings(settings)
    finally:
        if started_here:
            server.stop(settings)


@pytest.fixture(scope="session")
def neo4j_connection(request: pytest.FixtureRequest) -> ConnectionSettings:
    """Connection settings of the test server (see the module docstring)."""
    uri = os.environ.get(ENV_TEST_URI)
    if uri:
        return ConnectionSettings(
            uri=uri,
            user=os.environ.get(ENV_TEST_USER) or server.USER,
            password=os.environ.get(ENV_TEST_PASSWORD, ""),
            source=f"environment variable {ENV_TEST_URI}",
        )
    settings: server.ServerSettings = request.getfixturevalue("local_neo4j")
    conn = ConnectionSettings(
        uri=settings.bolt_uri,
        user=server.USER,
        password=server.read_password(settings),
        source=f"local instance {settings.home}",
    )
    production = os.environ.get(ENV_URI)
    if production and _address(production) == _address(conn.uri):
        pytest.fail(
            f"{ENV_URI}={production} names the local test instance {settings.home}; the "
            f"tests wipe it. Set {ENV_TEST_URI} to that server to allow it, or use another "
            "instance (RISKGRAPH_NEO4J_HOME and ports).",
            pytrace=False,
        )
    return conn


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_connection: ConnectionSettings) -> Iterator[neo4j.Driver]:
    """A driver to the test server (the database is not wiped: see ``neo4j_db``)."""
    with open_driver(neo4j_connection) as driver:
        yield driver


@pytest.fixture
def neo4j_db(neo4j_driver: neo4j.Driver, neo4j_connection: ConnectionSettings) -> neo4j.Driver:
    """A driver to an empty test database (wiped before the test)."""
    database = neo4j_connection.database
    records, _, _ = neo4j_driver.execute_query(cypher.IS_TEST_DATABASE, database_=database)
    if records[0]["nodes"] and not records[0]["marked"]:
        pytest.fail(
            f"database {database!r} at {neo4j_connection.uri} ({neo4j_connection.source}) "
            f"holds {records[0]['nodes']} nodes the tests did not write; the tests wipe it. "
            f"Point {ENV_TEST_URI} or RISKGRAPH_NEO4J_HOME at a scratch server, or empty it.",
            pytrace=False,
        )
    with neo4j_driver.session(database=database) as session:
        session.run(cypher.DELETE_ALL, batch_size=10_000).consume()
    neo4j_driver.execute_query(cypher.MARK_TEST_DATABASE, database_=database)
    return neo4j_driver


def _dump_database(driver: neo4j.Driver) -> tuple[list[str], list[str]]:
    """Every node and relationship with all its properties (relationships with their
    end nodes' keys), as sorted text: equal lists mean equal databases."""
    nodes, _, _ = driver.execute_query(cypher.DUMP_NODES)
    rels, _, _ = driver.execute_query(cypher.DUMP_RELATIONSHIPS)
    node_text = [repr((sorted(r["labels"]), sorted(r["properties"].items()))) for r in nodes]
    rel_text = [
        repr(
            (
                r["type"],
                sorted(r["properties"].items()),
                sorted(r["start"].items()),
                sorted(r["end"].items()),
            )
        )
        for r in rels
    ]
    return sorted(node_text), sorted(rel_text)


@pytest.fixture(scope="session")
def neo4j_dump() -> Callable[[neo4j.Driver], tuple[list[str], list[str]]]:
    """``neo4j_dump(driver)``: :func:`_dump_database` (a conftest module cannot be imported)."""
    return _dump_database


def _address(uri: str) -> tuple[str, int]:
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if host in ("localhost", "::1"):
        host = "127.0.0.1"
    return host, parts.port or 7687


class TcpProxy:
    """A TCP relay to ``target`` on a free local port, which a test can cut.

    Attributes
    ----------
    port : int
        Where it listens (127.0.0.1).
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(self._target)
            except OSError:
                return  # cut
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Stop listening and drop every relayed connection."""
        # close() alone would not wake the thread blocked in accept(), which would go
        # on accepting: shutdown() does.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


@pytest.fixture
def neo4j_proxy(
    neo4j_connection: ConnectionSettings,
) -> Iterator[tuple[TcpProxy, ConnectionSettings]]:
    """A :class:`TcpProxy` to the test server and the connection settings through it."""
    host, port = _address(neo4j_connection.uri)
    proxy = TcpProxy((host, port))
    conn = ConnectionSettings(
        uri=f"bolt://127.0.0.1:{proxy.port}",
        user=neo4j_connection.user,
        password=neo4j_connection.password,
        database=neo4j_connection.database,
        source="a proxy to the test server",
    )
    try:
        yield proxy, conn
    finally:
        proxy.cut()
