"""Layering rules beyond torch and aiomqtt: sources feed the pipeline and never import it."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _modules_imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_sources_never_import_the_pipeline() -> None:
    offenders = {
        str(p.relative_to(REPO)): pipeline
        for p in sorted((REPO / "node" / "sources").rglob("*.py"))
        if (pipeline := sorted(m for m in _modules_imported(p) if m.startswith("node.pipeline")))
    }
    assert offenders == {}
