"""Read and validate input tables, pseudonymize identifiers, build ``GraphTables``."""

from __future__ import annotations

from riskgraph.loaders.load import LoadResult, build_graph_tables, load_input
from riskgraph.loaders.rejects import write_rejects
from riskgraph.loaders.tables import NO_INDEX, GraphTables, empty_graph_tables

__all__ = [
    "NO_INDEX",
    "GraphTables",
    "LoadResult",
    "build_graph_tables",
    "empty_graph_tables",
    "load_input",
    "write_rejects",
]
