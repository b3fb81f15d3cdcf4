"""The Neo4j Browser kit: investigation queries and the style file, as package data.

``graph/browser/investigations.cypher`` holds the queries an investigator pastes into
Neo4j Browser (docs/browser.md); ``graph/browser/riskgraph.grass`` colours users by
risk. This module reads the query file, so that the tests, the screenshot script and
notebooks run exactly what the investigator runs, and checks a result against the
shape its header promises.

The file is a sequence of blocks::

    // == <name>: <title>
    // <description, any number of lines>
    // Returns: <column> <kind>, <column> <kind>, ...
    :param <name> => <Cypher expression>;
    <one Cypher query>;

A kind is a node label or relationship type of the graph model (docs/neo4j.md),
``path``, or a value type (``string``, ``integer``, ``float``, ``number``, ``boolean``,
``datetime``, ``list``); ``A|B`` allows either, a trailing ``?`` allows null. A
``:param`` line gives an example value the way Browser evaluates it (``RETURN <expr>``
on the server, without other parameters); every ``$name`` the query uses must have one,
so that a block pasted alone runs.

Examples
--------
>>> kit = load_investigations()
>>> kit["risky-links"].parameters
{'user_id': "head(COLLECT { MATCH ... })"}  # doctest: +SKIP
>>> records = run_investigation(driver, kit["ring-around-user"], {"user_id": "U1"})  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import neo4j
import neo4j.graph
import neo4j.time
from neo4j.exceptions import DriverError
from neo4j.exceptions import Neo4jError as DriverNeo4jError

from riskgraph.errors import ConfigError, Neo4jError
from riskgraph.loaders.schema import NODE_TYPES, RELATIONSHIPS

__all__ = [
    "GRAPH_LABELS",
    "GRAPH_RELATIONSHIP_TYPES",
    "VALUE_KINDS",
    "ColumnSpec",
    "Investigation",
    "browser_file",
    "load_investigations",
    "resolve_parameters",
    "run_investigation",
    "shape_errors",
]

#: Node labels an investigation may return: the schema's, plus the write-back's.
GRAPH_LABELS = frozenset(
    {node.label for node in NODE_TYPES.values()} | {"Ring", "RiskLow", "RiskMedium", "RiskHigh"}
)
#: Relationship types an investigation may return: the schema's, plus the write-back's.
GRAPH_RELATIONSHIP_TYPES = frozenset(RELATIONSHIPS) | {"MEMBER_OF", "RISK_LINK"}
#: Value kinds of table columns, and the Python types the driver returns for them.
VALUE_KINDS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "float": (float,),
    "number": (int, float),
    "boolean": (bool,),
    "datetime": (neo4j.time.DateTime,),
    "list": (list,),
    "path": (neo4j.graph.Path,),
}

_HEADER = re.compile(r"^// == ([a-z0-9-]+): (.+)$")
_RETURNS = re.compile(r"^// Returns: (.+)$")
_PARAM = re.compile(r"^:param ([A-Za-z_][A-Za-z0-9_]*) => (.+);$")
_REFERENCE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_COLUMN = re.compile(r"^([a-z_][a-z0-9_]*) ([A-Za-z_|]+)(\??)$")


def browser_file(name: str) -> Path:
    """Path of a file of the Browser kit (``investigations.cypher``, ``riskgraph.grass``).

    Raises
    ------
    ConfigError
        When the package holds no such file.
    """
    path = Path(str(resources.files("riskgraph.graph") / "browser" / name))
    if not path.is_file():
        raise ConfigError(f"{path}: no such file in the Neo4j Browser kit")
    return path


@dataclass(frozen=True)
class ColumnSpec:
    """One returned column as a block's ``Returns:`` line promises it.

    Attributes
    ----------
    name : str
    kinds : tuple of str
        Labels, relationship types or value kinds, any of which is allowed.
    nullable : bool
    """

    name: str
    kinds: tuple[str, ...]
    nullable: bool

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` (as the Python driver returns it) fits this column."""
        if value is None:
            return self.nullable
        for kind in self.kinds:
            if kind in GRAPH_LABELS:
                if isinstance(value, neo4j.graph.Node) and kind in value.labels:
                    return True
            elif kind in GRAPH_RELATIONSHIP_TYPES:
                if isinstance(value, neo4j.graph.Relationship) and value.type == kind:
                    return True
            elif isinstance(value, VALUE_KINDS[kind]) and not (
                kind in ("integer", "number", "float") and isinstance(value, bool)
            ):
                return True
        return False


