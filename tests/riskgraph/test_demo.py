"""``riskgraph demo`` end to end on a small population: two nights, and a summary that
says where to look (Browser address and login, the style file, three kit queries)."""

from __future__ import annotations

import pandas as pd
import pytest
from rich.console import Console

from riskgraph.demo import BROWSER_QUERIES, run_demo, summary_renderables
from riskgraph.graph import server
from riskgraph.graph.investigations import load_investigations

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


def test_demo_runs_two_nights_and_prints_where_to_look(
    tmp_path, local_neo4j, neo4j_db, monkeypatch
):
    # the demo finds the server the way a user's shell would: home and ports
    monkeypatch.setenv(server.ENV_BOLT_PORT, str(local_neo4j.bolt_port))
    monkeypatch.setenv(server.ENV_HTTP_PORT, str(local_neo4j.http_port))
    for name in ("RISKGRAPH_NEO4J_URI", "RISKGRAPH_NEO4J_USER", "RISKGRAPH_NEO4J_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    lines: list[str] = []
    result = run_demo(tmp_path / "demo", users=2_000, home=local_neo4j.home, echo=lines.append)

    assert [r.status for r in result.runs] == ["published", "published"]
    assert result.runs[0].run_date < result.runs[1].run_date
    users = pd.read_csv(result.input_dir / "users.csv", dtype=str)["user_id"]
    assert sorted(result.scores["user_id"]) == sorted(users)
    assert (result.out_root / "latest" / "changes.parquet").is_file()
    counts, _, _ = neo4j_db.execute_query("MATCH (u:User) RETURN count(u) AS n")
    assert counts[0]["n"] >= len(users)

    console = Console(record=True, width=240)
    for renderable in summary_renderables(result):
        console.print(renderable)
    text = console.export_text()
    assert result.browser_url in text
    assert result.password in text and str(result.password_file) in text
    assert "riskgraph.grass" in text
    kit = load_investigations()
    for name in BROWSER_QUERIES:
        assert kit[name].title in text
        assert kit[name].query.splitlines()[0] in text
