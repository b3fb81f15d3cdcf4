"""Lifecycle of the local Neo4j 5.26 community server: install, start, stop, status.

One import for callers; the code is split by job: :mod:`~riskgraph.graph.server_config`
(settings, configuration file, password), :mod:`~riskgraph.graph.server_install` (the
jars) and :mod:`~riskgraph.graph.server_process` (start, stop, status).

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

from riskgraph.graph.server_config import (
    DEFAULT_BOLT_PORT,
    DEFAULT_HEAP,
    DEFAULT_HTTP_PORT,
    DEFAULT_PAGECACHE,
    ENV_BOLT_PORT,
    ENV_HEAP,
    ENV_HOME,
    ENV_HTTP_PORT,
    ENV_PAGECACHE,
    NEO4J_VERSION,
    USER,
    ServerSettings,
    read_password,
)
from riskgraph.graph.server_install import InstallReport, install, is_installed
from riskgraph.graph.server_process import (
    ServerStatus,
    running_pid,
    running_settings,
    start,
    status,
    stop,
)

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
