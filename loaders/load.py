"""Load an input directory into :class:`GraphTables`, rejecting bad rows with reasons.

``load_input`` is the loader the nightly job and ``riskgraph load`` call. It reads
every table of the contract, stops before writing anything when a file cannot be
used (reporting every such problem at once), validates each row, pseudonymizes
account identifiers, writes the rejected rows to ``rejects/<table>.csv`` and returns
the typed graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from riskgraph.errors import InputError
from riskgraph.loaders.contract import INPUT_TABLES
from riskgraph.loaders.pseudonymize import check_hmac_key, pseudonymize
from riskgraph.loaders.read import RawTable, find_table_file, read_table
from riskgraph.loaders.rejects import write_rejects
from riskgraph.loaders.tables import (
    NO_INDEX,
    GraphTables,
    canonical_order,
    empty_graph_tables,
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

    if "user_accounts" in validated:
        validated["user_accounts"] = _pseudonymize_accounts(validated["user_accounts"], key)

    counts = {}
    rejects = {}
    for name in INPUT_TABLES:
        if name not in validated:
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


def _pseudonymize_accounts(table: ValidatedTable, key: bytes) -> ValidatedTable:
    clean = table.clean.copy()
    clean["account_id"] = pseudonymize(clean["account_id"], key)
    rejects = table.rejects.copy()
    if len(rejects):
        # A record that could not be split may hold the account number in any field.
        malformed = rejects["reason"].str.startswith("expected ").to_numpy(bool)
        personal = [c for c in rejects.columns if c not in ("line", "reason")]
        for column in personal:
            if column == "account_id":
                hashed = pseudonymize(rejects[column].mask(rejects[column] == ""), key)
                rejects[column] = hashed.fillna("").astype("str")
            elif malformed.any():
                values = rejects[column].astype("str")
                hashed = pseudonymize(values.mask(values == ""), key).fillna("").astype("str")
                rejects[column] = values.where(~malformed, hashed)
    return ValidatedTable(clean, rejects, table.warnings)


def _assemble(clean: Mapping[str, pd.DataFrame]) -> GraphTables:
    """Turn validated contract tables into node and edge tables with integer indices."""
    empty = empty_graph_tables()
    users = canonical_order("users", clean["users"])
    user_ids = users["user_id"]

    user_devices = clean.get("user_devices", _contract_empty("user_devices"))
    user_accounts = clean.get("user_accounts", _contract_empty("user_accounts"))
    social = clean.get("social", _contract_empty("social"))
    applications = clean.get("applications", _contract_empty("applications"))

    device_ids = pd.concat(
        [user_devices["device_id"], applications["device_id"].dropna()], ignore_index=True
    )
    devices = _nodes("devices", "device_id", device_ids)
    platforms = _nodes("platforms", "platform_id", applications["platform_id"])
    # An account's type is the first one given for it, in file order.
    account_types = user_accounts.dropna(subset=["account_type"]).drop_duplicates("account_id")
    accounts = _nodes("accounts", "account_id", user_accounts["account_id"])
    accounts["account_type"] = (
        accounts["account_id"]
        .map(account_types.set_index("account_id")["account_type"])
        .astype("string")
    )

    app_table = pd.DataFrame(
        {
            "application_id": applications["application_id"].astype("string"),
            "user_idx": index_of(applications["user_id"], user_ids),
            "platform_idx": index_of(applications["platform_id"], platforms["platform_id"]),
            "device_idx": index_of(applications["device_id"], devices["device_id"]),
            "applied_at": applications["applied_at"],
            "amount": applications["amount"],
            "status": applications["status"],
        }
    )
    app_table.loc[applications["device_id"].isna().to_numpy(), "device_idx"] = NO_INDEX
    edges = {
        "user_devices": pd.DataFrame(
            {
                "user_idx": index_of(user_devices["user_id"], user_ids),
                "device_idx": index_of(user_devices["device_id"], devices["device_id"]),
                "first_seen": user_devices["first_seen"],
                "last_seen": user_devices["last_seen"],
            }
        ),
        "user_accounts": pd.DataFrame(
            {
                "user_idx": index_of(user_accounts["user_id"], user_ids),
                "account_idx": index_of(user_accounts["account_id"], accounts["account_id"]),
                "linked_at": user_accounts["linked_at"],
            }
        ),
        "social": pd.DataFrame(
            {
                "src_idx": index_of(social["src_user_id"], user_ids),
                "dst_idx": index_of(social["dst_user_id"], user_ids),
                "tie_type": social["tie_type"],
                "created_at": social["created_at"],
                "weight": social["weight"],
            }
        ),
    }
    typed = {
        name: canonical_order(name, frame.astype(empty.__getattribute__(name).dtypes.to_dict()))
        for name, frame in {"applications": app_table, **edges}.items()
    }
    return GraphTables(
        users=users,
        devices=devices,
        accounts=accounts,
        platforms=platforms,
        **typed,
    )


def _nodes(table: str, id_column: str, ids: pd.Series) -> pd.DataFrame:
    unique = pd.Series(ids.dropna().unique(), dtype="string")
    return canonical_order(table, pd.DataFrame({id_column: unique}))


def _contract_empty(name: str) -> pd.DataFrame:
    spec = INPUT_TABLES[name]
    raw = RawTable(
        name,
        Path(f"<{name}>"),
        pd.DataFrame(columns=list(spec.column_names)),
        np.zeros(0, dtype=np.int64),
        pd.DataFrame(columns=["line", "reason"]),
    )
    return validate_table(raw, spec, pd.Index([])).clean
