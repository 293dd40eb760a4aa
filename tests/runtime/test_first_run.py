"""The README's first run on a machine where a broker already listens on the default MQTT port
(most Home Assistant users) and on one where none does.

The default port is injected (``Node(default_broker_port=...)``) and occupied by the test's own
socket, so the test never depends on whatever listens on this machine's 1883.
"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path
from typing import Any

import pytest

from node.app import Node
from node.broker import BrokerStartError
from node.cli.main import build_parser
from node.cli.run_cmd import apply_cli_overrides, describe
from node.config import load_config
from tests.conftest import SharedData, free_port
from tests.runtime.test_node import readme_quick_start

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


def _listening(port: int) -> socket.socket:
    """Another broker, as far as the node can tell: something that took the port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", port))
    s.listen()
    return s


def _quick_start_config(shared_data: SharedData, tmp_path: Path, *extra: str) -> Any:
    """The config `citywatch run` builds from the README's quick-start line (plus a temporary
    data dir and ``extra`` arguments)."""
    argv = [a.replace("../shared", str(shared_data.root)) for a in readme_quick_start()]
    args = build_parser().parse_args([*argv, "--data-dir", str(tmp_path / "data"), *extra])
    return apply_cli_overrides(load_config(None), args)


@pytest.mark.parametrize("taken", [False, True], ids=["default-port-free", "default-port-taken"])
async def test_quick_start_with_and_without_a_broker_on_the_default_port(
    taken: bool,
    shared_data: SharedData,
    tmp_path: Path,
    collector_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CITYWATCH_MODEL_MIRROR", str(shared_data.path("models")))
    monkeypatch.setenv("CITYWATCH__MODELS__STORE_DIR", str(tmp_path / "store"))
    default = free_port()
    config = _quick_start_config(shared_data, tmp_path)
    assert config.mqtt.host is None and config.broker.port is None  # nothing configured
    with contextlib.ExitStack() as stack:
        if taken:
            stack.enter_context(_listening(default))
        async with Node(config, default_broker_port=default) as node:
            assert node.broker is not None
            port = node.broker_address.port
            banner = describe(node)
            if taken:
                assert port != default and node.broker.moved_from == default
                assert f"port {default} is taken" in banner
                assert f"--mqtt-host 127.0.0.1 --mqtt-port {default}" in banner
            else:
                assert port == default and node.broker.moved_from is None
                assert "taken" not in banner
            assert f"embedded amqtt broker at 127.0.0.1:{port}" in banner
            assert f"mosquitto_sub -h 127.0.0.1 -p {port} " in banner  # the watch command works
            col = await collector_factory("127.0.0.1", port, ["citywatch/citywatch/#"], v311=True)
            await col.wait_for(lambda: bool(col.on("/events/object")), timeout=60)
            assert col.on("/events/object")[0].json()["label"] == "person"


async def test_an_explicit_embedded_broker_port_that_is_taken_is_still_an_error(
    shared_data: SharedData, tmp_path: Path
) -> None:
    """``--mqtt-port N`` means that port: the node does not move away from it."""
    port = free_port()
    config = _quick_start_config(shared_data, tmp_path, "--mqtt-port", str(port))
    assert config.broker.port == port
    with _listening(port), pytest.raises(BrokerStartError, match=rf"port {port} .* in use"):
        async with Node(config, default_broker_port=free_port()):
            pass
