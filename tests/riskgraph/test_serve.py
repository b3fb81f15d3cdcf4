"""`riskgraph serve` without Neo4j: the token, bad JSON, Neo4j down, last night's answer.

The scoring endpoint against a real Neo4j is tested in test_online.py.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from riskgraph.errors import ConfigError
from riskgraph.graph.connection import ConnectionSettings
from riskgraph.provider import FeatureProvider
from riskgraph.serve import ENV_API_TOKEN, create_app, resolve_api_token

sys.path.insert(0, str(Path(__file__).parent))
from test_provider import publish

TOKEN = "serve-test-token-0123456789"
DAY = dt.date(2026, 6, 1)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    """The service over a published run, with Neo4j at a port where nothing listens."""
    publish(tmp_path, DAY, ["U1", "U2", "U3"])
    nowhere = ConnectionSettings(
        uri=f"bolt://127.0.0.1:{_closed_port()}", user="neo4j", password="x", source="test"
    )
    fp = FeatureProvider(tmp_path, connection=nowhere, hmac_key=b"k" * 32)
    return TestClient(create_app(fp, TOKEN), raise_server_exceptions=False)


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


BODY = {"tables": {"users": [{"user_id": "N1", "registered_at": "2026-06-01T10:00:00Z"}]}}


@pytest.mark.parametrize("headers", [{}, _auth("wrong-token-0123456789"), {"Authorization": TOKEN}])
def test_a_missing_or_wrong_token_is_refused(client, headers):
    for method, path, kwargs in (
        ("post", "/v1/score", {"json": BODY}),
        ("get", "/v1/users/U1", {}),
    ):
        answer = getattr(client, method)(path, headers=headers, **kwargs)
        assert answer.status_code == 401, answer.text
        assert answer.json() == {"detail": "missing or wrong bearer token"}


def test_last_nights_answer_with_the_token(client):
    answer = client.get("/v1/users/U3", headers=_auth())
    assert answer.status_code == 200
    body = answer.json()
    assert body["user_id"] == "U3"
    assert body["decision"] == "decline"
    assert body["run_date"] == DAY.isoformat()
    assert {link["other_user_id"] for link in body["risky_links"]} == {"U1", "U2"}
    missing = client.get("/v1/users/NOBODY", headers=_auth())
    assert missing.status_code == 404
    assert "NOBODY" in missing.json()["detail"]


def test_a_body_that_is_not_the_schema_is_422_naming_the_field(client):
    answer = client.post("/v1/score", headers=_auth(), json={"tables": {"users": "N1"}})
    assert answer.status_code == 422
    fields = [e["field"] for e in answer.json()["detail"]]
    assert "body.tables.users" in fields
    answer = client.post("/v1/score", headers=_auth(), json={"record": "maybe", **BODY})
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["detail"]] == ["body.record"]


def test_neo4j_down_is_503_with_one_line_and_no_traceback(client):
    answer = client.post("/v1/score", headers=_auth(), json=BODY)
    assert answer.status_code == 503
    detail = answer.json()["detail"]
    assert "does not answer" in detail
    assert "\n" not in detail and "Traceback" not in answer.text
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json()["status"] == "down"


def test_every_request_leaves_one_json_access_line(client, caplog):
    with caplog.at_level(logging.INFO, logger="riskgraph.access"):
        client.get("/v1/users/U1", headers=_auth())
        client.get("/v1/users/U1")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "riskgraph.access"]
    assert [(x["path"], x["status"]) for x in lines] == [("/v1/users/U1", 200)] * 1 + [
        ("/v1/users/U1", 401)
    ]
    assert all(x["method"] == "GET" and x["ms"] >= 0 for x in lines)
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


def test_the_openapi_schema_lists_the_endpoints(client):
    schema = client.get("/openapi.json").json()
    assert {"/v1/score", "/v1/users/{user_id}", "/healthz"} <= set(schema["paths"])


def test_the_token_comes_from_the_environment_or_a_private_file(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_API_TOKEN, raising=False)
    with pytest.raises(ConfigError, match="no API token"):
        resolve_api_token({})
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        resolve_api_token({"serve": {"token_file": str(path)}})
    path.chmod(0o600)
    assert resolve_api_token({"serve": {"token_file": str(path)}}) == TOKEN
    monkeypatch.setenv(ENV_API_TOKEN, "short")
    with pytest.raises(ConfigError, match="shorter than 16"):
        resolve_api_token({})


def test_a_config_file_with_a_serve_table_still_configures_the_nightly_job(tmp_path):
    from riskgraph.pipeline import PipelineConfig

    path = tmp_path / "riskgraph.toml"
    path.write_text(
        '[serve]\ntoken_file = "/etc/riskgraph/api.token"\n'
        '[online]\nscope = "graph"\n[online.velocity]\ndevice_hour_decline = 3\n'
    )
    assert PipelineConfig.from_file(path) == PipelineConfig()


@pytest.mark.parametrize(
    ("table", "option", "named"),
    [
        ('[online]\nscope = "everything"\n', [], "online.scope = 'everything'"),
        ("", ["--scope", "everything"], "online.scope = 'everything'"),
        (
            "[online.velocity]\ndevice_hour_decline = -1\n",
            [],
            "online.velocity.device_hour_decline",
        ),
        ("[online]\nhop = 3\n", [], "unknown key(s) ['hop']"),
    ],
)
def test_the_service_refuses_bad_online_settings_naming_them(
    tmp_path, monkeypatch, table, option, named
):
    from typer.testing import CliRunner

    from riskgraph.cli import app

    publish(tmp_path, DAY, ["U1", "U2", "U3"])
    config = tmp_path / "riskgraph.toml"
    config.write_text(table)
    monkeypatch.setenv(ENV_API_TOKEN, TOKEN)
    monkeypatch.setenv("RISKGRAPH_HMAC_KEY", "serve-test-key-0123456789abcdef")
    result = CliRunner().invoke(
        app, ["serve", "--out", str(tmp_path), "--config", str(config), *option]
    )
    assert result.exit_code == 78, result.output  # configuration: one line, no traceback
    assert named in result.output
    assert "Traceback" not in result.output


def test_the_service_without_a_run_to_answer_from_exits_66_with_one_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from riskgraph.cli import EXIT_NO_INPUT, app

    monkeypatch.setenv(ENV_API_TOKEN, TOKEN)
    monkeypatch.setenv("RISKGRAPH_HMAC_KEY", "serve-test-key-0123456789abcdef")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["serve", "--out", str(tmp_path / "out")])
    assert result.exit_code == EXIT_NO_INPUT == 66
    assert result.output.startswith("error: ") and "no complete nightly run" in result.output
    assert "Traceback" not in result.output
