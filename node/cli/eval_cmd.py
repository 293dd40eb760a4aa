"""``citywatch eval <what>``: offline evaluations that need only the runtime. Each evaluation lives
in its own module exposing ``register(subparsers)``; add yours to ``EVAL_MODULES`` (one line).
Evaluations that use workshop code (fire, suspect) are ``citywatch-train eval``."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

EVAL_MODULES = [
    "node.cli.eval_faces",
    "node.cli.eval_movement",
]


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "eval",
        help="Evaluate analytics on datasets (faces, movement; fire and suspect: citywatch-train).",
    )
    esub = p.add_subparsers(dest="eval_command", metavar="WHAT", required=True)
    for name in EVAL_MODULES:
        importlib.import_module(name).register(esub)
