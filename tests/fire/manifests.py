"""A small fire manifest for tests that script the backend: only the heads and input size vary."""

from __future__ import annotations

from typing import Any

from node.fire.model import FireManifest


def scripted_manifest(
    head: dict[str, Any], input_size: int = 32, localisation_head: dict[str, Any] | None = None
) -> FireManifest:
    return FireManifest(
        version="test",
        labels=["fire", "smoke"],
        input_size=input_size,
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        feature_stride=16,
        thresholds={"fire": 0.5, "smoke": 0.5},
        head=head,
        localisation_head=localisation_head,
        files={"fp32": "none.onnx"},
    )
