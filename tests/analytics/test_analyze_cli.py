"""``citywatch analyse``: JSON lines that validate against the schemas, offline from a mirror."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from node.cli.main import main
from schemas.analyze import AnalyzedFrame
from schemas.events import Event
from tests.conftest import SharedData


@pytest.fixture
def offline_store(shared_data: SharedData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CITYWATCH_MODEL_MIRROR", str(shared_data.path("models")))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    assert main(["analyse", *args, "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.shared_data
def test_analyze_image_folder_prints_valid_frame_lines(
    shared_data: SharedData, offline_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = run_json(capsys, str(shared_data.path("datasets/images")))
    frames = [AnalyzedFrame.model_validate(line) for line in lines if "event" not in line]
    assert [Path(f.source).name for f in frames] == ["astronaut.png", "bus.jpg", "zidane.jpg"]
    bus = frames[1]
    assert (bus.width, bus.height) == (810, 1080)
    objects = bus.models["objects"]
    assert objects["labels"].count("person") == 3
    for x1, y1, x2, y2 in objects["boxes"]:  # absolute pixels inside the frame
        assert 0 <= x1 < x2 <= 810 and 0 <= y1 < y2 <= 1080
    # a single still frame never reaches min_hits: no events, as on the node
    assert not [line for line in lines if "event" in line]


@pytest.mark.shared_data
def test_analyze_video_events_validate_against_event_schema(
    shared_data: SharedData, offline_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = str(shared_data.path("datasets/videos/pedestrians.mp4"))
    lines = run_json(capsys, video, "--every", "4", "--max-frames", "8")
    frames = [line for line in lines if "event" not in line]
    events = [line["event"] for line in lines if "event" in line]
    assert [f["frame"] for f in frames] == [0, 4, 8, 12, 16, 20, 24, 28]
    schema = Event.model_json_schema()
    for e in events:
        jsonschema.validate(e, schema)
        Event.model_validate(e)
    kinds = [(e["lifecycle"], e["track_id"]) for e in events]
    news = {t for k, t in kinds if k == "new"}
    assert news and news == {t for k, t in kinds if k == "end"}
    assert len(news) == sum(1 for k, _ in kinds if k == "new")


def test_analyze_missing_path_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyse", "/no/such/file.jpg"]) == 2
    assert "citywatch analyse: " in capsys.readouterr().err
    # `analyze`, the spelling of earlier releases, is the same command
    assert main(["analyze", "/no/such/file.jpg"]) == 2
    assert "no such file" in capsys.readouterr().err
