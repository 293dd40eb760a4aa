"""The watch command (README, ``run``'s banner) shows events and status, never JPEG snapshots."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from paho.mqtt.client import topic_matches_sub

from node.mqtt.topics import Topics

REPO = Path(__file__).resolve().parents[2]
T = Topics("citywatch", "citywatch")


@pytest.mark.parametrize(
    ("topic", "shown"),
    [
        (T.event("object.detected"), True),
        (T.availability, True),
        (T.stats, True),
        (T.camera_status("north"), True),
        (T.state("analytic/objects"), True),
        (T.state("gate"), True),
        (T.camera_snapshot("north"), False),  # JPEG
        (T.event_snapshot("object.detected"), False),  # JPEG
        (T.schema, False),  # large retained JSON
        (T.command("ping"), False),
    ],
)
def test_watch_filters(topic: str, shown: bool) -> None:
    assert any(topic_matches_sub(f, topic) for f in T.watch_filters) is shown


def test_the_readme_watch_command_is_the_nodes() -> None:
    readme = (REPO / "README.md").read_text()
    block = readme.split("Watch it from another terminal:", 1)[1].split("```", 2)[1]
    assert "mosquitto_sub -h 127.0.0.1 -p 1883 -v" in block
    assert tuple(re.findall(r"-t '([^']+)'", block)) == T.watch_filters
