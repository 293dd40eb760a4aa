"""A local HTTP mirror in a thread, with fault routes: ``/truncated/<file>`` sends half the file
after announcing all of it, then closes; ``/slow/<file>`` waits ``SLOW_S`` first (a slow link,
so a test can watch the camera keep running during a swap); unknown files are a real 404."""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SLOW_S = 0.3


@dataclass
class Mirror:
    url: str
    requests: list[str] = field(default_factory=list)


class _Handler(http.server.SimpleHTTPRequestHandler):
    log: list[str]

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self.log.append(self.path)
        if self.path.startswith("/truncated/"):
            data = (Path(self.directory) / self.path.removeprefix("/truncated/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if self.path.startswith("/slow/"):
            time.sleep(SLOW_S)
            self.path = self.path.removeprefix("/slow")
        super().do_GET()


@contextmanager
def serve(directory: Path) -> Iterator[Mirror]:
    log: list[str] = []
    handler = functools.partial(
        type("H", (_Handler,), {"log": log}), directory=str(directory)
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Mirror(f"http://127.0.0.1:{server.server_address[1]}", log)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
