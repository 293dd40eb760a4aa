"""The job store: jobs committed with their event, de-duplicated, kept across a SIGKILL."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from node.notify.store import QUEUED, SENT, JobBatch, JobSpec, JobStore
from node.notify.worker import backoff_delay
from node.outbox import Outbox
from schemas.config.notifications import AttachKind, RetryConfig
from schemas.config.outbox import OutboxConfig, OverflowPolicy
from tests.conftest import REPO
from tests.notify.events import event
from tests.notify.harness import config, running, until
from tests.notify.servers import WebhookServer


def spec(event_id: str = "e1", rule: str = "r", target: str = "h") -> JobSpec:
    return JobSpec(event_id, rule, target, "cam1", "weapon", "t", "b", AttachKind.NONE)


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return list(db.execute(sql))


async def test_jobs_commit_with_their_event(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    cfg = config({"h": "json://127.0.0.1:9/x"}, {"r": {"targets": ["h"]}})
    async with running(path, cfg) as (box, notifier):
        await notifier.stop()  # no sends: look at the stored state only
        batch = notifier.plan(event(), has_frame=False)
        assert batch is not None
        await box.put("t", b"event", also=batch.write)
        # Another connection sees the event and its job together.
        assert rows(path, "SELECT COUNT(*) FROM outbox") == [(1,)]
        assert rows(path, "SELECT target, state FROM notify_job") == [("h", QUEUED)]


async def test_a_rolled_back_event_leaves_no_job(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    cfg = config({"h": "json://127.0.0.1:9/x"}, {"r": {"targets": ["h"]}})
    async with running(path, cfg) as (box, notifier):
        await notifier.stop()
        batch = notifier.plan(event(), has_frame=False)
        assert batch is not None

        def write_then_fail(db: sqlite3.Connection) -> None:
            batch.write(db)
            raise RuntimeError("disk gone")

        with pytest.raises(RuntimeError):
            await box.put("t", b"event", also=write_then_fail)
        assert rows(path, "SELECT COUNT(*) FROM outbox") == [(0,)]
        assert rows(path, "SELECT COUNT(*) FROM notify_job") == [(0,)]


async def test_jobs_kept_when_the_outbox_drops_the_newest(tmp_path: Path) -> None:
    # The overflow policy bounds the MQTT backlog; a notification is not part of it.
    path = tmp_path / "o.sqlite"
    cfg = OutboxConfig(max_messages=1, overflow=OverflowPolicy.DROP_NEWEST)
    async with Outbox(path, cfg) as box:
        store = JobStore(box)
        await store.open()
        await box.put("t", b"1")
        batch = JobBatch([spec()], created=0.0, hold_until=0.0)
        assert await box.put("t", b"2", also=batch.write) is None
        assert batch.inserted == {"r": 1}
        assert rows(path, "SELECT COUNT(*) FROM notify_job") == [(1,)]


async def test_same_key_is_queued_once(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    async with Outbox(path, OutboxConfig()) as box:
        store = JobStore(box)
        await store.open()
        first = JobBatch([spec(), spec(target="k")], created=0.0, hold_until=0.0)
        await store.add(first)
        again = JobBatch([spec(), spec(rule="r2")], created=0.0, hold_until=0.0)
        await store.add(again)
        assert first.inserted == {"r": 2}
        assert again.inserted == {"r": 0, "r2": 1}
        assert await store.queued_by_rule() == {"r": 2, "r2": 1}


def test_backoff_is_exponential_capped_and_jittered() -> None:
    retry = RetryConfig(initial_delay_s=2, max_delay_s=30, jitter=0.25)
    rng = random.Random(7)
    for n, base in [(1, 2), (2, 4), (3, 8), (4, 16), (5, 30), (9, 30)]:
        delays = [backoff_delay(n, retry, rng) for _ in range(200)]
        assert base * 0.75 <= min(delays) and max(delays) <= base * 1.25
        assert max(delays) - min(delays) > base * 0.3  # actually spread
    flat = RetryConfig(initial_delay_s=2, max_delay_s=30, jitter=0.0)
    assert backoff_delay(3, flat, rng) == 8.0


SENDER = """
import asyncio, sys
sys.path.insert(0, {repo!r})
from node.clock import SystemClock
from node.notify.service import Notifier
from node.outbox import Outbox
from schemas.config.notifications import NotificationsConfig
from schemas.config.outbox import OutboxConfig
from tests.notify.events import event
from tests.notify.harness import store_event

cfg = NotificationsConfig.model_validate({cfg!r})

async def main():
    async with Outbox({path!r}, OutboxConfig()) as box:
        n = Notifier(cfg, box, node_id="n1", clock=SystemClock())
        await n.start()
        if {first!r}:
            await store_event(box, n, event(event_id="e-kill"))
        print("ready", flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_sigkill_between_retries_then_restart_delivers_once(
    tmp_path: Path, webhook_factory: Callable[..., WebhookServer]
) -> None:
    """Two targets: `ok` acknowledges at once, `flaky` fails; the process is killed before the
    retry. After the restart `flaky` gets it once and `ok` is not contacted again."""
    ok, flaky = webhook_factory(), webhook_factory(script=[500])
    path = tmp_path / "o.sqlite"
    cfg = {
        "timezone": "UTC",
        "targets": {"ok": {"url": ok.url()}, "flaky": {"url": flaky.url()}},
        "rules": {"r": {"targets": ["ok", "flaky"], "attach": "none"}},
        # Long enough that the kill lands between the first attempt and the retry.
        "retry": {"initial_delay_s": 2.0, "jitter": 0.0},
    }

    def start(first: bool) -> subprocess.Popen[bytes]:
        script = SENDER.format(repo=str(REPO), cfg=cfg, path=str(path), first=first)
        return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], cwd=REPO)

    proc = start(first=True)
    try:
        await until(lambda: len(ok.requests) == 1 and len(flaky.requests) == 1, 30)
        await until(lambda: rows(path, "SELECT COUNT(*) FROM notify_job WHERE attempts = 1")
                    == [(2,)], 10)
        proc.kill()  # SIGKILL, between the failed attempt and its retry
        proc.wait()
        assert rows(path, "SELECT target, state FROM notify_job ORDER BY target") == [
            ("flaky", QUEUED), ("ok", SENT)]
        proc = start(first=False)
        await until(lambda: len(flaky.ok()) == 1, 30)
        await until(lambda: rows(path, "SELECT state FROM notify_job WHERE target = 'flaky'")
                    == [(SENT,)], 10)
    finally:
        proc.kill()
        proc.wait()
    assert [r.status for r in flaky.requests] == [500, 200]
    assert len(ok.requests) == 1  # acknowledged before the kill: never sent again
