"""Re-size a YOLOX detector's ONNX input by graph surgery (no checkpoint needed).

    python -m models.suspect.resize_input models/suspect/suspect_yolox.onnx \\
        runs/suspect_size/s512/suspect_yolox.onnx --size 512

Writes ``OUT`` with input ``[1, 3, S, S]`` and output ``[1, rows, C]`` for the new grid, and, when
``IN`` has a sidecar manifest (``IN`` with ``.json``), a copy of it next to ``OUT`` with the new
input and output shapes, sha256 and size (the node's decoder reads the input size and the strides
from the manifest, so it decodes the larger grid unchanged).

The exported YOLOX graphs are size-agnostic except for their declared shapes and, in the merged
two-head export (``MergedDetector``), the constant zero columns concatenated to each head's rows
(the person rows' 4 suspect columns, the suspect rows' ``person`` column): fixed ``[1, 3549, k]``
constants. Each all-zero rank-3 ``Constant`` feeding a ``Concat`` along the last axis is replaced by
zeros that follow the rows of a sibling input: ``Slice(sibling, [0:1] on the last axis) * 0 +
zeros[1, 1, k]`` (exactly 0.0 everywhere). Any other constant of that kind is refused. Convolutions,
the scale-based ``Resize`` nodes and the ``Shape -> Slice -> Concat`` reshapes follow the input.

The CNN is not re-trained: the same weights see objects larger in pixels, which is what a larger
input is for (small pistols), with receptive fields and the training scale unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

STRIDES = (8, 16, 32)


def _attr(node: Any, name: str, default: int) -> int:
    for a in node.attribute:
        if a.name == name:
            return int(a.i)
    return default


def _zero_constants(model: Any) -> list[tuple[Any, Any, int]]:
    """(Concat node, Constant node, input index) of the fixed zero columns to replace."""
    from onnx import numpy_helper

    consts = {n.output[0]: n for n in model.graph.node if n.op_type == "Constant"}
    found = []
    for node in model.graph.node:
        if node.op_type != "Concat":
            continue
        for k, name in enumerate(node.input):
            c = consts.get(name)
            if c is None:
                continue
            value = numpy_helper.to_array(c.attribute[0].t)
            if value.ndim != 3:
                continue
            axis = _attr(node, "axis", 0)
            if axis not in (-1, 2):
                raise ValueError(f"{node.name}: rank-3 constant {name} on axis {axis}, not handled")
            if np.any(value != 0):
                raise ValueError(f"{node.name}: constant {name} is not all zero, not handled")
            found.append((node, c, k))
    return found


def resize(model: Any, size: int) -> tuple[Any, int]:
    """The edited model (in place) and its number of output rows at ``size``."""
    import onnx
    from onnx import helper, numpy_helper

    if size % max(STRIDES):
        raise ValueError(f"--size must be a multiple of {max(STRIDES)}, got {size}")
    g = model.graph
    dims = g.input[0].type.tensor_type.shape.dim
    if len(dims) != 4 or dims[2].dim_value != dims[3].dim_value or dims[2].dim_value <= 0:
        raise ValueError(f"input {g.input[0].name} is not a fixed square NCHW image")
    old_size = int(dims[2].dim_value)
    consts = {n.output[0] for n in g.node if n.op_type == "Constant"}
    consts |= {i.name for i in g.initializer}
    new_nodes: dict[str, list[Any]] = {}
    for i, (concat, const, k) in enumerate(_zero_constants(model)):
        value = numpy_helper.to_array(const.attribute[0].t)
        sibling = next((x for x in concat.input if x not in consts), None)
        if sibling is None:
            raise ValueError(f"{concat.name}: no non-constant input to follow")
        p = f"/resize_input/zeros_{i}"
        inits = [
            numpy_helper.from_array(np.asarray([0], np.int64), f"{p}/start"),
            numpy_helper.from_array(np.asarray([1], np.int64), f"{p}/end"),
            numpy_helper.from_array(np.asarray([-1], np.int64), f"{p}/axis"),
            numpy_helper.from_array(np.zeros((), value.dtype), f"{p}/zero"),
            numpy_helper.from_array(np.zeros((1, 1, value.shape[2]), value.dtype), f"{p}/cols"),
        ]
        g.initializer.extend(inits)
        nodes = [
            helper.make_node("Slice", [sibling, f"{p}/start", f"{p}/end", f"{p}/axis"],
                             [f"{p}/col"], name=f"{p}/Slice"),
            helper.make_node("Mul", [f"{p}/col", f"{p}/zero"], [f"{p}/col0"], name=f"{p}/Mul"),
            helper.make_node("Add", [f"{p}/col0", f"{p}/cols"], [f"{p}/out"], name=f"{p}/Add"),
        ]  # fmt: skip
        concat.input[k] = f"{p}/out"
        new_nodes.setdefault(concat.name, []).extend(nodes)
    # keep the graph topologically sorted: the new nodes go right before their Concat
    ordered = []
    for node in g.node:
        ordered.extend(new_nodes.get(node.name, []))
        ordered.append(node)
    used = {x for n in ordered for x in n.input}
    ordered = [n for n in ordered if n.op_type != "Constant" or n.output[0] in used]
    del g.node[:]
    g.node.extend(ordered)
    del g.value_info[:]
    dims[2].dim_value, dims[3].dim_value = size, size
    out = g.output[0].type.tensor_type.shape.dim
    old_rows = int(out[1].dim_value)
    cells_old = sum((old_size // s) ** 2 for s in STRIDES)
    if old_rows % cells_old:
        raise ValueError(f"{old_rows} output rows are not whole grids of a {old_size} input")
    rows = old_rows // cells_old * sum((size // s) ** 2 for s in STRIDES)
    out[1].dim_value = rows
    onnx.checker.check_model(model)
    return model, rows


def manifest_for(src: dict[str, Any], out: Path, size: int, rows: int) -> dict[str, Any]:
    data = out.read_bytes()
    m: dict[str, Any] = json.loads(json.dumps(src))
    m["inputs"][0]["shape"] = [1, 3, size, size]
    m["outputs"][0]["shape"] = [1, rows, m["outputs"][0]["shape"][2]]
    m["sha256"] = hashlib.sha256(data).hexdigest()
    m["size"] = len(data)
    m["description"] = (
        f"{m.get('description', '')} Input re-sized to {size}x{size} by graph surgery "
        "(models/suspect/resize_input.py), same weights."
    ).strip()
    return m


def main(argv: list[str] | None = None) -> int:
    import onnx

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("input", type=Path)
    p.add_argument("output", type=Path)
    p.add_argument("--size", type=int, required=True, help="New square input size (x32).")
    args = p.parse_args(argv)
    model = onnx.load(str(args.input))
    model, rows = resize(model, args.size)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(args.output))
    side = args.input.with_suffix(".json")
    if side.is_file():
        m = manifest_for(json.loads(side.read_text()), args.output, args.size, rows)
        args.output.with_suffix(".json").write_text(json.dumps(m, indent=1) + "\n")
    print(json.dumps({"output": str(args.output), "size": args.size, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
