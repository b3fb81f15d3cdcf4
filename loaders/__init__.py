"""Read and validate input tables, pseudonymize identifiers, build ``GraphTables``."""

from __future__ import annotations

from riskgraph.loaders.tables import NO_INDEX, GraphTables, empty_graph_tables

__all__ = ["NO_INDEX", "GraphTables", "empty_graph_tables"]
