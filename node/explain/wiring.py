"""The explanation service in a running node: its own model sessions mirroring the node's, the
``explain`` command, the frames of recent events, and the explanations configured per analytic.

``attach_explanations`` registers everything at once (before the link connects, like the other
commands) and returns the service's lifetime: a coroutine the node runs as a task, which closes
the service's worker thread when the node stops (cancels it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Protocol

from node.analytics.base import AnalyticFactory
from node.analytics.registry import AnalyticBuilder, resolve_builder
from node.commands.dispatcher import CommandDispatcher
from node.explain.errors import UnsupportedError
from node.explain.explainer import Explainer, check_supported
from node.explain.service import ANALYTIC_MODEL, EVENT_METHOD, ExplainService
from node.explain.sources import MirroredLoader, explain_models
from node.frame import Frame
from node.mqtt.topics import Topics
from node.registry.loader import ModelLoader
from schemas.config import NodeConfig
from schemas.config.explain import ExplainOnEvents
from schemas.events import Event

log = logging.getLogger(__name__)

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


def on_events(
    config: NodeConfig, running: Sequence[str], types: dict[str, str]
) -> dict[str, ExplainOnEvents]:
    """Each running analytic's ``explain`` section, when it names types; a section that cannot
    work (no explainable model, a method the model lacks, a type the analytic never emits) is
    logged and left out: the analytic runs, its events are not explained."""
    out: dict[str, ExplainOnEvents] = {}
    for name in running:
        section = getattr(getattr(config.analytics, name, None), "explain", None)
        if not isinstance(section, ExplainOnEvents) or not section.types:
            continue
        model = ANALYTIC_MODEL.get(name)
        method = section.method or (EVENT_METHOD[model] if model else None)
        strange = [t for t in section.types if types.get(t) != name]
        try:
            if model is None or method is None:
                raise UnsupportedError(f"{name} has no explainable model")
            check_supported(model, method)
            if strange:
                raise UnsupportedError(f"{name} does not emit {strange}")
        except UnsupportedError as err:
            log.error("analytics.%s.explain ignored: %s", name, err)
            continue
        out[name] = section
    return out


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
        on_events=on_events(config, running, types),
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
