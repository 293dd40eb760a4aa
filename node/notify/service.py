"""``Notifier``: what the node uses of notifications.

The event sink calls ``plan`` (match + render: quick, on the loop), passes ``batch.write`` to the
outbox's ``put`` (same transaction as the event), then ``committed``; when the batch wants an
image it renders the snapshot off the loop and calls ``attach``. The worker does the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

from node.clock import Clock
from node.commands import CommandDispatcher
from node.notify.apprise_adapter import AppriseSender
from node.notify.commands import register_notify_commands
from node.notify.probe import ProbeResult, send_test
from node.notify.rules import FAILED_EVENT_TYPE, RuleMatcher
from node.notify.store import Job, JobBatch, JobSpec, JobStore, SqliteHost
from node.notify.targets import TargetBook
from node.notify.templates import render_message, template_fields
from node.notify.worker import NotificationWorker, Sender
from schemas.attributes import NotificationFailedAttributes
from schemas.config import NodeConfig
from schemas.config.notifications import AttachKind, NotificationsConfig
from schemas.events import Event, Lifecycle, Severity, ensure_writable
from schemas.status import NotificationRuleStats, NotificationStats


def zone_of(name: str | None) -> tzinfo:
    """The notification time zone: the configured IANA zone, else the node's local zone."""
    if name is not None:
        return ZoneInfo(name)
    local = datetime.now().astimezone().tzinfo
    return local if local is not None else timezone.utc


def failure_event(node_id: str, job: Job, error: str, when: float) -> Event:
    """The ``notification.failed`` event of a job given up after ``job.attempts`` sends."""
    at = datetime.fromtimestamp(when, timezone.utc)
    event = Event(
        node_id=node_id, camera=job.camera, type=FAILED_EVENT_TYPE,
        track_id=f"notify-{job.event_id}-{job.rule}-{job.target}", lifecycle=Lifecycle.NEW,
        started_at=at, score=1.0, label=job.rule, labels=[job.rule], severity=Severity.MEDIUM,
        attributes=NotificationFailedAttributes(
            rule=job.rule, target=job.target, event_id=job.event_id,
            event_type=job.event_type, attempts=job.attempts, error=error,
        ),
    )
    return ensure_writable(event)


class Notifier:
    def __init__(
        self,
        config: NotificationsConfig,
        host: SqliteHost,
        *,
        node_id: str,
        node_name: str | None = None,
        clock: Clock,
        emit: Callable[[Event], Awaitable[None]] | None = None,
        sender: Sender | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._node_id = node_id
        self._node_name = node_name or node_id
        self._clock = clock
        self._emit = emit
        self.zone = zone_of(config.timezone)
        self.matcher = RuleMatcher(config, self.zone, clock)
        self.book = TargetBook(config)
        self._sender = sender or AppriseSender()
        self.store = JobStore(host)
        self.worker = NotificationWorker(
            self.store, self.book, self._sender, config, clock, rng=rng,
            on_failed=self._report_failure,
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        return self.config.enabled and bool(self.config.rules)

    async def start(
        self,
        emit: Callable[[Event], Awaitable[None]] | None = None,
        dispatcher: CommandDispatcher | None = None,
    ) -> None:
        """Open the store and start the worker; ``emit`` takes the ``notification.failed``
        events, ``dispatcher`` gets the ``notify_test`` command."""
        if emit is not None:
            self._emit = emit
        if dispatcher is not None:
            register_notify_commands(dispatcher, self)
        self.worker.add_queued(await self.store.open())
        self._task = asyncio.create_task(self.worker.run(), name="notify-worker")

    async def stop(self, timeout_s: float = 2.0) -> None:
        """Stop taking jobs, give the sends in flight ``timeout_s`` to finish (stored results)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.worker.drain(timeout_s)
        self.worker.close()

    # -- the event path (on the loop, quick) ----------------------------------------------------

    def plan(self, event: Event, has_frame: bool) -> JobBatch | None:
        """The jobs ``event`` causes (None: no rule matched). Starts the rules' cooldowns."""
        matches = self.matcher.match(event)
        if not matches:
            return None
        specs: list[JobSpec] = []
        fields = template_fields(event, "", self._node_name, self.zone)
        for m in matches:
            rule = self.config.rules[m.rule]
            fields["rule"] = m.rule
            title, body = render_message(rule.title, rule.body, fields)
            attach = rule.attach if has_frame else AttachKind.NONE
            specs.extend(
                JobSpec(event.event_id, m.rule, t, event.camera, event.type, title, body, attach)
                for t in m.targets
            )
        now = self._clock.time()
        wait = self.config.attachment_wait_s if has_frame else 0.0
        return JobBatch(specs, created=now, hold_until=now + wait)

    def committed(self, batch: JobBatch) -> None:
        """After the transaction that stored ``batch`` committed."""
        self.worker.add_queued(batch.inserted)

    async def attach(self, event_id: str, snapshot: bytes, crop: bytes | None) -> None:
        """The event's images are ready: store them and release its held jobs."""
        await self.store.save_attachment(event_id, snapshot, crop, self._clock.time())
        self.worker.wake()

    async def queue(self, batch: JobBatch) -> None:
        """Store jobs without an event around them (tests, replays)."""
        await self.store.add(batch)
        self.committed(batch)

    # -- notify_test ------------------------------------------------------------------------------

    async def test(
        self, name: str, message: str | None = None,
        kind: Literal["rule", "target", "any"] = "any",
    ) -> list[ProbeResult]:
        """A test message to ``name`` now; ``UnknownNotifyNameError`` if there is none."""
        return await send_test(
            self.config, self.book, self._sender, name, self._node_name, message, kind
        )

    # -- failures and stats -----------------------------------------------------------------------

    async def _report_failure(self, job: Job, error: str) -> None:
        if self._emit is not None:
            await self._emit(failure_event(self._node_id, job, error, self._clock.time()))

    def stats(self) -> NotificationStats:
        rules: dict[str, NotificationRuleStats] = {}
        for name in {*self.config.rules, *self.worker.counters}:
            c = self.worker.rule(name)
            rules[name] = NotificationRuleStats(
                queued=c.queued, sent=c.sent, failed=c.failed, retried=c.retried,
                suppressed=self.matcher.suppressed.get(name, 0),
            )
        return NotificationStats(
            queued=sum(r.queued for r in rules.values()),
            sent=sum(r.sent for r in rules.values()),
            failed=sum(r.failed for r in rules.values()),
            in_flight=self.worker.in_flight,
            rules=dict(sorted(rules.items())),
        )


def notifier_for(config: NodeConfig, host: SqliteHost, clock: Clock) -> Notifier | None:
    """The node's notifier, None without targets (with targets but no rule it still answers
    ``notify_test``)."""
    n = config.notifications
    if not n.targets:
        return None
    return Notifier(n, host, node_id=config.node_id, node_name=config.name, clock=clock)
