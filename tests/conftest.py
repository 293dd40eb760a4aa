"""Shared fixtures: test data location, free ports, real MQTT brokers.

Tests that read ``../shared`` use the ``shared_data`` fixture: it skips when
``CITYWATCH_TEST_DATA`` is unset (a user's machine) and fails when it is set but a file is missing.
Brokers are real: Mosquitto started from a generated config on a free port, or the embedded amqtt
broker; never the machine's own broker on 1883.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@dataclass
class SharedData:
    root: Path

    def path(self, rel: str) -> Path:
        p = self.root / rel
        if not p.exists():
            pytest.fail(f"CITYWATCH_TEST_DATA is set but {p} is missing")
        return p


@pytest.fixture(scope="session")
def shared_data() -> SharedData:
    root = os.environ.get("CITYWATCH_TEST_DATA")
    if not root:
        pytest.skip("CITYWATCH_TEST_DATA is unset: no shared test data on this machine")
    p = Path(root).resolve()
    if not p.is_dir():
        pytest.fail(f"CITYWATCH_TEST_DATA={root} is not a directory")
    return SharedData(p)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


@dataclass
class MosquittoBroker:
    """A Mosquitto process on a free port; ``stop()``/``start()`` simulate outages."""

    conf_path: Path
    port: int
    host: str = "127.0.0.1"
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _log: object = field(default=None, repr=False)

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        assert self.log_path is not None
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [_mosquitto_bin(), "-c", str(self.conf_path)], stdout=log, stderr=log
        )
        log.close()
        wait_port(self.host, self.port)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def _mosquitto_bin() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if found is None:
        pytest.fail("mosquitto is not installed (.ci/run installs it)")
    return found


MosquittoFactory = Callable[..., MosquittoBroker]


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[MosquittoFactory]:
    """Start Mosquitto with ``extra`` config lines appended to a plain listener config.

    ``anonymous=False`` plus ``extra`` lines (password_file, acl_file, ...) test the production
    setup from ``broker/``.
    """
    brokers: list[MosquittoBroker] = []

    def start(extra: str = "", anonymous: bool = True, port: int | None = None) -> MosquittoBroker:
        port = port or free_port()
        d = tmp_path / f"mosquitto-{port}"
        d.mkdir(exist_ok=True)
        conf = d / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\n"
            f"allow_anonymous {'true' if anonymous else 'false'}\n"
            "persistence false\n"
            "max_queued_messages 100000\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\nlog_type notice\n" + extra + "\n"
        )
        broker = MosquittoBroker(conf_path=conf, port=port, log_path=d / "mosquitto.log")
        broker.start()
        brokers.append(broker)
        return broker

    yield start
    for b in brokers:
        b.stop()


@pytest.fixture
def mosquitto(mosquitto_factory: MosquittoFactory) -> MosquittoBroker:
    """An anonymous Mosquitto on a free port."""
    return mosquitto_factory()
