"""One error root for riskgraph, with a subclass per layer.

Callers (the CLI, the nightly scheduler, the credit-decision service) catch
:class:`RiskGraphError` to tell a user or data problem from a bug. Messages name
the file, column, row key or setting involved and what was expected.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "FeatureError",
    "InputError",
    "ModelError",
    "Neo4jAuthError",
    "Neo4jError",
    "Neo4jUnavailableError",
    "OutputError",
    "ProviderError",
    "RiskGraphError",
    "RunError",
    "RunLockedError",
    "StaleModelError",
]


class RiskGraphError(Exception):
    """Root of every error riskgraph raises on purpose."""


class ConfigError(RiskGraphError):
    """A setting is missing or invalid (names the setting and where it came from)."""


class InputError(RiskGraphError):
    """An input table cannot be used at all: unreadable file or missing required column."""


class Neo4jError(RiskGraphError):
    """The Neo4j server could not be installed, started, reached or written."""


class Neo4jUnavailableError(Neo4jError):
    """No Neo4j server answers at the configured address, or it went away mid-run."""


class Neo4jAuthError(Neo4jUnavailableError, ConfigError):
    """The Neo4j server refused the login: a configuration problem, not a temporary one.

    It is a :class:`Neo4jUnavailableError` for callers that only ask whether the server
    can be used, and a :class:`ConfigError` for a scheduler deciding whether to retry.
    """


class OutputError(RiskGraphError):
    """An output file or directory cannot be created or written (names the path)."""


class FeatureError(RiskGraphError):
    """Graph features cannot be computed with the arguments given.

    Raised for a naive or non-UTC-convertible ``as_of``, a ``labels`` or
    ``reference_time`` array of the wrong length or with values outside what is
    allowed; the message names the argument, the first bad position and value, and
    what was expected.
    """


class ModelError(RiskGraphError):
    """A model cannot be trained, loaded or applied (names the model file or stage)."""


class StaleModelError(ModelError):
    """Saved models written in a format this version does not read: the nightly job
    trains new ones (names the file and both formats)."""


class RunError(RiskGraphError):
    """The nightly run cannot proceed (names the stage)."""


class RunLockedError(RunError):
    """Another run holds the lock on the output root."""


class ProviderError(RiskGraphError):
    """The feature provider cannot answer: no complete run, or unknown user ids."""
