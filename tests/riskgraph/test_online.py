"""Online scoring against the live graph: ``FeatureProvider.score`` with a real Neo4j.

One nightly run with Neo4j on a small synthetic population (1,200 users over a year)
is shared by the module; tests that record applicants use ids and devices of their
own, so that the users the equality test scores see nothing new.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskgraph.errors import InputError, Neo4jUnavailableError
from riskgraph.graph import cypher
from riskgraph.graph.live import LiveLookup, live_neighbourhood
from riskgraph.loaders.synthetic import generate_population
from riskgraph.online import VELOCITY_COLUMNS
from riskgraph.provider import FeatureProvider
from riskgraph.runs import OutputRoot

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]

KEY = "online-test-key-0123456789abcdef"
USERS = 1_200
ATTRIBUTES = {
    "age_band": "25-34", "income_band": "10k-20k", "region": "tier2",
    "credit_history_months": "48", "past_loans": "2", "past_dues": "0", "utilization": "0.3",
}  # fmt: skip
SCORE_COLUMNS = [
    "user_id", "risk_score", "credit_score", "gnn_risk", "decision", "multi_borrowing",
    "ring_id", "reason_1", "reason_2", "reason_3",
]  # fmt: skip


@pytest.fixture(scope="module")
def night(tmp_path_factory, neo4j_driver, neo4j_connection):
    """(input dir, output root, run date) of one nightly run into a wiped Neo4j."""
    root = tmp_path_factory.mktemp("online")
    pop = generate_population(USERS, seed=7, days=365)
    pop.write(root / "input", truth_path=root / "truth.parquet")
    date = (pd.Timestamp(pop.end) + pd.Timedelta(days=1)).date()
    with neo4j_driver.session() as session:
        session.run(cypher.DELETE_ALL, batch_size=10_000).consume()
    neo4j_driver.execute_query(cypher.MARK_TEST_DATABASE)
    out = root / "out"
    env = {
        **os.environ,
        "RISKGRAPH_HMAC_KEY": KEY,
        "OMP_NUM_THREADS": "2",
        "RISKGRAPH_NEO4J_URI": neo4j_connection.uri,
        "RISKGRAPH_NEO4J_USER": neo4j_connection.user,
        "RISKGRAPH_NEO4J_PASSWORD": neo4j_connection.password,
    }
    command = [sys.executable, "-m", "riskgraph", "nightly", "--input", str(root / "input"),
               "--out", str(out), "--date", date.isoformat(), "--quiet"]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, cwd=root)
    assert done.returncode == 0, done.stderr
    return root / "input", out, date


def provider(out: Path, connection) -> FeatureProvider:
    return FeatureProvider(out, connection=connection, hmac_key=KEY.encode())


def input_rows(input_dir: Path, user_ids: list[str]) -> dict[str, pd.DataFrame]:
    """The input rows of ``user_ids`` exactly as the nightly job read them."""
    ids = set(user_ids)
    tables = {}
    for name in ("users", "user_devices", "user_accounts", "social", "applications"):
        frame = pd.read_csv(input_dir / f"{name}.csv", dtype=str, keep_default_na=False)
        if name == "social":
            keep = frame["src_user_id"].isin(ids) | frame["dst_user_id"].isin(ids)
        else:
            keep = frame["user_id"].isin(ids)
        tables[name] = frame.loc[keep].reset_index(drop=True)
    return tables


def test_a_user_of_last_nights_graph_with_nothing_new_gets_the_batch_scores(
    night, neo4j_connection
):
    input_dir, out, _ = night
    batch = pd.read_parquet(OutputRoot(out).run_dir(night[2]) / "scores.parquet")
    # Users of every decision, the riskiest included (their reasons are graph reasons).
    picked = pd.concat(
        [
            batch.nlargest(3, "risk_score"),
            batch.nsmallest(2, "risk_score"),
            batch.loc[batch["decision"] == "review"].head(2),
        ]
    )["user_id"].tolist()
    fp = provider(out, neo4j_connection)
    request = input_rows(input_dir, picked)
    online = fp.score(request)
    # One row per users row, in the request's order.
    assert online["user_id"].tolist() == request["users"]["user_id"].tolist()
    assert sorted(picked) == sorted(online["user_id"])
    expected = batch.set_index("user_id").loc[online["user_id"]].reset_index()
    np.testing.assert_allclose(online["risk_score"], expected["risk_score"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(online["gnn_risk"], expected["gnn_risk"], rtol=0, atol=1e-6)
    assert online["credit_score"].tolist() == expected["credit_score"].tolist()
    assert online["decision"].tolist() == expected["decision"].tolist()
    for column in ("reason_1", "reason_2", "reason_3", "ring_id"):
        assert online[column].fillna("").tolist() == expected[column].fillna("").tolist()
    assert list(online.columns[: len(SCORE_COLUMNS)]) == SCORE_COLUMNS
    assert set(VELOCITY_COLUMNS) <= set(online.columns)
    fp.close()


def applicant(
    user_id: str,
    at: pd.Timestamp,
    *,
    device: str | None = None,
    account: str | None = None,
    application_id: str | None = None,
    platform: str = "P-online",
) -> dict[str, pd.DataFrame]:
    """A brand-new applicant registering and applying at ``at``, with the attributes
    of a typical good applicant (the model reviews it: no credit history with us)."""
    stamp = at.isoformat()
    tables = {
        "users": pd.DataFrame([{"user_id": user_id, "registered_at": stamp, **ATTRIBUTES}]),
        "applications": pd.DataFrame(
            {
                "application_id": [application_id or f"APP-{user_id}"],
                "user_id": [user_id],
                "platform_id": [platform],
                "applied_at": [stamp],
                "amount": ["500"],
                "device_id": [device or ""],
            }
        ),
    }
    if device is not None:
        tables["user_devices"] = pd.DataFrame(
            {
                "user_id": [user_id],
                "device_id": [device],
                "first_seen": [stamp],
                "last_seen": [stamp],
            }
        )
    if account is not None:
        tables["user_accounts"] = pd.DataFrame(
            {"user_id": [user_id], "account_id": [account], "account_type": ["bank_card"],
             "linked_at": [stamp]}
        )  # fmt: skip
    return tables


def _run_as_of(out: Path, date: dt.date) -> pd.Timestamp:
    return pd.Timestamp(date, tz="UTC")


def test_a_new_applicant_on_a_known_bad_users_device_gets_that_reason(night, neo4j_connection):
    input_dir, out, date = night
    users = pd.read_csv(input_dir / "users.csv", dtype=str, keep_default_na=False)
    devices = pd.read_csv(input_dir / "user_devices.csv", dtype=str, keep_default_na=False)
    bad = users.loc[(users["label"] == "1") & (users["label_at"] < date.isoformat()), "user_id"]
    sharing = devices.groupby("device_id")["user_id"].transform("size")
    # A device of one known-bad user that nobody else uses: the link is the new one.
    device = devices.loc[devices["user_id"].isin(bad) & (sharing == 1), "device_id"].iloc[0]
    at = _run_as_of(out, date) + pd.Timedelta(hours=10)
    fp = provider(out, neo4j_connection)
    clean = fp.score(applicant("NEW-CLEAN-1", at, device="DEV-NEW-CLEAN"))
    linked = fp.score(applicant("NEW-BADDEV-1", at, device=device))
    reasons = linked[["reason_1", "reason_2", "reason_3"]].iloc[0].dropna().tolist()
    assert reasons[0] == "shares a device with 1 user who defaulted"
    assert linked["decision"].iloc[0] in ("review", "decline")
    assert "defaulted" not in " ".join(clean[["reason_1", "reason_2", "reason_3"]].iloc[0].dropna())
    fp.close()


def test_recording_is_idempotent_and_the_next_applicant_sees_the_recorded_one(
    night, neo4j_connection, neo4j_driver, neo4j_dump
):
    _, out, date = night
    at = _run_as_of(out, date) + pd.Timedelta(hours=9)
    fp = provider(out, neo4j_connection)
    before = neo4j_dump(neo4j_driver)
    first = fp.score(
        applicant("REC-1", at, device="DEV-REC", account="4000123412341234"), record=True
    )
    once = neo4j_dump(neo4j_driver)
    assert once != before
    again = fp.score(
        applicant("REC-1", at, device="DEV-REC", account="4000123412341234"), record=True
    )
    assert neo4j_dump(neo4j_driver) == once
    assert first["risk_score"].iloc[0] == pytest.approx(again["risk_score"].iloc[0], abs=1e-9)
    # Raw account numbers never reach Neo4j.
    assert not any("4000123412341234" in line for part in once for line in part)
    later = fp.score(
        applicant(
            "REC-2", at + pd.Timedelta(minutes=5), device="DEV-REC", account="4000123412341234"
        )
    )
    assert later["device_applications_1h"].iloc[0] == 2
    assert later["account_new_users_1d"].iloc[0] == 2
    fp.close()


@pytest.mark.parametrize(
    ("table", "column", "value", "message"),
    [
        ("users", "registered_at", "yesterday", r"users row 1: unparsable registered_at"),
        ("applications", "user_id", "NOBODY", r"applications row 1: unknown user_id 'NOBODY'"),
        ("applications", "applied_at", "", r"applications row 1: empty applied_at"),
    ],
)
def test_a_row_that_breaks_the_contract_names_table_row_and_column_and_nothing_is_recorded(
    night, neo4j_connection, neo4j_driver, neo4j_dump, table, column, value, message
):
    _, out, date = night
    tables = applicant("BAD-1", _run_as_of(out, date) + pd.Timedelta(hours=1), device="DEV-BAD")
    tables[table].loc[0, column] = value
    fp = provider(out, neo4j_connection)
    before = neo4j_dump(neo4j_driver)
    with pytest.raises(InputError, match=message):
        fp.score(tables, record=True)
    assert neo4j_dump(neo4j_driver) == before
    fp.close()


def test_neo4j_down_is_neo4j_unavailable(night, neo4j_proxy):
    _, out, date = night
    proxy, connection = neo4j_proxy
    fp = provider(out, connection)
    tables = applicant("DOWN-1", _run_as_of(out, date) + pd.Timedelta(hours=1), device="DEV-DOWN")
    fp.online_scorer().base_rows()
    proxy.cut()
    with pytest.raises(Neo4jUnavailableError, match=r"does not answer|failed"):
        fp.score(tables)
    fp.close()


def test_an_address_is_recorded_and_found_live_like_any_identifier_of_the_schema(
    night, neo4j_connection, neo4j_driver
):
    """``user_addresses``, an identifier table of the schema, travels the online path
    like devices: checked, recorded (pseudonymized), and looked up live."""
    _, out, date = night
    at = _run_as_of(out, date) + pd.Timedelta(hours=11)
    fp = provider(out, neo4j_connection)
    tables = applicant("ADDR-1", at, device="DEV-ADDR-1")
    tables["user_addresses"] = pd.DataFrame(
        {"user_id": ["ADDR-1"], "address_id": ["9 Quay St"], "declared_at": [at.isoformat()]}
    )
    fp.score(tables, record=True)
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (:User {user_id: 'ADDR-1'})-[:LIVES_AT]->(a:Address) RETURN a.address_id AS id"
    )
    stored = [r["id"] for r in records]
    assert len(stored) == 1 and stored[0] != "9 Quay St"
    live = live_neighbourhood(
        neo4j_driver, user_ids=[], identifier_ids={"addresses": stored}, lookup=LiveLookup()
    )
    assert live["user_addresses"]["user_id"].tolist() == ["ADDR-1"]
    assert "ADDR-1" in set(live["users"]["user_id"])
    fp.close()


def test_a_burst_on_one_phone_is_declined_online_from_the_fourth_application(
    night, neo4j_connection
):
    """20 new users apply from one phone within an hour; the nightly job alone
    would approve all of them until the next night (it has not seen them)."""
    _, out, date = night
    start = _run_as_of(out, date) + pd.Timedelta(hours=14)
    fp = provider(out, neo4j_connection)
    decisions, reasons = [], []
    for i in range(20):
        at = start + pd.Timedelta(minutes=3 * i)
        got = fp.score(applicant(f"BURST-{i:02d}", at, device="PHONE-BURST"), record=True)
        decisions.append(got["decision"].iloc[0])
        reasons.append(got["reason_1"].iloc[0])
    assert decisions[3:] == ["decline"] * 17
    # The first three: the model's own answer (a new user without history: review).
    assert "decline" not in decisions[:3]
    assert reasons[3] == "4th application from this device in the last hour"
    fp.close()


def test_the_service_answers_as_the_provider_and_names_a_bad_row(night, neo4j_connection):
    from fastapi.testclient import TestClient

    from riskgraph.serve import create_app

    _, out, date = night
    token = "online-service-token-0123456789"
    fp = provider(out, neo4j_connection)
    client = TestClient(create_app(fp, token), raise_server_exceptions=False)
    headers = {"Authorization": f"Bearer {token}"}
    tables = applicant("HTTP-1", _run_as_of(out, date) + pd.Timedelta(hours=2), device="DEV-HTTP")
    body = {"tables": {name: frame.to_dict(orient="records") for name, frame in tables.items()}}
    answer = client.post("/v1/score", headers=headers, json=body)
    assert answer.status_code == 200, answer.text
    row = answer.json()["scores"][0]
    direct = fp.score(tables).iloc[0]
    assert row["user_id"] == "HTTP-1"
    assert row["risk_score"] == pytest.approx(direct["risk_score"], abs=1e-9)
    assert row["decision"] == direct["decision"]
    assert isinstance(row["risky_links"], list)
    assert client.get("/healthz").json()["status"] == "ok"
    body["tables"]["applications"][0]["applied_at"] = "not a time"
    bad = client.post("/v1/score", headers=headers, json=body)
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("applications row 1: unparsable applied_at")
    fp.close()


def test_the_service_starts_on_the_neighbourhood_scope_its_config_tunes_ready_and_frozen(
    night, neo4j_connection, tmp_path, monkeypatch
):
    import gc

    import uvicorn
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from riskgraph.cli import app
    from riskgraph.online import OnlineScorer

    _, out, date = night
    token = "online-service-token-0123456789"
    config = tmp_path / "riskgraph.toml"
    config.write_text("[online.velocity]\ndevice_hour_decline = 2\n")
    for name, value in {
        "RISKGRAPH_API_TOKEN": token,
        "RISKGRAPH_HMAC_KEY": KEY,
        "RISKGRAPH_NEO4J_URI": neo4j_connection.uri,
        "RISKGRAPH_NEO4J_USER": neo4j_connection.user,
        "RISKGRAPH_NEO4J_PASSWORD": neo4j_connection.password,
    }.items():
        monkeypatch.setenv(name, value)
    opened: list[OnlineScorer] = []
    real_open = OnlineScorer.open

    def recorded_open(self: OnlineScorer) -> OnlineScorer:
        opened.append(self)
        return real_open(self)

    served: dict[str, object] = {}

    def run(application, **kwargs):  # instead of listening: what a request would meet
        served["frozen"] = gc.get_freeze_count()
        client = TestClient(application)
        at = _run_as_of(out, date) + pd.Timedelta(hours=4)
        decisions = []
        for i in range(2):  # two applications from one new device within the hour
            tables = applicant(f"SERVE-{i}", at + pd.Timedelta(minutes=i), device="DEV-SERVE")
            body = {
                "tables": {k: f.to_dict(orient="records") for k, f in tables.items()},
                "record": True,
            }
            answer = client.post(
                "/v1/score", headers={"Authorization": f"Bearer {token}"}, json=body
            )
            decisions.append(answer.json()["scores"][0]["decision"])
        served["decisions"] = decisions

    monkeypatch.setattr(OnlineScorer, "open", recorded_open)
    monkeypatch.setattr(uvicorn, "run", run)
    try:
        result = CliRunner().invoke(app, ["serve", "--out", str(out), "--config", str(config)])
    finally:
        gc.unfreeze()
    assert result.exit_code == 0, result.output
    assert "scope neighbourhood" in result.output
    (scorer,) = opened
    assert scorer.config.scope == "neighbourhood"
    assert scorer.config.velocity.device_hour_decline == 2
    # the walk's structures were built at start-up, before any request
    assert "_walks" in vars(scorer.base_index())
    assert served["frozen"] > 0
    # the first application from the device gets the model's answer, the second the rule's
    assert served["decisions"][0] != "decline"
    assert served["decisions"][1] == "decline"
