"""``citywatch config check FILE`` and ``citywatch config reference``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from node.config import ConfigError, load_config


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("config", help="Check or describe configuration.")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = csub.add_parser("check", help="Validate a config file; name every bad key and why.")
    check.add_argument("file", help="YAML config file.")
    check.add_argument("--show", action="store_true", help="Print the effective config (JSON).")
    check.set_defaults(func=_check)
    ref = csub.add_parser("reference", help="Print every config key with its default and help.")
    ref.set_defaults(func=_reference)


def _check(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.file)
    except ConfigError as err:
        print(err)
        return 2
    print(f"{args.file}: OK (node_id={cfg.node_id}, {len(cfg.cameras)} camera(s))")
    if args.show:
        print(json.dumps(cfg.model_dump(mode="json"), indent=2))
    return 0


def _reference(args: argparse.Namespace) -> int:
    from node.config_reference import render_reference

    print(render_reference())
    return 0
