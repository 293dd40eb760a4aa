"""``citywatch faces enroll|list|remove|authorise|revoke|export|import``: manage the gallery
offline, with the same rules as the MQTT commands (``node.face.enroll.FaceService``).

The face models come from the model registry, as for ``run`` and ``analyze``: pulled into the
store on first use (``CITYWATCH_MODEL_MIRROR`` or the pinned URLs), or from ``--models DIR``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "faces", help="Manage the face gallery (enroll, list, remove, authorise, backups)."
    )
    p.add_argument("--config", "-c", help="Node YAML config (gallery path, face settings).")
    p.add_argument("--gallery", help="Gallery file (default: from the config).")
    p.add_argument(
        "--models",
        help="Folder with the yunet/MobileFaceNet .onnx files (default: the model registry).",
    )
    fsub = p.add_subparsers(dest="faces_command", metavar="ACTION", required=True)
    p.set_defaults(func=_guarded)

    e = fsub.add_parser("enroll", help="Enroll NAME from images, or every person of a folder.")
    e.add_argument("name", nargs="?", help="Identity name (omit with --folder).")
    e.add_argument("images", nargs="*", help="JPEG/PNG images showing only this person.")
    e.add_argument("--folder", help="Enroll <folder>/<person>/*.jpg, one identity per folder.")
    e.add_argument("--authorised", action="store_true", help="Also authorise (gate).")
    e.add_argument("--replace", action="store_true", help="Drop previous samples first.")
    e.set_defaults(action=_enroll)

    fsub.add_parser("list", help="List identities.").set_defaults(action=_list)
    for verb, helptext in (
        ("remove", "Delete an identity and all its data."),
        ("authorise", "Let an identity open the gate."),
        ("revoke", "Stop an identity opening the gate."),
    ):
        # `authorize`: the spelling of earlier releases, still accepted
        aliases = ["authorize"] if verb == "authorise" else []
        v = fsub.add_parser(verb, help=helptext, aliases=aliases)
        v.add_argument("name")
        v.set_defaults(action=_by_name, verb=verb)
    x = fsub.add_parser("export", help="Write a backup copy of the gallery (0600).")
    x.add_argument("dest")
    x.set_defaults(action=_export)
    i = fsub.add_parser("import", help="Merge a backup into the gallery.")
    i.add_argument("src")
    i.add_argument("--replace", action="store_true", help="Replace the gallery instead.")
    i.set_defaults(action=_import)


def _guarded(args: argparse.Namespace) -> int:
    """Run the action; a bad config or a model that cannot be had is one line, not a traceback."""
    from node.config import ConfigError
    from node.inference.errors import ModelError

    try:
        return int(args.action(args))
    except (ConfigError, ModelError) as err:
        print(f"citywatch faces: error: {err}", file=sys.stderr)
        return 2


def _faces_config(args: argparse.Namespace) -> tuple[Any, Path]:
    from node.config import load_config
    from node.face.analytic import gallery_path

    cfg = load_config(args.config)
    path = Path(args.gallery) if args.gallery else gallery_path(cfg.analytics.faces, cfg.data_dir)
    return cfg, path


def face_engine(cfg: Any, models_dir: str | None) -> Any:
    """The detector and embedder of ``cfg.analytics.faces``: from ``models_dir`` when given, else
    through the registry like ``run`` (pulled on first use). Raises ``ModelError``."""
    from node.face.analytic import build_engine

    if models_dir is not None:
        return build_engine(cfg.analytics.faces, models_dir=models_dir)
    from node.registry.loader import ModelLoader
    from node.registry.store import store_from_config

    m = cfg.models
    # stderr is passed explicitly: the default is bound when the registry module is imported
    store = store_from_config(
        m.store_dir, m.mirror, m.download_timeout_s, progress_stream=sys.stderr
    )
    return build_engine(cfg.analytics.faces, ModelLoader(store, m))


def _service(args: argparse.Namespace, need_models: bool) -> Any:
    from node.face.enroll import EnrollPolicy, FaceService
    from node.face.gallery import Gallery

    cfg, path = _faces_config(args)
    fc = cfg.analytics.faces
    # list/remove/authorise never touch the models, so they work without the model files
    engine: Any = face_engine(cfg, args.models) if need_models else None
    policy = EnrollPolicy(fc.max_image_bytes, fc.max_images, fc.too_close_similarity)
    return FaceService(engine, Gallery(path, store_crops=fc.store_crops), policy)


def _enroll(args: argparse.Namespace) -> int:
    from node.commands.errors import CommandError

    svc = _service(args, need_models=True)
    auth = True if args.authorised else None
    if args.folder:
        return _enroll_folder(svc, Path(args.folder), auth, args.replace)
    if not args.name or not args.images:
        print("give NAME and IMAGES, or --folder ROOT", file=sys.stderr)
        return 2
    try:
        blobs = [Path(p).read_bytes() for p in args.images]
        res = svc.enroll_images(args.name, blobs, authorised=auth, replace=args.replace)
    except CommandError as err:
        print(f"refused: {err.code.value}: {err.message}", file=sys.stderr)
        return 2
    print(json.dumps(res.as_dict(), indent=1))
    return 0


def _enroll_folder(svc: Any, root: Path, auth: bool | None, replace: bool) -> int:
    """Each person folder: keep every image with one good face, report the others."""
    from node.commands.errors import CommandError
    from node.face.enroll import decode_image
    from node.face.evaluate import tree_images

    by_person: dict[str, list[Path]] = {}
    for person, path in tree_images(root):
        by_person.setdefault(person, []).append(path)
    failed = 0
    for person, paths in by_person.items():
        samples, skipped = [], []
        for p in paths:
            try:
                img = decode_image(p.read_bytes(), p.name, svc.policy.max_image_bytes)
                samples.append(svc.sample_from_image(img, p.name))
            except CommandError as err:
                skipped.append(f"{p.name}: {err.code.value}")
        if not samples:
            print(f"{person}: nothing enrolled ({len(skipped)} images refused)", file=sys.stderr)
            failed += 1
            continue
        res = svc.store(person, samples, authorised=auth, replace=replace)
        warn = "; ".join(f"too close to {w['identity']} ({w['similarity']})" for w in res.warnings)
        print(f"{person}: {res.added} samples, {len(skipped)} skipped {skipped}"
              + (f" WARNING {warn}" if warn else ""))
    return 1 if failed else 0


def _list(args: argparse.Namespace) -> int:
    svc = _service(args, need_models=False)
    for s in svc.list():
        flag = "authorised" if s.authorised else "-"
        print(f"{s.name}\t{s.samples} samples\t{flag}\tupdated {s.updated_at:%Y-%m-%d %H:%M}")
    return 0


def _by_name(args: argparse.Namespace) -> int:
    from node.commands.errors import CommandError

    svc = _service(args, need_models=False)
    try:
        if args.verb == "remove":
            svc.remove(args.name)
        else:
            svc.set_authorised(args.name, args.verb == "authorise")
    except CommandError as err:
        print(f"refused: {err.code.value}: {err.message}", file=sys.stderr)
        return 2
    print(f"{args.verb}: {args.name}")
    return 0


def _export(args: argparse.Namespace) -> int:
    svc = _service(args, need_models=False)
    n = svc.gallery.export(args.dest)
    print(f"exported {n} identities to {args.dest} (biometric data: keep it 0600)")
    return 0


def _import(args: argparse.Namespace) -> int:
    svc = _service(args, need_models=False)
    n = svc.gallery.import_file(args.src, replace=args.replace)
    print(f"imported {n} identities into {svc.gallery.path}")
    return 0
