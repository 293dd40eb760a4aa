"""Home Assistant device-based MQTT discovery payload (``<prefix>/device/<node_id>/config``).

Keys follow Home Assistant's MQTT discovery: ``dev`` (device), ``o`` (origin), ``cmps``
(components, each with ``p`` = platform) are the abbreviations HA documents for device-based
discovery; everything else uses the full option names so the payload reads without the table.
Only the options citywatch uses are modelled; ``extra="forbid"`` makes a typo an error here
instead of an option Home Assistant silently drops.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# HA's discovery topic matcher accepts node and object ids of this alphabet only.
HA_ID_PATTERN = r"^[a-zA-Z0-9_-]+$"

HaId = Annotated[str, Field(pattern=HA_ID_PATTERN, min_length=1)]


class _HaModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceInfo(_HaModel):
    identifiers: list[str] = Field(min_length=1, description="Stable ids of the device.")
    name: str
    manufacturer: str
    model: str
    sw_version: str


class OriginInfo(_HaModel):
    """``o``: the application that published the discovery (HA logs it)."""

    name: str
    sw: str = Field(description="Origin software version (abbreviation of sw_version).")
    url: str = Field(description="Support URL (abbreviation of support_url).")


class Availability(_HaModel):
    """One entry of the ``availability`` list.

    ``value_template`` maps every payload other than ``online`` to ``offline``: HA compares the
    rendered payload with ``payload_available``/``payload_not_available`` and ignores anything
    else, so without it our clean-shutdown ``stopped`` would leave entities available.
    """

    topic: str
    payload_available: str
    payload_not_available: str
    value_template: str


class _Component(_HaModel):
    unique_id: HaId
    name: str
    qos: int = Field(ge=0, le=2)
    icon: str | None = None
    entity_category: Literal["diagnostic", "config"] | None = None


class EventComponent(_Component):
    p: Literal["event"]
    state_topic: str
    event_types: list[str] = Field(min_length=1)
    value_template: str


class ImageComponent(_Component):
    p: Literal["image"]
    image_topic: str
    content_type: str


class SensorComponent(_Component):
    p: Literal["sensor"]
    state_topic: str
    value_template: str
    unit_of_measurement: str | None = None  # none for counts
    state_class: Literal["measurement", "total", "total_increasing"]
    suggested_display_precision: int | None = None
    json_attributes_topic: str | None = None  # the entity's attributes, e.g. counts by label
    json_attributes_template: str | None = None


class BinarySensorComponent(_Component):
    p: Literal["binary_sensor"]
    state_topic: str
    device_class: str | None = None
    value_template: str | None = None  # JSON states (the gate) map to payload_on/off
    payload_on: str
    payload_off: str


class SwitchComponent(_Component):
    p: Literal["switch"]
    command_topic: str
    command_template: str
    state_topic: str
    payload_on: str
    payload_off: str
    optimistic: bool
    retain: bool


Component = Annotated[
    EventComponent | ImageComponent | SensorComponent | BinarySensorComponent | SwitchComponent,
    Field(discriminator="p"),
]


class DeviceDiscovery(_HaModel):
    dev: DeviceInfo
    o: OriginInfo
    cmps: dict[str, Component] = Field(min_length=1)
    availability: list[Availability] = Field(min_length=1)
    availability_mode: Literal["all", "any", "latest"]
    qos: int = Field(ge=0, le=2)

    @model_validator(mode="after")
    def _ids_valid(self) -> DeviceDiscovery:
        bad = [k for k in self.cmps if not re.fullmatch(HA_ID_PATTERN, k)]
        if bad:
            raise ValueError(f"component ids must match {HA_ID_PATTERN}: {bad}")
        uids = [c.unique_id for c in self.cmps.values()]
        dupes = sorted({u for u in uids if uids.count(u) > 1})
        if dupes:
            raise ValueError(f"unique_id repeated: {dupes}")
        return self
