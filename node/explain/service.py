"""``ExplainService``: the ``explain`` command and the explanations attached to ``new`` events.

Explanations are heavy (hundreds of forward passes), so they never run on the event loop nor in
the pipeline's worker pool: one dedicated worker thread runs them one at a time, at a lower
priority (``explain.nice``: on Linux a thread has its own niceness), with the explainer's own
model sessions of ``explain.intra_op_threads`` threads (ONNX Runtime then computes on the calling
thread, so the lowered priority holds for all of the work). The cameras keep their frame rate;
``benchmarks/explain_fps.py`` measures it. Each request has a mask budget (at most
``explain.max_budget``) and a deadline (``explain.deadline_s``), and at most
``explain.max_pending`` are queued; more are refused rather than piled up.

The overlay JPEG goes to ``Topics.explain_image`` (Home Assistant's "latest explanation" image
entity reads it) and the report to ``Topics.explain_report``; the command's reply carries the
same report with the image topic named in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from node.commands.dispatcher import CommandContext, CommandDispatcher
from node.commands.errors import CommandError
from node.explain.errors import (
    DeadlineError,
    ExplainError,
    MissingExtraError,
    TargetError,
    UnsupportedError,
)
from node.explain.explainer import BudgetError, Explainer, ExplainRequest
from node.explain.maps import Explanation, Image
from node.explain.report import overlay_image, report
from node.frame import Frame
from node.inference.errors import ModelError
from node.mqtt.topics import Topics
from node.snapshots import encode_jpeg
from schemas.commands import ErrorCode
from schemas.config.explain import ExplainConfig, ExplainOnEvents
from schemas.events import Event, Lifecycle
from schemas.explain import ExplainMethod, ExplainModel, ExplainParams, ExplainReport

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], Awaitable[Any]]
# which explainable model serves each analytic, and the method an event gets by default
ANALYTIC_MODEL: dict[str, ExplainModel] = {"fire": "fire", "objects": "objects", "faces": "faces"}
EVENT_METHOD: dict[ExplainModel, ExplainMethod] = {
    "fire": "rise", "objects": "drise", "suspect": "drise", "faces": "occlusion",
}  # fmt: skip


class RecentEventFrames:
    """The frames of the last ``capacity`` events that came with one (thread-safe), so a recent
    event can be explained by id. Frames are shared with the pipeline, never copied: a 1080p
    frame is about 6 MB."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[Event, Frame]] = OrderedDict()

    def record(self, event: Event, frame: Frame) -> None:
        if self._capacity == 0:
            return
        with self._lock:
            self._items[event.event_id] = (event, frame)
            self._items.move_to_end(event.event_id)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)

    def get(self, event_id: str) -> tuple[Event, Frame] | None:
        with self._lock:
            return self._items.get(event_id)


def lower_priority(nice: int) -> Callable[[], None]:
    """A thread initialiser that raises the calling thread's niceness by ``nice`` (Linux; a
    no-op elsewhere or when the system refuses)."""

    def init() -> None:
        if nice <= 0 or not hasattr(os, "setpriority"):
            return
        tid = threading.get_native_id()
        try:
            current = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, min(19, current + nice))
        except OSError as err:
            log.warning("explanations run at the node's priority: %s", err)

    return init


@dataclass(frozen=True)
class Job:
    image: Image
    request: ExplainRequest
    camera: str
    event_id: str | None = None


# ExplainError subclass -> the reply's code
ERROR_CODES: dict[type[ExplainError], ErrorCode] = {
    UnsupportedError: ErrorCode.INVALID_PARAMS,
    BudgetError: ErrorCode.INVALID_PARAMS,
    TargetError: ErrorCode.NOT_FOUND,
    DeadlineError: ErrorCode.DEADLINE_EXCEEDED,
    MissingExtraError: ErrorCode.UNAVAILABLE,
}


