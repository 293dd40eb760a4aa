"""``citywatch-train data``: detection dataset tools (numpy/OpenCV only, no torch).

* ``data mix --objects DIR --backgrounds DIR --out DIR -n N [--seed S]``: the synthetic
  generator (RGBA cut-outs in one folder per class pasted onto backgrounds; YOLO labels + CSV).
* ``data cutouts --data DIR --classes a,b --out DIR``: GrabCut cut-outs of every box of a YOLO
  folder, written as ``DIR/<class>/*.png`` for ``data mix``.
* ``data validate --data DIR --classes a,b`` (YOLO) or ``--csv FILE``: read and check labels;
  the first bad file is named in the error.
* ``data convert``: YOLO folder <-> ``annotations.csv``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("data", help="Dataset tools: mix, validate, ...")
    dsub = p.add_subparsers(dest="data_command", metavar="TOOL", required=True)

    mix = dsub.add_parser("mix", help="Paste RGBA object cut-outs onto backgrounds.")
    mix.add_argument("--objects", type=Path, required=True, help="One folder of RGBA per class.")
    mix.add_argument("--backgrounds", type=Path, required=True, help="Folder of background images.")
    mix.add_argument("--out", type=Path, required=True, help="Output YOLO folder (+ CSV).")
    mix.add_argument("-n", type=int, required=True, help="Number of images.")
    mix.add_argument("--seed", type=int, default=0)
    mix.add_argument("--max-objects", type=int, default=3)
    mix.add_argument("--min-size", type=float, default=0.08, help="Longest side / bg short side.")
    mix.add_argument("--max-size", type=float, default=0.45)
    mix.add_argument("--rotation", type=float, default=20.0, help="Max rotation (degrees).")
    mix.add_argument("--color-match", type=float, default=0.6, help="Max Lab transfer (0-1).")
    mix.add_argument("--max-overlap", type=float, default=0.15, help="Max IoU between pastes.")
    mix.add_argument("--occluders", type=float, default=0.0, help="Occluder chance per object.")
    mix.add_argument("--negatives", type=float, default=0.0, help="Share of object-free images.")
    mix.add_argument("--masks", action="store_true", help="Also write each object's mask.")
    mix.set_defaults(func=_mix)

    cut = dsub.add_parser("cutouts", help="GrabCut RGBA cut-outs from a boxed YOLO folder.")
    cut.add_argument("--data", type=Path, required=True, help="YOLO folder (images/, labels/).")
    cut.add_argument("--classes", required=True, help="Class names by id, comma-separated.")
    cut.add_argument("--out", type=Path, required=True)
    cut.add_argument("--per-class", type=int, default=None)
    cut.set_defaults(func=_cutouts)

    val = dsub.add_parser("validate", help="Check a YOLO folder or an annotations.csv.")
    _source_args(val)
    val.set_defaults(func=_validate)

    conv = dsub.add_parser("convert", help="YOLO folder <-> annotations.csv.")
    _source_args(conv)
    conv.add_argument("--to-csv", type=Path, help="Write annotations.csv here.")
    conv.add_argument("--to-yolo", type=Path, help="Write labels/ + data.yaml under this folder.")
    conv.set_defaults(func=_convert)


def _source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, help="YOLO folder (images/, labels/).")
    p.add_argument("--classes", help="YOLO class names by id, comma-separated.")
    p.add_argument("--csv", type=Path, help="annotations.csv (image,label,x1,y1,x2,y2).")
    p.add_argument("--images", type=Path, help="CSV: folder the image paths are relative to.")


def _load(args: argparse.Namespace) -> Any:
    from models.suspect.dataset import read_csv, read_yolo

    if args.csv:
        return read_csv(args.csv, args.images)
    if not (args.data and args.classes):
        raise ValueError("give --csv FILE, or --data DIR with --classes a,b,c")
    return read_yolo(args.data, [c.strip() for c in args.classes.split(",")])


def _fail(err: Exception) -> int:
    print(f"error: {err}", file=sys.stderr)
    return 2


def _mix(args: argparse.Namespace) -> int:
    from models.suspect.dataset import DatasetError
    from models.suspect.mix import MixParams, generate

    params = MixParams(
        max_objects=args.max_objects, min_size=args.min_size, max_size=args.max_size,
        max_rotation_deg=args.rotation, color_match=args.color_match,
        max_overlap=args.max_overlap, occluder_p=args.occluders, negative_p=args.negatives,
    )  # fmt: skip
    try:
        report = generate(args.objects, args.backgrounds, args.out, args.n, args.seed, params,
                          save_masks=args.masks)  # fmt: skip
    except (DatasetError, ValueError) as err:
        return _fail(err)
    print(json.dumps(report))
    return 0


def _cutouts(args: argparse.Namespace) -> int:
    from models.suspect.dataset import DatasetError, read_yolo
    from models.suspect.mix import extract_cutouts

    classes = [c.strip() for c in args.classes.split(",")]
    try:
        ds = read_yolo(args.data, classes)
        counts = extract_cutouts(
            [(i.image, i.class_ids, i.boxes) for i in ds.items], classes, args.out,
            per_class=args.per_class,
        )  # fmt: skip
    except (DatasetError, ValueError) as err:
        return _fail(err)
    print(json.dumps(counts))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from models.suspect.dataset import DatasetError

    try:
        ds = _load(args)
    except (DatasetError, ValueError) as err:
        return _fail(err)
    print(json.dumps({"images": len(ds.items), "boxes": ds.counts(),
                      "polygons_converted": ds.polygons_converted}))  # fmt: skip
    return 0


def _convert(args: argparse.Namespace) -> int:
    from models.suspect.dataset import DatasetError, write_csv, write_data_yaml, write_yolo_labels

    try:
        ds = _load(args)
    except (DatasetError, ValueError) as err:
        return _fail(err)
    if args.to_csv:
        write_csv(args.to_csv, ds)
    if args.to_yolo:
        for it in ds.items:
            write_yolo_labels(args.to_yolo / "labels" / f"{it.image.stem}.txt",
                              it.class_ids, it.boxes)  # fmt: skip
        write_data_yaml(args.to_yolo, ds.classes)
    if not (args.to_csv or args.to_yolo):
        return _fail(ValueError("give --to-csv FILE or --to-yolo DIR"))
    print(json.dumps({"images": len(ds.items), "boxes": ds.counts()}))
    return 0
