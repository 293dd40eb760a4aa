"""INT8 quantisation keeps the named nodes (head, neck, optionally depthwise) in FP32."""

from __future__ import annotations

import pytest


def test_int8_exclusion_names_the_head_nodes() -> None:
    pytest.importorskip("onnx")
    from models.fire.quantize import nodes_to_exclude
    from node.fire.model import MODELS_DIR

    fp32 = MODELS_DIR / "fire_fp32.onnx"
    head = nodes_to_exclude(fp32, "head")
    assert "/net/head/Gemm" in head and "/Sigmoid" in head
    assert any(n.startswith("/net/neck/") for n in head)
    assert not any(n.startswith("/net/backbone/") for n in head)
    assert nodes_to_exclude(fp32, "none") == []
    dw = nodes_to_exclude(fp32, "head+depthwise")
    assert len(dw) > len(head) and any("/net/backbone/" in n for n in dw)
