"""The authorisation gate (the seed's flow): gated analytics run only while it is open.

``gate.mode: face`` keeps it locked until an authorised identity is confirmed on ``frames``
analysed frames in a row; that opens a session for ``ttl_s``, extended on every further
sighting. ``gate.mode: open`` is always open. The scope decides what a session unlocks: every
camera (``node``) or only the camera that saw the person (``camera``).

Thread-safe: the face analytic reports from inference threads while the pipeline asks
``is_open`` from the event loop. Every state change is returned to the reporter *and* handed to
listeners (``bind_gate`` turns them into ``gate.opened``/``gate.closed`` events and the retained
``state/gate`` payload).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from node.clock import Clock
from node.face.events import GATE_CLOSED, GATE_OPENED
from node.mqtt.topics import gate_state_suffix
from schemas.attributes import GateAttributes
from schemas.config.gate import GateConfig, GateMode, GateScope
from schemas.events import Event, Lifecycle, ensure_writable

log = logging.getLogger(__name__)

NODE_KEY = "*"  # session key of a node-scoped gate


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


class GateState(BaseModel):
    """Retained payload of ``state/gate`` (node scope) or ``state/gate/<camera>``."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["open", "locked"]
    mode: GateMode
    scope: GateScope
    camera: str | None = Field(default=None, description="Set for camera-scoped gates.")
    by: str | None = Field(default=None, description="Identity that opened the session.")
    since: datetime | None = None
    until: datetime | None = Field(default=None, description="Session end unless extended.")
    session_id: str | None = None


@dataclass(frozen=True)
class GateChange:
    kind: Literal["opened", "closed"]
    key: str  # camera name, or NODE_KEY
    camera: str  # the camera whose report or tick caused the change
    by: str
    session_id: str
    at: float  # wall time
    since: float
    until: float
    reason: str  # "recognised", "expired", "revoked"

    @property
    def event_type(self) -> str:
        return GATE_OPENED if self.kind == "opened" else GATE_CLOSED

    def to_event(self, node_id: str) -> Event:
        """A ``gate.opened`` (lifecycle ``new``) or ``gate.closed`` (``end``) event; both carry
        the session id as track id so consumers can pair them."""
        closed = self.kind == "closed"
        event = Event(
            node_id=node_id,
            camera=self.camera,
            type=self.event_type,
            track_id=self.session_id,
            lifecycle=Lifecycle.END if closed else Lifecycle.NEW,
            started_at=_utc(self.since),
            ended_at=_utc(self.at) if closed else None,
            frame_time=_utc(self.at),
            score=1.0,
            label="gate",
            labels=["gate"],
            attributes=GateAttributes(
                by=self.by,
                reason=self.reason,
                until=_utc(self.until),
                scope="node" if self.key == NODE_KEY else "camera",
            ),
        )
        return ensure_writable(event)


@dataclass
class _Session:
    session_id: str
    by: str
    camera: str  # where the session was opened; names closing events nobody else caused
    since: float  # wall
    until_mono: float
    until_wall: float


Listener = Callable[[GateChange], None]


