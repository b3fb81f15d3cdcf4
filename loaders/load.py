"""Load an input directory into :class:`GraphTables`, rejecting bad rows with reasons.

``load_input`` is the loader the nightly job and ``riskgraph load`` call. It reads
every table of the contract, stops before writing anything when a file cannot be
used (reporting every such problem at once), validates each row, pseudonymizes
account identifiers, writes the rejected rows to ``rejects/<table>.csv`` and returns
the typed graph.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from riskgraph.errors import InputError
from riskgraph.loaders.pseudonymize import check_hmac_key, pseudonymize
from riskgraph.loaders.read import RawTable, find_table_file, read_table
from riskgraph.loaders.rejects import write_rejects
from riskgraph.loaders.schema import (
    INPUT_TABLES,
    NODE_TYPES,
    OPTIONAL_TABLES,
    RELATIONSHIPS,
    NodeType,
    TableSpec,
    references_into,
)
from riskgraph.loaders.tables import (
    NO_INDEX,
    TABLE_COLUMNS,
    GraphTables,
    canonical_order,
    first_given,
    index_of,
)
from riskgraph.loaders.validate import (
    InputWarning,
    ValidatedTable,
    missing_columns,
    validate_table,
)

__all__ = ["LoadResult", "build_graph_tables", "load_input"]


@dataclass(frozen=True)
class LoadResult:
    """What a load produced.

    Attributes
    ----------
    tables : GraphTables
        The accepted rows as a typed graph (``account_id`` pseudonymized).
    rejects : dict[str, pd.DataFrame]
        Per input table, its rejected rows (``line``, ``reason``, then the row's
        columns as text, account ids pseudonymized); empty frames where none.
    counts : dict[str, dict[str, int]]
        Per input table: ``rows`` read, ``loaded`` and ``rejected``.
    sources : dict[str, str]
        Per input table, the file it came from (tables with no file are absent).
    warnings : list of InputWarning
        Columns read with some cells left missing (a few typos in a numeric column),
        or read as text though some cells are numbers.
    """

    tables: GraphTables
    rejects: dict[str, pd.DataFrame]
    counts: dict[str, dict[str, int]]
    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[InputWarning] = field(default_factory=list)

    @property
    def rejected_total(self) -> int:
        return sum(c["rejected"] for c in self.counts.values())

    def check_usable(self) -> LoadResult:
        """Return ``self`` when at least one user was accepted, else raise.

        An input whose every user row was rejected (or that has none) cannot be scored
        or loaded: that is an input problem, not something to find out stages later.

        Raises
        ------
        InputError
            Naming the users file, its row count and the first rejected row's reason.
        """
        if self.tables.num_users:
            return self
        source = self.sources.get("users", "users")
        rows = self.counts["users"]["rows"]
        if not rows:
            raise InputError(f"{source}: no user rows (only a header); the input needs users")
        first = self.rejects["users"].iloc[0]
        raise InputError(
            f"{source}: none of its {rows:,} user rows is usable, all were rejected "
            f"(the first, line {first['line']}: {first['reason']})"
        )


def load_input(
    input_dir: str | Path, *, hmac_key: str | bytes | None, rejects_dir: str | Path | None = None
) -> LoadResult:
    """Read, validate and pseudonymize the input tables in ``input_dir``.

    Parameters
    ----------
    input_dir : path
        Directory with ``users.csv`` (or ``.parquet``) and optionally ``user_devices``,
        ``user_accounts``, ``social`` and ``applications``.
    hmac_key : str or bytes
        Key for pseudonymizing ``account_id`` (at least 16 bytes).
    rejects_dir : path, optional
        Where to write ``<table>.csv`` for every table with rejected rows (stale files
        of tables without rejects are removed). Nothing is written when ``None``.

    Raises
    ------
    InputError
        When a file cannot be read or lacks a required column; the message lists every
        such problem. Nothing has been written when it is raised.
    ConfigError
        When the key is missing or too short.

    Examples
    --------
    >>> result = load_input("input/", hmac_key=key, rejects_dir="rejects/")  # doctest: +SKIP
    >>> result.tables.num_users, result.counts["users"]  # doctest: +SKIP
    (1000, {'rows': 1002, 'loaded': 1000, 'rejected': 2})
    """
    key = check_hmac_key(hmac_key)
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise InputError(f"{input_dir}: input directory does not exist")
    raws: dict[str, RawTable] = {}
    problems: list[str] = []
    for name, spec in INPUT_TABLES.items():
        try:
            path = find_table_file(input_dir, name)
            if path is None:
                if spec.required_file:
                    problems.append(
                        f"{input_dir}: required table {name}.csv (or .parquet) is missing"
                    )
                continue
            raw = read_table(name, path)
        except InputError as exc:
            problems.append(str(exc))
            continue
        problems += [
            f"{raw.path}: missing required column {column!r}"
            for column in missing_columns(raw, spec)
        ]
        raws[name] = raw
    if problems:
        raise InputError("cannot load the input:\n  " + "\n  ".join(problems))
    result = _build(raws, key)
    if rejects_dir is not None:
        write_rejects(result.rejects, rejects_dir)
    return result


def build_graph_tables(frames: Mapping[str, pd.DataFrame], *, hmac_key: str | bytes) -> LoadResult:
    """Validate in-memory contract tables (as from :func:`pandas.read_csv`).

    Row numbers in rejects count from 1, as for Parquet files.

    Raises
    ------
    InputError
        When ``users`` is absent, a table is unknown, or a required column is missing.
    """
    key = check_hmac_key(hmac_key)
    unknown = sorted(set(frames) - set(INPUT_TABLES))
    if unknown:
        raise InputError(f"unknown input tables {unknown}; expected some of {list(INPUT_TABLES)}")
    if "users" not in frames:
        raise InputError("required table 'users' is missing")
    raws = {}
    problems = []
    for name, frame in frames.items():
        frame = frame.reset_index(drop=True)
        raw = RawTable(
            name,
            Path(f"<{name}>"),
            frame,
            np.arange(1, len(frame) + 1, dtype=np.int64),
            pd.DataFrame(columns=["line", "reason"]),
        )
        problems += [
            f"{name}: missing required column {c!r}"
            for c in missing_columns(raw, INPUT_TABLES[name])
        ]
        raws[name] = raw
    if problems:
        raise InputError("cannot load the input:\n  " + "\n  ".join(problems))
    return _build(raws, key)


def _build(raws: Mapping[str, RawTable], key: bytes) -> LoadResult:
    validated: dict[str, ValidatedTable] = {}
    users = validate_table(raws["users"], INPUT_TABLES["users"])
    validated["users"] = users
    known = pd.Index(users.clean["user_id"].to_numpy())
    for name, raw in raws.items():
        if name != "users":
            validated[name] = validate_table(raw, INPUT_TABLES[name], known)
    for name, table in validated.items():
        if INPUT_TABLES[name].personal_columns:
            validated[name] = _pseudonymize_table(table, INPUT_TABLES[name], key)

    counts = {}
    rejects = {}
    for name in INPUT_TABLES:
        if name not in validated:
            # An optional table's absence is no news: it is left out of the counts.
            if name not in OPTIONAL_TABLES:
                counts[name] = {"rows": 0, "loaded": 0, "rejected": 0}
            continue
        v = validated[name]
        rejects[name] = v.rejects
        counts[name] = {
            "rows": len(v.clean) + len(v.rejects),
            "loaded": len(v.clean),
            "rejected": len(v.rejects),
        }
    tables = _assemble({n: v.clean for n, v in validated.items()})
    sources = {n: str(r.path) for n, r in raws.items()}
    warnings = [w for v in validated.values() for w in v.warnings]
    return LoadResult(tables.validate(), rejects, counts, sources, warnings)


def _pseudonymize_table(table: ValidatedTable, spec: TableSpec, key: bytes) -> ValidatedTable:
    """Replace the personal columns of the accepted and the rejected rows by pseudonyms."""
    personal = spec.personal_columns
    clean = table.clean.copy()
    for column in personal:
        clean[column] = pseudonymize(clean[column], key)
    rejects = table.rejects.copy()
    if len(rejects):
        # A record that could not be split may hold personal data in any field.
        malformed = rejects["reason"].str.startswith("expected ").to_numpy(bool)
        for column in (c for c in rejects.columns if c not in ("line", "reason")):
            if column in personal:
                hashed = pseudonymize(rejects[column].mask(rejects[column] == ""), key)
                rejects[column] = hashed.fillna("").astype("str")
            elif malformed.any():
                values = rejects[column].astype("str")
                hashed = pseudonymize(values.mask(values == ""), key).fillna("").astype("str")
                rejects[column] = values.where(~malformed, hashed)
    return ValidatedTable(clean, rejects, table.warnings)


def _assemble(clean: Mapping[str, pd.DataFrame]) -> GraphTables:
    """Turn validated contract tables into node and edge tables with integer indices.

    ``users`` keeps its rows (attributes included). Node types without an input table of
    their own are the distinct ids the input tables name (a device is every
    ``device_id`` of ``user_devices`` and ``applications``), with their properties from
    the first row that gives them, in file order. Every other table takes the rows of
    its input table, with the ids it names turned into node positions.
    """
    inputs = {
        name: clean[name] if name in clean else _contract_empty(name) for name in INPUT_TABLES
    }
    nodes = {
        name: _identifier_nodes(node, inputs)
        for name, node in NODE_TYPES.items()
        if node.source is None
    }
    nodes["users"] = canonical_order("users", inputs["users"])
    tables = dict(nodes)
    for name, columns in TABLE_COLUMNS.items():
        if name in nodes:
            continue
        source = inputs[_INPUT_OF[name]]
        frame = pd.DataFrame(
            {
                column: _positions(source, name, column, nodes)
                if (name, column) in _END_OF_COLUMN
                else source[column]
                for column in columns
            }
        )
        tables[name] = canonical_order(name, frame.astype(columns))
    return GraphTables(**tables)


def _identifier_nodes(node: NodeType, inputs: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The distinct ids of ``node`` the input tables name, sorted, with properties."""
    key = node.key.name
    named = [
        inputs[_INPUT_OF[rel.table]][str(end.input)] for rel, end in references_into(node.table)
    ]
    unique = pd.Series(pd.concat(named, ignore_index=True).dropna().unique(), dtype="string")
    nodes = canonical_order(node.table, pd.DataFrame({key: unique}))
    for prop in node.properties:
        given = pd.concat(
            [t[[key, prop.name]] for t in inputs.values() if {key, prop.name} <= set(t.columns)]
        )
        nodes[prop.name] = first_given(nodes[key], given, key, prop.name).astype(prop.dtype)
    return nodes


