"""``citywatch models list|pull|verify|import``: manage the local model store."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_FAILED = 2


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "models",
        help="List, download, verify or import model files.",
        description=(
            "Manage the model store ($XDG_CACHE_HOME/citywatch/models unless configured). "
            "Set CITYWATCH_MODEL_MIRROR to a folder or URL to work offline."
        ),
    )
    p.add_argument("--config", "-c", help="YAML config file (its `models:` section).")
    p.add_argument("--store", help="Store directory (overrides the config).")
    p.add_argument("--mirror", help="Mirror folder or URL (overrides config and environment).")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    ls = msub.add_parser("list", help="Show every known model and whether it is in the store.")
    ls.add_argument("--json", action="store_true", help="One JSON object per line.")
    ls.set_defaults(func=_list)

    pull = msub.add_parser("pull", help="Download models (sha256-checked); present ones are kept.")
    pull.add_argument("names", nargs="*", metavar="NAME", help="Models to pull.")
    pull.add_argument("--all", action="store_true", help="Pull every registry model.")
    pull.add_argument("--force", action="store_true", help="Download even when present.")
    pull.set_defaults(func=_pull)

    verify = msub.add_parser("verify", help="Check the sha256 of stored models.")
    verify.add_argument("names", nargs="*", metavar="NAME", help="Models (default: all present).")
    verify.set_defaults(func=_verify)

    imp = msub.add_parser("import", help="Copy a local ONNX file into the store.")
    imp.add_argument("file", help="ONNX file.")
    imp.add_argument("--name", required=True, help="Registry name to store it under.")
    imp.add_argument("--manifest", help="Manifest (JSON or YAML) for a model not in the registry.")
    imp.set_defaults(func=_import)


def _fail(message: str) -> int:
    print(f"citywatch models: error: {message}", file=sys.stderr)
    return EXIT_FAILED


def _store(args: argparse.Namespace) -> Any:
    from node.config import load_config
    from node.registry.store import store_from_config

    cfg = load_config(args.config).models
    store = store_from_config(args.store or cfg.store_dir, cfg.mirror, cfg.download_timeout_s)
    if args.mirror:
        store.mirror = args.mirror
    return store


def _run(args: argparse.Namespace, action: Any) -> int:
    from node.config import ConfigError
    from node.inference.errors import ModelError

    try:
        result: int = action(_store(args), args)
    except (ConfigError, ModelError) as err:
        return _fail(str(err))
    return result


def _list(args: argparse.Namespace) -> int:
    return _run(args, _do_list)


def _do_list(store: Any, args: argparse.Namespace) -> int:
    rows = [store.status(n) for n in store.names()]
    if args.json:
        for r in rows:
            print(json.dumps({
                "name": r.name, "file": r.file, "present": r.present, "size": r.size,
                "license": r.license, "source": r.source, "imported": r.imported,
                "obtain": r.obtain,
            }))
        return 0
    print(f"store: {store.root}" + (f"   mirror: {store.mirror}" if store.mirror else ""))
    print(f"{'NAME':<20} {'PRESENT':<8} {'SIZE':>10}  {'LICENSE':<12} SOURCE")
    for r in rows:
        size = f"{r.size / 1e6:.1f} MB" if r.size else "-"
        source = r.source or (f"(make: {r.obtain})" if r.obtain else "(none: mirror or import)")
        print(f"{r.name:<20} {'yes' if r.present else 'no':<8} {size:>10}  "
              f"{r.license:<12} {source}")
    return 0


def _pull(args: argparse.Namespace) -> int:
    if not args.names and not args.all:
        return _fail("name the models to pull, or give --all")
    return _run(args, _do_pull)


def _do_pull(store: Any, args: argparse.Namespace) -> int:
    from node.inference.errors import ModelError

    names = store.names() if args.all else args.names
    failed = 0
    for name in names:
        try:
            result = store.pull(name, force=args.force)
        except ModelError as err:
            print(f"citywatch models: error: {err}", file=sys.stderr)
            failed += 1
            continue
        verb = "already present" if result.action == "present" else "downloaded"
        print(f"{name}: {verb} ({result.path})")
    return EXIT_FAILED if failed else 0


def _verify(args: argparse.Namespace) -> int:
    return _run(args, _do_verify)


def _do_verify(store: Any, args: argparse.Namespace) -> int:
    names = args.names or [n for n in store.names() if store.status(n).present]
    bad = 0
    for name in names:
        r = store.verify(name)
        if not r.present:
            print(f"{name}: MISSING ({r.path})")
            bad += 1
        elif r.ok:
            print(f"{name}: OK sha256 {r.actual_sha256}")
        else:
            print(f"{name}: CORRUPT sha256 {r.actual_sha256} != expected {r.expected_sha256}")
            bad += 1
    return EXIT_FAILED if bad else 0


def _import(args: argparse.Namespace) -> int:
    return _run(args, _do_import)


def _do_import(store: Any, args: argparse.Namespace) -> int:
    manifest = _read_manifest(Path(args.manifest)) if args.manifest else None
    result = store.import_file(args.file, args.name, manifest)
    print(f"{args.name}: imported ({result.path})")
    return 0


def _read_manifest(path: Path) -> Any:
    import yaml
    from pydantic import ValidationError

    from node.inference.errors import ModelError
    from schemas.manifest import ModelManifest

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))  # YAML is a superset of JSON
        return ModelManifest.model_validate(raw)
    except (OSError, yaml.YAMLError) as err:
        raise ModelError(f"cannot read manifest {path}: {err}") from err
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise ModelError(f"invalid manifest {path}: {where}: {first['msg']}") from err
