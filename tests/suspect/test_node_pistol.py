"""The shipped suspect detector in the node: ``citywatch analyse`` on a held-out pistol image
prints a ``pistol`` box, and a short clip of that image raises a ``weapon`` event (severity high)
through the objects analytic's tracker, confirmation and the event lifecycle; its people are
YOLOX-nano's, through the node's decoder (two grids, per the manifest)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from node.cli.main import main
from node.detect.yolox import detect
from node.registry.defaults import default_registry
from schemas.events import Event
from schemas.manifest import ModelManifest, YoloxDecoding
from tests.conftest import REPO, SharedData

MODEL = REPO / "models" / "suspect" / "suspect_yolox.onnx"
# held out (weapons test split, seed 0): never trained on, never used for model selection;
# one of the 34 of 71 single-pistol test images whose top detection is a pistol
PISTOL = "datasets/weapons/train/images/armas--2609-_jpg.rf.842d4c26ea3c7fc7ff08278cad3c72dd.jpg"
LABELS = ["person", "pistol", "long_gun", "knife", "drone"]


@pytest.fixture
def suspect_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / MODEL.name).symlink_to(MODEL)
    monkeypatch.setenv("CITYWATCH_MODEL_MIRROR", str(mirror))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cfg = tmp_path / "node.yaml"
    cfg.write_text(
        f"analytics:\n  objects:\n    model: suspect_yolox\n    labels: [{', '.join(LABELS)}]\n"
    )
    return cfg


def test_registry_pins_the_shipped_file() -> None:
    entry = default_registry()["suspect_yolox"]
    assert entry.file == MODEL.name
    assert entry.manifest.labels == LABELS
    assert MODEL.stat().st_size <= 5 * 1024 * 1024
    assert entry.manifest.size == MODEL.stat().st_size


@pytest.mark.shared_data
def test_analyze_prints_a_pistol_box(
    shared_data: SharedData, suspect_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = shared_data.path(PISTOL)
    assert main(["analyse", str(image), "--config", str(suspect_config)]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith("    ")]
    assert any(r[0] == "pistol" and float(r[1]) >= 0.4 for r in rows), out


@pytest.mark.shared_data
def test_pistol_clip_raises_a_high_weapon_event(
    shared_data: SharedData,
    suspect_config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    frame = cv2.imread(str(shared_data.path(PISTOL)))
    clip = tmp_path / "pistol.mp4"
    writer = cv2.VideoWriter(
        str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 5.0, (frame.shape[1], frame.shape[0])
    )
    for _ in range(10):
        writer.write(frame)
    writer.release()
    assert main(["analyse", str(clip), "--config", str(suspect_config), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    events = [Event.model_validate(line["event"]) for line in lines if "event" in line]
    weapons = [e for e in events if e.type == "weapon" and e.label == "pistol"]
    assert weapons, [(e.type, e.label, e.lifecycle) for e in events]
    first = weapons[0]
    assert first.lifecycle == "new"
    assert first.severity == "high"


class _OrtSession:
    """What ``node.detect.yolox.detect`` needs: the registry manifest and a run()."""

    def __init__(self, path: Path, manifest: ModelManifest) -> None:
        import onnxruntime as ort

        self._sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self._manifest = manifest

    @property
    def manifest(self) -> ModelManifest:
        return self._manifest

    def run(self, feeds: Mapping[str, npt.NDArray[Any]]) -> list[npt.NDArray[Any]]:
        return list(self._sess.run(None, dict(feeds)))


def test_manifest_describes_two_grids() -> None:
    m = default_registry()["suspect_yolox"].manifest
    assert isinstance(m.decoding, YoloxDecoding)
    assert m.decoding.strides == [8, 16, 32, 8, 16, 32]
    size = m.inputs[0].image_size()
    assert size is not None
    rows = sum((size[0] // s) * (size[1] // s) for s in m.decoding.strides)
    assert m.outputs[0].shape == [1, rows, 10]


@pytest.mark.shared_data
@pytest.mark.parametrize("image", ["bus.jpg", "zidane.jpg"])
def test_people_are_yolox_nano_people(shared_data: SharedData, image: str) -> None:
    """Through the node's own decoder and NMS, the shipped model reports exactly the people the
    pinned YOLOX-nano reports (its person path is YOLOX-nano's network on the same input)."""
    reg = default_registry()
    frame = np.asarray(cv2.imread(str(shared_data.path(f"datasets/images/{image}"))), np.uint8)
    ours = detect(_OrtSession(MODEL, reg["suspect_yolox"].manifest), frame,
                  score_threshold=0.05, iou_threshold=0.45)  # fmt: skip
    ref = detect(_OrtSession(shared_data.path("models/yolox_nano.onnx"),
                             reg["yolox_nano"].manifest), frame,
                 score_threshold=0.05, iou_threshold=0.45)  # fmt: skip
    ours, ref = ours[ours.labels == "person"], ref[ref.labels == "person"]
    assert len(ref) >= 2
    assert len(ours) == len(ref)
    np.testing.assert_allclose(ours.xyxy, ref.xyxy, atol=1e-3)
    np.testing.assert_allclose(ours.score, ref.score, atol=1e-5)
