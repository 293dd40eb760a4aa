"""Durable queue between event creation and the broker (SQLite, WAL).

``put`` commits the message to disk before it returns, so nothing is published that is not
stored first. ``OutboxDrainer`` publishes rows oldest first with QoS 1 and deletes a row only after
the broker's PUBACK. After a broker outage or a node restart the backlog goes out in order. Delivery
is at-least-once: a PUBACK lost with the connection means the row is sent again, so consumers
de-duplicate by ``event_id``.

SQLite runs on one dedicated thread (a single-worker executor owns the connection), so the event
loop never waits on disk; all statements are serialised on that thread. Other stores may keep
their tables in the same file (``transact``/``read``), and ``put(..., also=...)`` writes their
rows in the message's own transaction: the notification jobs of an event are committed with the
event or not at all. ``synchronous=NORMAL`` in
WAL mode survives a killed process (the WAL is in the OS page cache); only a power loss can take
the last few commits. FULL would cost an fsync per event on SD cards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from node.clock import Clock, SystemClock
from schemas.config.outbox import OutboxConfig, OverflowPolicy

log = logging.getLogger(__name__)

T = TypeVar("T")
# Extra rows written in a put's transaction, on the SQLite thread.
AlsoWrite = Callable[[sqlite3.Connection], object]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    created REAL NOT NULL
)
"""


@dataclass(frozen=True)
class OutboxRow:
    id: int
    topic: str
    payload: bytes
    qos: int
    created: float


@dataclass
class OutboxCounters:
    enqueued: int = 0
    delivered: int = 0
    dropped: int = 0  # overflow policy
    expired: int = 0  # older than max_age_s


