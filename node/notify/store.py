"""Notification jobs and their attachments, in the outbox's SQLite file.

A job is one message for one target, keyed by (event_id, rule, target) (``UNIQUE``, inserted with
``OR IGNORE``): it is written by ``JobBatch.write`` inside the transaction that stores its event,
so it exists exactly when the event does and is never queued twice. The worker marks it ``sent``
as soon as the service accepted it, so after a restart only jobs that no target acknowledged go
out again. Sent and failed rows stay ``keep_done_s`` (for de-duplication and inspection), then
are pruned.

Times (``created``, ``next_at``) are wall-clock seconds, so a retry schedule survives a restart.
A job that will carry the event's snapshot is held back (``next_at`` in the future) until the
snapshot is saved or ``attachment_wait_s`` has passed, whichever comes first.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from schemas.config.notifications import AttachKind

log = logging.getLogger(__name__)

T = TypeVar("T")

QUEUED, SENT, FAILED = "queued", "sent", "failed"

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS notify_job (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL,
        rule TEXT NOT NULL,
        target TEXT NOT NULL,
        camera TEXT NOT NULL,
        event_type TEXT NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        attach TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued',
        attempts INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        next_at REAL NOT NULL,
        done_at REAL,
        last_error TEXT,
        UNIQUE (event_id, rule, target)
    )
    """,
    "CREATE INDEX IF NOT EXISTS notify_job_due ON notify_job (state, next_at)",
    """
    CREATE TABLE IF NOT EXISTS notify_attachment (
        event_id TEXT PRIMARY KEY,
        snapshot BLOB,
        crop BLOB,
        created REAL NOT NULL
    )
    """,
)
_COLUMNS = "id, event_id, rule, target, camera, event_type, title, body, attach, attempts, created"


class SqliteHost(Protocol):
    """Who owns the SQLite connection and its thread (``node.outbox.Outbox``)."""

    async def transact(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...


@dataclass(frozen=True)
class JobSpec:
    """A job to store: one rendered message of one rule for one target."""

    event_id: str
    rule: str
    target: str
    camera: str
    event_type: str
    title: str
    body: str
    attach: AttachKind


@dataclass(frozen=True)
class Job:
    id: int
    event_id: str
    rule: str
    target: str
    camera: str
    event_type: str
    title: str
    body: str
    attach: AttachKind
    attempts: int
    created: float


@dataclass
class JobBatch:
    """The jobs of one event; ``write`` is the outbox's ``also`` hook (SQLite thread)."""

    specs: list[JobSpec]
    created: float
    hold_until: float  # created, or later when a snapshot is awaited
    inserted: dict[str, int] = field(default_factory=dict)  # rule -> new rows (after write)
    error: str | None = None

    def write(self, db: sqlite3.Connection) -> None:
        # A savepoint: a failure here rolls back the jobs only, never the event around them.
        db.execute("SAVEPOINT notify_jobs")
        try:
            for s in self.specs:
                hold = self.hold_until if s.attach is not AttachKind.NONE else self.created
                cur = db.execute(
                    "INSERT OR IGNORE INTO notify_job (event_id, rule, target, camera, event_type,"
                    " title, body, attach, created, next_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (s.event_id, s.rule, s.target, s.camera, s.event_type, s.title, s.body,
                     s.attach.value, self.created, hold),
                )
                self.inserted[s.rule] = self.inserted.get(s.rule, 0) + cur.rowcount
        except sqlite3.Error as err:
            db.execute("ROLLBACK TO notify_jobs")
            self.inserted.clear()
            self.error = str(err)
            log.exception("notification jobs of event %s not stored", self.specs[0].event_id)
        db.execute("RELEASE notify_jobs")


def wants_image(batch: JobBatch | None) -> bool:
    """Whether a job of ``batch`` attaches the event's snapshot (or crop)."""
    return batch is not None and any(s.attach is not AttachKind.NONE for s in batch.specs)


def _job(row: Any) -> Job:
    i, ev, rule, target, cam, etype, title, body, attach, attempts, created = row
    return Job(int(i), str(ev), str(rule), str(target), str(cam), str(etype), str(title),
               str(body), AttachKind(str(attach)), int(attempts), float(created))


