"""``LatestFrameCapture``: a thread reads a source and keeps only the newest frame.

Latest-frame semantics: the capture thread puts each decoded frame into a one-slot mailbox. A
live source (camera, stream, realtime-paced file) never waits for the consumer: a frame still
in the slot when the next one arrives is overwritten and counted in ``dropped``. A file read
with ``realtime: false`` is a batch job, so the thread waits for the slot to be taken instead
(``lossless``): the pipeline analyses every frame, and decoding of frame N+1 overlaps the
analysis of frame N.

Failures never escape the thread: a lost source is reported through the status listeners
(``online`` / ``offline`` / ``error`` / ``ended``) and reopened with exponential backoff and
jitter (``ReconnectConfig``). Clock, wait and opener are injectable so tests drive time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from node.clock import Clock, SystemClock
from node.frame import Frame, Image
from node.sources.base import (
    FrameSource,
    SourceCorrupt,
    SourceEnded,
    SourceError,
    redact,
)
from node.sources.factory import open_source
from node.thumbnail import Grey, grey_thumbnail
from schemas.config.camera import CameraConfig, ReconnectConfig

log = logging.getLogger(__name__)

State = Literal["starting", "online", "offline", "error", "ended", "stopped"]
Opener = Callable[[CameraConfig], FrameSource]
# wait(seconds) -> True when the capture was asked to stop meanwhile.
Wait = Callable[[float], bool]

# A realtime file more than this far behind its schedule (slow decoder, paused machine)
# restarts its schedule instead of bursting to catch up.
_MAX_LAG_S = 1.0


@dataclass(frozen=True)
class SourceStatus:
    """A change of the source's state, for ``<camera>/status``."""

    camera: str
    state: State
    reason: str | None
    source: str  # redacted description
    at: float  # wall clock
    reconnects: int

    def to_dict(self) -> dict[str, object]:
        return {
            "camera": self.camera,
            "state": self.state,
            "reason": self.reason,
            "source": self.source,
            "at": self.at,
            "reconnects": self.reconnects,
        }


StatusListener = Callable[[SourceStatus], None]


@dataclass(frozen=True, eq=False)
class CapturedFrame:
    """What the mailbox holds. ``generation`` changes whenever the source was (re)opened, so
    the pipeline can reset trackers after a reconnect or a loop; ``thumb`` is the motion
    gate's grey thumbnail, computed here, off the event loop (None when the gate is off)."""

    frame: Frame
    generation: int
    thumb: Grey | None


