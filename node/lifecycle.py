"""Turn per-frame observations into ``new`` / rate-limited ``update`` / ``end`` events.

An occurrence ends once unseen for ``end_after_s``, or at once when an observation says when it
ended (``ended_at``: an object left a zone). An ``instant`` observation (a line crossed) is one
``new`` event, never updated or ended.

One ``EventLifecycle`` per (camera, analytic). Pure and synchronous: the caller passes the frame
time, so tests drive it with a manual clock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from node.analytics.base import Observation
from node.frame import Frame
from schemas.events import Box, Event, Lifecycle, ensure_writable


@dataclass
class _Track:
    track_id: str
    started_wall: float
    last_seen_mono: float
    last_update_mono: float
    last: Observation
    best_score: float
    best_frame: Frame | None
    labels: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EmittedEvent:
    event: Event
    frame: Frame | None  # the frame to snapshot (best so far), None if not wanted


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


class EventLifecycle:
    def __init__(
        self,
        node_id: str,
        camera: str,
        *,
        update_interval_s: float,
        end_after_s: float,
        model_label: str | None = None,
    ) -> None:
        self._node_id = node_id
        self._camera = camera
        self._update_interval_s = update_interval_s
        self._end_after_s = end_after_s
        self._model_label = model_label
        self._tracks: dict[str, _Track] = {}

    @property
    def active(self) -> int:
        return len(self._tracks)

    def observe(self, frame: Frame, observations: list[Observation]) -> list[EmittedEvent]:
        """Feed one analysed frame; return the events it causes, in order."""
        out: list[EmittedEvent] = []
        now = frame.monotonic
        for obs in observations:
            if not obs.confirmed:
                continue
            if obs.instant:
                out.append(EmittedEvent(self._instant(frame, obs), frame))
                continue
            track = self._tracks.get(obs.key)
            if obs.ended_at is not None:
                if track is not None:  # an occurrence never opened has nothing to end
                    self._touch(track, frame, obs)
                    out.append(self._end(track, obs.ended_at))
                continue
            if track is None:
                track = self._start(frame, obs)
                out.append(EmittedEvent(self._event(track, frame, Lifecycle.NEW), frame))
                continue
            self._touch(track, frame, obs)
            if obs.stationary or now - track.last_update_mono < self._update_interval_s:
                continue
            track.last_update_mono = now
            out.append(EmittedEvent(self._event(track, frame, Lifecycle.UPDATE), None))
        out.extend(self.expire(frame.monotonic, frame.captured_at))
        return out

    def expire(self, now_mono: float, now_wall: float) -> list[EmittedEvent]:
        """End tracks unseen for ``end_after_s`` (call also when no frame was analysed)."""
        gone = [
            t for t in self._tracks.values() if now_mono - t.last_seen_mono >= self._end_after_s
        ]
        return [self._end(t, now_wall) for t in gone]

    def end_all(self, now_wall: float) -> list[EmittedEvent]:
        """End every open track (camera stopped or disabled)."""
        return [self._end(t, now_wall) for t in list(self._tracks.values())]

    def _start(self, frame: Frame, obs: Observation) -> _Track:
        track = self._new_track(frame, obs)
        self._tracks[obs.key] = track
        return track

    def _instant(self, frame: Frame, obs: Observation) -> Event:
        """A one-off occurrence: its only event, never stored, so nothing ever ends it."""
        return self._event(self._new_track(frame, obs), frame, Lifecycle.NEW)

    def _new_track(self, frame: Frame, obs: Observation) -> _Track:
        return _Track(
            track_id=f"{self._camera}-{obs.type}-{uuid.uuid4().hex[:12]}",
            started_wall=frame.captured_at,
            last_seen_mono=frame.monotonic,
            last_update_mono=frame.monotonic,
            last=obs,
            best_score=obs.score,
            best_frame=frame,
            labels=[obs.label],
        )

    def _touch(self, track: _Track, frame: Frame, obs: Observation) -> None:
        track.last_seen_mono = frame.monotonic
        track.last = obs
        if obs.label not in track.labels:
            track.labels.append(obs.label)
        if obs.score > track.best_score:
            track.best_score = obs.score
            track.best_frame = frame

    def _end(self, track: _Track, now_wall: float) -> EmittedEvent:
        del self._tracks[track.last.key]
        event = self._event(track, None, Lifecycle.END, ended_wall=now_wall)
        return EmittedEvent(event, track.best_frame)

    def _event(
        self,
        track: _Track,
        frame: Frame | None,
        lifecycle: Lifecycle,
        ended_wall: float | None = None,
    ) -> Event:
        obs = track.last
        box = Box.from_xyxy(obs.box) if obs.box is not None else None
        src = frame if frame is not None else track.best_frame
        event = Event(
            node_id=self._node_id,
            camera=self._camera,
            type=obs.type,
            track_id=track.track_id,
            lifecycle=lifecycle,
            started_at=_utc(track.started_wall),
            ended_at=_utc(ended_wall) if ended_wall is not None else None,
            frame_time=_utc(src.captured_at) if src is not None else None,
            score=min(1.0, max(0.0, float(obs.score))),
            box=box,
            frame_size=(src.width, src.height) if src is not None else None,
            label=obs.label,
            labels=list(track.labels),
            severity=obs.severity,
            model=self._model_label,
            attributes=obs.attributes,
            has_snapshot=False,
        )
        return ensure_writable(event)
