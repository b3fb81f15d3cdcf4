"""Which Neo4j to talk to, and a driver that is known to answer.

Resolution order:

1. ``RISKGRAPH_NEO4J_URI`` (with ``RISKGRAPH_NEO4J_USER``, default ``neo4j``, and
   ``RISKGRAPH_NEO4J_PASSWORD``): any server, e.g. Docker, a cluster or Aura.
2. Otherwise the local instance of :mod:`riskgraph.graph.server` (``RISKGRAPH_NEO4J_HOME``),
   on the port it was started with, with the password from its password file.

``RISKGRAPH_NEO4J_DATABASE`` names the database (default ``neo4j``).

Examples
--------
>>> from riskgraph.graph.connection import open_driver, resolve_connection
>>> conn = resolve_connection()                       # doctest: +SKIP
>>> with open_driver(conn) as driver:                 # doctest: +SKIP
...     driver.execute_query("RETURN 1", database_=conn.database)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import neo4j
from neo4j.exceptions import (
    AuthError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from riskgraph import errors
from riskgraph.errors import ConfigError, Neo4jAuthError, Neo4jUnavailableError

if TYPE_CHECKING:
    from riskgraph.graph import server as server_module

__all__ = [
    "ENV_DATABASE",
    "ENV_PASSWORD",
    "ENV_URI",
    "ENV_USER",
    "ConnectionSettings",
    "check_connection",
    "configured_status",
    "open_driver",
    "resolve_connection",
    "server_components",
    "server_error",
]

ENV_URI = "RISKGRAPH_NEO4J_URI"
ENV_USER = "RISKGRAPH_NEO4J_USER"
ENV_PASSWORD = "RISKGRAPH_NEO4J_PASSWORD"
ENV_DATABASE = "RISKGRAPH_NEO4J_DATABASE"
DEFAULT_DATABASE = "neo4j"


@dataclass(frozen=True)
class ConnectionSettings:
    """Address and login of one Neo4j server.

    The password is kept out of ``repr`` so that it never reaches a log by accident.

    Parameters
    ----------
    uri : str
        ``bolt://``, ``neo4j://`` (routing) or their ``+s`` / ``+ssc`` variants.
    user, password : str
    database : str
        The database every riskgraph query runs in.
    source : str
        Where the settings came from, for error messages.
    """

    uri: str
    user: str
    password: str = field(repr=False)
    database: str = DEFAULT_DATABASE
    source: str = ""

    @property
    def is_local_instance(self) -> bool:
        return self.source.startswith("local instance")


def resolve_connection(home: str | Path | None = None) -> ConnectionSettings:
    """Connection settings from the environment, else for the local instance.

    Parameters
    ----------
    home : str or Path, optional
        Instance directory of the local server (default: ``RISKGRAPH_NEO4J_HOME`` or the
        user data directory). Ignored when ``RISKGRAPH_NEO4J_URI`` is set.

    Raises
    ------
    ConfigError
        When ``RISKGRAPH_NEO4J_URI`` is set without ``RISKGRAPH_NEO4J_PASSWORD``.
    Neo4jUnavailableError
        When no URI is set and no local instance is installed.
    """
    from riskgraph.graph import server

    env = os.environ
    database = env.get(ENV_DATABASE) or DEFAULT_DATABASE
    uri = env.get(ENV_URI)
    if uri:
        password = env.get(ENV_PASSWORD)
        if password is None:
            raise ConfigError(f"{ENV_URI} is set ({uri}) but {ENV_PASSWORD} is not")
        return ConnectionSettings(
            uri=uri,
            user=env.get(ENV_USER) or server.USER,
            password=password,
            database=database,
            source=f"environment variable {ENV_URI}",
        )
    settings = server.ServerSettings.resolve(home)
    live = server.running_settings(settings)
    return ConnectionSettings(
        uri=live.bolt_uri,
        user=server.USER,
        password=server.read_password(settings),
        database=database,
        source=f"local instance {settings.home}",
    )


def _driver(conn: ConnectionSettings) -> neo4j.Driver:
    return neo4j.GraphDatabase.driver(
        conn.uri,
        auth=(conn.user, conn.password),
        connection_timeout=10.0,
        # Notifications (e.g. that id() is deprecated: riskgraph uses it only within one
        # transaction, where it is the fastest join) are meant for people writing queries
        # by hand; here they would only fill the log.
        notifications_min_severity="OFF",
    )


def check_connection(conn: ConnectionSettings) -> None:
    """Log in and run a trivial query.

    Raises
    ------
    Neo4jUnavailableError
        Naming the URI and where it came from, when nothing answers or the login fails.
    """
    with _driver(conn) as driver:
        _verify(driver, conn)


def open_driver(conn: ConnectionSettings | None = None) -> neo4j.Driver:
    """A driver for ``conn`` (default :func:`resolve_connection`), checked to answer.

    Use it as a context manager so that its connections are closed.

    Raises
    ------
    Neo4jUnavailableError
        When nothing answers at the URI or the login is refused.
    """
    conn = conn or resolve_connection()
    driver = _driver(conn)
    try:
        _verify(driver, conn)
    except BaseException:
        driver.close()
        raise
    return driver


def server_components(conn: ConnectionSettings) -> tuple[str, str]:
    """``(version, edition)`` of the server, from ``CALL dbms.components()``."""
    from riskgraph.graph import cypher

    with _driver(conn) as driver:
        try:
            records, _, _ = driver.execute_query(cypher.SERVER_COMPONENTS, database_="system")
        except (ServiceUnavailable, AuthError, DriverError, OSError) as exc:
            raise _unavailable(conn, exc) from None
    for record in records:
        if record["name"] == "Neo4j Kernel":
            return str(record["versions"][0]), str(record["edition"])
    raise Neo4jUnavailableError(f"{conn.uri} did not report a Neo4j Kernel component")


def configured_status(home: str | Path | None = None) -> server_module.ServerStatus:
    """Status of the server riskgraph would use: ``RISKGRAPH_NEO4J_URI``, else the local one.

    For a server named by the environment, ``browser_url``, ``password_file`` and
    ``home`` are None and ``running`` means that it answered.
    """
    from riskgraph.graph import server

    if not os.environ.get(ENV_URI):
        return server.status(server.ServerSettings.resolve(home))
    conn = resolve_connection()
    version = edition = error = None
    try:
        version, edition = server_components(conn)
    except Neo4jUnavailableError as exc:
        error = str(exc)
    return server.ServerStatus(
        running=version is not None,
        version=version,
        edition=edition,
        bolt_uri=conn.uri,
        browser_url=None,
        user=conn.user,
        password_file=None,
        error=error,
    )


def _verify(driver: neo4j.Driver, conn: ConnectionSettings) -> None:
    try:
        driver.verify_connectivity()
    except (ServiceUnavailable, AuthError, DriverError, Neo4jError, OSError) as exc:
        raise _unavailable(conn, exc) from None


def server_error(what: str, database: str, exc: Exception) -> errors.Neo4jError:
    """The riskgraph error for a driver or server failure during ``what``.

    The class tells a scheduler what to do (see ``riskgraph.cli.EXIT_CODES``): a refused
    login is :class:`Neo4jAuthError` (fix the configuration), a server gone or a failure
    the server calls transient is :class:`Neo4jUnavailableError` (retry later), anything
    else a plain :class:`riskgraph.errors.Neo4jError`.

    Parameters
    ----------
    what : str
        The step that failed, e.g. ``"writing user scores rows 0-9999"``.
    database : str
    exc : Exception
        What the driver raised.
    """
    message = f"{what} in database {database!r} failed: {type(exc).__name__}: {exc}"
    if _is_auth_failure(exc):
        return Neo4jAuthError(message)
    if isinstance(exc, ServiceUnavailable | SessionExpired | TransientError | OSError):
        return Neo4jUnavailableError(message)
    return errors.Neo4jError(message)


def _is_auth_failure(exc: Exception) -> bool:
    return isinstance(exc, AuthError) or "Unauthorized" in str(getattr(exc, "code", ""))


def _unavailable(conn: ConnectionSettings, exc: Exception) -> Neo4jUnavailableError:
    where = f"Neo4j at {conn.uri} ({conn.source})" if conn.source else f"Neo4j at {conn.uri}"
    if _is_auth_failure(exc):
        return Neo4jAuthError(
            f"{where} refused the login of user {conn.user!r}: check the password "
            "(RISKGRAPH_NEO4J_PASSWORD, or the local instance's password file)"
        )
    hint = ""
    if conn.is_local_instance:
        hint = "; start it with `riskgraph neo4j start`"
    return Neo4jUnavailableError(f"{where} does not answer: {type(exc).__name__}{hint}")
