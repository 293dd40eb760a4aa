"""Layering rules: the runtime (``node/``, ``schemas/``) never imports torch nor the workshop
(``models/``); only node/mqtt imports aiomqtt."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# calls that import a module named by a string: importlib.import_module("x"), __import__("x")
# (find_spec("torch") only asks whether it is installed: allowed)
DYNAMIC_IMPORTS = {"import_module", "__import__"}


def _top(name: str) -> str:
    return name.split(".")[0]


def _dynamic_target(call: ast.Call) -> str | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in DYNAMIC_IMPORTS or not call.args:
        return None
    arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values:  # f"models.{x}": the literal head counts
        head = arg.values[0]
        if isinstance(head, ast.Constant) and isinstance(head.value, str):
            return head.value
    return None


def imported_modules(source: str, filename: str = "<source>") -> set[str]:
    """Top-level packages a module imports: import statements (absolute ones), string arguments
    of ``import_module``/``__import__``, and ``"module:function"`` targets (the
    builder tables)."""
    tree = ast.parse(source, filename=filename)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(_top(a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(_top(node.module))
        elif isinstance(node, ast.Call):
            target = _dynamic_target(node)
            if target:
                names.add(_top(target))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            module, sep, func = node.value.partition(":")
            if sep and func.isidentifier() and all(p.isidentifier() for p in module.split(".")):
                names.add(_top(module))
    return names


def _imports(path: Path) -> set[str]:
    return imported_modules(path.read_text(), str(path))


def _py_files(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (REPO / f).rglob("*.py"))


@pytest.mark.parametrize(
    ("source", "module", "found"),
    [
        ("import models", "models", True),
        ("import models.fire.pipeline as p", "models", True),
        ("from models.suspect.mix import generate", "models", True),
        ("def f():\n    from models import cli\n", "models", True),
        ("import importlib\nimportlib.import_module('models.fire.pipeline')", "models", True),
        ("from importlib import import_module\nimport_module('models')", "models", True),
        ("__import__('models.fire')", "models", True),
        ("import importlib\nimportlib.import_module('torch')", "torch", True),
        ("import importlib.util\nimportlib.util.find_spec('torch')", "torch", False),
        ("import importlib\nimportlib.import_module(f'models.{name}')", "models", True),
        ("BUILDERS = {'fire': 'models.fire.pipeline:run'}", "models", True),
        ("from node.registry import models_cmd", "models", False),
        ("from . import models", "models", False),
        ("x = 'models.providers'", "models", False),  # a config key, not an import
        ("import node.face.models", "models", False),
    ],
)
def test_the_import_scan_sees_every_way_to_import_a_module(
    source: str, module: str, found: bool
) -> None:
    assert (module in imported_modules(source)) is found


@pytest.mark.parametrize("path", _py_files("node", "schemas"), ids=lambda p: p.name)
def test_runtime_never_imports_torch(path: Path) -> None:
    assert not {"torch", "torchvision"} & _imports(path), f"{path} imports torch"


@pytest.mark.parametrize("path", _py_files("node", "schemas"), ids=lambda p: p.name)
def test_runtime_never_imports_the_workshop(path: Path) -> None:
    assert "models" not in _imports(path), (
        f"{path} imports models/ (the workshop): move the command to citywatch-train "
        "(models/cli) or the shared code into node/"
    )


def test_only_the_transport_and_client_tools_import_aiomqtt() -> None:
    allowed = {REPO / "node" / "mqtt", REPO / "node" / "cli"}
    offenders = [
        p
        for p in _py_files("node")
        if "aiomqtt" in _imports(p) and not any(a in p.parents for a in allowed)
    ]
    assert offenders == []


def test_importing_every_runtime_module_loads_neither_torch_nor_models() -> None:
    code = (
        "import importlib, pkgutil, sys, node, schemas\n"
        "from node.cli.main import build_parser\n"
        "for pkg in (node, schemas):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if m.name not in ('node.__main__',):\n"
        "            importlib.import_module(m.name)\n"
        "build_parser()\n"
        "print('torch' in sys.modules, 'models' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False False"
