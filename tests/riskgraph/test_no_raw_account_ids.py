"""No raw ``account_id`` (card or phone number) reaches Neo4j, an output file or a log.

The nightly job runs end to end on a small synthetic population with Neo4j and full
logging; then every file under the output root (Parquet cells decoded, everything else
as bytes), the whole database and the job's stdout and stderr are searched for every
raw account id of the input.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from riskgraph.loaders.synthetic import generate_population

pytestmark = pytest.mark.neo4j

KEY = "raw-account-test-key-0123456789"


def _texts_of(out: Path) -> dict[str, str]:
    """Every output file as text: Parquet string cells joined, other files decoded."""
    texts = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            cells = [frame[c].dropna().astype(str) for c in frame.columns]
            cells.append(pd.Series(frame.columns.astype(str)))
            texts[str(path)] = "\n".join("\n".join(c) for c in cells)
        else:
            texts[str(path)] = path.read_bytes().decode("latin-1")
    return texts


def test_raw_account_ids_reach_no_output_database_or_log(
    tmp_path, neo4j_db, neo4j_connection, neo4j_dump
):
    population = generate_population(800, seed=3, days=365)
    input_dir = tmp_path / "input"
    population.write(input_dir, truth_path=tmp_path / "truth.parquet")
    raw = set(pd.read_csv(input_dir / "user_accounts.csv", dtype=str)["account_id"].dropna())
    # the digits alone too: a phone number could be written without its spaces
    raw |= {"".join(ch for ch in value if ch.isdigit()) for value in raw}
    raw = {value for value in raw if len(value) >= 8}
    assert len(raw) > 500

    date = (pd.Timestamp(population.end) + pd.Timedelta(days=1)).date()
    out = tmp_path / "out"
    env = {
        **os.environ,
        "RISKGRAPH_HMAC_KEY": KEY,
        "OMP_NUM_THREADS": "2",
        "RISKGRAPH_NEO4J_URI": neo4j_connection.uri,
        "RISKGRAPH_NEO4J_USER": neo4j_connection.user,
        "RISKGRAPH_NEO4J_PASSWORD": neo4j_connection.password,
    }
    command = [sys.executable, "-m", "riskgraph", "nightly", "--input", str(input_dir),
               "--out", str(out), "--date", date.isoformat()]  # fmt: skip
    done = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,  # outside the checkout (its riskgraph/ folder lacks the subpackages)
    )
    assert done.returncode == 0, done.stderr
    assert "risky links" in done.stdout + done.stderr  # the log was captured

    nodes, relationships = neo4j_dump(neo4j_db)
    assert any("account_id" in line for line in nodes)  # the accounts are there, hashed
    places = {
        **_texts_of(out),
        "Neo4j": "\n".join(nodes + relationships),
        "log": done.stdout + done.stderr,
    }
    leaks = {
        where: sorted(value for value in raw if value in text)[:3] for where, text in places.items()
    }
    assert {where: found for where, found in leaks.items() if found} == {}
