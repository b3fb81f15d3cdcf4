"""The graph schema, declared once: node types, relationships and the input tables.

Every layer reads the shape of the graph from here: the input contract's table specs
(:data:`INPUT_TABLES`), the columns and dtypes of :class:`~riskgraph.loaders.GraphTables`,
the loader's assembly of node and edge tables, the Neo4j constraints, writer, reader and
Cypher of each table (:mod:`riskgraph.graph.cypher`), the ``HeteroData`` node and edge
types (:mod:`riskgraph.gnn.hetero`) and the labels and relationship types Neo4j Browser
investigations may return (:mod:`riskgraph.graph.investigations`).

The graph (docs/neo4j.md)::

    (:User {user_id, registered_at, label, label_at, attr_<name>...})
    (:Device {device_id})  (:Account {account_id, account_type})  (:Platform {platform_id})
    (:Application {application_id, applied_at, amount, status})  (:Address {address_id})
    (User)-[:USES {first_seen, last_seen}]->(Device)
    (User)-[:OWNS {linked_at}]->(Account)
    (User)-[:KNOWS {tie_type, created_at, weight}]->(User)
    (User)-[:SUBMITTED]->(Application)-[:TO]->(Platform)
    (Application)-[:FROM_DEVICE]->(Device)
    (User)-[:LIVES_AT {declared_at}]->(Address)

Adding an input table
---------------------
A table that links users to something they may share with other users (a device, a
bank card, a postal address) is one :class:`IdentifierTable` entry in
:data:`IDENTIFIER_TABLES`: its input file, the node type of the identifier, and the
relationship. From that entry follow the input spec (``user_id``, the identifier's id,
its properties), the node table (the distinct identifiers) and edge table of
``GraphTables``, the Neo4j constraint, writes and reads, the ``HeteroData`` node type
and both directions of its edge type, and the graph features that treat shared
identifiers alike (rings, hubs, exposure, co-users: ``GraphSnapshot.identifiers``).
Its tests and its line in CONTRACT.md and docs/neo4j.md come with it.

Examples
--------
>>> INPUT_TABLES["user_addresses"].column_names
('user_id', 'address_id', 'declared_at')
>>> NODE_TYPES["addresses"].label, RELATIONSHIPS["LIVES_AT"].hetero
('Address', 'lives_at')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DTYPES",
    "IDENTIFIER_TABLES",
    "INPUT_TABLES",
    "NODE_TYPES",
    "NO_INDEX",
    "OPTIONAL_TABLES",
    "RELATIONSHIPS",
    "TIMESTAMP",
    "ColumnKind",
    "ColumnSpec",
    "End",
    "IdentifierTable",
    "NodeType",
    "Relationship",
    "TableSpec",
    "references_into",
]

ColumnKind = Literal["id", "timestamp", "label", "number", "text"]

#: The dtype of every timestamp column of GraphTables (UTC, microseconds).
TIMESTAMP = "datetime64[us, UTC]"
#: Marks a missing node reference in an index column (``applications.device_idx``).
NO_INDEX = -1
#: The GraphTables dtype of each column kind; index columns are ``int64``.
DTYPES: dict[str, str] = {
    "id": "string",
    "text": "string",
    "timestamp": TIMESTAMP,
    "label": "Int8",
    "number": "float64",
}


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its name (in the input, in GraphTables and as a Neo4j property), its
    kind, and whether it must be present.

    ``required`` columns must exist in the file header (else the run stops) and must be
    non-empty in every row (else the row is rejected). ``personal`` values (account
    numbers, addresses) are pseudonymized and never quoted in a rejection reason.
    """

    name: str
    kind: ColumnKind
    required: bool = False
    personal: bool = False

    @property
    def dtype(self) -> str:
        """The GraphTables dtype of the column."""
        return DTYPES[self.kind]


@dataclass(frozen=True)
class TableSpec:
    """One input file of the contract."""

    name: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    required_file: bool = False
    #: Columns that must name a user present (and valid) in ``users``.
    user_references: tuple[str, ...] = ()
    #: Columns that must differ within a row (a user cannot know itself).
    distinct: tuple[str, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def personal_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.personal)


@dataclass(frozen=True)
class NodeType:
    """A node type: a GraphTables node table, a Neo4j label, a ``HeteroData`` node type.

    Attributes
    ----------
    table : str
        GraphTables table (``devices``).
    label : str
        Neo4j label (``Device``).
    hetero : str
        ``HeteroData`` node type (``device``).
    key : ColumnSpec
        The id: unique, and a uniqueness constraint (an index) in Neo4j.
    properties : tuple of ColumnSpec
        Stored on the node besides the key, in GraphTables column order.
    source : str or None
        The input table with one row per node (``users``, ``applications``); None for
        nodes known only by the ids other tables name (devices, accounts, platforms).
    attributes : bool
        Every other column of the input table is an attribute of the node, stored in
        Neo4j as ``attr_<column>`` (the users table).
    """

    table: str
    label: str
    hetero: str
    key: ColumnSpec
    properties: tuple[ColumnSpec, ...] = ()
    source: str | None = None
    attributes: bool = False