@dataclass(frozen=True)
class Investigation:
    """One block of the query file.

    Attributes
    ----------
    name : str
        Short id (``ring-around-user``).
    title, description : str
    parameters : dict of str to str
        Parameter name to the Cypher expression of its example value, in file order.
    returns : tuple of ColumnSpec
    query : str
        The Cypher query, without its final ``;``.
    line : int
        Line of the block's header in the file (1-based).
    """

    name: str
    title: str
    description: str
    parameters: dict[str, str]
    returns: tuple[ColumnSpec, ...]
    query: str
    line: int

    @property
    def draws_graph(self) -> bool:
        """True when the result holds nodes, relationships or paths (Browser draws it)."""
        return any(
            kind == "path" or kind in GRAPH_LABELS or kind in GRAPH_RELATIONSHIP_TYPES
            for column in self.returns
            for kind in column.kinds
        )

    def browser_text(self, parameters: Mapping[str, str] | None = None) -> str:
        """The block as pasted into Browser: ``:param`` lines, then the query.

        ``parameters`` replaces example expressions (Cypher expressions, e.g.
        ``"'U123'"``).
        """
        expressions = {**self.parameters, **(parameters or {})}
        lines = [f":param {name} => {expr};" for name, expr in expressions.items()]
        return "\n".join([*lines, self.query + ";"])


def load_investigations(path: str | Path | None = None) -> dict[str, Investigation]:
    """Parse the investigation query file.

    Parameters
    ----------
    path : path, optional
        Default: the packaged ``graph/browser/investigations.cypher``.

    Returns
    -------
    dict of str to Investigation
        By name, in file order.

    Raises
    ------
    ConfigError
        Naming the file, the line and what was expected: a block without a
        ``Returns:`` line or a query, a query not ending in ``;``, an unknown kind, a
        ``$parameter`` without a ``:param`` line, a name used twice.
    """
    path = Path(path) if path is not None else browser_file("investigations.cypher")
    lines = path.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if _HEADER.match(line)]
    if not starts:
        raise ConfigError(f"{path}: no investigation block (a line '// == <name>: <title>')")
    blocks: dict[str, Investigation] = {}
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        block = _parse_block(path, lines[start:end], start + 1)
        if block.name in blocks:
            raise ConfigError(
                f"{path}:{block.line}: investigation {block.name!r} already defined at "
                f"line {blocks[block.name].line}"
            )
        blocks[block.name] = block
    return blocks


def _parse_block(path: Path, lines: list[str], first_line: int) -> Investigation:
    header = _HEADER.match(lines[0])
    assert header is not None  # the caller split the file at headers
    name, title = header.groups()
    where = f"{path}:{first_line} ({name})"
    description: list[str] = []
    returns: tuple[ColumnSpec, ...] | None = None
    parameters: dict[str, str] = {}
    body: list[str] = []
    for offset, line in enumerate(lines[1:], start=1):
        if body:
            body.append(line)
        elif returns is None:
            found = _RETURNS.match(line)
            if found:
                returns = _parse_returns(found.group(1), f"{path}:{first_line + offset}")
            elif line.startswith("//"):
                description.append(line[2:].strip())
            else:
                raise ConfigError(
                    f"{path}:{first_line + offset} ({name}): expected a '// Returns: ...' "
                    f"line after the description, found {line!r}"
                )
        elif line.startswith(":param"):
            param = _PARAM.match(line)
            if param is None:
                raise ConfigError(
                    f"{path}:{first_line + offset} ({name}): expected ':param <name> => "
                    f"<expression>;' on one line, found {line!r}"
                )
            parameters[param.group(1)] = param.group(2).strip()
        elif line.strip():
            body.append(line)
    if returns is None:
        raise ConfigError(f"{where}: no '// Returns: ...' line")
    return Investigation(
        name=name,
        title=title,
        description=" ".join(description),
        parameters=parameters,
        returns=returns,
        query=_checked_query(where, body, parameters),
        line=first_line,
    )


def _checked_query(where: str, body: list[str], parameters: Mapping[str, str]) -> str:
    """The block's one query without its ';', every ``$parameter`` given an example."""
    query = "\n".join(body).strip()
    if not query.endswith(";"):
        raise ConfigError(f"{where}: the query must end with ';' (found {query[-30:]!r})")
    query = query[:-1].rstrip()
    if ";" in query:
        raise ConfigError(f"{where}: one query per block (found a ';' inside it)")
    missing = sorted(set(_REFERENCE.findall(query)) - set(parameters))
    if missing:
        raise ConfigError(
            f"{where}: the query uses {', '.join('$' + m for m in missing)} without a "
            "':param' line giving an example"
        )
    return query


