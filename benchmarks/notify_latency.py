"""Notification latency on loopback: event creation to e-mail received by a local SMTP server.

In one process and one run, alternating in blocks so background load hits both alike:

* **baselines**: a bare ``apprise`` call from a script, timed from the call to the SMTP server's
  ``DATA``: a new ``Apprise()`` object per message (what a cron or hook script does), and one
  object reused with Apprise's pacing off (the least Apprise itself costs);
* **node**: an ``Event`` is created, its notification planned by the rules, stored with it in
  the durable outbox (one SQLite transaction), picked up by the worker and sent through Apprise
  in its thread pool; timed from the event's creation to the SMTP server's ``DATA``.

Both are run without and with a JPEG snapshot attached (``--jpeg-width``; the node path hands the
image over as the event sink does, after the event is stored). Events go one at a time (each
waits for its e-mail), so this is latency, not throughput. It prints p50 and p99 and their
ratios to the baseline; the ratios are the figures to compare across machines.

    python benchmarks/notify_latency.py --events 200
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import json
import os
import socket
import statistics
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import apprise
import cv2
import numpy as np
from aiosmtpd.controller import Controller

from node.clock import SystemClock
from node.notify.service import Notifier
from node.outbox import Outbox
from schemas.attributes import MovementAttributes
from schemas.config.notifications import NotificationsConfig
from schemas.config.outbox import OutboxConfig
from schemas.events import Event, Lifecycle, Severity

FALL = MovementAttributes(track_id=1, action="fall", probs={"fall": 0.9})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """aiosmtpd handler: the receive time of each message, by subject."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.attachments: dict[str, int] = {}
        self._cond = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        now = time.perf_counter()
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        subject = str(msg["Subject"])
        with self._cond:
            self.at[subject] = now
            parts = msg.iter_attachments()  # type: ignore[attr-defined]
            self.attachments[subject] = sum(1 for _ in parts)
            self._cond.notify_all()
        return "250 OK"

    def wait(self, subject: str, timeout: float = 30.0) -> float:
        deadline = time.monotonic() + timeout
        with self._cond:
            while subject not in self.at:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no e-mail {subject!r} after {timeout}s")
                self._cond.wait(left)
            return self.at[subject]


def percentiles(ms: list[float]) -> dict[str, float]:
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"n": len(ms), "p50_ms": statistics.median(ms), "p99_ms": q[98]}


def make_jpeg(width: int) -> bytes:
    h = width * 9 // 16
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 255, (h, width, 3), dtype=np.uint8), (0, 0), 3)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return bytes(buf.tobytes())


def baseline_block(
    url: str, inbox: Inbox, n: int, start: int, jpeg_path: Path | None, reuse: bool
) -> list[float]:
    """``reuse=False``: what a cron or hook script does, a fresh Apprise object per message.
    ``reuse=True``: one object, its pacing off (a reused object otherwise waits out Apprise's
    5.5 s between e-mails): the least Apprise itself costs."""
    kept = apprise.Apprise()
    kept.add(url)
    for server in kept:
        server.request_rate_per_sec = 0
    out: list[float] = []
    for i in range(start, start + n):
        subject = f"baseline-{int(reuse)}-{i}"
        t0 = time.perf_counter()
        a = kept
        if not reuse:
            a = apprise.Apprise()
            a.add(url)
        attach = str(jpeg_path) if jpeg_path is not None else None
        if not a.notify(title=subject, body="bare apprise call", attach=attach):
            raise RuntimeError("the bare apprise call failed")
        out.append((inbox.wait(subject) - t0) * 1000.0)
    return out


async def node_block(
    box: Outbox, notifier: Notifier, inbox: Inbox, n: int, start: int, jpeg: bytes | None
) -> list[float]:
    out: list[float] = []
    for i in range(start, start + n):
        t0 = time.perf_counter()
        event = Event(
            node_id="bench", camera="cam1", type="movement", track_id=f"t{i}",
            lifecycle=Lifecycle.NEW, started_at=datetime.now(timezone.utc), score=0.9, label="fall",
            severity=Severity.HIGH, attributes=FALL,
        )
        batch = notifier.plan(event, has_frame=jpeg is not None)
        assert batch is not None
        await box.put("bench/events/movement", event.model_dump_json().encode(),
                      also=batch.write)
        notifier.committed(batch)
        if jpeg is not None:
            await notifier.attach(event.event_id, jpeg, None)
        received = await asyncio.to_thread(inbox.wait, event.event_id)
        out.append((received - t0) * 1000.0)
    return out


