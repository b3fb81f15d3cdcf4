"""Every Cypher query of riskgraph, as named constants with ``$parameters``.

Values always travel as parameters, never by string formatting. Labels, relationship
types and property keys are fixed words of the graph model: the queries of each node
type and relationship type are made from the schema (:mod:`riskgraph.loaders.schema`)
when this module is imported, and kept in dicts by node table or relationship type
(``FIND_NODES["devices"]``, ``READ_RELATIONSHIPS["USES"]``); the helpers below only
splice those fixed words into query text.

Conventions of the batched writes: a batch is a set of equally long parameter lists
(columns), and ``UNWIND range(0, size($key) - 1) AS i`` walks its rows, so that the
client sends a few lists instead of one map per row. A timestamp column ``t`` travels
as two lists, ``$t_s`` (whole seconds since the epoch, floor) and ``$t_ns`` (the
nanoseconds within that second), both null for a missing value, and is stored as a
``DateTime`` in UTC. Reads return one record of parallel lists per query (``collect``)
with nulls replaced by sentinels (``collect`` drops nulls), because one record per row
costs the Python driver far more than long lists do.

Internal node ids (``id(n)``) are used only within one write or one read: the writer
learns them from its own node upserts and matches relationship endpoints by them
(cheaper than a second index seek per endpoint), and the reader uses them to join
relationships to nodes. They are never stored or returned to callers.
"""

from __future__ import annotations

from riskgraph.loaders.schema import (
    IDENTIFIER_TABLES,
    NODE_TYPES,
    RELATIONSHIPS,
    ColumnSpec,
    IdentifierTable,
    NodeType,
    Relationship,
)

__all__ = [
    "AWAIT_INDEXES",
    "CONSTRAINTS",
    "COUNT_NODES_BY_LABEL",
    "COUNT_RELATIONSHIPS_BY_TYPE",
    "COUNT_STALE_WRITE_BACK",
    "CREATE_NODES",
    "CREATE_RELATIONSHIPS",
    "CREATE_RISK_LINKS",
    "DELETE_ALL",
    "DELETE_RISK_LINKS",
    "DELETE_STALE_MEMBERSHIPS",
    "DELETE_STALE_RELATIONSHIPS",
    "DELETE_STALE_RINGS",
    "DUMP_NODES",
    "DUMP_RELATIONSHIPS",
    "FIND_NODES",
    "IS_TEST_DATABASE",
    "MARK_MEMBERSHIPS_STALE",
    "MARK_RINGS_STALE",
    "MARK_TEST_DATABASE",
    "MERGE_MEMBERSHIPS",
    "MERGE_RELATIONSHIPS",
    "READ_META",
    "READ_NODES",
    "READ_RELATIONSHIPS",
    "READ_USER_NUMBER_ATTRIBUTE",
    "READ_USER_TEXT_ATTRIBUTE",
    "RING_PROPERTIES",
    "RING_TIMES",
    "RISK_LINK_PROPERTIES",
    "SERVER_COMPONENTS",
    "SET_KNOWN_BAD_LABELS",
    "SET_RING_LABELS",
    "SET_USER_FEATURES",
    "SET_USER_SCORES",
    "UPDATE_NODES",
    "UPSERT_RINGS",
    "USER_SCORE_PROPERTIES",
    "WRITE_META",
]


def _datetime(column: str) -> str:
    """``DateTime`` (UTC) from the parameter lists ``$<column>_s`` and ``$<column>_ns``."""
    s, ns = f"${column}_s[i]", f"${column}_ns[i]"
    return f"CASE WHEN {s} IS NULL THEN null ELSE datetime.fromepoch({s}, {ns}) END"