class AuthorisationGate:
    def __init__(self, config: GateConfig, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._streak: dict[tuple[str, str], int] = {}  # (camera, identity) -> frames in a row
        self._listeners: list[Listener] = []

    @property
    def enforcing(self) -> bool:
        return self.config.mode is GateMode.FACE

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _key(self, camera: str) -> str:
        return camera if self.config.scope is GateScope.CAMERA else NODE_KEY

    def is_open(self, camera: str) -> bool:
        if not self.enforcing:
            return True
        with self._lock:
            s = self._sessions.get(self._key(camera))
            return s is not None and self._clock.monotonic() < s.until_mono

    def report(self, camera: str, authorised: Iterable[str]) -> list[GateChange]:
        """One analysed frame of ``camera`` in which these authorised identities were confirmed."""
        if not self.enforcing:
            return []
        seen = set(authorised)
        changes: list[GateChange] = self._expire_locked_free(camera)
        with self._lock:
            for k in [k for k in self._streak if k[0] == camera and k[1] not in seen]:
                del self._streak[k]  # [why] "N frames in a row": a gap restarts the count
            now_m, now_w = self._clock.monotonic(), self._clock.time()
            key = self._key(camera)
            for ident in sorted(seen):
                streak = self._streak.get((camera, ident), 0) + 1
                self._streak[(camera, ident)] = streak
                session = self._sessions.get(key)
                if session is not None:
                    session.until_mono = now_m + self.config.ttl_s  # they stay: extend
                    session.until_wall = now_w + self.config.ttl_s
                elif streak >= self.config.frames:
                    session = _Session(
                        uuid.uuid4().hex, ident, camera, now_w, now_m + self.config.ttl_s,
                        now_w + self.config.ttl_s,
                    )
                    self._sessions[key] = session
                    changes.append(self._change("opened", key, camera, session, "recognised"))
        self._notify(changes)
        return changes

    def tick(self, camera: str | None = None) -> list[GateChange]:
        """Close expired sessions (call periodically; the face analytic calls it every frame)."""
        changes = self._expire_locked_free(camera)
        self._notify(changes)
        return changes

    def revoke(self, identity: str) -> list[GateChange]:
        """Close every session opened by ``identity`` (removed or revoked from the gallery)."""
        with self._lock:
            changes = [
                self._change("closed", k, s.camera, s, "revoked")
                for k, s in list(self._sessions.items())
                if s.by == identity
            ]
            for c in changes:
                del self._sessions[c.key]
            for k in [k for k in self._streak if k[1] == identity]:
                del self._streak[k]
        self._notify(changes)
        return changes

    def state(self, camera: str | None = None) -> GateState:
        key = self._key(camera) if camera is not None else NODE_KEY
        cam = key if key != NODE_KEY else None
        with self._lock:
            s = self._sessions.get(key)
            live = s is not None and self._clock.monotonic() < s.until_mono
        if not self.enforcing:
            return GateState(state="open", mode=self.config.mode, scope=self.config.scope,
                             camera=cam)
        if s is None or not live:
            return GateState(state="locked", mode=self.config.mode, scope=self.config.scope,
                             camera=cam)
        return GateState(
            state="open", mode=self.config.mode, scope=self.config.scope, camera=cam, by=s.by,
            since=_utc(s.since), until=_utc(s.until_wall), session_id=s.session_id,
        )

    def state_suffix(self, key: str) -> str:
        """The retained state topic (suffix) of a session key (a camera, or ``NODE_KEY``)."""
        return gate_state_suffix(None if key == NODE_KEY else key)

    # ---- internals ------------------------------------------------------------------------
    def _expire_locked_free(self, camera: str | None) -> list[GateChange]:
        with self._lock:
            now = self._clock.monotonic()
            gone = [(k, s) for k, s in self._sessions.items() if now >= s.until_mono]
            for k, _ in gone:
                del self._sessions[k]
            return [
                self._change("closed", k, camera or s.camera, s, "expired")
                for k, s in gone
            ]

    def _change(
        self, kind: Literal["opened", "closed"], key: str, camera: str, s: _Session, reason: str
    ) -> GateChange:
        return GateChange(
            kind=kind, key=key, camera=camera, by=s.by, session_id=s.session_id,
            at=self._clock.time(), since=s.since, until=s.until_wall, reason=reason,
        )

    def _notify(self, changes: list[GateChange]) -> None:
        for change in changes:
            for listener in self._listeners:
                listener(change)


EmitEvent = Callable[[Event], Awaitable[None]]
SetState = Callable[[str, bytes], Awaitable[None]]


def bind_gate(
    gate: AuthorisationGate,
    loop: asyncio.AbstractEventLoop,
    node_id: str,
    emit_event: EmitEvent,
    set_state: SetState,
) -> Callable[[], Awaitable[None]]:
    """Wire gate changes to the node: each change becomes an event (through the outbox) and
    refreshes the retained state. Changes arrive on inference threads, so they hop to the loop
    with ``call_soon_threadsafe``. Returns a coroutine function publishing the initial state."""

    pending: set[asyncio.Task[None]] = set()  # strong refs: the loop keeps only weak ones

    async def _publish(change: GateChange) -> None:
        try:
            await emit_event(change.to_event(node_id))
            key_cam = None if change.key == NODE_KEY else change.key
            payload = gate.state(key_cam).model_dump_json(exclude_none=True).encode()
            await set_state(gate.state_suffix(change.key), payload)
        except Exception:
            log.exception("could not publish gate change %s", change)

    def _spawn(change: GateChange) -> None:
        task = loop.create_task(_publish(change))
        pending.add(task)
        task.add_done_callback(pending.discard)

    def _listener(change: GateChange) -> None:
        loop.call_soon_threadsafe(_spawn, change)

    gate.add_listener(_listener)

    async def publish_initial() -> None:
        payload = gate.state(None).model_dump_json(exclude_none=True).encode()
        await set_state(gate.state_suffix(NODE_KEY), payload)

    return publish_initial


async def publish_gate(
    gate: AuthorisationGate,
    node_id: str,
    emit_event: EmitEvent,
    set_state: SetState,
    cameras: Sequence[str],
) -> None:
    """``bind_gate`` on the running loop, then the initial retained state: the node's
    ``state/gate``, and ``state/gate/<camera>`` of each camera for camera-scoped gates."""
    await bind_gate(gate, asyncio.get_running_loop(), node_id, emit_event, set_state)()
    if gate.config.scope is GateScope.CAMERA:
        for cam in cameras:
            state = gate.state(cam).model_dump_json(exclude_none=True).encode()
            await set_state(gate.state_suffix(cam), state)


async def tick_gate(gate: AuthorisationGate, stopped: asyncio.Event, period_s: float) -> None:
    """Close expired sessions every ``period_s`` until ``stopped``. The face analytic expires
    them when it runs; with the motion gate skipping frames it may not run for a while, and
    ``gate.closed`` must still come on time."""
    while not stopped.is_set():
        gate.tick()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stopped.wait(), period_s)