def _parse_returns(text: str, where: str) -> tuple[ColumnSpec, ...]:
    columns = []
    for item in text.split(","):
        found = _COLUMN.match(item.strip())
        if found is None:
            raise ConfigError(f"{where}: expected '<column> <kind>[?]', found {item.strip()!r}")
        name, kinds, optional = found.groups()
        unknown = [
            k
            for k in kinds.split("|")
            if k not in VALUE_KINDS and k not in GRAPH_LABELS and k not in GRAPH_RELATIONSHIP_TYPES
        ]
        if unknown:
            raise ConfigError(
                f"{where}: column {name!r} has unknown kind {'|'.join(unknown)!r}; expected a "
                f"label ({', '.join(sorted(GRAPH_LABELS))}), a relationship type "
                f"({', '.join(sorted(GRAPH_RELATIONSHIP_TYPES))}) or one of "
                f"{', '.join(VALUE_KINDS)}"
            )
        columns.append(ColumnSpec(name, tuple(kinds.split("|")), optional == "?"))
    return tuple(columns)


def resolve_parameters(
    driver: neo4j.Driver,
    investigation: Investigation,
    parameters: Mapping[str, Any] | None = None,
    *,
    database: str = "neo4j",
) -> dict[str, Any]:
    """Values of the block's parameters: ``parameters`` where given, else the examples.

    An example is evaluated as Neo4j Browser evaluates ``:param name => expr``:
    ``RETURN expr`` on the server, with no parameters.

    Raises
    ------
    Neo4jError
        When the server rejects an example expression (naming the block and parameter).
    """
    given = dict(parameters or {})
    values: dict[str, Any] = {}
    for name, expression in investigation.parameters.items():
        if name in given:
            values[name] = given.pop(name)
            continue
        try:
            records, _, _ = driver.execute_query(
                f"RETURN {expression} AS value", database_=database
            )
        except (DriverNeo4jError, DriverError) as exc:
            raise Neo4jError(
                f"investigation {investigation.name!r}: the example of ${name} failed "
                f"({expression}): {exc}"
            ) from exc
        values[name] = records[0]["value"]
    if given:
        raise ValueError(
            f"investigation {investigation.name!r} has no parameter(s) {sorted(given)}; "
            f"its parameters are {list(investigation.parameters)}"
        )
    return values


def run_investigation(
    driver: neo4j.Driver,
    investigation: Investigation,
    parameters: Mapping[str, Any] | None = None,
    *,
    database: str = "neo4j",
) -> tuple[list[neo4j.Record], list[str]]:
    """Run one investigation as Browser would (examples for the parameters not given).

    Returns
    -------
    records : list of neo4j.Record
    keys : list of str
        The returned column names, in order.

    Raises
    ------
    Neo4jError
        When the server rejects the query (naming the block).
    """
    values = resolve_parameters(driver, investigation, parameters, database=database)
    try:
        records, _, keys = driver.execute_query(investigation.query, values, database_=database)
    except (DriverNeo4jError, DriverError) as exc:
        raise Neo4jError(f"investigation {investigation.name!r} failed: {exc}") from exc
    return records, list(keys)


def shape_errors(
    investigation: Investigation, keys: Sequence[str], records: Sequence[neo4j.Record]
) -> list[str]:
    """How a result departs from the block's ``Returns:`` line (empty when it conforms).

    Checks the column names and order, and every value of every row against its
    column's kinds.
    """
    expected = [c.name for c in investigation.returns]
    if list(keys) != expected:
        return [f"{investigation.name}: columns {list(keys)}, expected {expected}"]
    errors = []
    for column in investigation.returns:
        bad = [r[column.name] for r in records if not column.accepts(r[column.name])]
        if bad:
            shown = bad[0]
            if isinstance(shown, neo4j.graph.Node):
                shown = f"node {sorted(shown.labels)}"
            elif isinstance(shown, neo4j.graph.Relationship):
                shown = f"relationship {shown.type}"
            errors.append(
                f"{investigation.name}: column {column.name!r} expected "
                f"{'|'.join(column.kinds)}{'?' if column.nullable else ''}, "
                f"{len(bad)} of {len(records)} rows are not, e.g. {shown!r}"
            )
    return errors
