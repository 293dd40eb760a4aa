"""Zone counters published retained on ``<prefix>/<node>/state/zones/<camera>``.

In and out counts are totals since ``since`` (the last ``reset_counts`` of that line or zone, or
when it was first counted); they survive a restart of the node. Occupancy is live: the
confirmed objects inside the zone now.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import NAME_PATTERN


class LineCounts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    in_count: int = Field(ge=0, description="Crossings onto the line's `in` side.")
    out_count: int = Field(ge=0, description="Crossings off the `in` side.")
    in_by_label: dict[str, int] = Field(default_factory=dict, description="`in_count` by label.")
    out_by_label: dict[str, int] = Field(
        default_factory=dict, description="`out_count` by label."
    )
    since: float = Field(description="Start of the counts (epoch seconds): the last reset.")


class ZoneCounts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    in_count: int = Field(ge=0, description="Visits: confirmed objects that entered.")
    out_count: int = Field(ge=0, description="Confirmed objects that left.")
    in_by_label: dict[str, int] = Field(default_factory=dict, description="`in_count` by label.")
    out_by_label: dict[str, int] = Field(
        default_factory=dict, description="`out_count` by label."
    )
    occupancy: int = Field(ge=0, description="Confirmed objects inside now.")
    occupancy_by_label: dict[str, int] = Field(
        default_factory=dict, description="`occupancy` by label."
    )
    since: float = Field(description="Start of the in/out counts (epoch seconds).")


class ZoneCountsState(BaseModel):
    """Counters of one camera's lines and zones."""

    model_config = ConfigDict(extra="forbid")

    camera: str = Field(pattern=NAME_PATTERN, description="Camera name from the node config.")
    lines: dict[str, LineCounts] = Field(default_factory=dict, description="Per line name.")
    zones: dict[str, ZoneCounts] = Field(default_factory=dict, description="Per zone name.")
