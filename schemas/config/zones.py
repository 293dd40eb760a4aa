"""Zone analytics of a camera: counting lines and the rules of its named zones.

Coordinates are frame pixels of the analysed frame (after ``max_width``), like ``zones``. Objects
are located by the bottom-centre of their box (where a person stands), as the zone filter does.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator

from schemas.config.base import ConfigSection
from schemas.events import NAME_PATTERN

# Headings in image coordinates: degrees clockwise from "towards the right edge" (y grows down).
HEADING_WORDS: dict[str, float] = {"right": 0.0, "down": 90.0, "left": 180.0, "up": 270.0}


class LineConfig(ConfigSection):
    name: str = Field(pattern=NAME_PATTERN, description="Line name, used in events and topics.")
    points: tuple[tuple[float, float], tuple[float, float]] = Field(
        description="The two end points `[[x1, y1], [x2, y2]]` in frame pixels."
    )
    in_side: Literal["left", "right"] = Field(
        default="left",
        description=(
            "Which side is 'in', as seen on the image when walking from the first point to the "
            "second; crossing onto it counts `in`, crossing off it `out`."
        ),
    )
    labels: list[str] = Field(
        default_factory=list, description="Labels counted (default: every tracked label)."
    )

    @field_validator("points")
    @classmethod
    def _distinct(
        cls, v: tuple[tuple[float, float], tuple[float, float]]
    ) -> tuple[tuple[float, float], tuple[float, float]]:
        (x1, y1), (x2, y2) = v
        if math.hypot(x2 - x1, y2 - y1) < 1.0:
            raise ValueError(f"a line needs two distinct points, got {v}")
        return v


class ZoneRulesConfig(ConfigSection):
    labels: list[str] = Field(
        default_factory=list,
        description="Labels the rules apply to (default: every tracked label).",
    )
    loitering_s: float | None = Field(
        default=None,
        gt=0,
        description="`zone.loitering` when an object stays inside longer than this.",
    )
    max_occupancy: int | None = Field(
        default=None,
        ge=0,
        description="`zone.overcrowded` while more than this many objects are inside.",
    )
    for_s: float = Field(
        default=0.0,
        ge=0,
        description="How long the zone must stay over `max_occupancy` before the event.",
    )
    direction: float | Literal["up", "down", "left", "right"] | None = Field(
        default=None,
        description=(
            "Allowed heading: `up`/`down`/`left`/`right` on the image, or degrees clockwise "
            "from 'towards the right edge' (90 = down); moving the opposite way raises "
            "`zone.wrong_way`."
        ),
    )
    direction_tolerance_deg: float = Field(
        default=60.0,
        gt=0,
        le=90,
        description="A heading within this many degrees of the opposite one is wrong way.",
    )

    @property
    def heading_deg(self) -> float | None:
        """The allowed heading in degrees [0, 360), or None without a direction rule."""
        if self.direction is None:
            return None
        if isinstance(self.direction, str):
            return HEADING_WORDS[self.direction]
        return float(self.direction) % 360.0


class ZoneLogicConfig(ConfigSection):
    """How tracks are turned into crossings and zone visits (all cameras)."""

    hysteresis: float = Field(
        default=0.2,
        ge=0,
        le=2,
        description=(
            "An object changes side of a line, or enters or leaves a zone, only once its "
            "anchor is this far past the line or edge, as a fraction of its box height "
            "(jittering boxes and people standing on a line never count)."
        ),
    )
    zone_debounce_s: float = Field(
        default=0.5,
        ge=0,
        description="An object enters or leaves a zone once inside/outside for this long.",
    )
    lost_grace_s: float = Field(
        default=2.0,
        ge=0,
        description=(
            "A track unseen for less than this keeps its zones and line sides; a new track "
            "appearing where it vanished, once the tracker gave the old one up "
            "(`tracker.lost_after_s`), takes them over (re-found objects never count twice). "
            "Keep it above `tracker.lost_after_s`."
        ),
    )
    handover_distance: float = Field(
        default=0.5,
        ge=0,
        description=(
            "How near (in box heights) a new track must appear to where a lost one would be "
            "now, carried on at its last velocity, to take it over."
        ),
    )
    direction_window_s: float = Field(
        default=1.0,
        gt=0,
        description="Time constant of the smoothed velocity the heading is read from.",
    )
    direction_min_travel: float = Field(
        default=0.5,
        ge=0,
        description="Least travel per window, in box heights, for a heading to count.",
    )
