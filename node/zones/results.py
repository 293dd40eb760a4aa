"""What the zone engine reports for one frame. Times are the frame clock's (monotonic seconds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

Direction = Literal["in", "out"]
Box = npt.NDArray[np.float32]  # xyxy frame pixels


@dataclass(frozen=True, eq=False)
class TrackRef:
    """The object an occurrence is about. ``origin`` is the first track id of the object: it
    stays the same when a new track takes over a lost one (``track_id`` is the current one)."""

    track_id: int
    origin: int
    label: str
    score: float
    box: Box


@dataclass(frozen=True, eq=False)
class Crossing:
    """An object crossed a line (``t``: when the crossing was seen; reported once the track is
    confirmed, so ``t`` may be earlier than the frame that reports it)."""

    line: str
    direction: Direction
    track: TrackRef
    t: float


@dataclass(frozen=True, eq=False)
class ZoneTransition:
    """A confirmed object entered or left a zone (debounced; ``t`` is when it first was
    inside/outside)."""

    zone: str
    direction: Direction
    track: TrackRef
    t: float


@dataclass(frozen=True, eq=False)
class Loitering:
    """An object inside a zone longer than its ``loitering_s``: reported every frame while it
    lasts, then once with ``ended_at`` (when it left, or was last seen)."""

    zone: str
    track: TrackRef
    entered_at: float
    dwell_s: float
    ended_at: float | None = None


@dataclass(frozen=True, eq=False)
class Overcrowding:
    """A zone holding more than ``max_occupancy`` objects for ``for_s``: reported every frame
    while it lasts, then once with ``ended_at``."""

    zone: str
    count: int
    max_occupancy: int
    by_label: dict[str, int]
    since: float  # when the count first went over the limit
    box: Box | None  # around the objects counted (None when there are none)
    ended_at: float | None = None


@dataclass(frozen=True, eq=False)
class WrongWay:
    """An object moving against a zone's allowed direction (once per visit)."""

    zone: str
    track: TrackRef
    heading_deg: float  # the object's heading, image degrees (0 right, 90 down)
    allowed_deg: float
    t: float


@dataclass(eq=False)
class ZoneFrame:
    """Everything one ``ZoneEngine.update`` found, plus the occupancy after it."""

    t: float
    crossings: list[Crossing] = field(default_factory=list)
    transitions: list[ZoneTransition] = field(default_factory=list)
    loitering: list[Loitering] = field(default_factory=list)
    overcrowding: list[Overcrowding] = field(default_factory=list)
    wrong_way: list[WrongWay] = field(default_factory=list)
    occupancy: dict[str, dict[str, int]] = field(default_factory=dict)  # zone -> label -> n
