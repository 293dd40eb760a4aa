"""Basics that exist in one place only: the ONNX Runtime session factory, the provider names,
the letterbox and the IoU. A second copy drifts (three sessions once hard-coded the CPU, so the
face, fire and movement models could never use a Jetson's GPU)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _files_containing(text: str, *folders: str) -> dict[str, int]:
    return {
        str(p.relative_to(REPO)): n
        for f in folders
        for p in sorted((REPO / f).rglob("*.py"))
        if (n := p.read_text(encoding="utf-8").count(text))
    }


def test_one_place_creates_onnx_runtime_sessions() -> None:
    assert _files_containing("InferenceSession(", "node") == {"node/inference/session.py": 1}


def test_only_provider_selection_names_the_cpu_provider() -> None:
    assert _files_containing("CPUExecutionProvider", "node") == {"node/inference/providers.py": 1}


def _functions(*folders: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in folders:
        for p in sorted((REPO / f).rglob("*.py")):
            for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef):
                    out[f"{p.relative_to(REPO)}:{node.name}"] = node.name
    return out


def test_one_letterbox_and_one_iou() -> None:
    # not copies: the torch IoU of YOLOX training (autograd) and the fire evaluation's score of a
    # CAM box against labelled boxes, which calls the one IoU
    not_copies = {"models/suspect/train.py:pair_iou", "models/fire/evaluate.py:cam_iou"}
    found = {
        where
        for where, name in _functions("node", "models").items()
        if ("iou" in name.lower().split("_") or "letterbox" in name.lower())
        and where not in not_copies
    }
    assert found == {
        "node/boxes.py:box_iou", "node/boxes.py:iou", "node/inference/letterbox.py:letterbox",
    }  # fmt: skip
