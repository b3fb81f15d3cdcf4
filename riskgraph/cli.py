"""The ``riskgraph`` command line: a thin typer layer over importable functions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="riskgraph",
    help="Graph-based fraud and multi-borrowing detection for consumer lenders.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """Graph-based fraud and multi-borrowing detection for consumer lenders."""


@app.command()
def version() -> None:
    """Print the riskgraph version."""
    from riskgraph import __version__

    typer.echo(__version__)


@app.command()
def generate(
    users: Annotated[int, typer.Option("--users", help="Number of users.", min=1)],
    out: Annotated[Path, typer.Option("--out", help="Input directory to write.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    days: Annotated[int, typer.Option("--days", help="Length of the window in days.", min=1)] = 180,
    truth: Annotated[
        Path | None,
        typer.Option("--truth", help="Ground-truth Parquet file [default: OUT/../truth.parquet]."),
    ] = None,
    file_format: Annotated[
        str, typer.Option("--format", help="Table file format: csv or parquet.")
    ] = "csv",
) -> None:
    """Write a synthetic lending population in the input contract (see docs/synthetic.md)."""
    from riskgraph.errors import RiskGraphError
    from riskgraph.loaders.synthetic import generate_population
    from riskgraph.loaders.synthetic.write import FORMATS

    if file_format not in FORMATS:
        typer.echo(
            f"error: --format {file_format!r}: expected one of {', '.join(FORMATS)}", err=True
        )
        raise typer.Exit(1)
    try:
        population = generate_population(users, seed=seed, days=days)
        written = population.write(out, truth_path=truth, format=file_format)  # type: ignore[arg-type]
    except RiskGraphError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    rows = {name: len(table) for name, table in population.tables.items()}
    typer.echo(
        f"wrote {users:,} users to {out} ("
        + ", ".join(f"{name} {count:,}" for name, count in rows.items())
        + f"); ground truth in {written['truth']}"
    )


@app.command()
def explain(
    user_id: Annotated[str, typer.Argument(help="The user to explain.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            envvar="RISKGRAPH_OUT",
            help="Output root of the nightly job (reads OUT/latest).",
        ),
    ] = Path("out"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Why a user scored as it did: score, decision, reason codes and risky links."""
    import json

    from rich.console import Console

    from riskgraph.errors import RiskGraphError
    from riskgraph.explain import render_explanation
    from riskgraph.provider import FeatureProvider

    try:
        explanation = FeatureProvider(out).explain(user_id)
    except RiskGraphError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(explanation.to_dict(), indent=2, default=str))
    else:
        Console().print(render_explanation(explanation))
