"""Imports point one way: loaders <- graph <- gnn <- score and pipeline (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What each layer's folder may import from riskgraph, besides itself.
ALLOWED = {
    "loaders": {"riskgraph.errors", "riskgraph.loaders"},
    "graph": {"riskgraph.errors", "riskgraph.loaders", "riskgraph.graph"},
    "gnn": {"riskgraph.errors", "riskgraph.loaders", "riskgraph.graph", "riskgraph.gnn"},
}


def _riskgraph_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n == "riskgraph" or n.startswith("riskgraph.")}


def test_lower_layers_never_import_upwards():
    wrong = []
    for folder, allowed in ALLOWED.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            for name in _riskgraph_imports(path):
                # The package root (its version) sits above no layer.
                if name == "riskgraph" or any(
                    name == a or name.startswith(a + ".") for a in allowed
                ):
                    continue
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, wrong