class ExplainService:
    def __init__(
        self,
        explainer: Explainer,
        config: ExplainConfig,
        topics: Topics,
        publish: Publish,
        latest_frame: Callable[[str], Awaitable[Frame | None]],
        cameras: Sequence[str],
        analytic_of: Callable[[str], str | None],
        on_events: Mapping[str, ExplainOnEvents] | None = None,
    ) -> None:
        """``latest_frame(camera)``: the camera's latest frame (``PipelineControl.latest``);
        ``analytic_of(event_type)`` names the analytic that emits a type; ``on_events`` maps
        analytic name -> which of its ``new`` events get an explanation."""
        self._explainer = explainer
        self._config = config
        self._topics = topics
        self._publish = publish
        self._latest = latest_frame
        self._cameras = list(cameras)
        self._analytic_of = analytic_of
        self._on_events = dict(on_events or {})
        self.frames = RecentEventFrames(config.remember_events)
        self._executor = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="citywatch-explain",
            initializer=lower_priority(config.nice),
        )
        self._pending = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.done = 0
        self.failed = 0

    def register(self, dispatcher: CommandDispatcher) -> None:
        dispatcher.register("explain", ExplainParams, self.command)

    # -- the command --------------------------------------------------------------------------

    async def command(self, p: ExplainParams, ctx: CommandContext) -> dict[str, Any]:
        if not self._config.enabled:
            raise CommandError(ErrorCode.UNAVAILABLE, "explanations are off (explain.enabled)")
        if p.budget is not None and p.budget > self._config.max_budget:
            raise CommandError(
                ErrorCode.INVALID_PARAMS,
                f"budget {p.budget} is more than this node allows (explain.max_budget "
                f"{self._config.max_budget})",
            )
        job = await self._job(p)
        r = await self._run(job)
        return r.model_dump(mode="json", exclude_none=True)

    async def _job(self, p: ExplainParams) -> Job:
        if p.event_id is not None:
            found = self.frames.get(p.event_id)
            if found is None:
                raise CommandError(
                    ErrorCode.NOT_FOUND,
                    f"no recent event {p.event_id!r} with a frame (the node keeps the last "
                    f"{self._config.remember_events})",
                )
            event, seen = found
            model = p.model or self._model_of(event)
            return Job(seen.image, self._request(p, model, event), event.camera, event.event_id)
        assert p.camera is not None and p.model is not None  # ExplainParams checks it
        if p.camera not in self._cameras:
            raise CommandError(ErrorCode.NOT_FOUND, f"unknown camera {p.camera!r}; known: "
                                                    f"{self._cameras}")  # fmt: skip
        frame = await self._latest(p.camera)
        if frame is None:
            raise CommandError(ErrorCode.UNAVAILABLE, f"no frame from camera {p.camera!r} yet")
        return Job(frame.image, self._request(p, p.model, None), p.camera)

    def _model_of(self, event: Event) -> ExplainModel:
        analytic = self._analytic_of(event.type)
        model = ANALYTIC_MODEL.get(analytic or "")
        if model is None:
            raise CommandError(
                ErrorCode.INVALID_PARAMS,
                f"event type {event.type!r} comes from {analytic or 'an unknown analytic'}, which "
                f"has no explainable model; name one with model ({sorted(EVENT_METHOD)})",
            )
        return model

    def _request(
        self, p: ExplainParams, model: ExplainModel, event: Event | None
    ) -> ExplainRequest:
        target, box, identity = p.target, p.box, p.identity
        if event is not None:  # what the event says, unless the request says otherwise
            if box is None and event.box is not None and model in ("objects", "suspect"):
                box = event.box.as_list()
            if target is None and model in ("objects", "suspect", "fire"):
                target = event.label  # a node label: the detector maps it to its class
            if identity is None and model == "faces":
                found = getattr(event.attributes, "identity", None)
                identity = found if isinstance(found, str) else None
        return ExplainRequest(
            model=model, method=p.method, target=target, box=box, identity=identity,
            budget=p.budget, deadline_s=self._config.deadline_s, seed=p.seed,
        )  # fmt: skip

    # -- running ------------------------------------------------------------------------------

    async def _run(self, job: Job) -> ExplainReport:
        if self._pending >= self._config.max_pending:
            raise CommandError(
                ErrorCode.UNAVAILABLE,
                f"{self._pending} explanations are queued or running (explain.max_pending); "
                "try again later",
            )
        self._pending += 1
        loop = asyncio.get_running_loop()
        try:
            e, jpeg = await loop.run_in_executor(self._executor, self._explain, job)
        except ExplainError as err:
            self.failed += 1
            code = next((c for t, c in ERROR_CODES.items() if isinstance(err, t)),
                        ErrorCode.INVALID_PARAMS)  # fmt: skip
            raise CommandError(code, str(err)) from None
        except ModelError as err:
            self.failed += 1
            raise CommandError(ErrorCode.UNAVAILABLE, str(err)) from None
        finally:
            self._pending -= 1
        r = report(e, topic=self._topics.explain_image, event_id=job.event_id, camera=job.camera)
        await self._publish(self._topics.explain_image, jpeg)
        await self._publish(self._topics.explain_report, r.model_dump_json(exclude_none=True)
                            .encode())  # fmt: skip
        self.done += 1
        return r

    def _explain(self, job: Job) -> tuple[Explanation, bytes]:
        """Blocking, in the worker thread: the explanation and its overlay JPEG."""
        e = self._explainer.explain(job.image, job.request)
        shown = overlay_image(job.image, e)
        return e, encode_jpeg(shown, self._config.max_width, self._config.jpeg_quality)

    # -- events -------------------------------------------------------------------------------

    def observe(self, event: Event, frame: Frame | None) -> None:
        """Every emitted event (on the loop, after it is stored): remember its frame, and start
        the configured explanation of a ``new`` one in the background."""
        if frame is None:
            return
        self.frames.record(event, frame)
        if event.lifecycle is not Lifecycle.NEW:
            return
        analytic = self._analytic_of(event.type)
        wanted = self._on_events.get(analytic or "")
        model = ANALYTIC_MODEL.get(analytic or "")
        if wanted is None or model is None or event.type not in wanted.types:
            return
        method = wanted.method or EVENT_METHOD[model]
        p = ExplainParams(event_id=event.event_id, model=model, method=method,
                          budget=wanted.budget)  # fmt: skip
        task = asyncio.ensure_future(self._explain_event(p))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _explain_event(self, p: ExplainParams) -> None:
        try:
            await self._run(await self._job(p))
        except CommandError as err:
            log.warning("explanation of event %s not made: %s", p.event_id, err.message)
        except Exception:
            log.exception("explanation of event %s failed", p.event_id)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._executor.shutdown(wait=False, cancel_futures=True)
