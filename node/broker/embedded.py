"""Run the amqtt broker in-process, on its own thread and event loop.

Why a thread: the broker then never competes with the node's event loop for turns (a busy
pipeline cannot delay PUBACKs, and a busy broker cannot delay frames), while staying in the same
process so the quick start needs nothing else. amqtt 0.12 speaks MQTT 3.1.1 only; the node's
link connects to it with 3.1.1 (no v5 response topics: command replies go to ``reply/<name>``).

Its port: ``broker.port`` when set (a taken one is an error: the user asked for it); unset, the
MQTT default 1883, or a free port when 1883 is taken -- most Home Assistant users already run a
broker there, and the quick start must still work (``moved_from`` says it happened).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import logging
import socket
import threading
from typing import Any

from schemas.config.broker import EmbeddedBrokerConfig

log = logging.getLogger(__name__)

DEFAULT_PORT = 1883  # MQTT's registered port


class BrokerStartError(Exception):
    """The embedded broker could not start (e.g. its port is taken)."""


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Same option asyncio.start_server uses, so TIME_WAIT leftovers do not count as taken.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _any_free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
    return port


def broker_config(config: EmbeddedBrokerConfig, port: int) -> dict[str, Any]:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{config.bind}:{port}"}},
        # Anonymous on loopback is the quick start; a networked deployment uses Mosquitto
        # from broker/ (auth, ACL, TLS).
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


class EmbeddedBroker:
    def __init__(self, config: EmbeddedBrokerConfig, *, default_port: int = DEFAULT_PORT) -> None:
        """``default_port``: where to listen when ``config.port`` is unset (tests inject one)."""
        self._config = config
        self._port = config.port if config.port is not None else default_port
        # The default port, when it was taken and the broker moved to a free one.
        self.moved_from: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    @property
    def host(self) -> str:
        # A wildcard bind is reachable on loopback; that is where the node itself connects.
        return "127.0.0.1" if self._config.bind in ("0.0.0.0", "") else self._config.bind

    @property
    def port(self) -> int:
        return self._port

    async def start(self, timeout: float = 15.0) -> None:
        if self._thread is not None:
            return
        c = self._config
        try:
            free = _port_free(c.bind, self._port)
            if not free and c.port is None:
                self.moved_from, self._port = self._port, _any_free_port(c.bind)
                log.warning(
                    "port %d on %s is taken (another MQTT broker?): the embedded broker "
                    "listens on port %d instead", self.moved_from, c.bind, self._port,
                )
                free = True
        except OSError as err:
            msg = f"cannot bind the embedded broker to {c.bind}:{self._port}: {err}"
            raise BrokerStartError(msg) from None
        if not free:
            raise BrokerStartError(
                f"port {self._port} on {c.bind} is already in use (another MQTT broker?). "
                f"Use it with --mqtt-host {self.host} --mqtt-port {self._port}, or start the "
                "embedded broker on a free port with --mqtt-port N."
            )
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._thread_main, args=(ready,), name="embedded-broker", daemon=True
        )
        self._thread.start()
        try:
            await asyncio.wait_for(asyncio.wrap_future(ready), timeout)
        except Exception as err:
            self._thread = None
            raise BrokerStartError(f"embedded broker on {c.bind}:{self._port}: {err}") from err
        log.info("embedded MQTT broker (amqtt, MQTT 3.1.1) on %s:%d", c.bind, self._port)

    async def stop(self, timeout: float = 10.0) -> None:
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None or loop is None or stop is None:
            return
        loop.call_soon_threadsafe(stop.set)
        await asyncio.get_running_loop().run_in_executor(None, thread.join, timeout)
        self._thread = None

    async def __aenter__(self) -> EmbeddedBroker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _thread_main(self, ready: concurrent.futures.Future[None]) -> None:
        try:
            asyncio.run(self._serve(ready))
        except Exception as err:  # surfaced to start() through `ready`
            if not ready.done():
                ready.set_exception(err)
            else:
                log.exception("embedded broker crashed")

    async def _serve(self, ready: concurrent.futures.Future[None]) -> None:
        from amqtt.broker import Broker  # heavy import, only when the broker is wanted

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        broker = Broker(broker_config(self._config, self._port))
        await broker.start()
        ready.set_result(None)
        try:
            await self._stop.wait()
        finally:
            await broker.shutdown()
