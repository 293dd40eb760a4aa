"""The shipped suspect detector in the node: ``citywatch analyze`` on a held-out pistol image
prints a ``pistol`` box, and a short clip of that image raises a ``weapon`` event (severity high)
through the objects analytic's tracker, confirmation and the event lifecycle."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from node.cli.main import main
from node.registry.defaults import default_registry
from schemas.events import Event
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
    assert main(["analyze", str(image), "--config", str(suspect_config)]) == 0
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
    assert main(["analyze", str(clip), "--config", str(suspect_config), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    events = [Event.model_validate(line["event"]) for line in lines if "event" in line]
    weapons = [e for e in events if e.type == "weapon" and e.label == "pistol"]
    assert weapons, [(e.type, e.label, e.lifecycle) for e in events]
    first = weapons[0]
    assert first.lifecycle == "new"
    assert first.severity == "high"