class JobStore:
    def __init__(self, host: SqliteHost) -> None:
        self._host = host

    async def open(self) -> dict[str, int]:
        """Create the tables; the queued jobs per rule (a restart's backlog)."""

        def create(db: sqlite3.Connection) -> None:
            for stmt in _SCHEMA:
                db.execute(stmt)

        await self._host.transact(create)
        return await self.queued_by_rule()

    async def add(self, batch: JobBatch) -> None:
        """Store jobs in a transaction of their own (when no event is stored with them)."""
        await self._host.transact(batch.write)

    async def queued_by_rule(self) -> dict[str, int]:
        rows = await self._host.read(
            lambda db: db.execute(
                "SELECT rule, COUNT(*) FROM notify_job WHERE state = ? GROUP BY rule", (QUEUED,)
            ).fetchall()
        )
        return {str(r): int(n) for r, n in rows}

    async def due(self, now: float, limit: int, busy: Sequence[str]) -> list[Job]:
        """Up to ``limit`` due jobs, the earliest of each target not in ``busy``."""
        marks = ",".join("?" * len(busy))
        skip = f"AND target NOT IN ({marks})" if busy else ""
        sql = (
            f"SELECT {_COLUMNS} FROM (SELECT {_COLUMNS}, next_at, ROW_NUMBER() OVER "
            f"(PARTITION BY target ORDER BY next_at, id) AS rank FROM notify_job "
            f"WHERE state = ? AND next_at <= ? {skip}) WHERE rank = 1 ORDER BY next_at, id LIMIT ?"
        )
        args = (QUEUED, now, *busy, limit)
        rows = await self._host.read(lambda db: db.execute(sql, args).fetchall())
        return [_job(r) for r in rows]

    async def next_due(self, busy: Sequence[str]) -> float | None:
        """When the next job of a target not in ``busy`` is due (None: no job)."""
        marks = ",".join("?" * len(busy))
        skip = f"AND target NOT IN ({marks})" if busy else ""
        sql = f"SELECT MIN(next_at) FROM notify_job WHERE state = ? {skip}"
        (when,) = await self._host.read(lambda db: db.execute(sql, (QUEUED, *busy)).fetchone())
        return None if when is None else float(when)

    async def mark_sent(self, job_id: int, now: float) -> None:
        await self._host.transact(lambda db: db.execute(
            "UPDATE notify_job SET state = ?, attempts = attempts + 1, done_at = ?, "
            "last_error = NULL WHERE id = ?", (SENT, now, job_id)))

    async def mark_retry(self, job_id: int, next_at: float, error: str) -> None:
        await self._host.transact(lambda db: db.execute(
            "UPDATE notify_job SET attempts = attempts + 1, next_at = ?, last_error = ? "
            "WHERE id = ?", (next_at, error, job_id)))

    async def mark_failed(self, job_id: int, now: float, error: str, attempts: int) -> None:
        await self._host.transact(lambda db: db.execute(
            "UPDATE notify_job SET state = ?, attempts = ?, done_at = ?, last_error = ? "
            "WHERE id = ?", (FAILED, attempts, now, error, job_id)))

    async def save_attachment(
        self, event_id: str, snapshot: bytes, crop: bytes | None, now: float
    ) -> None:
        """Store an event's images and release its jobs held for them."""

        def save(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO notify_attachment (event_id, snapshot, crop, created) "
                "VALUES (?, ?, ?, ?)", (event_id, snapshot, crop, now))
            db.execute(
                "UPDATE notify_job SET next_at = ? WHERE event_id = ? AND state = ? "
                "AND attempts = 0 AND next_at > ?", (now, event_id, QUEUED, now))

        await self._host.transact(save)

    async def attachment(self, event_id: str) -> tuple[bytes, bytes | None] | None:
        row = await self._host.read(lambda db: db.execute(
            "SELECT snapshot, crop FROM notify_attachment WHERE event_id = ?", (event_id,)
        ).fetchone())
        if row is None or row[0] is None:
            return None
        return bytes(row[0]), (bytes(row[1]) if row[1] is not None else None)

    async def prune(self, done_before: float, attachments_before: float) -> int:
        """Forget sent/failed jobs done before ``done_before`` and attachments no queued job
        needs; the number of jobs forgotten."""

        def prune(db: sqlite3.Connection) -> int:
            cur = db.execute(
                "DELETE FROM notify_job WHERE state != ? AND done_at < ?", (QUEUED, done_before))
            db.execute(
                "DELETE FROM notify_attachment WHERE created < ? AND event_id NOT IN "
                "(SELECT event_id FROM notify_job WHERE state = ?)", (attachments_before, QUEUED))
            return int(cur.rowcount)

        return await self._host.transact(prune)
