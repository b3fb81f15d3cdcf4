"""Configuration, resolved in a fixed order: command-line option, environment, config
file, default.

The config file is TOML (``--config PATH``, else ``$RISKGRAPH_CONFIG``, else
``./riskgraph.toml`` when it exists). Each table configures one layer and maps onto
that layer's frozen dataclass::

    [features.rings]                 # riskgraph.graph.features.rings.RingConfig
    max_sharing = 20

    [features.borrowing.thresholds]  # ...features.borrowing.MultiBorrowingThresholds
    platforms_30d = 4

    [decisions]                      # riskgraph.score.decisions.DecisionPolicy
    decline_below = 520
    approve_rate = 0.70              # a target instead of approve_from

    [fairness]                       # riskgraph.score.fairness.FairnessConfig
    protected = ["age", "gender"]

    [monitoring]                     # riskgraph.monitoring.MonitoringConfig
    applicant_days = 30

    [model]                          # riskgraph.modeling.ModelConfig
    seed = 0

    [security]
    hmac_key_file = "/etc/riskgraph/hmac.key"

Every setting with its default: docs/riskgraph.example.toml.
Unknown keys and wrongly typed values stop the run with a message naming the file,
the key, the value given and what is allowed. Secrets (the pseudonymization key, the
Neo4j password) come from the environment or from files of mode 0600, never from the
config file itself, and never appear in ``repr`` or logs.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from riskgraph.errors import ConfigError
from riskgraph.loaders.pseudonymize import check_hmac_key

__all__ = [
    "ENV_CONFIG",
    "ENV_HMAC_KEY",
    "dataclass_from_mapping",
    "demo_hmac_key",
    "find_config_file",
    "read_config_file",
    "resolve_hmac_key",
]

ENV_CONFIG = "RISKGRAPH_CONFIG"
ENV_HMAC_KEY = "RISKGRAPH_HMAC_KEY"
DEFAULT_CONFIG_NAME = "riskgraph.toml"

T = TypeVar("T")


def find_config_file(option: str | Path | None = None) -> Path | None:
    """The config file to use: the option, else ``$RISKGRAPH_CONFIG``, else
    ``./riskgraph.toml`` if present, else none.

    Raises
    ------
    ConfigError
        When a file named by the option or the environment does not exist.
    """
    for value, source in ((option, "--config"), (os.environ.get(ENV_CONFIG), ENV_CONFIG)):
        if value:
            path = Path(value)
            if not path.is_file():
                raise ConfigError(f"config file {path} (from {source}) does not exist")
            return path
    default = Path.cwd() / DEFAULT_CONFIG_NAME
    return default if default.is_file() else None


def read_config_file(path: Path | None) -> dict[str, Any]:
    """Parse a TOML config file (``{}`` when ``path`` is None)."""
    if path is None:
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path}: cannot be read ({exc})") from exc


def dataclass_from_mapping(cls: type[T], values: Mapping[str, Any] | None, source: str) -> T:
    """Build the frozen dataclass ``cls`` from ``values``, defaults for what is absent.

    Nested dataclass fields take nested tables. Integers are accepted where floats
    are expected.

    Parameters
    ----------
    cls : dataclass type
    values : mapping or None
        E.g. one table of the config file.
    source : str
        Where ``values`` came from, e.g. ``"riskgraph.toml [features.rings]"``.

    Raises
    ------
    ConfigError
        Naming ``source``, the key, the value given and what is allowed.

    Examples
    --------
    >>> @dataclass(frozen=True)
    ... class Cutoffs:
    ...     decline_below: int = 500
    >>> dataclass_from_mapping(Cutoffs, {"decline_below": 520}, "example")
    Cutoffs(decline_below=520)
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    values = dict(values or {})
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown}; allowed: {sorted(known)}")
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        expected = hints[name]
        if dataclasses.is_dataclass(expected) and isinstance(expected, type):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: {name} must be a table, got {value!r}")
            kwargs[name] = dataclass_from_mapping(expected, value, f"{source}.{name}")
        else:
            kwargs[name] = _check_type(value, expected, f"{source}: {name}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {exc}") from exc


def _check_type(value: Any, expected: Any, where: str) -> Any:
    """``value`` as ``expected`` (an int where a float is expected becomes one), or a
    :class:`ConfigError` naming ``where``."""
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return _check_union(value, expected, where)
    if origin is typing.Literal:
        allowed = typing.get_args(expected)
        if value not in allowed:
            raise ConfigError(f"{where} = {value!r}; allowed: {list(allowed)}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} = {value!r} must be a list")
        args = [a for a in typing.get_args(expected) if a is not Ellipsis]
        item = args[0] if args else Any
        items = [_check_type(v, item, where) for v in value]
        return tuple(items) if origin is tuple else items
    return _check_plain(value, expected, where)


def _check_union(value: Any, expected: Any, where: str) -> Any:
    for option in typing.get_args(expected):
        try:
            return _check_type(value, option, where)
        except ConfigError:
            continue
    raise ConfigError(f"{where} = {value!r} is not a valid {expected}")


def _check_plain(value: Any, expected: Any, where: str) -> Any:
    """:func:`_check_type` for a type that is not generic (``int``, ``Path``, None)."""
    if expected is Any:
        return value
    if expected is type(None):
        if value is not None:
            raise ConfigError(f"{where} = {value!r} must be empty")
        return None
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is Path and isinstance(value, str):
        return Path(value)
    if isinstance(expected, type) and not isinstance(value, expected):
        raise ConfigError(
            f"{where} = {value!r} must be {expected.__name__}, not {type(value).__name__}"
        )
    if isinstance(value, bool) and expected in (int, float):
        raise ConfigError(f"{where} = {value!r} must be a number, not a boolean")
    return value


def resolve_hmac_key(
    option_file: str | Path | None = None, config: Mapping[str, Any] | None = None
) -> bytes:
    """The pseudonymization key: ``--hmac-key-file``, else ``$RISKGRAPH_HMAC_KEY``,
    else ``[security] hmac_key_file`` of the config file.

    Raises
    ------
    ConfigError
        When none is set (riskgraph refuses to store account ids it cannot
        pseudonymize), or the key file is unreadable, too permissive or too short.
    """
    if option_file:
        return _read_key_file(Path(option_file), "--hmac-key-file")
    env = os.environ.get(ENV_HMAC_KEY)
    if env:
        return check_hmac_key(env, ENV_HMAC_KEY)
    security = (config or {}).get("security", {})
    if security.get("hmac_key_file"):
        return _read_key_file(Path(security["hmac_key_file"]), "[security] hmac_key_file")
    return check_hmac_key(None, f"{ENV_HMAC_KEY} or [security] hmac_key_file")


def demo_hmac_key(directory: Path) -> bytes:
    """The demo's key: generated once and kept in ``directory/hmac.key`` (mode 0600)."""
    path = directory / "hmac.key"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return _read_key_file(path, "the demo key file")


def _read_key_file(path: Path, source: str) -> bytes:
    try:
        mode = path.stat().st_mode & 0o777
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"key file {path} (from {source}) cannot be read: {exc.strerror}"
        ) from exc
    if mode & 0o077:
        raise ConfigError(
            f"key file {path} (from {source}) is readable by others (mode {mode:o}); "
            f"run: chmod 600 {path}"
        )
    return check_hmac_key(text, f"{path}")