class Backoff:
    """Exponential backoff with relative jitter: initial, 2x, 4x, ... capped at ``max_s``."""

    def __init__(self, config: ReconnectConfig, rng: random.Random | None = None) -> None:
        self._config = config
        self._rng = rng or random.Random()
        self._attempt = 0

    def reset(self) -> None:
        self._attempt = 0

    def next_delay(self) -> float:
        c = self._config
        base = min(c.max_s, c.initial_s * (2.0 ** min(self._attempt, 32)))
        self._attempt += 1
        # Jitter spreads the retries of many cameras that lost the same network at once.
        return max(0.0, base * (1.0 + self._rng.uniform(-c.jitter, c.jitter)))


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _Mailbox:
    """One slot shared by the capture thread (put) and one asyncio consumer (take).

    The producer wakes the loop only when the consumer is actually waiting: in batch mode the
    consumer usually finds the next frame already there, and each avoided wake-up is a
    self-pipe write plus a loop iteration per frame (see the benchmark in docs/pipeline.md).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: CapturedFrame | None = None
        self._closed = False
        self._waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None
        self.dropped = 0

    def reopen(self) -> None:
        with self._cond:
            self._closed = False
            self._item = None

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: CapturedFrame, *, wait_for_taker: bool, stop: threading.Event) -> None:
        with self._cond:
            while wait_for_taker and self._item is not None:
                if stop.is_set():
                    return  # shutting down: this frame is not dropped, it is never delivered
                self._cond.wait(0.1)
            if self._item is not None:
                self.dropped += 1
            self._item = item
            waiter, self._waiter = self._waiter, None
        _wake(waiter)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            waiter, self._waiter = self._waiter, None
        _wake(waiter)

    def take_nowait(self) -> CapturedFrame | None:
        with self._cond:
            return self._pop_locked()

    async def take(self, timeout: float | None) -> CapturedFrame | None:
        """The next frame; None on timeout or when closed (and empty)."""
        loop = asyncio.get_running_loop()
        with self._cond:
            item = self._pop_locked()
            if item is not None or self._closed:
                return item
            fut: asyncio.Future[None] = loop.create_future()
            self._waiter = (loop, fut)
        timer = loop.call_later(timeout, _resolve, fut) if timeout is not None else None
        try:
            await fut
        finally:
            if timer is not None:
                timer.cancel()
            with self._cond:
                if self._waiter is not None and self._waiter[1] is fut:
                    self._waiter = None
        return self.take_nowait()

    def _pop_locked(self) -> CapturedFrame | None:
        item, self._item = self._item, None
        if item is not None:
            self._cond.notify_all()  # a lossless producer may be waiting for the slot
        return item


def _wake(waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None) -> None:
    if waiter is None:
        return
    loop, fut = waiter
    if not loop.is_closed():
        loop.call_soon_threadsafe(_resolve, fut)


class LatestFrameCapture:
    """Read one camera's source in a thread; hand the newest frame to one asyncio consumer.

    Constructor (stable, used by ``node.app``)::

        LatestFrameCapture(config: CameraConfig, *, opener=open_source, clock=SystemClock(),
                           wait=None, rng=None)

    ``start()`` / ``stop()`` may be called repeatedly (camera disabled and enabled again);
    ``await take(timeout)`` returns the next ``CapturedFrame``, or None on timeout or once the
    capture has ended or stopped (see ``finished``). Listeners added with ``add_listener`` are
    called in the capture thread on every state change.
    """

    def __init__(
        self,
        config: CameraConfig,
        *,
        opener: Opener = open_source,
        clock: Clock | None = None,
        wait: Wait | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.camera = config.name
        self._opener = opener
        self._clock: Clock = clock or SystemClock()
        self._stop = threading.Event()
        self._wait: Wait = wait or self._stop.wait
        self._backoff = Backoff(config.reconnect, rng)
        self._mailbox = _Mailbox()
        self._listeners: list[StatusListener] = []
        self._thread: threading.Thread | None = None
        self._state: State = "starting"
        self._reason: str | None = None
        self._generation = 0
        self._index = 0
        self._lossless = False
        self.frames_read = 0
        self.reconnects = 0
        self.opens = 0

    # -- consumer side -------------------------------------------------------------------------

    @property
    def dropped(self) -> int:
        return self._mailbox.dropped

    @property
    def state(self) -> State:
        return self._state

    @property
    def finished(self) -> bool:
        """True once the source ended (no loop) or the capture was stopped."""
        return self._mailbox.closed

    @property
    def lossless(self) -> bool:
        """A finite source read as fast as it decodes: no frame is dropped (module docstring).
        Live sources never wait for the consumer, whatever ``realtime`` says."""
        return self._lossless

    def add_listener(self, listener: StatusListener) -> None:
        self._listeners.append(listener)

    async def take(self, timeout: float | None = None) -> CapturedFrame | None:
        return await self._mailbox.take(timeout)

    def take_nowait(self) -> CapturedFrame | None:
        return self._mailbox.take_nowait()

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._mailbox.reopen()
        self._backoff.reset()
        self._thread = threading.Thread(
            target=self._run, name=f"capture-{self.camera}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0, reason: str | None = None) -> None:
        """Stop and join the thread (blocking: call it via ``asyncio.to_thread`` on a loop).
        ``reason`` goes into the ``stopped`` status (e.g. "disabled by command")."""
        self._stop.set()
        self._mailbox.close()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                # A stream read blocks in FFmpeg up to its read timeout; the thread is a daemon.
                log.warning("%s: capture thread still in a blocking read", self.camera)
        self._thread = None
        self._set_state("stopped", reason)

    # -- capture thread ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self._session() == "ended":
                    break
        except Exception as exc:  # a bug must not kill the thread silently
            log.exception("%s: capture thread crashed", self.camera)
            self._set_state("error", f"capture crashed: {exc!r}")
        finally:
            self._mailbox.close()

    def _session(self) -> Literal["retry", "ended"]:
        """Open the source once and pump it until it fails, ends or we are stopped."""
        source: FrameSource | None = None
        try:
            source = self._opener(self.config)
            source.open()
            self.opens += 1
            self._generation += 1
            return self._pump(source)
        except SourceCorrupt as exc:
            self._fail("error", exc)
        except SourceError as exc:
            self._fail("offline", exc)
        finally:
            if source is not None:
                source.close()
        return "retry"

    def _pump(self, source: FrameSource) -> Literal["retry", "ended"]:
        pace = source.fps if (self.config.realtime and source.finite) else None
        self._lossless = source.finite and not self.config.realtime
        start = self._clock.monotonic()
        n = 0
        while not self._stop.is_set():
            try:
                image = source.read()
            except SourceEnded as exc:
                if n == 0:
                    # Opened but empty: looping on it would spin; treat it as a broken source.
                    self._fail("error", SourceCorrupt(exc.source, "ended before a single frame"))
                    return "retry"
                if self.config.loop:
                    log.debug("%s: looping %s", self.camera, source.description)
                    return "retry"
                self._set_state("ended", None)
                return "ended"
            if pace:
                # Decode first, then hold the frame until its time: the end of a file is
                # found at once, and the frame is delivered on schedule.
                lag = self._clock.monotonic() - (start + n / pace)
                if lag < 0 and self._wait(-lag):
                    break
                if lag > _MAX_LAG_S:
                    start, n = self._clock.monotonic(), 0
            self._deliver(image)
            n += 1
        return "retry"

    def _deliver(self, image: Image) -> None:
        if self._state != "online":
            if self.opens > 1 and self._state in ("offline", "error"):
                self.reconnects += 1
            self._backoff.reset()
            self._set_state("online", None)
        image = _limit_width(image, self.config.max_width)
        thumb = grey_thumbnail(image) if self.config.motion.enabled else None
        frame = Frame(
            camera=self.camera,
            index=self._index,
            image=image,
            captured_at=self._clock.time(),
            monotonic=self._clock.monotonic(),
        )
        self._index += 1
        self.frames_read += 1
        self._mailbox.put(
            CapturedFrame(frame, self._generation, thumb),
            wait_for_taker=self.lossless,
            stop=self._stop,
        )

    def _fail(self, state: State, exc: SourceError) -> None:
        self._set_state(state, str(exc))
        delay = self._backoff.next_delay()
        log.log(
            logging.ERROR if state == "error" else logging.WARNING,
            "%s: %s; retrying in %.1fs",
            self.camera,
            exc,
            delay,
        )
        self._wait(delay)

    def _set_state(self, state: State, reason: str | None) -> None:
        if (state, reason) == (self._state, self._reason):
            return
        self._state, self._reason = state, reason
        status = SourceStatus(
            camera=self.camera,
            state=state,
            reason=reason,
            source=redact(self.config.source),
            at=self._clock.time(),
            reconnects=self.reconnects,
        )
        for listener in list(self._listeners):
            try:
                listener(status)
            except Exception:
                log.exception("%s: status listener failed", self.camera)


def _limit_width(image: Image, max_width: int | None) -> Image:
    """Downscale frames wider than ``max_width`` (area interpolation keeps small detail)."""
    if max_width is None or image.shape[1] <= max_width:
        return image
    h, w = image.shape[:2]
    size = (max_width, max(1, round(h * max_width / w)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
