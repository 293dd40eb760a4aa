"""The explainer's own sessions follow the node's slots (a model swap), and its threads."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from node.explain.sources import MirroredLoader
from node.inference.session import ModelSession
from node.registry.loader import ModelLoader
from schemas.config.models import ModelsConfig
from tests.inference.tiny_models import add_manifest, add_model
from tests.registry.test_bundled import bundled_store


def test_mirrored_sessions_follow_a_swap_and_use_their_own_threads(tmp_path: Path) -> None:
    store, first = bundled_store(tmp_path)
    served = ModelLoader(store, ModelsConfig(pull_missing=False, intra_op_threads=2))
    own = ModelLoader(store, served.config, intra_op_threads=1)
    mirror = MirroredLoader(own, served).load("adder")
    x = {"x": np.zeros((1, 4), np.float32)}
    # the node does not serve the slot: the explainer loads the registry's file itself
    assert mirror.session.run(x)[0][0, 0] == 1.0
    handle = served.load("adder")
    a = mirror.session
    assert a is not handle.session and a.path == handle.session.path
    assert a.options.intra_op_threads == 1 and handle.session.options.intra_op_threads == 2
    assert mirror.session is a  # unchanged slot: the same session
    second = add_model(tmp_path / "adder2.onnx", 5.0)
    handle.swap(ModelSession(second, add_manifest(version="2", path=second)))
    b = mirror.session
    assert b is not a and b.path == second
    assert b.run(x)[0][0, 0] == 5.0
    assert first != second