def _ticks(prop: str) -> str:
    """Ticks since the epoch (``$ticks_per_milli`` a millisecond) of a ``DateTime``.

    ``$nat`` when the property is missing, ``$not_datetime`` when it holds something
    else (a string, a date), ``$out_of_range`` for an instant outside ``$min_time`` ..
    ``$max_time``: whatever was stored by hand or by an older version, the read never
    fails on it and the reader can say which node and property held it.
    ``epochMillis`` rounds down, as needed; ``epochSeconds`` rounds towards zero, which
    is a second off for instants before 1970 with a fraction of a second.
    """
    return (
        f"CASE WHEN {prop} IS NULL THEN $nat "
        f"WHEN NOT {prop} IS :: ZONED DATETIME THEN $not_datetime "
        f"WHEN {prop} < $min_time OR {prop} >= $max_time THEN $out_of_range "
        f"ELSE {prop}.epochMillis * $ticks_per_milli "
        f"+ ({prop}.nanosecond % 1000000) / $ns_per_tick END"
    )


def _number(value: str) -> str:
    """A stored number as a float: ``$nan`` when missing (absent, or NaN as the writer
    stores a missing attribute), ``$not_number`` when it is neither an integer nor a
    finite float (a string, infinity)."""
    return (
        f"CASE WHEN {value} IS NULL THEN $nan "
        f"WHEN {value} IS :: INTEGER THEN toFloat({value}) "
        f"WHEN {value} IS :: FLOAT AND isNaN({value}) THEN $nan "
        f"WHEN {value} IS :: FLOAT AND abs({value}) < $inf THEN {value} "
        "ELSE $not_number END"
    )


# -- server ------------------------------------------------------------------------------
SERVER_COMPONENTS = "CALL dbms.components() YIELD name, versions, edition"

# -- schema ------------------------------------------------------------------------------
#: A uniqueness constraint (and so an index) on the id of every node type of the schema,
#: on the ids the pipeline writes back (Ring), and on the metadata node's name.
CONSTRAINTS = (
    *(
        f"CREATE CONSTRAINT riskgraph_{node.key.name} IF NOT EXISTS "
        f"FOR (n:{node.label}) REQUIRE n.{node.key.name} IS UNIQUE"
        for node in NODE_TYPES.values()
    ),
    "CREATE CONSTRAINT riskgraph_ring_id IF NOT EXISTS FOR (n:Ring) REQUIRE n.ring_id IS UNIQUE",
    "CREATE CONSTRAINT riskgraph_meta_name IF NOT EXISTS "
    "FOR (n:RiskgraphMeta) REQUIRE n.name IS UNIQUE",
)
AWAIT_INDEXES = "CALL db.awaitIndexes($timeout_seconds)"

# -- metadata: which User properties are input attributes, in which order, of which kind --
READ_META = (
    "OPTIONAL MATCH (m:RiskgraphMeta {name: $name}) RETURN m.columns AS columns, m.kinds AS kinds"
)
WRITE_META = "MERGE (m:RiskgraphMeta {name: $name}) SET m.columns = $columns, m.kinds = $kinds"


def _value(column: ColumnSpec) -> str:
    """The Cypher value of ``column`` in row ``i`` of a batch."""
    return _datetime(column.name) if column.kind == "timestamp" else f"${column.name}[i]"


def _set(var: str, columns: tuple[ColumnSpec, ...], first: tuple[str, ...] = ()) -> str:
    """``SET var.c = <value>, ...`` for ``columns`` (after the ``first`` items); empty
    when there is nothing to set."""
    items = [*first, *(f"{var}.{c.name} = {_value(c)}" for c in columns)]
    return "SET " + ",\n    ".join(items) + "\n" if items else ""


# -- node upserts ------------------------------------------------------------------------
# Three steps per node type: FIND_NODES (read only) returns the internal ids of the rows
# whose node exists already; CREATE_NODES creates the others and returns their ids;
# UPDATE_NODES sets the properties of the existing ones by id (None for a node type
# with nothing to set beyond its id). Cheaper than MERGE (no locking index seek, no
# second lookup), and it tells the writer which nodes are new. User attributes travel
# as one map per row (``$attributes``), added with ``+=``.
_FIND = """
UNWIND range(0, size($key) - 1) AS i
MATCH (n:{label} {{{key}: $key[i]}})
RETURN collect(i) AS row, collect(id(n)) AS node_id
"""
_CREATE = """
UNWIND range(0, size(${key}) - 1) AS i
CREATE (n:{label} {{{key}: ${key}[i]}})
{set}RETURN collect(i) AS row, collect(id(n)) AS node_id
"""
_UPDATE = """
UNWIND range(0, size($node_id) - 1) AS i
MATCH (n:{label}) WHERE id(n) = $node_id[i]
{set}"""


