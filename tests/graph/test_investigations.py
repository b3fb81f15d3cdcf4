"""The Neo4j Browser investigation queries: the file's format, and every query on a real run.

The parser tests use small files written here. The ``neo4j`` test runs ``riskgraph
nightly`` on a small synthetic population against the test server, then every block of
the packaged ``investigations.cypher`` the way Browser does (examples evaluated with
``RETURN <expr>``), and checks that each returns rows of the promised shape.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import neo4j
import neo4j.time
import pandas as pd
import pytest

from riskgraph.errors import ConfigError
from riskgraph.graph.investigations import (
    ColumnSpec,
    browser_file,
    load_investigations,
    resolve_parameters,
    run_investigation,
    shape_errors,
)
from riskgraph.graph.writeback import RING_LARGE_SIZE, RING_MEDIUM_SIZE
from riskgraph.loaders.synthetic import generate_population

#: What issue 7 asks the kit to cover, by block name.
REQUIRED = (
    "ring-around-user",
    "intermediary-devices",
    "multi-borrowers-last-week",
    "risky-links",
    "shares-card-with-bad",
    "neighbourhood",
)
GOOD_BLOCK = """\
// == one-user: One user
// Shows the user.
// Returns: user User, credit_score integer?
:param user_id => 'u1';
MATCH (user:User {user_id: $user_id})
RETURN user, user.credit_score AS credit_score;
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kit.cypher"
    path.write_text(text, encoding="utf-8")
    return path


# -- the file format ------------------------------------------------------------------------
def test_packaged_file_has_every_required_investigation_with_header_and_shape():
    kit = load_investigations()
    assert set(REQUIRED) <= set(kit)
    for investigation in kit.values():
        assert investigation.title and investigation.description, investigation.name
        assert investigation.returns, investigation.name
        assert investigation.query.lstrip().upper().startswith("MATCH"), investigation.name
    # The pictures an investigator opens draw a graph; the lists are tables.
    for name in ("ring-around-user", "risky-links", "neighbourhood"):
        assert kit[name].draws_graph, name
    for name in ("intermediary-devices", "multi-borrowers-last-week", "shares-card-with-bad"):
        assert not kit[name].draws_graph, name
    # Weeks are measured from the run that scored the user, never from the clock.
    assert "duration({days: 7})" in kit["multi-borrowers-last-week"].query
    assert "datetime()" not in "".join(i.query for i in kit.values())


