"""``citywatch-train eval <what>``: evaluations of the workshop's models (they use ``models/``
code). Each lives in its own module exposing ``register(subparsers)``. Evaluations that need
only the runtime (faces, movement) are ``citywatch eval``."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

EVAL_MODULES = [
    "models.cli.eval_fire",
    "models.cli.eval_suspect",
    "models.cli.eval_explain",
]


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "eval", help="Evaluate a model on datasets (fire, suspect)."
    )
    esub = p.add_subparsers(dest="eval_command", metavar="WHAT", required=True)
    for name in EVAL_MODULES:
        importlib.import_module(name).register(esub)
