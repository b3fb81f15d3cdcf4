"""``python -m riskgraph``: the same command line as the ``riskgraph`` script."""

from riskgraph.cli import app

app(prog_name="riskgraph")
