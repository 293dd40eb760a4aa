"""``citywatch eval <what>``: offline evaluations. Each evaluation lives in its own module
exposing ``register(subparsers)``; add yours to ``EVAL_MODULES`` (one line)."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

EVAL_MODULES = [
    "node.cli.eval_faces",
    "node.cli.eval_fire",
    "node.cli.eval_suspect",
    "node.cli.eval_movement",
]


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("eval", help="Evaluate analytics on datasets.")
    esub = p.add_subparsers(dest="eval_command", metavar="WHAT", required=True)
    for name in EVAL_MODULES:
        importlib.import_module(name).register(esub)
