"""Every Cypher query of riskgraph, as named constants with ``$parameters``.

Values always travel as parameters, never by string formatting. Labels, relationship
types and property keys are fixed words of the graph model (docs/neo4j.md), written
out here; the few helpers below only splice those fixed words into query text when
this module is imported.

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

__all__ = [
    "AWAIT_INDEXES",
    "CONSTRAINTS",
    "COUNT_NODES_BY_LABEL",
    "COUNT_RELATIONSHIPS_BY_TYPE",
    "COUNT_STALE_WRITE_BACK",
    "CREATE_ACCOUNTS",
    "CREATE_APPLICATIONS",
    "CREATE_DEVICES",
    "CREATE_FROM_DEVICE",
    "CREATE_KNOWS",
    "CREATE_OWNS",
    "CREATE_PLATFORMS",
    "CREATE_RISK_LINKS",
    "CREATE_SUBMITTED",
    "CREATE_TO",
    "CREATE_USERS",
    "CREATE_USES",
    "DELETE_ALL",
    "DELETE_RISK_LINKS",
    "DELETE_STALE_FROM_DEVICE",
    "DELETE_STALE_MEMBERSHIPS",
    "DELETE_STALE_RINGS",
    "DELETE_STALE_SUBMITTED",
    "DELETE_STALE_TO",
    "DUMP_NODES",
    "DUMP_RELATIONSHIPS",
    "FIND_ACCOUNTS",
    "FIND_APPLICATIONS",
    "FIND_DEVICES",
    "FIND_PLATFORMS",
    "FIND_USERS",
    "IS_TEST_DATABASE",
    "MARK_MEMBERSHIPS_STALE",
    "MARK_RINGS_STALE",
    "MARK_TEST_DATABASE",
    "MERGE_FROM_DEVICE",
    "MERGE_KNOWS",
    "MERGE_MEMBERSHIPS",
    "MERGE_OWNS",
    "MERGE_SUBMITTED",
    "MERGE_TO",
    "MERGE_USES",
    "READ_ACCOUNTS",
    "READ_APPLICATIONS",
    "READ_DEVICES",
    "READ_FROM_DEVICE",
    "READ_KNOWS",
    "READ_META",
    "READ_OWNS",
    "READ_PLATFORMS",
    "READ_SUBMITTED",
    "READ_TO",
    "READ_USERS",
    "READ_USER_NUMBER_ATTRIBUTE",
    "READ_USER_TEXT_ATTRIBUTE",
    "READ_USES",
    "SERVER_COMPONENTS",
    "SET_KNOWN_BAD_LABELS",
    "SET_RING_LABELS",
    "SET_USER_FEATURES",
    "SET_USER_SCORES",
    "UPDATE_ACCOUNTS",
    "UPDATE_APPLICATIONS",
    "UPDATE_USERS",
    "UPSERT_RINGS",
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
#: A uniqueness constraint (and so an index) on every id of the graph model, on the ids
#: the pipeline writes back (Ring), and on the metadata node's name.
CONSTRAINTS = (
    "CREATE CONSTRAINT riskgraph_user_id IF NOT EXISTS FOR (n:User) REQUIRE n.user_id IS UNIQUE",
    "CREATE CONSTRAINT riskgraph_device_id IF NOT EXISTS "
    "FOR (n:Device) REQUIRE n.device_id IS UNIQUE",
    "CREATE CONSTRAINT riskgraph_account_id IF NOT EXISTS "
    "FOR (n:Account) REQUIRE n.account_id IS UNIQUE",
    "CREATE CONSTRAINT riskgraph_platform_id IF NOT EXISTS "
    "FOR (n:Platform) REQUIRE n.platform_id IS UNIQUE",
    "CREATE CONSTRAINT riskgraph_application_id IF NOT EXISTS "
    "FOR (n:Application) REQUIRE n.application_id IS UNIQUE",
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

# -- node upserts ------------------------------------------------------------------------
# Three steps per label: FIND_* (read only) returns the internal ids of the rows whose
# node exists already; CREATE_* creates the others and returns their ids; UPDATE_* sets
# the properties of the existing ones by id. Cheaper than MERGE (no locking index seek,
# no second lookup), and it tells the writer which nodes are new.
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
_USER_SET = f"""SET n += $attributes[i],
    n.registered_at = {_datetime("registered_at")},
    n.label = $label[i],
    n.label_at = {_datetime("label_at")}
