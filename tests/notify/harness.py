"""A notifier on a real outbox, fed the way the node's event sink feeds it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from node.clock import SystemClock
from node.notify.service import Notifier
from node.notify.store import wants_image
from node.outbox import Outbox
from schemas.config.notifications import NotificationsConfig
from schemas.config.outbox import OutboxConfig
from schemas.events import Event

FAST_RETRY = {"initial_delay_s": 0.05, "max_delay_s": 0.2, "jitter": 0.0}


def config(targets: dict[str, str], rules: dict[str, Any], **kw: Any) -> NotificationsConfig:
    kw.setdefault("retry", FAST_RETRY)
    return NotificationsConfig.model_validate({
        "targets": {name: {"url": url} for name, url in targets.items()},
        "rules": rules,
        "timezone": "UTC",
        **kw,
    })


@asynccontextmanager
async def running(
    path: Path, cfg: NotificationsConfig, emitted: list[Event] | None = None
) -> AsyncIterator[tuple[Outbox, Notifier]]:
    async def emit(event: Event) -> None:
        if emitted is not None:
            emitted.append(event)

    async with Outbox(path, OutboxConfig()) as box:
        notifier = Notifier(cfg, box, node_id="n1", clock=SystemClock(), emit=emit)
        await notifier.start()
        try:
            yield box, notifier
        finally:
            await notifier.stop()


async def store_event(
    box: Outbox, notifier: Notifier, event: Event, image: bytes | None = None,
    crop: bytes | None = None,
) -> int:
    """Event and jobs in one transaction, then the image (as the sink does); jobs stored."""
    batch = notifier.plan(event, has_frame=image is not None)
    await box.put(f"t/events/{event.type}", event.model_dump_json().encode(),
                  also=batch.write if batch else None)
    if batch is None:
        return 0
    notifier.committed(batch)
    if image is not None and wants_image(batch):
        await notifier.attach(event.event_id, image, crop)
    return sum(batch.inserted.values())


async def until(pred: Callable[[], bool], timeout: float = 20.0) -> None:
    async def loop() -> None:
        while not pred():  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    await asyncio.wait_for(loop(), timeout)