class Outbox:
    """Use as ``async with Outbox(path, config) as box``."""

    def __init__(self, path: str | Path, config: OutboxConfig, clock: Clock | None = None) -> None:
        self._path = Path(path)
        self._config = config
        self._clock = clock or SystemClock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self._db: sqlite3.Connection | None = None
        self._rows = 0  # owned by the SQLite thread; read (atomically) by `depth`
        self.counters = OutboxCounters()
        self._has_rows = asyncio.Event()
        self._empty = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        await self._call(self._open_sync)
        await self.expire()
        if self._rows:
            log.info("outbox %s holds %d undelivered message(s)", self._path, self._rows)
            self._has_rows.set()

    async def close(self) -> None:
        if self._db is not None:
            await self._call(self._close_sync)
        self._executor.shutdown(wait=True)

    async def __aenter__(self) -> Outbox:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- API ---------------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Messages waiting (or in flight), for stats."""
        return self._rows

    @property
    def path(self) -> Path:
        return self._path

    async def put(
        self, topic: str, payload: bytes, qos: int = 1, *, also: AlsoWrite | None = None
    ) -> int | None:
        """Store a message durably; its row id, or None if the overflow policy dropped it.

        ``also`` runs in the same transaction, even when the overflow policy drops the message
        (the policy bounds the MQTT backlog, not what else the node stores)."""
        row_id, dropped = await self._call(lambda: self._put_sync(topic, payload, qos, also))
        self.counters.dropped += dropped
        if row_id is None:
            log.warning("outbox full (%d): dropped the newest message", self._config.max_messages)
            return None
        if dropped:
            log.warning("outbox full (%d): dropped the oldest message", self._config.max_messages)
        self.counters.enqueued += 1
        self._empty.clear()
        self._has_rows.set()
        return row_id

    async def head(self, limit: int) -> list[OutboxRow]:
        """The oldest ``limit`` rows, oldest first."""
        return await self._call(lambda: self._head_sync(limit))

    async def ack(self, row_ids: list[int]) -> None:
        """Delete delivered rows (a row already dropped by the overflow policy is ignored)."""
        if not row_ids:
            return
        deleted = await self._call(lambda: self._delete_sync(row_ids))
        self.counters.delivered += deleted
        self._note_empty()

    async def expire(self) -> int:
        """Delete rows older than ``max_age_s``; counted in ``expired``."""
        cutoff = self._clock.time() - self._config.max_age_s
        n = await self._call(lambda: self._expire_sync(cutoff))
        if n:
            log.warning("outbox: %d message(s) expired undelivered", n)
        self.counters.expired += n
        self._note_empty()
        return n

    async def transact(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the SQLite thread in one write transaction (stores sharing the file)."""

        def run() -> T:
            db = self._conn()
            with _transaction(db):
                return fn(db)

        return await self._call(run)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the SQLite thread, outside a write transaction."""
        return await self._call(lambda: fn(self._conn()))

    async def wait_for_rows(self) -> None:
        """Return once the outbox may hold rows (after a ``put`` or at open)."""
        await self._has_rows.wait()

    async def wait_empty(self) -> None:
        """Return once every stored message was delivered (or expired)."""
        await self._empty.wait()

    def _note_empty(self) -> None:
        if self._rows == 0:
            self._empty.set()

    def clear_signal(self) -> None:
        self._has_rows.clear()

    # -- the SQLite thread ---------------------------------------------------------------------

    async def _call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("outbox is not open")
        return self._db

    def _open_sync(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: the connection is only ever used from our single worker thread,
        # which sqlite3 cannot know.
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(_SCHEMA)
        self._db = db
        (n,) = db.execute("SELECT COUNT(*) FROM outbox").fetchone()
        self._rows = int(n)

    def _close_sync(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _put_sync(
        self, topic: str, payload: bytes, qos: int, also: AlsoWrite | None
    ) -> tuple[int | None, int]:
        db = self._conn()
        dropped = 0
        n = self._rows
        with _transaction(db):
            if also is not None:
                also(db)
            if n >= self._config.max_messages:
                if self._config.overflow is OverflowPolicy.DROP_NEWEST:
                    return None, 1
                excess = n - self._config.max_messages + 1
                db.execute(
                    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)",
                    (excess,),
                )
                dropped = excess
            cur = db.execute(
                "INSERT INTO outbox (topic, payload, qos, created) VALUES (?, ?, ?, ?)",
                (topic, payload, qos, self._clock.time()),
            )
        self._rows = n + 1 - dropped
        return cur.lastrowid, dropped

    def _head_sync(self, limit: int) -> list[OutboxRow]:
        rows = self._conn().execute(
            "SELECT id, topic, payload, qos, created FROM outbox ORDER BY id LIMIT ?", (limit,)
        )
        return [OutboxRow(int(i), str(t), bytes(p), int(q), float(c)) for i, t, p, q, c in rows]

    def _delete_sync(self, row_ids: list[int]) -> int:
        db = self._conn()
        marks = ",".join("?" * len(row_ids))
        with _transaction(db):
            cur = db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", row_ids)
        self._rows -= cur.rowcount
        return int(cur.rowcount)

    def _expire_sync(self, cutoff: float) -> int:
        db = self._conn()
        with _transaction(db):
            cur = db.execute("DELETE FROM outbox WHERE created < ?", (cutoff,))
        self._rows -= cur.rowcount
        return int(cur.rowcount)


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    # autocommit connection (isolation_level=None) + explicit BEGIN IMMEDIATE: one writer, and
    # the COUNT and the INSERT of a put see the same table.
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class AckedPublisher(Protocol):
    """What the drainer needs from the link (``MqttLink`` implements it)."""

    connected: asyncio.Event

    async def publish_acked(
        self, topic: str, payload: bytes, qos: int = 1, timeout: float | None = None
    ) -> None: ...


class OutboxDrainer:
    """Publishes the outbox in order, ``inflight`` messages at a time, deleting only acked rows.

    A window of unacknowledged publishes keeps throughput up on slow links; on one TCP connection
    the broker receives and forwards them in order. If any publish of a window fails, the acked
    ones are deleted and the rest are sent again (oldest first) after the reconnect.
    """

    def __init__(
        self,
        outbox: Outbox,
        link: AckedPublisher,
        *,
        inflight: int,
        expire_every_s: float = 60.0,
        retry_pause_s: float = 0.2,
        clock: Clock | None = None,
    ) -> None:
        self._outbox = outbox
        self._link = link
        self._inflight = inflight
        self._expire_every_s = expire_every_s
        self._retry_pause_s = retry_pause_s
        self._clock = clock or SystemClock()
        self._last_expire = self._clock.monotonic()

    async def run(self) -> None:
        while True:
            await self._link.connected.wait()
            await self._maybe_expire()
            self._outbox.clear_signal()  # before reading, so a concurrent put re-arms it
            rows = await self._outbox.head(self._inflight)
            if not rows:
                await self._outbox.wait_for_rows()
                continue
            if not await self._send(rows):
                # The link noticed (or will shortly) that the connection is gone; do not spin.
                await asyncio.sleep(self._retry_pause_s)

    async def _send(self, rows: list[OutboxRow]) -> bool:
        # Tasks start in creation order, so paho queues the PUBLISH packets in row order.
        tasks = [
            asyncio.ensure_future(self._link.publish_acked(r.topic, r.payload, max(1, r.qos)))
            for r in rows
        ]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        acked: list[int] = []
        for row, res in zip(rows, results, strict=True):
            if isinstance(res, asyncio.CancelledError):
                raise res
            if isinstance(res, BaseException):
                log.debug("outbox row %d not acknowledged: %s", row.id, res)
            else:
                acked.append(row.id)
        await self._outbox.ack(acked)
        return len(acked) == len(rows)

    async def _maybe_expire(self) -> None:
        now = self._clock.monotonic()
        if now - self._last_expire >= self._expire_every_s:
            self._last_expire = now
            await self._outbox.expire()
