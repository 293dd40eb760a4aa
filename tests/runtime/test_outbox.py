"""The durable outbox: persisted before publish, ordered, bounded, survives a killed process."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from node.clock import ManualClock
from node.outbox import Outbox, OutboxDrainer
from schemas.config.outbox import OutboxConfig, OverflowPolicy
from tests.runtime.conftest import poll_until


def _rows(path: Path) -> list[tuple[str, bytes]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT topic, payload FROM outbox ORDER BY id")
        return [(t, bytes(p)) for t, p in rows]


async def test_put_is_on_disk_before_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    async with Outbox(path, OutboxConfig()) as box:
        await box.put("t/a", b"1")
        await box.put("t/b", b"2")
        # Another connection (as another process would) already sees both, in order.
        assert _rows(path) == [("t/a", b"1"), ("t/b", b"2")]
        assert box.depth == 2


def test_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal
        from node.outbox import Outbox
        from schemas.config.outbox import OutboxConfig
        async def main():
            box = Outbox({str(path)!r}, OutboxConfig())
            await box.open()
            for i in range(50):
                await box.put("t", str(i).encode())
            os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint
        asyncio.run(main())
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], timeout=60)
    assert proc.returncode == -9
    assert [p for _, p in _rows(path)] == [str(i).encode() for i in range(50)]


async def test_reopen_counts_backlog(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    async with Outbox(path, OutboxConfig()) as box:
        for i in range(5):
            await box.put("t", bytes([i]))
    async with Outbox(path, OutboxConfig()) as box:
        assert box.depth == 5
        assert [r.payload for r in await box.head(10)] == [bytes([i]) for i in range(5)]


@pytest.mark.parametrize(
    ("policy", "kept", "returned_none"),
    [
        (OverflowPolicy.DROP_OLDEST, [b"2", b"3", b"4"], False),
        (OverflowPolicy.DROP_NEWEST, [b"0", b"1", b"2"], True),
    ],
)
async def test_overflow_policy(
    tmp_path: Path, policy: OverflowPolicy, kept: list[bytes], returned_none: bool
) -> None:
    cfg = OutboxConfig(max_messages=3, overflow=policy)
    async with Outbox(tmp_path / "o.sqlite", cfg) as box:
        results = [await box.put("t", str(i).encode()) for i in range(5)]
        assert [r.payload for r in await box.head(10)] == kept
        assert box.counters.dropped == 2
        assert box.depth == 3
        assert (results[-1] is None) is returned_none


async def test_expiry_is_counted(tmp_path: Path) -> None:
    clock = ManualClock()
    async with Outbox(tmp_path / "o.sqlite", OutboxConfig(max_age_s=60), clock) as box:
        await box.put("t", b"old")
        clock.advance(61)
        await box.put("t", b"new")
        assert await box.expire() == 1
        assert box.counters.expired == 1
        assert [r.payload for r in await box.head(10)] == [b"new"]


class FlakyLink:
    """Acks in order; refuses every publish while ``down`` (the broker is unreachable)."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.connected.set()
        self.down = False
        self.delivered: list[bytes] = []
        self.attempts = 0

    async def publish_acked(
        self, topic: str, payload: bytes, qos: int = 1, timeout: float | None = None
    ) -> None:
        self.attempts += 1
        await asyncio.sleep(0)
        if self.down:
            raise ConnectionError("broker down")
        self.delivered.append(payload)


async def test_drainer_keeps_rows_until_acked_and_keeps_order(tmp_path: Path) -> None:
    link = FlakyLink()
    async with Outbox(tmp_path / "o.sqlite", OutboxConfig()) as box:
        drainer = OutboxDrainer(box, link, inflight=4, retry_pause_s=0.01)
        task = asyncio.create_task(drainer.run())
        link.down = True
        for i in range(10):
            await box.put("t", str(i).encode())
        await asyncio.wait_for(poll_until(lambda: link.attempts >= 8), 5)
        assert box.depth == 10  # nothing acked, nothing deleted
        link.down = False
        await asyncio.wait_for(box.wait_empty(), 5)
        for i in range(10, 15):
            await box.put("t", str(i).encode())
        await asyncio.wait_for(box.wait_empty(), 5)
        task.cancel()
        assert link.delivered == [str(i).encode() for i in range(15)]
        assert box.counters.delivered == 15

