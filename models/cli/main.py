"""Entry point of the ``citywatch-train`` console script: the workshop's commands.

They need ``models/`` (and some the ``train`` extra), so they live apart from the node's
``citywatch`` script, which never imports ``models/``. Each module in ``COMMAND_MODULES`` exposes
``register(subparsers)`` and sets ``func`` (``args -> exit code``); heavy imports stay inside the
handlers so ``citywatch-train --help`` works without torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from node import __version__

COMMAND_MODULES = [
    "models.cli.fire_cmd",
    "models.cli.data_cmd",
    "models.cli.eval_cmd",
    "models.cli.convert_cmd",
    "models.cli.explain_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citywatch-train",
        description="citywatch's workshop: train, build datasets, evaluate and convert models. "
        "The node itself is the `citywatch` command.",
    )
    parser.add_argument("--version", action="version", version=f"citywatch-train {__version__}")
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
        sys.stderr.close()
        return 0