"""
_ACCOUNT_SET = "SET n.account_type = $account_type[i]\n"
_APPLICATION_SET = f"""SET n.applied_at = {_datetime("applied_at")},
    n.amount = $amount[i],
    n.status = $status[i]
"""
FIND_USERS = _FIND.format(label="User", key="user_id")
CREATE_USERS = _CREATE.format(label="User", key="user_id", set=_USER_SET)
UPDATE_USERS = _UPDATE.format(label="User", set=_USER_SET)
FIND_DEVICES = _FIND.format(label="Device", key="device_id")
CREATE_DEVICES = _CREATE.format(label="Device", key="device_id", set="")
FIND_ACCOUNTS = _FIND.format(label="Account", key="account_id")
CREATE_ACCOUNTS = _CREATE.format(label="Account", key="account_id", set=_ACCOUNT_SET)
UPDATE_ACCOUNTS = _UPDATE.format(label="Account", set=_ACCOUNT_SET)
FIND_PLATFORMS = _FIND.format(label="Platform", key="platform_id")
CREATE_PLATFORMS = _CREATE.format(label="Platform", key="platform_id", set="")
FIND_APPLICATIONS = _FIND.format(label="Application", key="application_id")
CREATE_APPLICATIONS = _CREATE.format(
    label="Application", key="application_id", set=_APPLICATION_SET
)
UPDATE_APPLICATIONS = _UPDATE.format(label="Application", set=_APPLICATION_SET)

# -- relationship writes ------------------------------------------------------------------
# CREATE_* for rows with at least one endpoint created by this load (the relationship
# cannot exist yet), MERGE_* for the rest. $src and $dst are internal node ids.
_ENDPOINTS = """
UNWIND range(0, size($src) - 1) AS i
MATCH (a:{a}) WHERE id(a) = $src[i]
MATCH (b:{b}) WHERE id(b) = $dst[i]
"""


def _endpoints(a: str, b: str) -> str:
    return _ENDPOINTS.format(a=a, b=b)


_USES_SET = f"SET r.first_seen = {_datetime('first_seen')}, r.last_seen = {_datetime('last_seen')}"
CREATE_USES = _endpoints("User", "Device") + "CREATE (a)-[r:USES]->(b)\n" + _USES_SET
MERGE_USES = _endpoints("User", "Device") + "MERGE (a)-[r:USES]->(b)\n" + _USES_SET

_OWNS_SET = f"SET r.linked_at = {_datetime('linked_at')}"
CREATE_OWNS = _endpoints("User", "Account") + "CREATE (a)-[r:OWNS]->(b)\n" + _OWNS_SET
MERGE_OWNS = _endpoints("User", "Account") + "MERGE (a)-[r:OWNS]->(b)\n" + _OWNS_SET

CREATE_KNOWS = (
    _endpoints("User", "User")
    + "CREATE (a)-[r:KNOWS]->(b)\n"
    + f"SET r.tie_type = $tie_type[i], r.created_at = {_datetime('created_at')}, "
    "r.weight = $weight[i]"
)
# A social tie is keyed by (src, dst, tie_type) and tie_type may be null, which MERGE
# cannot match on: find the tie by hand and create it only when it is absent.
MERGE_KNOWS = (
    _endpoints("User", "User")
    + """OPTIONAL MATCH (a)-[old:KNOWS]->(b)
WHERE old.tie_type = $tie_type[i] OR (old.tie_type IS NULL AND $tie_type[i] IS NULL)
WITH a, b, i, head(collect(old)) AS old
FOREACH (_ IN CASE WHEN old IS NULL THEN [1] ELSE [] END |
  CREATE (a)-[:KNOWS {tie_type: $tie_type[i], created_at: """
    + _datetime("created_at")
    + """, weight: $weight[i]}]->(b))
