"""The node takes the input side from the fire manifest, and the ONNX files, the manifest and the
registry entries agree on it and on the CAM grid."""

from __future__ import annotations

import math

import numpy as np
import pytest

from node.fire.model import DEFAULT_MANIFEST, FireManifest, FireModel
from node.registry.defaults import default_registry


@pytest.mark.parametrize(("precision", "entry"), [("fp32", "fire_cls"), ("int8", "fire_cls_int8")])
def test_shipped_model_runs_at_the_manifest_input_size(precision: str, entry: str) -> None:
    manifest = FireManifest.load(DEFAULT_MANIFEST)
    side = manifest.input_size
    grid = math.ceil(side / manifest.feature_stride)
    model = FireModel.load(DEFAULT_MANIFEST, precision)
    frame = np.random.default_rng(0).integers(0, 256, (360, 640, 3), dtype=np.uint8)
    assert model.input_for(frame).shape == (1, 3, side, side)
    out = model.predict(frame)
    assert out.scores.shape == (2,)
    assert out.features.shape == (256, grid, grid)
    reg = default_registry()[entry].manifest
    assert list(reg.inputs[0].shape)[1:] == [3, side, side]
    assert list(reg.outputs[1].shape)[1:] == [256, grid, grid]
    assert reg.version == manifest.version
