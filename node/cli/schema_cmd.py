"""``citywatch schema``: print or write the JSON Schemas of every public contract."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "schema", help="Export the JSON Schemas of events, commands, replies and config."
    )
    p.add_argument("--out", help="Write one <name>.json per contract into this folder.")
    p.add_argument("--name", help="Print only this contract (e.g. `event`).")
    p.set_defaults(func=_schema)


def _schema(args: argparse.Namespace) -> int:
    from schemas.export import all_schemas

    schemas = all_schemas()
    if args.name:
        if args.name not in schemas:
            print(f"unknown schema {args.name!r}; known: {', '.join(sorted(schemas))}")
            return 2
        schemas = {args.name: schemas[args.name]}
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, schema in schemas.items():
            (out / f"{name}.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        print(f"wrote {len(schemas)} schema(s) to {out}")
        return 0
    print(json.dumps(schemas if not args.name else schemas[args.name], indent=2, sort_keys=True))
    return 0