def _node_set(node: NodeType) -> str:
    return _set("n", node.properties, ("n += $attributes[i]",) if node.attributes else ())


#: Per node table: the query finding the existing nodes of a batch.
FIND_NODES = {
    name: _FIND.format(label=node.label, key=node.key.name) for name, node in NODE_TYPES.items()
}
#: Per node table: the query creating the nodes of a batch.
CREATE_NODES = {
    name: _CREATE.format(label=node.label, key=node.key.name, set=_node_set(node))
    for name, node in NODE_TYPES.items()
}
#: Per node table: the query updating existing nodes, None when there is nothing to set.
UPDATE_NODES = {
    name: _UPDATE.format(label=node.label, set=_node_set(node)) if _node_set(node) else None
    for name, node in NODE_TYPES.items()
}

# -- relationship writes ------------------------------------------------------------------
# CREATE_RELATIONSHIPS for rows with at least one endpoint created by this load (the
# relationship cannot exist yet), MERGE_RELATIONSHIPS for the rest. $src and $dst are
# internal node ids.
_ENDPOINTS = """
UNWIND range(0, size($src) - 1) AS i
MATCH (a:{a}) WHERE id(a) = $src[i]
MATCH (b:{b}) WHERE id(b) = $dst[i]
"""


def _endpoints(rel: Relationship) -> str:
    return _ENDPOINTS.format(a=NODE_TYPES[rel.start.node].label, b=NODE_TYPES[rel.end.node].label)


def _create_relationship(rel: Relationship) -> str:
    return _endpoints(rel) + f"CREATE (a)-[r:{rel.rel_type}]->(b)\n" + _set("r", rel.properties)


def _merge_relationship(rel: Relationship) -> str:
    if not rel.key:
        return _endpoints(rel) + f"MERGE (a)-[r:{rel.rel_type}]->(b)\n" + _set("r", rel.properties)
    # Keyed by properties that may be null (a tie's tie_type), which MERGE cannot match
    # on: find the relationship by hand and create it only when it is absent.
    same = " AND ".join(
        f"(old.{k} = ${k}[i] OR (old.{k} IS NULL AND ${k}[i] IS NULL))" for k in rel.key
    )
    given = ", ".join(f"{c.name}: {_value(c)}" for c in rel.properties)
    rest = tuple(c for c in rel.properties if c.name not in rel.key)
    return (
        _endpoints(rel)
        + f"OPTIONAL MATCH (a)-[old:{rel.rel_type}]->(b)\n"
        + f"WHERE {same}\n"
        + "WITH a, b, i, head(collect(old)) AS old\n"
        + "FOREACH (_ IN CASE WHEN old IS NULL THEN [1] ELSE [] END |\n"
        + f"  CREATE (a)-[:{rel.rel_type} {{{given}}}]->(b))\n"
        + _set("old", rest)
    )


def _delete_stale(rel: Relationship) -> str:
    """For a relationship a node row carries (an application's user, platform, device):
    delete the ones of reloaded rows that now name another node, or none."""
    row, other = ("a", "b") if rel.start.column is None else ("b", "a")
    param = {"a": "$src", "b": "$dst"}
    differs = f"id({other}) <> {param[other]}[i]"
    if rel.optional:
        differs = f"({param[other]}[i] IS NULL OR {differs})"
    return f"""
UNWIND range(0, size($src) - 1) AS i
MATCH (a:{NODE_TYPES[rel.start.node].label})-[r:{rel.rel_type}]->(b:{NODE_TYPES[rel.end.node].label})
WHERE id({row}) = {param[row]}[i] AND {differs}
DELETE r
"""


