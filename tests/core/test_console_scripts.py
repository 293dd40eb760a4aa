"""The two console scripts: ``citywatch`` (the node, ``node/``) and ``citywatch-train`` (the
workshop, ``models/``), each resolving to a working ``main``."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _scripts() -> dict[str, str]:
    """``[project.scripts]`` of pyproject.toml (no tomllib on Python 3.10)."""
    text = (REPO / "pyproject.toml").read_text()
    section = text.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    return dict(re.findall(r'^([\w-]+)\s*=\s*"([^"]+)"', section, flags=re.M))


SCRIPTS = _scripts()


def test_the_node_and_the_workshop_have_their_own_scripts() -> None:
    assert SCRIPTS == {"citywatch": "node.cli.main:main", "citywatch-train": "models.cli.main:main"}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_each_script_prints_its_help_without_torch(script: str) -> None:
    module, _, func = SCRIPTS[script].partition(":")
    code = (
        f"import sys\nfrom {module} import {func}\n"
        "try:\n"
        f"    {func}(['--help'])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert f"usage: {script} " in out.stdout
    assert out.stdout.strip().endswith("False")
    assert callable(getattr(importlib.import_module(module), func))
