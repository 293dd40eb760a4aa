"""Delivery through Apprise to real local services: SMTP (aiosmtpd) and HTTP webhooks."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from node.notify.store import FAILED, SENT, JobBatch, JobSpec
from schemas.attributes import NotificationFailedAttributes
from schemas.config.notifications import AttachKind
from schemas.events import Event, Severity
from tests.notify.events import event
from tests.notify.harness import config, running, store_event, until
from tests.notify.servers import SmtpSink, WebhookServer


def jpeg(seed: int = 0) -> bytes:
    img = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return bytes(buf.tobytes())


def job_states(path: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT target, state, attempts FROM notify_job ORDER BY id")
        return [(str(t), str(s), int(a)) for t, s, a in rows]


async def test_email_arrives_with_snapshot_and_templated_subject(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    cfg = config(
        {"ops_mail": smtp.url()},
        {"fall_mail": {"types": ["movement"], "labels": ["fall"], "targets": ["ops_mail"],
                       "title": "{severity}: {label} on {camera}",
                       "body": "Fall seen at {time} (score {score:.2f})."}},
    )
    snapshot = jpeg(1)
    async with running(tmp_path / "o.sqlite", cfg) as (box, notifier):
        ev = event(type="movement", label="fall", camera="hall", severity=Severity.HIGH)
        assert await store_event(box, notifier, ev, snapshot, crop=jpeg(2)) == 1
        await asyncio.to_thread(smtp.wait_for, 1)
        await until(lambda: notifier.stats().sent == 1)
    (msg,) = smtp.messages
    assert msg["Subject"] == "high: fall on hall"
    assert msg["To"] == "ops@example.org"
    text = msg.get_body(preferencelist=("plain",))
    assert text is not None and "score 0.90" in text.get_content()
    images = [p for p in msg.iter_attachments() if p.get_content_type() == "image/jpeg"]
    assert len(images) == 1
    assert images[0].get_content() == snapshot  # the full snapshot, not the crop
    assert job_states(tmp_path / "o.sqlite") == [("ops_mail", SENT, 1)]


async def test_crop_attached_when_asked(tmp_path: Path, smtp: SmtpSink) -> None:
    cfg = config({"m": smtp.url()}, {"r": {"targets": ["m"], "attach": "crop"}})
    crop = jpeg(3)
    async with running(tmp_path / "o.sqlite", cfg) as (box, notifier):
        await store_event(box, notifier, event(), jpeg(4), crop=crop)
        await asyncio.to_thread(smtp.wait_for, 1)
    (part,) = list(smtp.messages[0].iter_attachments())
    assert part.get_content() == crop


async def test_webhook_receives_json(
    tmp_path: Path, webhook_factory: Callable[..., WebhookServer]
) -> None:
    hook = webhook_factory()
    cfg = config({"nodered": hook.url("citywatch")},
                 {"fire_hook": {"types": ["fire"], "targets": ["nodered"], "attach": "none",
                                "title": "{type}", "body": "{event_json}"}})
    async with running(tmp_path / "o.sqlite", cfg) as (box, notifier):
        ev = event(type="fire", label="fire")
        await store_event(box, notifier, ev)
        await store_event(box, notifier, event(type="smoke", label="smoke"))  # no rule
        await asyncio.to_thread(hook.wait_for, 1)
        await until(lambda: notifier.stats().sent == 1)
    (req,) = hook.requests
    assert req.path == "/citywatch"
    payload = req.json()
    assert payload["title"] == "fire"
    assert Event.model_validate_json(payload["message"]).event_id == ev.event_id


async def test_500_three_times_then_200_is_delivered_once(
    tmp_path: Path, webhook_factory: Callable[..., WebhookServer]
) -> None:
    hook = webhook_factory(script=[500, 500, 500])
    cfg = config({"h": hook.url()}, {"r": {"targets": ["h"], "attach": "none"}})
    async with running(tmp_path / "o.sqlite", cfg) as (box, notifier):
        await store_event(box, notifier, event())
        await asyncio.to_thread(hook.wait_for, 4)
        await until(lambda: notifier.stats().sent == 1)
        await asyncio.sleep(0.5)  # several retry periods: nothing more may come
        stats = notifier.stats().rules["r"]
    assert [r.status for r in hook.requests] == [500, 500, 500, 200]
    assert len(hook.ok()) == 1
    assert (stats.sent, stats.retried, stats.failed, stats.queued) == (1, 3, 0, 0)
    assert job_states(tmp_path / "o.sqlite") == [("h", SENT, 4)]


async def test_gives_up_after_the_limit_with_a_failure_event(
    tmp_path: Path, webhook_factory: Callable[..., WebhookServer]
) -> None:
    hook = webhook_factory(then=503)
    cfg = config({"h": hook.url()}, {"r": {"targets": ["h"], "attach": "none"}},
                 retry={"max_attempts": 3, "initial_delay_s": 0.05, "jitter": 0.0})
    emitted: list[Event] = []
    async with running(tmp_path / "o.sqlite", cfg, emitted) as (box, notifier):
        ev = event()
        await store_event(box, notifier, ev)
        await until(lambda: bool(emitted))
        await asyncio.sleep(0.3)
        stats = notifier.stats()
    assert len(hook.requests) == 3
    (failed,) = emitted
    assert failed.type == "notification.failed"
    a = failed.attributes
    assert isinstance(a, NotificationFailedAttributes)
    assert (a.event_id, a.event_type, a.rule, a.target) == (ev.event_id, ev.type, "r", "h")
    assert a.attempts == 3 and "503" in a.error
    assert (stats.failed, stats.sent, stats.queued) == (1, 0, 0)
    assert job_states(tmp_path / "o.sqlite") == [("h", FAILED, 3)]


async def test_a_target_that_is_down_stops_neither_events_nor_other_targets(
    tmp_path: Path, webhook_factory: Callable[..., WebhookServer]
) -> None:
    hanging = webhook_factory(hang_s=10.0)  # longer than Apprise's read timeout
    good = webhook_factory()
    cfg = config(
        {"slow": hanging.url(), "refused": "json://127.0.0.1:9/x", "good": good.url()},
        {"r": {"targets": ["slow", "refused", "good"], "attach": "none"}},
        concurrency=2,
    )
    async with running(tmp_path / "o.sqlite", cfg) as (box, notifier):
        for i in range(5):
            await store_event(box, notifier, event(track_id=f"t{i}"))
        assert box.depth == 5  # every event stored at once
        await until(lambda: notifier.stats().rules["r"].sent == 5, 15.0)
        # All five reached the good target while the slow one held a thread all along.
        assert len(good.ok()) == 5
        assert hanging.requests == []
        assert notifier.stats().rules["r"].retried >= 1  # the refused one keeps retrying


async def test_one_event_many_targets_one_job_each(
    tmp_path: Path, webhook_factory: Callable[..., WebhookServer]
) -> None:
    a, b = webhook_factory(), webhook_factory()
    cfg = config({"a": a.url(), "b": b.url()},
                 {"r1": {"targets": ["both"], "attach": "none"},
                  "r2": {"targets": ["a"], "attach": "none"}},
                 groups={"both": ["a", "b"]})
    async with running(tmp_path / "o.sqlite", cfg) as (box, notifier):
        assert await store_event(box, notifier, event()) == 3
        await until(lambda: notifier.stats().sent == 3)
    assert len(a.requests) == 2 and len(b.requests) == 1


async def test_expired_and_orphaned_jobs_are_given_up_without_a_send(
    tmp_path: Path, webhook_factory: Callable[..., WebhookServer]
) -> None:
    hook = webhook_factory()
    cfg = config({"h": hook.url()}, {"r": {"targets": ["h"], "attach": "none"}},
                 retry={"give_up_after_s": 60})
    emitted: list[Event] = []
    async with running(tmp_path / "o.sqlite", cfg, emitted) as (_, notifier):
        old = JobSpec("e-old", "r", "h", "cam1", "weapon", "t", "b", AttachKind.NONE)
        gone = JobSpec("e-gone", "r", "removed", "cam1", "weapon", "t", "b", AttachKind.NONE)
        await notifier.queue(JobBatch([old], created=time.time() - 120, hold_until=0.0))
        await notifier.queue(JobBatch([gone], created=time.time(), hold_until=0.0))
        await until(lambda: len(emitted) == 2)
    assert hook.requests == []
    attrs = [a for a in (e.attributes for e in emitted)
             if isinstance(a, NotificationFailedAttributes)]
    errors = sorted(a.error for a in attrs)
    assert errors[0].startswith("expired undelivered after 12")
    assert errors[1] == "target 'removed' is no longer configured"
    assert job_states(tmp_path / "o.sqlite") == [("h", FAILED, 0), ("removed", FAILED, 0)]
    assert [a.attempts for a in attrs] == [0, 0]
