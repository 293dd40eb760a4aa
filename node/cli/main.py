"""Entry point of the ``citywatch`` console script.

Each module in ``COMMAND_MODULES`` exposes ``register(subparsers)``, which adds its sub-command and
sets ``func`` (``args -> exit code``) as the parser default. Heavy imports stay inside the
handlers so ``citywatch --help`` is fast and works without optional extras.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from node import __version__

COMMAND_MODULES = [
    "node.cli.run_cmd",
    "node.cli.config_cmd",
    "node.cli.schema_cmd",
    "node.cli.sign_cmd",
    "node.cli.models_cmd",
    "node.cli.faces_cmd",
    "node.cli.eval_cmd",
    "node.cli.analyze_cmd",
    "node.cli.bench_cmd",
    "node.cli.explain_cmd",
    "node.cli.notify_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citywatch",
        description="Edge-AI node for smart cities: cameras in, typed MQTT events out.",
    )
    parser.add_argument("--version", action="version", version=f"citywatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `citywatch analyse ... | head` closes stdout early; that is not an error.
        sys.stderr.close()
        return 0