@dataclass(frozen=True)
class End:
    """One end of a relationship, as a row of the relationship's table names it.

    Attributes
    ----------
    node : str
        The node table of that end.
    column : str or None
        The index column (``int64`` positions into ``node``) of the relationship's
        table; None when the row itself is that end (an application is the end of
        SUBMITTED and the start of TO).
    input : str or None
        The input column that holds the node's id (``device_id``).
    """

    node: str
    column: str | None = None
    input: str | None = None


@dataclass(frozen=True)
class Relationship:
    """A relationship type: rows of one GraphTables table, a Neo4j type, an edge type.

    Attributes
    ----------
    rel_type : str
        Neo4j relationship type (``USES``).
    hetero : str
        ``HeteroData`` relation (``uses``); its reverse is ``rev_<hetero>``.
    table : str
        The GraphTables table with one row per relationship: an edge table, or a node
        table whose index column names the other end (``applications.platform_idx`` is
        the application's TO).
    start, end : End
    properties : tuple of ColumnSpec
        Stored on the relationship, in GraphTables column order.
    key : tuple of str
        Properties that, besides the two ends, tell relationships apart (a tie's
        ``tie_type``); they may be missing, which ``MERGE`` cannot match on.
    time : str or None
        The column of ``table`` that dates the relationship (a snapshot as of a date
        leaves later ones out; missing means known since forever).
    optional : bool
        The index column may hold :data:`NO_INDEX`: no relationship for that row.
    identifier : bool
        The end node is an identifier users may share (a device, an account, an
        address): shared identifiers link users in the graph features.
    symmetric : bool
        Both directions mean the same (social ties): ``HeteroData`` stores the edges
        and their reverses under one edge type.
    """

    rel_type: str
    hetero: str
    table: str
    start: End
    end: End
    properties: tuple[ColumnSpec, ...] = ()
    key: tuple[str, ...] = ()
    time: str | None = None
    optional: bool = False
    identifier: bool = False
    symmetric: bool = False

    @property
    def is_reference(self) -> bool:
        """True when the rows of a node table carry the relationship (no edge table)."""
        return self.start.column is None or self.end.column is None

    @property
    def edge_type(self) -> tuple[str, str, str]:
        """The ``HeteroData`` edge type, e.g. ``("user", "uses", "device")``."""
        return (NODE_TYPES[self.start.node].hetero, self.hetero, NODE_TYPES[self.end.node].hetero)


@dataclass(frozen=True)
class IdentifierTable:
    """An input table linking users to identifiers they may share, and its graph.

    One entry gives the input spec (``user_id``, ``node.key``, the node's properties,
    then ``properties``), the node table (the distinct ids), the edge table (``user_idx``,
    ``<node>_idx``, ``properties``) and the relationship ``(User)-[rel_type]->(node)``.

    Attributes
    ----------
    input : str
        Name of the input file and of the GraphTables edge table.
    node : NodeType
        The identifier. Node properties are taken from the first row that gives them.
    rel_type, hetero : str
        Neo4j relationship type and ``HeteroData`` relation.
    properties : tuple of ColumnSpec
        Properties of the relationship (when the user was first seen on the device...).
    time : str or None
        Which of ``properties`` dates the link.
    optional : bool
        Added after the first version of the graph: a GraphTables built by hand or saved
        earlier may lack its tables (they are taken as empty), and the ``HeteroData`` of
        a graph without any such link has neither its node nor its edge type, so that
        its absence changes no model.
    """

    input: str
    node: NodeType
    rel_type: str
    hetero: str
    properties: tuple[ColumnSpec, ...] = ()
    time: str | None = None
    optional: bool = False

    @property
    def index_column(self) -> str:
        return f"{self.node.hetero}_idx"

    def spec(self) -> TableSpec:
        key = self.node.key
        return TableSpec(
            self.input,
            (_USER_REFERENCE, key, *self.node.properties, *self.properties),
            key=("user_id", key.name),
            user_references=("user_id",),
        )

    def relationship(self) -> Relationship:
        return Relationship(
            self.rel_type,
            self.hetero,
            self.input,
            End("users", "user_idx", "user_id"),
            End(self.node.table, self.index_column, self.node.key.name),
            self.properties,
            time=self.time,
            identifier=True,
        )


def _col(name: str, kind: ColumnKind, required: bool = False, personal: bool = False) -> ColumnSpec:
    return ColumnSpec(name, kind, required, personal)


_USER_REFERENCE = _col("user_id", "id", True)

USERS = NodeType(
    "users",
    "User",
    "user",
    _col("user_id", "id", True),
    (
        _col("registered_at", "timestamp", True),
        _col("label", "label"),
        _col("label_at", "timestamp"),
    ),
    source="users",
    attributes=True,
)
APPLICATIONS = NodeType(
    "applications",
    "Application",
    "application",
    _col("application_id", "id", True),
    (_col("applied_at", "timestamp", True), _col("amount", "number"), _col("status", "text")),
    source="applications",
)
PLATFORMS = NodeType("platforms", "Platform", "platform", _col("platform_id", "id", True))