SET old.created_at = """
    + _datetime("created_at")
    + ", old.weight = $weight[i]"
)

CREATE_SUBMITTED = _endpoints("User", "Application") + "CREATE (a)-[:SUBMITTED]->(b)"
MERGE_SUBMITTED = _endpoints("User", "Application") + "MERGE (a)-[:SUBMITTED]->(b)"
CREATE_TO = _endpoints("Application", "Platform") + "CREATE (a)-[:TO]->(b)"
MERGE_TO = _endpoints("Application", "Platform") + "MERGE (a)-[:TO]->(b)"
CREATE_FROM_DEVICE = _endpoints("Application", "Device") + "CREATE (a)-[:FROM_DEVICE]->(b)"
MERGE_FROM_DEVICE = _endpoints("Application", "Device") + "MERGE (a)-[:FROM_DEVICE]->(b)"

# An application has one user, one platform and at most one device; reloading it with
# other ones replaces them (run before the MERGE_* above, for applications that existed).
DELETE_STALE_SUBMITTED = """
UNWIND range(0, size($src) - 1) AS i
MATCH (u:User)-[r:SUBMITTED]->(a:Application)
WHERE id(a) = $dst[i] AND id(u) <> $src[i]
DELETE r
"""
DELETE_STALE_TO = """
UNWIND range(0, size($src) - 1) AS i
MATCH (a:Application)-[r:TO]->(p:Platform)
WHERE id(a) = $src[i] AND id(p) <> $dst[i]
DELETE r
"""
DELETE_STALE_FROM_DEVICE = """
UNWIND range(0, size($src) - 1) AS i
MATCH (a:Application)-[r:FROM_DEVICE]->(d:Device)
WHERE id(a) = $src[i] AND ($dst[i] IS NULL OR id(d) <> $dst[i])
DELETE r
"""

# -- reads: one record of parallel lists per query ----------------------------------------
READ_USERS = f"""
MATCH (n:User)
RETURN collect(id(n)) AS node_id,
       collect(coalesce(n.user_id, '')) AS user_id,
       collect({_ticks("n.registered_at")}) AS registered_at,
       collect(CASE WHEN n.label IS NULL THEN -1 WHEN n.label IN [0, 1] THEN toInteger(n.label)
                    ELSE -2 END) AS label,
       collect({_ticks("n.label_at")}) AS label_at
"""
READ_USER_NUMBER_ATTRIBUTE = f"""
MATCH (n:User)
RETURN collect(id(n)) AS node_id, collect({_number("n[$key]")}) AS value
"""
READ_USER_TEXT_ATTRIBUTE = """
MATCH (n:User)
RETURN collect(id(n)) AS node_id, collect(coalesce(n[$key], '')) AS value,
       collect(n[$key] IS NULL) AS missing
"""
READ_DEVICES = """
MATCH (n:Device)
RETURN collect(id(n)) AS node_id, collect(coalesce(n.device_id, '')) AS device_id
"""
READ_ACCOUNTS = """
MATCH (n:Account)
RETURN collect(id(n)) AS node_id, collect(coalesce(n.account_id, '')) AS account_id,
       collect(coalesce(n.account_type, '')) AS account_type,
       collect(n.account_type IS NULL) AS account_type_missing
"""
READ_PLATFORMS = """
MATCH (n:Platform)
RETURN collect(id(n)) AS node_id, collect(coalesce(n.platform_id, '')) AS platform_id
"""
READ_APPLICATIONS = f"""
MATCH (n:Application)
RETURN collect(id(n)) AS node_id,
       collect(coalesce(n.application_id, '')) AS application_id,
       collect({_ticks("n.applied_at")}) AS applied_at,
       collect({_number("n.amount")}) AS amount,
       collect(coalesce(n.status, '')) AS status,
       collect(n.status IS NULL) AS status_missing
