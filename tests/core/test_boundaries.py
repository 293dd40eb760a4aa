"""Layering rules: the runtime never imports torch; only node/mqtt imports aiomqtt."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _py_files(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (REPO / f).rglob("*.py"))


@pytest.mark.parametrize("path", _py_files("node", "schemas"), ids=lambda p: p.name)
def test_runtime_never_imports_torch(path: Path) -> None:
    assert not {"torch", "torchvision"} & _imports(path), f"{path} imports torch"


def test_only_the_transport_and_client_tools_import_aiomqtt() -> None:
    allowed = {REPO / "node" / "mqtt", REPO / "node" / "cli"}
    offenders = [
        p
        for p in _py_files("node")
        if "aiomqtt" in _imports(p) and not any(a in p.parents for a in allowed)
    ]
    assert offenders == []


def test_importing_every_runtime_module_loads_no_torch() -> None:
    code = (
        "import importlib, pkgutil, sys, node, schemas\n"
        "for pkg in (node, schemas):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if m.name not in ('node.__main__',):\n"
        "            importlib.import_module(m.name)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