def test_a_block_parses_into_title_parameters_shape_and_query(tmp_path):
    [block] = load_investigations(write(tmp_path, "// preamble\n\n" + GOOD_BLOCK)).values()
    assert block.name == "one-user"
    assert block.title == "One user"
    assert block.description == "Shows the user."
    assert block.parameters == {"user_id": "'u1'"}
    assert block.returns == (
        ColumnSpec("user", ("User",), False),
        ColumnSpec("credit_score", ("integer",), True),
    )
    assert block.query == (
        "MATCH (user:User {user_id: $user_id})\nRETURN user, user.credit_score AS credit_score"
    )
    assert block.line == 3
    assert block.browser_text({"user_id": "'U9'"}) == (
        ":param user_id => 'U9';\n" + block.query + ";"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD_BLOCK.replace("// Returns: user User, credit_score integer?\n", ""),
         r"kit.cypher:3 \(one-user\): expected a '// Returns: \.\.\.' line"),
        (GOOD_BLOCK.replace("integer?", "integr?"), r"column 'credit_score' has unknown kind 'integr'"),
        (GOOD_BLOCK.replace("user User", "user Usr"), r"unknown kind 'Usr'"),
        (GOOD_BLOCK.replace(":param user_id => 'u1';\n", ""),
         r"uses \$user_id without a ':param' line"),
        (GOOD_BLOCK.replace("AS credit_score;", "AS credit_score"), r"must end with ';'"),
        (GOOD_BLOCK.replace("=> 'u1';", "=> 'u1'"), r"expected ':param <name> => <expression>;'"),
        (GOOD_BLOCK + "\n" + GOOD_BLOCK, r"kit.cypher:8: investigation 'one-user' already defined at line 1"),
        ("// just a comment\nMATCH (n) RETURN n;\n", r"no investigation block"),
    ],
)  # fmt: skip
def test_malformed_files_are_refused_naming_file_line_and_problem(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_investigations(write(tmp_path, text))


def test_the_schema_s_labels_and_relationships_are_kinds_a_column_may_return(tmp_path):
    # An input table added to the schema (user_addresses) is visible to the kit at once.
    text = GOOD_BLOCK.replace(
        "user User, credit_score integer?", "user User, at Address, how LIVES_AT"
    )
    [block] = load_investigations(write(tmp_path, text)).values()
    assert [c.kinds for c in block.returns] == [("User",), ("Address",), ("LIVES_AT",)]


def test_missing_kit_file_is_named():
    with pytest.raises(ConfigError, match=r"nothing\.grass: no such file"):
        browser_file("nothing.grass")


def test_column_kinds_accept_their_values_only():
    integer = ColumnSpec("n", ("integer",), False)
    assert integer.accepts(3)
    assert not integer.accepts(True)  # a bool is an int in Python, never in Cypher
    assert not integer.accepts(None)
    assert not integer.accepts(2.5)
    assert ColumnSpec("n", ("number",), True).accepts(2.5)
    assert ColumnSpec("n", ("number",), True).accepts(None)
    assert ColumnSpec("t", ("datetime",), False).accepts(neo4j.time.DateTime(2026, 7, 1))
    assert not ColumnSpec("t", ("datetime",), False).accepts("2026-07-01")


# -- every query on a real run -----------------------------------------------------------------
KEY = "investigations-test-key-0123456789"


@pytest.fixture(scope="module")
def nightly_in_neo4j(fresh_database, neo4j_connection, tmp_path_factory):
    """A small population scored by ``riskgraph nightly`` into the (wiped) test database."""
    root = tmp_path_factory.mktemp("investigations")
    # 3,000 users over a year hold every pattern the queries look for (flagged rings,
    # intermediaries, multi-borrowers in the last week, cards shared with bad users).
    population = generate_population(3_000, seed=11, days=365)
    population.write(root / "input", truth_path=root / "truth.parquet")
    run_date = (pd.Timestamp(population.end) + pd.Timedelta(days=1)).date()
    done = _nightly(root / "input", root / "out", run_date, neo4j_connection)
    assert done.returncode == 0, done.stderr[-3000:]
    return fresh_database, neo4j_connection.database, run_date


@pytest.fixture(scope="module")
def fresh_database(neo4j_driver, neo4j_connection):
    """The test database wiped once for the module (``neo4j_db`` wipes before each test;
    here one nightly run serves every query)."""
    from riskgraph.graph import cypher

    database = neo4j_connection.database
    records, _, _ = neo4j_driver.execute_query(cypher.IS_TEST_DATABASE, database_=database)
    if records[0]["nodes"] and not records[0]["marked"]:
        pytest.fail(
            f"database {database!r} at {neo4j_connection.uri} holds data the tests did not "
            "write; point RISKGRAPH_TEST_NEO4J_URI or RISKGRAPH_NEO4J_HOME at a scratch server",
            pytrace=False,
        )
    with neo4j_driver.session(database=database) as session:
        session.run(cypher.DELETE_ALL, batch_size=10_000).consume()
    neo4j_driver.execute_query(cypher.MARK_TEST_DATABASE, database_=database)
    return neo4j_driver


def _nightly(input_dir: Path, out: Path, date: dt.date, connection) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "RISKGRAPH_HMAC_KEY": KEY,
        "OMP_NUM_THREADS": "2",
        "RISKGRAPH_NEO4J_URI": connection.uri,
        "RISKGRAPH_NEO4J_USER": connection.user,
        "RISKGRAPH_NEO4J_PASSWORD": connection.password,
    }
    command = [sys.executable, "-m", "riskgraph", "nightly", "--input", str(input_dir),
               "--out", str(out), "--date", date.isoformat(), "--quiet"]  # fmt: skip
    # Outside the checkout: there `python -m` would import the source folder riskgraph/.
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=1200, cwd=out.parent
    )


