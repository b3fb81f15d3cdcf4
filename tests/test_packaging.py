"""Guardrails for the package-dir layout (DESIGN.md, "Layout")."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "riskgraph": "riskgraph",
    "loaders": "riskgraph.loaders",
    "graph": "riskgraph.graph",
    "gnn": "riskgraph.gnn",
}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _packages_on_disk() -> set[str]:
    found = set()
    for folder, namespace in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join([namespace, *relative.parts]))
    return found


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    missing = _packages_on_disk() - listed
    assert not missing, (
        f"add these to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"
    )


def test_listed_packages_exist_and_import():
    listed = _pyproject()["tool"]["setuptools"]["packages"]
    assert set(listed) == _packages_on_disk()
    for name in listed:
        assert importlib.import_module(name).__name__ == name


def test_package_dir_maps_top_level_folders():
    mapping = _pyproject()["tool"]["setuptools"]["package-dir"]
    assert mapping == {namespace: folder for folder, namespace in FOLDERS.items()}


def test_bare_top_level_imports_are_banned_by_ruff():
    banned = _pyproject()["tool"]["ruff"]["lint"]["flake8-tidy-imports"]["banned-api"]
    assert {"graph", "loaders", "gnn"} <= set(banned)
