"""notebooks/01_explore.ipynb, executed on a small nightly run against the test server.

``riskgraph nightly`` scores a generated population of 3,000 users into the (wiped) test
database; the notebook then runs top to bottom with nbclient, pointed at that run by
``RISKGRAPH_OUT`` and at the test server by ``RISKGRAPH_NEO4J_*``. Its last cell prints
what it found in the files and in Neo4j; the test checks those figures against the
run's own files.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from riskgraph.loaders.synthetic import generate_population

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "01_explore.ipynb"
KEY = "notebook-test-key-0123456789abcdef"


def test_committed_notebook_has_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
    tags = [tag for cell in code for tag in cell.metadata.get("tags", [])]
    assert tags.count("checks") == 1 and tags.count("plot") >= 3


@pytest.mark.neo4j
@pytest.mark.slow
def test_notebook_runs_on_a_small_run_and_agrees_with_the_outputs(
    neo4j_db, neo4j_connection, tmp_path, monkeypatch
):
    population = generate_population(3_000, seed=11, days=365)
    population.write(tmp_path / "input", truth_path=tmp_path / "truth.parquet")
    run_date = (pd.Timestamp(population.end) + pd.Timedelta(days=1)).date()
    neo4j_env = {
        "RISKGRAPH_NEO4J_URI": neo4j_connection.uri,
        "RISKGRAPH_NEO4J_USER": neo4j_connection.user,
        "RISKGRAPH_NEO4J_PASSWORD": neo4j_connection.password,
        "RISKGRAPH_NEO4J_DATABASE": neo4j_connection.database,
    }
    out = tmp_path / "out"
    command = [sys.executable, "-m", "riskgraph", "nightly", "--input", str(tmp_path / "input"),
               "--out", str(out), "--date", run_date.isoformat(), "--quiet"]  # fmt: skip
    done = subprocess.run(
        command,
        env={**os.environ, **neo4j_env, "RISKGRAPH_HMAC_KEY": KEY, "OMP_NUM_THREADS": "2"},
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=tmp_path,  # outside the checkout, whose riskgraph/ folder would shadow the package
    )
    assert done.returncode == 0, done.stderr[-3000:]

    # The kernel inherits this process's environment: the notebook's only parameters.
    monkeypatch.setenv("RISKGRAPH_OUT", str(out))
    for name, value in neo4j_env.items():
        monkeypatch.setenv(name, value)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()  # raises CellExecutionError, naming the cell, on any error

    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    for cell in code:
        if "plot" in cell.metadata.get("tags", []):
            images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
            assert images, f"no figure from {cell.source[:60]!r}"
            assert len(base64.b64decode(images[0]["data"]["image/png"])) > 10_000  # not blank
    [checks_cell] = [c for c in code if "checks" in c.metadata.get("tags", [])]
    text = "".join(o["text"] for o in checks_cell.outputs if o["output_type"] == "stream")
    checks = json.loads(text)

    run_dir = out / "latest"
    scores = pd.read_parquet(run_dir / "scores.parquet")
    features = pd.read_parquet(run_dir / "features.parquet")
    associations = pd.read_parquet(run_dir / "associations.parquet")
    assert checks["run_date"] == run_date.isoformat()
    assert checks["users_scored"] == checks["users_in_run_json"] == len(scores) == 3_000
    flagged = features.loc[features["ring_flag"], "ring_id"].nunique()
    assert flagged > 0, "the population should hold a flagged ring"
    assert checks["flagged_rings_in_files"] == checks["flagged_rings_in_neo4j"] == flagged
    # The applicant: declined, in a flagged ring whose members were all drawn from Neo4j.
    user = scores.set_index("user_id").loc[checks["user"]]
    assert user["decision"] == "decline"
    member = features.set_index("user_id").loc[checks["user"]]
    assert member["ring_flag"] and checks["user_ring"] == member["ring_id"]
    assert checks["ring_members_drawn"] == member["ring_size"]
    # Risky links: the provider, associations.parquet and Neo4j agree.
    expected = sorted(associations.loc[associations["user_id"] == checks["user"], "other_user_id"])
    assert expected, "a declined ring member should have risky links"
    assert checks["risky_links_in_files"] == checks["risky_links_in_neo4j"] == expected