"""
# Relationships are read by type (a relationship type scan, three times faster here than
# expanding from labelled nodes); the reader checks that every endpoint is a node of the
# expected label.
READ_USES = f"""
MATCH ()-[r:USES]->()
RETURN collect(id(startNode(r))) AS src, collect(id(endNode(r))) AS dst,
       collect({_ticks("r.first_seen")}) AS first_seen,
       collect({_ticks("r.last_seen")}) AS last_seen
"""
READ_OWNS = f"""
MATCH ()-[r:OWNS]->()
RETURN collect(id(startNode(r))) AS src, collect(id(endNode(r))) AS dst,
       collect({_ticks("r.linked_at")}) AS linked_at
"""
READ_KNOWS = f"""
MATCH ()-[r:KNOWS]->()
RETURN collect(id(startNode(r))) AS src, collect(id(endNode(r))) AS dst,
       collect(coalesce(r.tie_type, '')) AS tie_type,
       collect(r.tie_type IS NULL) AS tie_type_missing,
       collect({_ticks("r.created_at")}) AS created_at,
       collect({_number("r.weight")}) AS weight
"""
READ_SUBMITTED = """
MATCH ()-[r:SUBMITTED]->()
RETURN collect(id(startNode(r))) AS src, collect(id(endNode(r))) AS dst
"""
READ_TO = """
MATCH ()-[r:TO]->()
RETURN collect(id(startNode(r))) AS src, collect(id(endNode(r))) AS dst
"""
READ_FROM_DEVICE = """
MATCH ()-[r:FROM_DEVICE]->()
RETURN collect(id(startNode(r))) AS src, collect(id(endNode(r))) AS dst
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
_RING_PROPERTIES = (
    "size",
    "known_count",
    "bad_count",
    "bad_rate",
    "platforms",
    "applications",
    "applicants",
    "registration_span_days",
    "registration_burst_share",
    "application_burst_share",
    "shared_identifiers",
    "flagged",
)
MARK_RINGS_STALE = """
MATCH (r:Ring)
CALL { WITH r SET r.stale = true } IN TRANSACTIONS OF $batch_size ROWS
"""
UPSERT_RINGS = f"""
UNWIND range(0, size($ring_id) - 1) AS i
MERGE (r:Ring {{ring_id: $ring_id[i]}})
SET {_set_columns("r", _RING_PROPERTIES)},
    r.first_registered_at = {_datetime("first_registered_at")},
    r.last_registered_at = {_datetime("last_registered_at")},
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
_SCORE_PROPERTIES = (
    "risk_score",
    "credit_score",
    "gnn_risk",
    "decision",
    "reason_1",
    "reason_2",
    "reason_3",
)
SET_USER_SCORES = f"""
UNWIND range(0, size($user_id) - 1) AS i
MATCH (u:User {{user_id: $user_id[i]}})
REMOVE u:RiskLow:RiskMedium:RiskHigh
SET {_set_columns("u", _SCORE_PROPERTIES)},
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
SET {_set_columns("l", ("score", "via_type", "via_id"))},
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
LIVE_DEVICE_USERS = """
UNWIND $ids AS key
MATCH (d:Device {device_id: key})
CALL { WITH d MATCH (u:User)-[r:USES]->(d) RETURN u, r ORDER BY u.user_id LIMIT $cap }
RETURN u.user_id AS user_id, d.device_id AS device_id,
       r.first_seen AS first_seen, r.last_seen AS last_seen
"""
LIVE_ACCOUNT_USERS = """
UNWIND $ids AS key
MATCH (n:Account {account_id: key})
CALL { WITH n MATCH (u:User)-[r:OWNS]->(n) RETURN u, r ORDER BY u.user_id LIMIT $cap }
RETURN u.user_id AS user_id, n.account_id AS account_id, n.account_type AS account_type,
       r.linked_at AS linked_at
"""
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
    "LIVE_ACCOUNT_USERS",
    "LIVE_DEVICE_APPLICATIONS",
    "LIVE_DEVICE_USERS",
    "LIVE_KNOWN_USERS",
    "LIVE_SOCIAL",
    "LIVE_USERS",
    "LIVE_USER_APPLICATIONS",
]
