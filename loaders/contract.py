"""The input contract (CONTRACT.md) as data: tables, columns, kinds and keys.

The readers and validators are driven by these specs, so a rule lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["INPUT_TABLES", "ColumnSpec", "TableSpec"]

ColumnKind = Literal["id", "timestamp", "label", "number", "text"]


@dataclass(frozen=True)
class ColumnSpec:
    """One contract column: its name, how it is parsed, and whether it must be present.

    ``required`` columns must exist in the file header (else the run stops) and must be
    non-empty in every row (else the row is rejected). ``personal`` values (account
    numbers) are pseudonymized and never quoted in a rejection reason.
    """

    name: str
    kind: ColumnKind
    required: bool = False
    personal: bool = False


@dataclass(frozen=True)
class TableSpec:
    """One input file of the contract."""

    name: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    required_file: bool = False
    #: Columns that must name a user present (and valid) in ``users``.
    user_references: tuple[str, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


def _col(name: str, kind: ColumnKind, required: bool = False, personal: bool = False) -> ColumnSpec:
    return ColumnSpec(name, kind, required, personal)


#: Every input table, in load order (``users`` first: edge files are checked against it).
INPUT_TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "users",
            (
                _col("user_id", "id", True),
                _col("registered_at", "timestamp", True),
                _col("label", "label"),
                _col("label_at", "timestamp"),
            ),
            key=("user_id",),
            required_file=True,
        ),
        TableSpec(
            "user_devices",
            (
                _col("user_id", "id", True),
                _col("device_id", "id", True),
                _col("first_seen", "timestamp"),
                _col("last_seen", "timestamp"),
            ),
            key=("user_id", "device_id"),
            user_references=("user_id",),
        ),
        TableSpec(
            "user_accounts",
            (
                _col("user_id", "id", True),
                _col("account_id", "id", True, personal=True),
                _col("account_type", "text"),
                _col("linked_at", "timestamp"),
            ),
            key=("user_id", "account_id"),
            user_references=("user_id",),
        ),
        TableSpec(
            "social",
            (
                _col("src_user_id", "id", True),
                _col("dst_user_id", "id", True),
                _col("tie_type", "text"),
                _col("created_at", "timestamp"),
                _col("weight", "number"),
            ),
            key=("src_user_id", "dst_user_id", "tie_type"),
            user_references=("src_user_id", "dst_user_id"),
        ),
        TableSpec(
            "applications",
            (
                _col("application_id", "id", True),
                _col("user_id", "id", True),
                _col("platform_id", "id", True),
                _col("applied_at", "timestamp", True),
                _col("amount", "number"),
                _col("device_id", "id"),
                _col("status", "text"),
            ),
            key=("application_id",),
            user_references=("user_id",),
        ),
    )
}