#: Per relationship type: the query creating the relationships of a batch.
CREATE_RELATIONSHIPS = {t: _create_relationship(r) for t, r in RELATIONSHIPS.items()}
#: Per relationship type: the query merging the relationships of a batch.
MERGE_RELATIONSHIPS = {t: _merge_relationship(r) for t, r in RELATIONSHIPS.items()}
#: Per relationship type carried by node rows: an application has one user, one
#: platform and at most one device; reloading it with other ones replaces them (run
#: before MERGE_RELATIONSHIPS, for applications that existed).
DELETE_STALE_RELATIONSHIPS = {
    t: _delete_stale(r) for t, r in RELATIONSHIPS.items() if r.is_reference
}


# -- reads: one record of parallel lists per query ----------------------------------------
def _read_columns(var: str, columns: tuple[ColumnSpec, ...]) -> list[str]:
    """``collect`` expressions returning ``columns`` of ``var`` as parallel lists: text
    with a ``<name>_missing`` list beside it, timestamps as ticks, numbers as floats."""
    out = []
    for column in columns:
        value, name = f"{var}.{column.name}", column.name
        if column.kind == "timestamp":
            out.append(f"collect({_ticks(value)}) AS {name}")
        elif column.kind == "number":
            out.append(f"collect({_number(value)}) AS {name}")
        elif column.kind == "label":
            out.append(
                f"collect(CASE WHEN {value} IS NULL THEN -1 WHEN {value} IN [0, 1] "
                f"THEN toInteger({value}) ELSE -2 END) AS {name}"
            )
        else:
            out.append(f"collect(coalesce({value}, '')) AS {name}")
            out.append(f"collect({value} IS NULL) AS {name}_missing")
    return out


def _read_node(node: NodeType) -> str:
    key = node.key.name
    columns = [
        "collect(id(n)) AS node_id",
        f"collect(coalesce(n.{key}, '')) AS {key}",
        *_read_columns("n", node.properties),
    ]
    return f"\nMATCH (n:{node.label})\nRETURN " + ",\n       ".join(columns) + "\n"


def _read_relationship(rel: Relationship) -> str:
    columns = [
        "collect(id(startNode(r))) AS src",
        "collect(id(endNode(r))) AS dst",
        *_read_columns("r", rel.properties),
    ]
    return f"\nMATCH ()-[r:{rel.rel_type}]->()\nRETURN " + ",\n       ".join(columns) + "\n"


#: Per node table: every node with its internal id, id and properties.
READ_NODES = {name: _read_node(node) for name, node in NODE_TYPES.items()}
#: Per relationship type: every relationship, read by type (a relationship type scan,
#: faster than expanding from labelled nodes), with the internal ids of its ends; the
#: reader checks that every end is a node of the expected label.
READ_RELATIONSHIPS = {t: _read_relationship(r) for t, r in RELATIONSHIPS.items()}
READ_USER_NUMBER_ATTRIBUTE = f"""
MATCH (n:User)
RETURN collect(id(n)) AS node_id, collect({_number("n[$key]")}) AS value
"""
READ_USER_TEXT_ATTRIBUTE = """
MATCH (n:User)
RETURN collect(id(n)) AS node_id, collect(coalesce(n[$key], '')) AS value,
       collect(n[$key] IS NULL) AS missing
"""


# -- write-back of the graph features (graph/writeback.py) --------------------------------
# Features land on User nodes as properties named like the feature catalogue
# (docs/features.md), rings as (:Ring)<-[:MEMBER_OF]-(:User). A rerun replaces both:
# every Ring node and MEMBER_OF relationship is marked stale first, the current ones are
# upserted with the mark removed, and whatever is still marked is deleted. Mark and sweep
# run in auto-commit transactions (CALL ... IN TRANSACTIONS) so that any number fits.
def _set_columns(var: str, names: tuple[str, ...]) -> str:
    """``var.name = $name[i]`` for each of the fixed property names ``names``."""
    for name in names:
        if not name.isidentifier() or not name.islower():
            raise ValueError(f"{name!r} is not a snake_case property name")
    return ",\n    ".join(f"{var}.{name} = ${name}[i]" for name in names)


