"""Delivers due jobs off the event loop, retrying with exponential backoff and jitter.

Sends run in a thread pool (Apprise blocks). At most one send per target is in flight, so a
target that hangs until its timeout holds one thread, never the others' turns; ``concurrency``
targets are served at once. A send's result is always awaited (a blocking call cannot be
cancelled), and the job is marked ``sent`` the moment the service accepted it.

After ``retry.max_attempts`` failed sends, or once a job is older than ``retry.give_up_after_s``,
the job is marked ``failed``, counted, logged at ERROR and reported through ``on_failed`` (the
node turns it into a ``notification.failed`` event; a failure to deliver *that* event's own
notifications is not reported again, so failures cannot feed on themselves).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fnmatch
import functools
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from node.clock import Clock
from node.notify.apprise_adapter import Attachment, SendResult
from node.notify.rules import NOTIFICATION_TYPES
from node.notify.store import Job, JobStore
from node.notify.targets import TargetBook
from schemas.config.notifications import AttachKind, NotificationsConfig, RetryConfig

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 3600.0
# Longest sleep without looking at the store (wall-clock jumps, pruning).
MAX_IDLE_S = 60.0


def backoff_delay(failures: int, retry: RetryConfig, rng: random.Random) -> float:
    """Wait after the ``failures``-th failed send (1-based): initial * 2^(n-1), capped at
    ``max_delay_s``, then spread by +/- ``jitter`` so jobs that failed together (a target back
    from an outage) do not all come back at the same instant."""
    base = min(retry.max_delay_s, retry.initial_delay_s * 2.0 ** (failures - 1))
    return base * (1.0 + rng.uniform(-retry.jitter, retry.jitter))


class Sender(Protocol):
    def send(
        self,
        url: str,
        title: str,
        body: str,
        attachments: Sequence[Attachment] = (),
        min_interval_s: float | None = None,
    ) -> SendResult: ...


@dataclass
class RuleCounters:
    queued: int = 0  # waiting now (stored, not sent, not given up)
    sent: int = 0  # since start
    failed: int = 0  # given up, since start
    retried: int = 0  # failed attempts that will be retried, since start


OnFailed = Callable[[Job, str], Awaitable[None]]


class NotificationWorker:
    def __init__(
        self,
        store: JobStore,
        book: TargetBook,
        sender: Sender,
        config: NotificationsConfig,
        clock: Clock,
        *,
        rng: random.Random | None = None,
        on_failed: OnFailed | None = None,
    ) -> None:
        self._store = store
        self._book = book
        self._sender = sender
        self._config = config
        self._clock = clock
        self._rng = rng or random.Random()
        self._on_failed = on_failed
        self._executor = ThreadPoolExecutor(config.concurrency, thread_name_prefix="notify")
        self._wake = asyncio.Event()
        self._busy: set[str] = set()  # targets with a send in flight
        self._inflight: set[asyncio.Task[None]] = set()
        self._pruned_at: float | None = None
        self.counters: dict[str, RuleCounters] = {}

    def rule(self, name: str) -> RuleCounters:
        return self.counters.setdefault(name, RuleCounters())

    def add_queued(self, inserted: dict[str, int]) -> None:
        for rule, n in inserted.items():
            self.rule(rule).queued += n
        if any(inserted.values()):
            self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    async def run(self) -> None:
        while True:
            self._wake.clear()
            await self._maybe_prune()
            free = self._config.concurrency - len(self._inflight)
            if free > 0:
                for job in await self._store.due(self._clock.time(), free, sorted(self._busy)):
                    self._start(job)
            timeout = MAX_IDLE_S
            if len(self._inflight) < self._config.concurrency:
                due = await self._store.next_due(sorted(self._busy))
                if due is not None:
                    timeout = min(timeout, max(0.0, due - self._clock.time()))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def drain(self, timeout_s: float) -> None:
        """Wait (up to ``timeout_s``) for the sends in flight, so their results are stored; then
        stop waiting for the rest. A send still running finishes in its thread, unrecorded: its
        job stays queued and goes out again after the restart (at-least-once)."""
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=timeout_s)
        left = set(self._inflight)
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _start(self, job: Job) -> None:
        self._busy.add(job.target)
        task = asyncio.create_task(self._deliver(job), name=f"notify-{job.id}")
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _deliver(self, job: Job) -> None:
        try:
            if job.target not in self._book:
                await self._give_up(job, f"target {job.target!r} is no longer configured")
                return
            age = self._clock.time() - job.created
            if age >= self._config.retry.give_up_after_s:
                # The node was off for long: a day-old alarm is noise, and must not look fresh.
                await self._give_up(job, f"expired undelivered after {age:.0f} s")
                return
            target = self._book.get(job.target)
            attachments = await self._attachments(job)
            loop = asyncio.get_running_loop()
            send = functools.partial(
                self._sender.send, target.url, job.title, job.body, attachments,
                target.min_interval_s,
            )
            result = await loop.run_in_executor(self._executor, send)
            if result.ok:
                await self._store.mark_sent(job.id, self._clock.time())
                counters = self.rule(job.rule)
                counters.sent += 1
                counters.queued = max(0, counters.queued - 1)
                log.info("notification %s: rule %s -> %s sent", job.event_id, job.rule,
                         target.masked)
            else:
                await self._failed_attempt(job, result.error or "send failed")
        except Exception as err:  # the store or the sender broke: never kill the worker
            log.exception("notification job %d (%s -> %s) failed", job.id, job.rule, job.target)
            with contextlib.suppress(Exception):
                await self._failed_attempt(job, self._book.scrubber.scrub(f"internal: {err}"))
        finally:
            self._busy.discard(job.target)
            self._wake.set()

    async def _attachments(self, job: Job) -> list[Attachment]:
        if job.attach is AttachKind.NONE:
            return []
        images = await self._store.attachment(job.event_id)
        if images is None:
            return []
        snapshot, crop = images
        use_crop = job.attach is AttachKind.CROP and crop is not None
        image = crop if use_crop and crop is not None else snapshot
        kind = "crop" if use_crop else "snapshot"
        return [Attachment(f"{job.event_type}-{job.event_id[:8]}-{kind}.jpg", image)]

    async def _failed_attempt(self, job: Job, error: str) -> None:
        now = self._clock.time()
        failures = job.attempts + 1
        retry = self._config.retry
        if failures >= retry.max_attempts or now - job.created >= retry.give_up_after_s:
            await self._give_up(job, error, failures)
            return
        delay = backoff_delay(failures, retry, self._rng)
        await self._store.mark_retry(job.id, now + delay, error)
        self.rule(job.rule).retried += 1
        log.warning("notification %s: rule %s -> %s failed (attempt %d, retry in %.1f s): %s",
                    job.event_id, job.rule, job.target, failures, delay, error)

    async def _give_up(self, job: Job, error: str, attempts: int | None = None) -> None:
        """``attempts``: sends made, this one included (None: given up without a send)."""
        job = dataclasses.replace(job, attempts=job.attempts if attempts is None else attempts)
        await self._store.mark_failed(job.id, self._clock.time(), error, job.attempts)
        counters = self.rule(job.rule)
        counters.failed += 1
        counters.queued = max(0, counters.queued - 1)
        log.error("notification %s: rule %s -> %s given up after %d attempt(s): %s",
                  job.event_id, job.rule, job.target, job.attempts, error)
        if self._on_failed is not None and not _is_notification_event(job.event_type):
            try:
                await self._on_failed(job, error)
            except Exception:
                log.exception("reporting the failed notification %d failed", job.id)

    async def _maybe_prune(self) -> None:
        now = self._clock.time()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = now
        keep = self._config.keep_done_s
        n = await self._store.prune(now - keep, now - PRUNE_EVERY_S)
        if n:
            log.info("notifications: forgot %d delivered or failed job(s)", n)


def _is_notification_event(event_type: str) -> bool:
    return fnmatch.fnmatchcase(event_type, NOTIFICATION_TYPES)
