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
#: Names of the package root itself (not a module) a layer may take.
ROOT_NAMES = {"__version__"}


def riskgraph_imports(source: str) -> set[str]:
    """Every riskgraph module ``source`` imports, at any depth (inside functions too).

    ``from riskgraph import pipeline`` names the module ``riskgraph.pipeline``.
    """
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "riskgraph":
                names.update(f"riskgraph.{a.name}" for a in node.names if a.name not in ROOT_NAMES)
            else:
                names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n == "riskgraph" or n.startswith("riskgraph.")}


def upward_imports(folder: Path, allowed: set[str]) -> list[str]:
    """``path imports name`` for every import in ``folder`` outside ``allowed``."""
    wrong = []
    for path in sorted(folder.rglob("*.py")):
        for name in sorted(riskgraph_imports(path.read_text(encoding="utf-8"))):
            if name == "riskgraph" or any(name == a or name.startswith(a + ".") for a in allowed):
                continue
            wrong.append(f"{path.relative_to(folder.parent)} imports {name}")
    return wrong


def test_lower_layers_never_import_upwards():
    wrong = [line for f, allowed in ALLOWED.items() for line in upward_imports(ROOT / f, allowed)]
    assert not wrong, wrong


def test_an_upward_import_is_found_in_every_spelling(tmp_path):
    layer = tmp_path / "graph"
    (layer / "features").mkdir(parents=True)
    (layer / "ok.py").write_text(
        "from riskgraph.loaders.tables import GraphTables\nfrom riskgraph import __version__\n"
    )
    (layer / "features" / "catalog.py").write_text(
        "def f():\n    from riskgraph.reason_text import REASONS\n"
    )
    (layer / "a.py").write_text("import riskgraph.gnn.hetero\n")
    (layer / "b.py").write_text("from riskgraph import pipeline\n")
    assert upward_imports(layer, ALLOWED["graph"]) == [
        "graph/a.py imports riskgraph.gnn.hetero",
        "graph/b.py imports riskgraph.pipeline",
        "graph/features/catalog.py imports riskgraph.reason_text",
    ]