def _feature_names() -> tuple[str, ...]:
    from riskgraph.graph.features.catalog import FEATURE_CATALOG

    return tuple(FEATURE_CATALOG)


#: Every catalogue feature of a user; a null value removes the property.
SET_USER_FEATURES = f"""
UNWIND range(0, size($user_id) - 1) AS i
MATCH (u:User {{user_id: $user_id[i]}})
SET u.features_as_of = {_datetime("as_of")},
    {_set_columns("u", _feature_names())}
RETURN count(u) AS matched
"""


def _ring_properties() -> tuple[str, ...]:
    from riskgraph.graph.features.rings import RING_COLUMNS

    return tuple(c for c in RING_COLUMNS if c != "ring_id" and c not in RING_TIMES)


#: Ring columns (graph/features/rings.py) stored as DateTime, and the others but the id.
RING_TIMES = ("first_registered_at", "last_registered_at")
RING_PROPERTIES = _ring_properties()
_RING_TIME_SET = ",\n    ".join(f"r.{t} = {_datetime(t)}" for t in RING_TIMES)
MARK_RINGS_STALE = """
MATCH (r:Ring)
CALL { WITH r SET r.stale = true } IN TRANSACTIONS OF $batch_size ROWS
"""
UPSERT_RINGS = f"""
UNWIND range(0, size($ring_id) - 1) AS i
MERGE (r:Ring {{ring_id: $ring_id[i]}})
SET {_set_columns("r", RING_PROPERTIES)},
    {_RING_TIME_SET},
    r.as_of = {_datetime("as_of")}
REMOVE r.stale
RETURN count(r) AS written
"""
DELETE_STALE_RINGS = """
MATCH (r:Ring) WHERE r.stale
CALL { WITH r DETACH DELETE r } IN TRANSACTIONS OF $batch_size ROWS
"""
MARK_MEMBERSHIPS_STALE = """
MATCH (:User)-[m:MEMBER_OF]->(:Ring)
CALL { WITH m SET m.stale = true } IN TRANSACTIONS OF $batch_size ROWS
"""
MERGE_MEMBERSHIPS = """
UNWIND range(0, size($user_id) - 1) AS i
MATCH (u:User {user_id: $user_id[i]})
MATCH (r:Ring {ring_id: $ring_id[i]})
MERGE (u)-[m:MEMBER_OF]->(r)
REMOVE m.stale
RETURN count(m) AS written
"""
DELETE_STALE_MEMBERSHIPS = """
MATCH (:User)-[m:MEMBER_OF]->(:Ring) WHERE m.stale
CALL { WITH m DELETE m } IN TRANSACTIONS OF $batch_size ROWS
"""
COUNT_STALE_WRITE_BACK = """
RETURN COUNT { MATCH (r:Ring) WHERE r.stale } AS rings,
       COUNT { MATCH (:User)-[m:MEMBER_OF]->(:Ring) WHERE m.stale } AS memberships
"""

# -- write-back of tonight's scores and risky links (graph/writeback.py) -------------------
# Scores land on User nodes; the decision also becomes one of the labels RiskLow,
# RiskMedium or RiskHigh, so that Neo4j Browser colours users by risk (the style file in
# graph/browser/). A user's RISK_LINKs are replaced: deleted, then created anew.
#: scores.parquet columns stored on User nodes.
USER_SCORE_PROPERTIES = (
    "risk_score",
    "credit_score",
    "gnn_risk",
    "decision",
    "reason_1",
    "reason_2",
    "reason_3",
)
#: associations.parquet columns, besides the two users, stored on RISK_LINK.
RISK_LINK_PROPERTIES = ("score", "via_type", "via_id")
SET_USER_SCORES = f"""
UNWIND range(0, size($user_id) - 1) AS i
MATCH (u:User {{user_id: $user_id[i]}})
REMOVE u:RiskLow:RiskMedium:RiskHigh
SET {_set_columns("u", USER_SCORE_PROPERTIES)},
    u.scored_at = {_datetime("as_of")},
    u:$($risk_label[i])
RETURN count(u) AS matched
"""
DELETE_RISK_LINKS = """
UNWIND $user_id AS id
MATCH (:User {user_id: id})-[l:RISK_LINK]->(:User)
DELETE l
RETURN count(l) AS deleted
"""
CREATE_RISK_LINKS = f"""
UNWIND range(0, size($user_id) - 1) AS i
MATCH (u:User {{user_id: $user_id[i]}})
MATCH (o:User {{user_id: $other_user_id[i]}})
CREATE (u)-[l:RISK_LINK]->(o)
SET {_set_columns("l", RISK_LINK_PROPERTIES)},
    l.as_of = {_datetime("as_of")}
RETURN count(l) AS written
"""

