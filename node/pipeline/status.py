"""``StatusRelay``: a camera's source statuses (starting, online, offline, error, ended,
stopped), from the capture thread to the event loop, to the node's ``<camera>/status`` callback,
in order."""

from __future__ import annotations

import asyncio
import logging

from node.pipeline.interfaces import StatusCallback
from node.pipeline.stats import CameraStats
from node.sources.capture import SourceStatus

log = logging.getLogger(__name__)


class StatusRelay:
    def __init__(self, camera: str, on_status: StatusCallback | None, stats: CameraStats) -> None:
        self._camera = camera
        self._on_status = on_status
        self._stats = stats
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[SourceStatus] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """On the loop: bind to it, and (re)start the publisher unless it runs."""
        self._loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = self._loop.create_task(self._publish())

    def from_thread(self, status: SourceStatus) -> None:
        """Capture-thread side (a capture listener): hop onto the loop (HA's thread-to-loop
        pattern)."""
        loop, queue = self._loop, self._queue
        if loop is None or queue is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(queue.put_nowait, status)

    async def _publish(self) -> None:
        assert self._queue is not None
        while True:
            status = await self._queue.get()
            try:
                self._stats.state = status.state
                if self._on_status is not None:
                    await self._on_status(self._camera, status.to_dict())
            except Exception:
                log.exception("%s: publishing status %s failed", self._camera, status.state)
            finally:
                self._queue.task_done()

    async def flush(self) -> None:
        """Deliver pending statuses (the final ``stopped``), then end the publisher."""
        await asyncio.sleep(0)  # let call_soon_threadsafe callbacks enqueue
        if self._queue is not None:
            await self._queue.join()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
