"""The ``riskgraph`` command line: a thin typer layer over importable functions."""

from __future__ import annotations

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
