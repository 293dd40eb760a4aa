"""What a ``CameraPipeline`` needs from the rest of the node: typed seams, so tests substitute
fakes (a scripted feed, a recording sink, a fixed gate)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from node.frame import Frame
from node.sources.capture import CapturedFrame, StatusListener
from schemas.events import Event


class EventSink(Protocol):
    async def emit(self, event: Event, snapshot_frame: Frame | None) -> None:
        """Persist the event (outbox) before returning; raise only if that failed."""


class Gate(Protocol):
    def is_open(self, camera: str) -> bool: ...


class FrameFeed(Protocol):
    """What the pipeline needs from ``LatestFrameCapture`` (tests substitute a fake)."""

    @property
    def lossless(self) -> bool: ...

    @property
    def finished(self) -> bool: ...

    @property
    def state(self) -> str: ...

    @property
    def frames_read(self) -> int: ...

    @property
    def dropped(self) -> int: ...

    @property
    def reconnects(self) -> int: ...

    def add_listener(self, listener: StatusListener) -> None: ...

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0, reason: str | None = None) -> None: ...

    async def take(self, timeout: float | None = None) -> CapturedFrame | None: ...


StatusCallback = Callable[[str, dict[str, Any]], Awaitable[None]]
