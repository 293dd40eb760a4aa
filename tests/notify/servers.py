"""Real local services for the notification tests: an SMTP server (aiosmtpd) and an HTTP
server that answers a scripted list of status codes. Both run in threads on free ports."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import free_port


class _Waitable:
    def __init__(self) -> None:
        self._cond = threading.Condition()

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def wait_until(self, pred: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"condition not met after {timeout}s")
                self._cond.wait(left)


class SmtpSink(_Waitable):
    """aiosmtpd on 127.0.0.1; every message received, parsed."""

    def __init__(self) -> None:
        super().__init__()
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.received_at: list[float] = []  # time.perf_counter() at DATA
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.received_at.append(time.perf_counter())
        self.messages.append(msg)
        self._notify()
        return "250 OK"

    def url(self, to: str = "ops@example.org") -> str:
        return (f"mailto://127.0.0.1:{self.port}?mode=insecure&from=citywatch@example.org"
                f"&to={to}")

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def wait_for(self, n: int, timeout: float = 20.0) -> None:
        self.wait_until(lambda: len(self.messages) >= n, timeout)


@dataclass
class Request:
    path: str
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookServer(_Waitable):
    """Answers POSTs with ``script`` in order (then ``then``); records every request."""

    script: list[int] = field(default_factory=list)
    then: int = 200
    hang_s: float = 0.0  # answer only after this long (a target that hangs)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if owner.hang_s:
                    time.sleep(owner.hang_s)
                with owner._lock:
                    status = owner.script.pop(0) if owner.script else owner.then
                    owner.requests.append(
                        Request(self.path, status, body, dict(self.headers.items()))
                    )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                owner._notify()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def start(self) -> WebhookServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def ok(self) -> list[Request]:
        return [r for r in self.requests if r.status < 300]

    def wait_for(self, n: int, timeout: float = 20.0) -> None:
        self.wait_until(lambda: len(self.requests) >= n, timeout)
