"""A model that cannot be had does not take the node down: the rest keeps serving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from node.app import Node
from node.config import load_config
from tests.conftest import MosquittoBroker
from tests.runtime.conftest import node_yaml

pytestmark = [pytest.mark.broker]


async def test_unfetchable_model_leaves_node_running(
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    collector_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    empty_mirror = tmp_path / "empty-mirror"
    empty_mirror.mkdir()
    monkeypatch.setenv("CITYWATCH_MODEL_MIRROR", str(empty_mirror))
    path = node_yaml(tmp_path / "n.yaml", port=mosquitto.port, data_dir=tmp_path / "d")
    config = load_config(path, environ={})
    raw = config.model_dump(mode="python")
    raw["analytics"]["objects"]["enabled"] = True
    raw["models"]["store_dir"] = str(tmp_path / "store")
    config = type(config).model_validate(raw)

    col = await collector_factory(
        mosquitto.host,
        mosquitto.port,
        ["citywatch/t1/availability", "citywatch/t1/stats", "citywatch/t1/state/analytic/#"],
    )
    async with Node(config) as node:
        assert [f.name for f in node.factories] == ["synthetic"]
        assert "objects" in node.analytics_failed
        await col.wait_for(lambda: any(m.json().get("analytics_failed") for m in col.on("stats")))
    stats = [m.json() for m in col.on("stats") if m.json().get("analytics_failed")]
    assert "objects" in stats[-1]["analytics_failed"]
    assert "yolox_nano" in stats[-1]["analytics_failed"]["objects"]
    assert [m.payload for m in col.on("availability")][:1] == [b"online"]
    # the switch of the analytic that did not start is OFF (never a retained ON), the other ON
    switches = {
        m.topic.rsplit("/", 1)[1]: m.payload for m in col.messages if "/state/analytic/" in m.topic
    }
    assert switches == {"objects": b"OFF", "synthetic": b"ON"}
