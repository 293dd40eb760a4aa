"""The explanation service in a running node: its own model sessions mirroring the node's, the
``explain`` command, the frames of recent events, and the explanations configured per analytic.

``attach_explanations`` registers everything at once (before the link connects, like the other
commands) and returns the service's lifetime: a coroutine the node runs as a task, which closes
the service's worker thread when the node stops (cancels it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Protocol

from node.analytics.base import AnalyticFactory
from node.analytics.registry import AnalyticBuilder, resolve_builder
from node.commands.dispatcher import CommandDispatcher
from node.explain.explainer import Explainer
from node.explain.service import ExplainService
from node.explain.sources import MirroredLoader, explain_models
from node.frame import Frame
from node.mqtt.topics import Topics
from node.registry.loader import ModelLoader
from schemas.config import NodeConfig
from schemas.config.explain import ExplainOnEvents
from schemas.events import Event


class PublishLink(Protocol):
    async def publish(
        self, suffix_or_topic: str, payload: bytes | str, qos: int = 0, retain: bool = False
    ) -> bool: ...


class FrameSink(Protocol):
    """What is needed of ``node.sink.OutboxEventSink``: a hook on each event and its frame."""

    frame_observers: list[Callable[[Event, Frame | None], None]]


class Frames(Protocol):
    """``node.control.PipelineControl``: a camera's latest frame."""

    def latest(self, camera: str) -> Awaitable[Frame | None]: ...


def analytic_of_types(config: NodeConfig, running: Sequence[str]) -> dict[str, str]:
    """Event type -> the analytic that declares it, for the running analytics."""
    out: dict[str, str] = {}
    for name in running:
        builder = resolve_builder(name)
        types = builder.emits(config, running) if isinstance(builder, AnalyticBuilder) else [name]
        for t in types:
            out.setdefault(t, name)
    return out


def on_events(config: NodeConfig, running: Sequence[str]) -> dict[str, ExplainOnEvents]:
    sections = {name: getattr(config.analytics, name, None) for name in running}
    return {
        name: s.explain for name, s in sections.items()
        if s is not None and getattr(s, "explain", None) is not None and s.explain.types
    }  # fmt: skip


def attach_explanations(
    config: NodeConfig,
    loader: ModelLoader,
    link: PublishLink,
    dispatcher: CommandDispatcher | None,
    frames: Frames,
    sink: FrameSink,
    faces: Any,
    factories: Sequence[AnalyticFactory],
) -> Coroutine[Any, Any, None]:
    """Register the service now; the returned coroutine is its lifetime (run it as a task).
    ``faces``: the node's ``FaceServices`` (its live gallery), None without the faces analytic."""
    if not config.explain.enabled:
        return _idle()
    running = [f.name for f in factories]
    own = ModelLoader(loader.store, loader.config, intra_op_threads=config.explain.intra_op_threads)
    models = explain_models(
        config, MirroredLoader(own, loader),
        gallery=(lambda: faces.gallery) if faces is not None else None,
    )  # fmt: skip
    types = analytic_of_types(config, running)

    async def publish(topic: str, payload: bytes) -> None:
        await link.publish(topic, payload)  # QoS 0, like snapshots: never queued

    service = ExplainService(
        Explainer(models, max_budget=config.explain.max_budget),
        config.explain,
        Topics(config.mqtt.topic_prefix, config.node_id),
        publish,
        latest_frame=frames.latest,
        cameras=[c.name for c in config.cameras],
        analytic_of=types.get,
        on_events=on_events(config, running),
    )
    if dispatcher is not None:
        service.register(dispatcher)
    sink.frame_observers.append(service.observe)
    return _lifetime(service)


async def _idle() -> None:
    return None


async def _lifetime(service: ExplainService) -> None:
    try:
        await asyncio.Event().wait()  # until the node cancels its tasks
    finally:
        await service.close()
