"""ModelHandle swap/rollback and manifest validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from node.inference.errors import NoPreviousModelError
from node.inference.handle import ModelHandle
from node.inference.session import ModelSession
from node.registry.defaults import default_registry
from schemas.manifest import ModelManifest
from tests.inference.tiny_models import add_manifest, add_model


def _session(tmp_path: Path, add: float, version: str) -> ModelSession:
    p = add_model(tmp_path / f"add{add}.onnx", add)
    return ModelSession(p, add_manifest(version=version, path=p))


def _out(h: ModelHandle) -> float:
    return float(h.session.run({"x": np.zeros((1, 4), np.float32)})[0][0, 0])


def test_swap_then_rollback_then_rollback_again(tmp_path: Path) -> None:
    a, b = _session(tmp_path, 1.0, "a"), _session(tmp_path, 2.0, "b")
    h = ModelHandle("adder", a)
    with pytest.raises(NoPreviousModelError):
        h.rollback()
    assert h.swap(b) is a
    prev = h.state().previous
    assert (_out(h), h.version, prev and prev.version) == (2.0, "b", "a")
    h.rollback()
    assert (_out(h), h.version) == (1.0, "a")
    assert h.state().previous is not None and h.state().previous.version == "b"
    h.rollback()  # a rollback can itself be undone
    assert _out(h) == 2.0


def test_state_names_the_active_model(tmp_path: Path) -> None:
    s = _session(tmp_path, 1.0, "7")
    st = ModelHandle("slot1", s).state()
    assert (st.slot, st.active.name, st.active.version, st.active.sha256) == (
        "slot1",
        "adder",
        "7",
        s.manifest.sha256,
    )


def _yolox() -> dict[str, object]:
    return default_registry()["yolox_nano"].manifest.model_dump()


@pytest.mark.parametrize(
    ("patch", "match"),
    [
        ({"family": "yunet"}, "decoding is for family 'yolox'"),
        ({"sha256": "ABC"}, "sha256"),
        ({"inputs": []}, "inputs"),
        ({"name": "bad name"}, "name"),
        ({"outputs": [{"name": "o", "shape": [1]}, {"name": "o", "shape": [1]}]}, "repeat"),
        ({"bogus": 1}, "Extra inputs"),
    ],
)
def test_manifest_rejects(patch: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        ModelManifest.model_validate({**_yolox(), **patch})


def test_image_size_and_label() -> None:
    reg = default_registry()
    assert reg["yolox_nano"].manifest.inputs[0].image_size() == (416, 416)
    assert reg["movenet_multipose"].manifest.inputs[0].image_size() == (256, 256)
    assert reg["nfd_fall"].manifest.inputs[0].image_size() is None
    assert reg["yolox_nano"].manifest.label == "yolox_nano@46979d5"
    assert len(reg["yolox_nano"].manifest.labels) == 80