@pytest.mark.neo4j
@pytest.mark.slow
@pytest.mark.parametrize("name", list(load_investigations()))
def test_every_investigation_returns_rows_of_its_promised_shape(nightly_in_neo4j, name):
    driver, database, _ = nightly_in_neo4j
    investigation = load_investigations()[name]
    parameters = resolve_parameters(driver, investigation, database=database)
    for param, value in parameters.items():
        assert value is not None, f"the example of ${param} found nothing"
    records, keys = run_investigation(driver, investigation, parameters, database=database)
    assert records, f"{name} returned no rows"
    assert shape_errors(investigation, keys, records) == []


@pytest.mark.neo4j
@pytest.mark.slow
def test_results_mean_what_the_headers_say(nightly_in_neo4j):
    driver, database, run_date = nightly_in_neo4j
    kit = load_investigations()

    def run(name, **params):
        return run_investigation(driver, kit[name], params or None, database=database)[0]

    # The ring of the example user holds that user, and one Ring node only.
    ring_rows = run("ring-around-user")
    user_id = resolve_parameters(driver, kit["ring-around-user"], database=database)["user_id"]
    assert user_id in {r["member"]["user_id"] for r in ring_rows}
    assert len({r["ring"].element_id for r in ring_rows}) == 1
    # Multi-borrowers: the window is the week before the run, and the count holds.
    as_of = dt.datetime(run_date.year, run_date.month, run_date.day, tzinfo=dt.UTC)
    for row in run("multi-borrowers-last-week"):
        assert row["platforms"] >= 3
        assert as_of - dt.timedelta(days=7) <= row["first_application"].to_native()
        assert row["last_application"].to_native() < as_of
    # Risky links all start at the declined applicant.
    for row in run("risky-links"):
        assert row["applicant"]["decision"] == "decline"
        assert row["link"].start_node.element_id == row["applicant"].element_id
    # A user asked for by id gets that user's neighbourhood, and nobody else's.
    some_user = run("declined-tonight")[0]["user_id"]
    rows = run("neighbourhood", user_id=some_user, max_sharing=20)
    assert {r["user"]["user_id"] for r in rows} == {some_user}
    # Cards shared with known-bad users: the user is not known bad, the others are,
    # i.e. labelled bad before the run's cut-off (the KnownBad label of the write-back).
    shared = run("shares-card-with-bad", account_type="bank_card")
    assert shared
    bad_ids = {b for row in shared for b in row["known_bad_users"]}
    for row in shared:
        assert row["known_bad_users"] and row["user_id"] not in row["known_bad_users"]
    records, _, _ = driver.execute_query(
        "MATCH (u:User) WHERE u.user_id IN $ids RETURN u.label AS label, u.label_at AS at",
        ids=sorted(bad_ids),
        database_=database,
    )
    assert len(records) == len(bad_ids)
    assert all(r["label"] == 1 and r["at"].to_native() < as_of for r in records)
    # Ring labels the style file sizes and colours by follow the ring's properties.
    rings = run("largest-rings")
    assert rings
    for ring in {row["ring"].element_id: row["ring"] for row in rings}.values():
        size = ring["size"]
        assert ("RingLarge" in ring.labels) == (size >= RING_LARGE_SIZE), dict(ring)
        assert ("RingMedium" in ring.labels) == (RING_MEDIUM_SIZE <= size < RING_LARGE_SIZE)
        assert ("RingFlagged" in ring.labels) == ring["flagged"]


def test_shape_check_reports_a_wrong_column_and_a_wrong_kind(tmp_path):
    [block] = load_investigations(write(tmp_path, GOOD_BLOCK)).values()
    records = [neo4j.Record({"user": "x", "credit_score": 1})]
    assert shape_errors(block, ["user", "credit_score"], records) == [
        "one-user: column 'user' expected User, 1 of 1 rows are not, e.g. 'x'"
    ]
    assert shape_errors(block, ["credit_score"], records) == [
        "one-user: columns ['credit_score'], expected ['user', 'credit_score']"
    ]
    assert shape_errors(block, ["user", "credit_score"], []) == []
