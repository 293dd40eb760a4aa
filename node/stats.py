"""The node's ``stats`` message (``schemas.status.NodeStats``): built from the running parts,
published every ``stats_interval_s`` (QoS 0, not retained) while the broker is connected."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import asdict

from node.commands import CommandDispatcher
from node.movement.escalation import EscalationWorker
from node.mqtt.link import MqttLink
from node.outbox import Outbox
from node.pipeline.camera import CameraPipeline
from schemas.status import (
    CameraStats,
    EscalationStats,
    LinkStats,
    NodeStats,
    NotificationStats,
    OutboxStats,
)


def node_stats(
    node_id: str,
    ts: float,
    uptime_s: float,
    pipelines: Mapping[str, CameraPipeline],
    *,
    outbox: Outbox | None,
    link: MqttLink | None,
    dispatcher: CommandDispatcher | None,
    analytics_failed: Mapping[str, str],
    escalations: EscalationWorker | None,
    notifications: NotificationStats | None = None,
) -> NodeStats:
    cameras = {name: camera_stats(p) for name, p in pipelines.items()}
    out = NodeStats(
        node_id=node_id,
        ts=ts,
        uptime_s=round(uptime_s, 3),
        cameras=cameras,
        inference_ms=inference_by_model(cameras),
    )
    if outbox is not None:
        oc = outbox.counters
        out.outbox = OutboxStats(
            depth=outbox.depth,
            enqueued=oc.enqueued,
            delivered=oc.delivered,
            dropped=oc.dropped,
            expired=oc.expired,
        )
    if link is not None:
        lc = link.counters
        out.mqtt = LinkStats(
            connected=link.connected.is_set(),
            protocol=link.protocol,
            connects=lc.connects,
            reconnects=lc.reconnects,
            connect_failures=lc.connect_failures,
            publish_failures=lc.publish_failures,
            handler_errors=lc.handler_errors,
        )
    if dispatcher is not None:
        out.commands = dispatcher.stats()
    out.analytics_failed = dict(analytics_failed)
    if escalations is not None:
        out.escalation = EscalationStats.model_validate(asdict(escalations.stats))
    out.notifications = notifications
    return out


def camera_stats(p: CameraPipeline) -> CameraStats:
    s = p.snapshot()
    # HA's sensors read `cameras.<cam>.inference_ms.<analytic>`: the EMA of each analytic.
    s["inference_ms"] = {
        name: a["inference"]["ema_ms"] for name, a in s.get("analytics", {}).items()
    }
    s["enabled"] = p.camera_enabled
    s["analytics_enabled"] = p.analytics
    return CameraStats.model_validate(s)


def inference_by_model(cameras: Mapping[str, CameraStats]) -> dict[str, float]:
    """Mean over cameras of each analytic's EMA inference time."""
    acc: dict[str, list[float]] = {}
    for cam in cameras.values():
        for name, ms in cam.inference_ms.items():
            if ms is not None:
                acc.setdefault(name, []).append(float(ms))
    return {name: round(sum(v) / len(v), 2) for name, v in acc.items()}


async def publish_stats(
    link: MqttLink,
    topic: str,
    interval_s: float,
    stopped: asyncio.Event,
    stats: Callable[[], NodeStats],
) -> None:
    """Publish ``stats()`` on ``topic`` every ``interval_s`` while the link is connected.

    Ends with the node: once ``stopped`` is set the wait below returns at once, and a loop that
    kept going would flood the broker with stats while the cameras shut down."""
    while not stopped.is_set():
        await link.connected.wait()
        await link.publish(topic, stats().model_dump_json())
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stopped.wait(), interval_s)
