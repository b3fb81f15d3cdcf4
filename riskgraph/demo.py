"""``riskgraph demo``: one command from a fresh install to a scored graph in Neo4j Browser.

It installs and starts the local Neo4j if needed, generates a synthetic lending
population (50,000 users by default, see docs/synthetic.md), runs the nightly job
twice - a week before the end of the data and the day after it - so that the
report has drift and a watchlist to show, and returns what the summary prints.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from riskgraph.config import demo_hmac_key
from riskgraph.pipeline import PipelineConfig, RunResult, run_nightly

__all__ = ["BROWSER_QUERIES", "DemoResult", "run_demo", "summary_renderables"]

log = logging.getLogger("riskgraph.demo")

#: The investigations of the Browser kit (graph/browser/investigations.cypher, see
#: docs/browser.md) that the demo's summary offers to paste, in this order.
BROWSER_QUERIES = ("ring-around-user", "intermediary-devices", "risky-links")


@dataclass(frozen=True)
class DemoResult:
    """What the demo did, for the summary the CLI prints."""

    input_dir: Path
    out_root: Path
    runs: list[RunResult]
    browser_url: str
    bolt_uri: str
    user: str
    password: str
    password_file: Path
    scores: pd.DataFrame
    rings: pd.DataFrame


def run_demo(
    workdir: str | Path = "riskgraph-demo",
    *,
    users: int = 50_000,
    seed: int = 0,
    days: int = 365,
    home: str | Path | None = None,
    echo: Callable[[str], None] = print,
    progress: Any = None,
) -> DemoResult:
    """Install and start Neo4j if needed, generate a population, run two nights.

    Parameters
    ----------
    workdir : path
        Where the input tables (``input/``), the ground truth and the output root
        (``out/``) go.
    users, seed, days : int
        Size, seed and length in days of the synthetic population.
    home : path, optional
        Neo4j instance directory (default as for ``riskgraph neo4j``).
    echo : callable
        Where progress lines go.
    """
    from riskgraph.graph import server
    from riskgraph.graph.connection import resolve_connection
    from riskgraph.loaders.synthetic import generate_population

    settings = server.ServerSettings.resolve(home)
    server.install(settings, echo=echo)
    server.start(settings, echo=echo)
    key = demo_hmac_key(settings.home)

    workdir = Path(workdir)
    input_dir = workdir / "input"
    echo(f"generating {users:,} synthetic users into {input_dir} ...")
    population = generate_population(users, seed=seed, days=days)
    population.write(input_dir, truth_path=workdir / "truth.parquet")
    end = pd.Timestamp(population.end)
    nights = [(end - pd.Timedelta(days=6)).date(), (end + pd.Timedelta(days=1)).date()]

    out_root = workdir / "out"
    connection = resolve_connection(settings.home)
    runs = []
    for night in nights:
        echo(f"nightly run for {night} ...")
        runs.append(
            run_nightly(
                input_dir,
                out_root,
                hmac_key=key,
                run_date=dt.date.fromisoformat(str(night)),
                connection=connection,
                config=PipelineConfig(),
                progress=progress,
            )
        )
    last = runs[-1].run_dir
    return DemoResult(
        input_dir=input_dir,
        out_root=out_root,
        runs=runs,
        browser_url=settings.browser_url,
        bolt_uri=settings.bolt_uri,
        user=connection.user,
        password=connection.password,
        password_file=settings.password_file,
        scores=pd.read_parquet(last / "scores.parquet"),
        rings=_rings_of(last),
    )


def _rings_of(run_dir: Path) -> pd.DataFrame:
    features = pd.read_parquet(run_dir / "features.parquet")
    members = features.loc[features["ring_flag"].fillna(False).astype(bool)]
    if members.empty:
        return pd.DataFrame(columns=["ring_id", "members", "known_bad_rate"])
    grouped = members.groupby("ring_id")
    return (
        pd.DataFrame(
            {
                "members": grouped.size(),
                "known_bad_rate": grouped["ring_bad_rate"].mean(),
            }
        )
        .reset_index()
        .sort_values(["members", "ring_id"], ascending=[False, True], ignore_index=True)
    )


def summary_renderables(result: DemoResult) -> list[Any]:
    """What ``riskgraph demo`` prints: counts, rings, scores, where to look next."""
    from rich.panel import Panel
    from rich.syntax import Syntax
    from rich.table import Table

    from riskgraph.graph.investigations import browser_file, load_investigations

    last = result.runs[-1]
    counts = last.manifest.get("counts", {})
    overview = Table(title=f"Nightly run {last.run_date} ({last.run_dir})", show_header=False)
    overview.add_row("users scored", f"{counts.get('scored_users', len(result.scores)):,}")
    overview.add_row("relationships in the graph", f"{counts.get('relationships', 0):,}")
    overview.add_row("flagged rings", f"{len(result.rings):,}")
    overview.add_row("multi-borrowers", f"{int(result.scores['multi_borrowing'].sum()):,}")
    overview.add_row("risky links", f"{counts.get('associations', 0):,}")
    overview.add_row("on the watchlist", f"{counts.get('watchlist', 0):,}")
    overview.add_row("report", str(last.run_dir / "report.html"))

    rings = Table(title="Largest flagged rings")
    for column in ("ring_id", "members", "known bad rate"):
        rings.add_column(column)
    for row in result.rings.head(5).itertuples(index=False):
        rate = "" if pd.isna(row.known_bad_rate) else f"{row.known_bad_rate:.0%}"
        rings.add_row(str(row.ring_id), str(row.members), rate)

    scores = Table(title="Credit scores (350-950)")
    for column in ("band", "users", "share", ""):
        scores.add_column(column)
    bands = pd.cut(result.scores["credit_score"], [349, 500, 560, 620, 700, 800, 950])
    shares = bands.value_counts(normalize=True, sort=False)
    for band, share in shares.items():
        users = round(share * len(result.scores))
        scores.add_row(str(band), f"{users:,}", f"{share:.1%}", "#" * round(share * 60))
    decisions = result.scores["decision"].value_counts()
    scores.caption = ", ".join(f"{k}: {v:,}" for k, v in decisions.items())

    kit = load_investigations()
    login = Panel(
        f"Neo4j Browser: [bold]{result.browser_url}[/bold]\n"
        f"Connect URL:   {result.bolt_uri}\n"
        f"User:          {result.user}\n"
        f"Password:      {result.password}   (kept in {result.password_file})\n"
        f"Style:         drop {browser_file('riskgraph.grass')} onto the Browser window\n"
        "Queries:       run the :param line first, then the query (more: docs/browser.md)",
        title="Explore the graph",
    )
    queries = [
        Panel(Syntax(kit[name].browser_text(), "cypher", word_wrap=True), title=kit[name].title)
        for name in BROWSER_QUERIES
    ]
    return [overview, rings, scores, login, *queries]