async def event_path_cost(path: Path, n: int = 300) -> dict[str, float]:
    """What notifications add to the camera pipeline's side: ``outbox.put`` alone vs rule
    matching + templates + the jobs in the same transaction (no worker running)."""
    cfg = NotificationsConfig.model_validate({
        "timezone": "UTC", "targets": {"m": {"url": "json://127.0.0.1:9/x"}},
        "rules": {"r": {"targets": ["m"]}},
    })
    bare: list[float] = []
    with_jobs: list[float] = []
    async with Outbox(path, OutboxConfig()) as box:
        notifier = Notifier(cfg, box, node_id="bench", clock=SystemClock())
        await notifier.store.open()
        for i in range(n):
            event = Event(
                node_id="bench", camera="cam1", type="movement", track_id=f"p{i}",
                lifecycle=Lifecycle.NEW, started_at=datetime.now(timezone.utc), score=0.9,
                label="fall", attributes=FALL,
            )
            t0 = time.perf_counter()
            await box.put("bench/events/movement", event.model_dump_json().encode())
            bare.append((time.perf_counter() - t0) * 1000.0)
            t0 = time.perf_counter()
            batch = notifier.plan(event, has_frame=False)
            assert batch is not None
            await box.put("bench/events/movement", event.model_dump_json().encode(),
                          also=batch.write)
            notifier.committed(batch)
            with_jobs.append((time.perf_counter() - t0) * 1000.0)
    b, w = percentiles(bare), percentiles(with_jobs)
    return {"put_p50_ms": b["p50_ms"], "put_p99_ms": b["p99_ms"],
            "with_jobs_p50_ms": w["p50_ms"], "with_jobs_p99_ms": w["p99_ms"]}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    inbox = Inbox()
    port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    url = f"mailto://127.0.0.1:{port}?mode=insecure&from=node@example.org&to=ops@example.org"
    jpeg = make_jpeg(args.jpeg_width)
    results: dict[str, Any] = {"jpeg_bytes": len(jpeg), "rows": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            jpeg_path = Path(tmp) / "snapshot.jpg"
            jpeg_path.write_bytes(jpeg)
            cfg = NotificationsConfig.model_validate({
                "timezone": "UTC",
                # Unpaced, like the baseline's fresh Apprise object per call.
                "targets": {"mail": {"url": url, "min_interval_s": 0}},
                "rules": {"fall": {"types": ["movement"], "targets": ["mail"],
                                   "title": "{event_id}"}},
            })
            async with Outbox(Path(tmp) / "outbox.sqlite", OutboxConfig()) as box:
                notifier = Notifier(cfg, box, node_id="bench", clock=SystemClock())
                await notifier.start()
                for attach in (False, True):
                    fresh: list[float] = []
                    reused: list[float] = []
                    node: list[float] = []
                    per = args.events // args.blocks
                    image_path = jpeg_path if attach else None
                    for b in range(args.blocks):
                        start = b * per + (10_000 if attach else 0)
                        fresh += await asyncio.to_thread(
                            baseline_block, url, inbox, per, start, image_path, False
                        )
                        reused += await asyncio.to_thread(
                            baseline_block, url, inbox, per, start, image_path, True
                        )
                        node += await node_block(
                            box, notifier, inbox, per, start, jpeg if attach else None
                        )
                    results["rows"].append({
                        "case": "snapshot attached" if attach else "no attachment",
                        "fresh": percentiles(fresh), "reused": percentiles(reused),
                        "node": percentiles(node),
                    })
                await notifier.stop()
                stats = notifier.stats()
                results["sent"] = stats.sent
                results["failed"] = stats.failed
            results["event_path"] = await event_path_cost(Path(tmp) / "cost.sqlite")
        results["emails"] = len(inbox.at)
        results["with_attachment"] = sum(1 for n in inbox.attachments.values() if n)
    finally:
        smtp.stop()
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=200, help="Events per case (>= 200).")
    p.add_argument("--blocks", type=int, default=4, help="Alternating blocks per case.")
    p.add_argument("--jpeg-width", type=int, default=640, help="Snapshot width (16:9).")
    p.add_argument("--json", action="store_true", help="Print the raw results as JSON.")
    args = p.parse_args()
    results = asyncio.run(run(args))
    if args.json:
        print(json.dumps(results, indent=2))
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; "
          f"snapshot {results['jpeg_bytes']} bytes; {results['emails']} e-mails "
          f"({results['with_attachment']} with the snapshot), node sent {results['sent']}, "
          f"failed {results['failed']}")
    ep = results["event_path"]
    print(f"event path: outbox.put alone p50 {ep['put_p50_ms']:.3f} ms, p99 "
          f"{ep['put_p99_ms']:.3f} ms; with rules + jobs in the same transaction p50 "
          f"{ep['with_jobs_p50_ms']:.3f} ms, p99 {ep['with_jobs_p99_ms']:.3f} ms")
    print("| case | path | events | p50 ms | p99 ms | node p50 / this | node p99 / this |")
    print("|---|---|---|---|---|---|---|")
    paths = (("fresh", "bare apprise, new object per call"),
             ("reused", "bare apprise, one object, unpaced"), ("node", "node"))
    for r in results["rows"]:
        n = r["node"]
        for key, label in paths:
            x = r[key]
            ratios = ("", "") if key == "node" else (
                f"{n['p50_ms'] / x['p50_ms']:.2f}", f"{n['p99_ms'] / x['p99_ms']:.2f}")
            print(f"| {r['case']} | {label} | {x['n']} | {x['p50_ms']:.2f} | {x['p99_ms']:.2f} | "
                  f"{ratios[0]} | {ratios[1]} |")

if __name__ == "__main__":
    main()