# -- labels for Neo4j Browser (graph/browser/riskgraph.grass) ------------------------------
# Browser styles nodes by label only (its GraSS selectors cannot read properties), so
# what the picture should show - a ring flagged or large, a user known bad - becomes a
# label. Each statement computes the labels a node should hold, then removes the extra
# ones and adds the missing ones on the nodes that differ only (a rerun writes nothing,
# and the summary counters count real changes). CALL ... IN TRANSACTIONS: auto-commit.
#: RingFlagged on flagged rings; RingMedium for $medium_size..$large_size-1 members,
#: RingLarge from $large_size (the style file draws larger Ring nodes for them).
SET_RING_LABELS = """
MATCH (r:Ring)
WITH r, [label IN [
       CASE WHEN coalesce(r.flagged, false) THEN 'RingFlagged' END,
       CASE WHEN coalesce($medium_size <= r.size < $large_size, false) THEN 'RingMedium' END,
       CASE WHEN coalesce(r.size >= $large_size, false) THEN 'RingLarge' END
     ] WHERE label IS NOT NULL] AS wanted
WITH r, wanted, [label IN labels(r)
                 WHERE label IN ['RingFlagged', 'RingMedium', 'RingLarge']] AS held
WITH r, [label IN held WHERE NOT label IN wanted] AS extra,
     [label IN wanted WHERE NOT label IN held] AS missing
WHERE size(extra) + size(missing) > 0
CALL (r, extra, missing) {
  REMOVE r:$(extra)
  SET r:$(missing)
} IN TRANSACTIONS OF $batch_size ROWS
"""
#: KnownBad on the users whose bad label was known before $as_of (the run's cut-off, a
#: DateTime), removed from the others: the labels the model could see.
SET_KNOWN_BAD_LABELS = """
MATCH (u:User)
WITH u, coalesce(u.label = 1 AND u.label_at < $as_of, false) AS bad
WHERE bad <> u:KnownBad
CALL (u, bad) {
  REMOVE u:$(CASE WHEN bad THEN [] ELSE ['KnownBad'] END)
  SET u:$(CASE WHEN bad THEN ['KnownBad'] ELSE [] END)
} IN TRANSACTIONS OF $batch_size ROWS
"""

# -- housekeeping (tests, benchmarks) ------------------------------------------------------
COUNT_NODES_BY_LABEL = """
MATCH (n)
UNWIND labels(n) AS label
RETURN label, count(*) AS count ORDER BY label
"""
COUNT_RELATIONSHIPS_BY_TYPE = """
MATCH ()-[r]->()
RETURN type(r) AS type, count(*) AS count ORDER BY type
"""
#: Deletes every node and relationship in batches (run in an auto-commit transaction).
DELETE_ALL = """
MATCH (n)
CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF $batch_size ROWS
"""
#: Every node with its labels and properties (tests compare whole small graphs).
DUMP_NODES = "MATCH (n) RETURN labels(n) AS labels, properties(n) AS properties"
#: Every relationship with its type, properties and its endpoints' properties.
DUMP_RELATIONSHIPS = """
MATCH (a)-[r]->(b)
RETURN type(r) AS type, properties(r) AS properties,
       properties(a) AS start, properties(b) AS end
"""
#: Marks a database as one the test suite may wipe (tests/conftest.py).
MARK_TEST_DATABASE = "MERGE (:RiskgraphTestMarker {name: 'riskgraph tests may wipe this database'})"
IS_TEST_DATABASE = """
RETURN EXISTS { MATCH (m:RiskgraphTestMarker) } AS marked,
       COUNT { MATCH (n) WHERE NOT n:RiskgraphTestMarker } AS nodes
"""