#: Tables of users and the identifiers they hold, in load order.
IDENTIFIER_TABLES: tuple[IdentifierTable, ...] = (
    IdentifierTable(
        "user_devices",
        NodeType("devices", "Device", "device", _col("device_id", "id", True)),
        "USES",
        "uses",
        (_col("first_seen", "timestamp"), _col("last_seen", "timestamp")),
        time="first_seen",
    ),
    IdentifierTable(
        "user_accounts",
        NodeType(
            "accounts",
            "Account",
            "account",
            _col("account_id", "id", True, personal=True),
            (_col("account_type", "text"),),
        ),
        "OWNS",
        "owns",
        (_col("linked_at", "timestamp"),),
        time="linked_at",
    ),
    IdentifierTable(
        "user_addresses",
        NodeType("addresses", "Address", "address", _col("address_id", "id", True, personal=True)),
        "LIVES_AT",
        "lives_at",
        (_col("declared_at", "timestamp"),),
        time="declared_at",
        optional=True,
    ),
)
_DEVICES, _ACCOUNTS = IDENTIFIER_TABLES[0].node, IDENTIFIER_TABLES[1].node

#: Every node type by GraphTables table, in GraphTables order.
NODE_TYPES: dict[str, NodeType] = {
    n.table: n
    for n in (
        USERS,
        _DEVICES,
        _ACCOUNTS,
        PLATFORMS,
        APPLICATIONS,
        *(t.node for t in IDENTIFIER_TABLES[2:]),
    )
}

_SOCIAL = Relationship(
    "KNOWS",
    "knows",
    "social",
    End("users", "src_idx", "src_user_id"),
    End("users", "dst_idx", "dst_user_id"),
    (_col("tie_type", "text"), _col("created_at", "timestamp"), _col("weight", "number")),
    key=("tie_type",),
    time="created_at",
    symmetric=True,
)
# An application's user, platform and device: index columns of the applications table.
_APPLICATION_LINKS = (
    Relationship(
        "SUBMITTED",
        "submitted",
        "applications",
        End("users", "user_idx", "user_id"),
        End("applications"),
        time="applied_at",
    ),
    Relationship(
        "TO",
        "to",
        "applications",
        End("applications"),
        End("platforms", "platform_idx", "platform_id"),
        time="applied_at",
    ),
    Relationship(
        "FROM_DEVICE",
        "from_device",
        "applications",
        End("applications"),
        End("devices", "device_idx", "device_id"),
        time="applied_at",
        optional=True,
    ),
)

#: Every relationship type by Neo4j type, in the order of the ``HeteroData`` edge types.
RELATIONSHIPS: dict[str, Relationship] = {
    r.rel_type: r
    for r in (
        *(t.relationship() for t in IDENTIFIER_TABLES[:2]),
        _SOCIAL,
        *_APPLICATION_LINKS,
        *(t.relationship() for t in IDENTIFIER_TABLES[2:]),
    )
}

#: Every input table, in load order (``users`` first: the other files are checked
#: against it).
INPUT_TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec("users", (USERS.key, *USERS.properties), key=("user_id",), required_file=True),
        *(t.spec() for t in IDENTIFIER_TABLES[:2]),
        TableSpec(
            "social",
            (_col("src_user_id", "id", True), _col("dst_user_id", "id", True), *_SOCIAL.properties),
            key=("src_user_id", "dst_user_id", "tie_type"),
            user_references=("src_user_id", "dst_user_id"),
            distinct=("src_user_id", "dst_user_id"),
        ),
        TableSpec(
            "applications",
            (
                APPLICATIONS.key,
                _USER_REFERENCE,
                _col("platform_id", "id", True),
                APPLICATIONS.properties[0],
                APPLICATIONS.properties[1],
                _col("device_id", "id"),
                APPLICATIONS.properties[2],
            ),
            key=("application_id",),
            user_references=("user_id",),
        ),
        *(t.spec() for t in IDENTIFIER_TABLES[2:]),
    )
}

#: GraphTables tables that may be absent (taken as empty): those of optional
#: identifier tables.
OPTIONAL_TABLES = frozenset(
    name for t in IDENTIFIER_TABLES if t.optional for name in (t.input, t.node.table)
)


def references_into(node_table: str) -> list[tuple[Relationship, End]]:
    """Every relationship end that names a node of ``node_table`` by an input column.

    The distinct ids in those input columns are the nodes of a table without a
    ``source`` (a device is every ``device_id`` of ``user_devices`` and
    ``applications``).
    """
    return [
        (rel, end)
        for rel in RELATIONSHIPS.values()
        for end in (rel.start, rel.end)
        if end.node == node_table and end.input is not None
    ]