def _positions(
    source: pd.DataFrame, table: str, column: str, nodes: Mapping[str, pd.DataFrame]
) -> np.ndarray:
    """Index column ``column`` of ``table``: the positions of the nodes its input rows
    name, :data:`NO_INDEX` where a row names none."""
    end = _END_OF_COLUMN[table, column]
    ids = source[str(end.input)]
    positions = index_of(ids, nodes[end.node][NODE_TYPES[end.node].key.name])
    positions[ids.isna().to_numpy()] = NO_INDEX
    return positions


def _contract_empty(name: str) -> pd.DataFrame:
    """An absent table as validation would leave it: no rows, the contract's dtypes."""
    return _contract_empties(name).copy()


@functools.cache
def _contract_empties(name: str) -> pd.DataFrame:
    # Built once per process: an online call of a few rows would otherwise validate
    # every absent table anew, and its cost is the validator's fixed cost.
    spec = INPUT_TABLES[name]
    raw = RawTable(
        name,
        Path(f"<{name}>"),
        pd.DataFrame(columns=list(spec.column_names)),
        np.zeros(0, dtype=np.int64),
        pd.DataFrame(columns=["line", "reason"]),
    )
    return validate_table(raw, spec, pd.Index([])).clean


# The input table of every GraphTables table but the identifier nodes, and the
# relationship end behind every index column.
_INPUT_OF = {
    **{name: str(node.source) for name, node in NODE_TYPES.items() if node.source},
    **{r.table: r.table for r in RELATIONSHIPS.values() if not r.is_reference},
}
_END_OF_COLUMN = {
    (rel.table, str(end.column)): end
    for rel in RELATIONSHIPS.values()
    for end in (rel.start, rel.end)
    if end.column is not None
}