# -- live neighbourhood lookup of the online scorer (graph/live.py) -----------------------
# One record per row: the answers are a few hundred rows at most, and rows keep the
# neighbourhood's timestamps as DateTime values. Every lookup starts from an id in a
# uniqueness constraint's index; ``$cap`` bounds the users read per shared identifier,
# as the batch features bound a hub, and ``$max_applications`` the applications read
# per device or user (the most recent first).


def _live_identifier_users(table: IdentifierTable) -> str:
    """The users (at most ``$cap`` per identifier) linked to each identifier of ``$ids``,
    with the identifier's and the link's properties."""
    node, key = table.node, table.node.key.name
    props = "".join(f",\n       n.{p.name} AS {p.name}" for p in node.properties)
    props += "".join(f",\n       r.{p.name} AS {p.name}" for p in table.properties)
    return f"""
UNWIND $ids AS key
MATCH (n:{node.label} {{{key}: key}})
CALL {{ WITH n MATCH (u:User)-[r:{table.rel_type}]->(n) RETURN u, r ORDER BY u.user_id LIMIT $cap }}
RETURN u.user_id AS user_id, n.{key} AS {key}{props}
"""


#: Per identifier input table (``user_devices``), its live lookup by identifier id.
LIVE_IDENTIFIER_USERS = {t.input: _live_identifier_users(t) for t in IDENTIFIER_TABLES}
LIVE_SOCIAL = """
UNWIND $ids AS key
MATCH (u:User {user_id: key})
CALL {
  WITH u MATCH (u)-[r:KNOWS]-(v:User)
  RETURN startNode(r) AS src, endNode(r) AS dst, r ORDER BY v.user_id LIMIT $cap
}
RETURN DISTINCT src.user_id AS src_user_id, dst.user_id AS dst_user_id,
       r.tie_type AS tie_type, r.created_at AS created_at, r.weight AS weight
"""
_LIVE_APPLICATION_ROW = """
MATCH (owner:User)-[:SUBMITTED]->(a)-[:TO]->(p:Platform)
OPTIONAL MATCH (a)-[:FROM_DEVICE]->(from:Device)
RETURN DISTINCT a.application_id AS application_id, owner.user_id AS user_id,
       p.platform_id AS platform_id, from.device_id AS device_id,
       a.applied_at AS applied_at, a.amount AS amount, a.status AS status
"""
LIVE_DEVICE_APPLICATIONS = (
    """
UNWIND $ids AS key
MATCH (d:Device {device_id: key})
CALL {
  WITH d MATCH (d)<-[:FROM_DEVICE]-(a:Application)
  RETURN a ORDER BY a.applied_at DESC LIMIT $max_applications
}
WITH a"""
    + _LIVE_APPLICATION_ROW
)
LIVE_USER_APPLICATIONS = (
    """
UNWIND $ids AS key
MATCH (u:User {user_id: key})
CALL {
  WITH u MATCH (u)-[:SUBMITTED]->(a:Application)
  RETURN a ORDER BY a.applied_at DESC LIMIT $max_applications
}
WITH a"""
    + _LIVE_APPLICATION_ROW
)
LIVE_USERS = """
UNWIND $ids AS key
MATCH (u:User {user_id: key})
RETURN u.user_id AS user_id, u.registered_at AS registered_at, u.label AS label,
       u.label_at AS label_at
"""
#: Which of ``$ids`` name a User node (the online call's ties to known users).
LIVE_KNOWN_USERS = """
UNWIND $ids AS key
MATCH (u:User {user_id: key})
RETURN u.user_id AS user_id, u.registered_at AS registered_at
"""

__all__ += [
    "LIVE_DEVICE_APPLICATIONS",
    "LIVE_IDENTIFIER_USERS",
    "LIVE_KNOWN_USERS",
    "LIVE_SOCIAL",
    "LIVE_USERS",
    "LIVE_USER_APPLICATIONS",
]
