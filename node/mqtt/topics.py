"""The node's topic tree, in one place. Everything lives under ``<prefix>/<node_id>/``, except
Home Assistant's discovery and birth topics (under its discovery prefix).

Two forms: ``Topics`` gives complete topic names; the ``*_suffix`` functions give names relative
to the node's base, which is what ``MqttLink.set_state``/``publish`` take (the link resolves a
suffix under the base, and keeps a complete topic as it is). ``Topics.sub(suffix)`` turns one
into the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ToggleTarget = Literal["camera", "analytic"]

# Retained JSON of the movement counters (``node.homeassistant.counters.MovementCounter``).
MOVEMENT_COUNTS_SUFFIX = "state/movement/counts"


def toggle_state_suffix(target: ToggleTarget, name: str) -> str:
    """Retained ``ON``/``OFF`` of a camera or an analytic (the ``set`` command's switches)."""
    return f"state/{target}/{name}"


def presence_state_suffix(kind: str) -> str:
    """Retained ``ON``/``OFF`` of one presence kind (fire, person, authorised)."""
    return f"state/presence/{kind}"


def gate_state_suffix(camera: str | None = None) -> str:
    """Retained gate state: the node's (``camera`` None) or one camera's (camera scope)."""
    return f"state/gate/{camera}" if camera else "state/gate"


def model_state_suffix(slot: str) -> str:
    """Retained state of one model slot (``model_swap``/``model_rollback``)."""
    return f"state/model/{slot}"


def zone_counts_suffix(camera: str) -> str:
    """Retained counters of a camera's lines and zones (``schemas.zones.ZoneCountsState``)."""
    return f"state/zones/{camera}"


def ha_discovery_topic(discovery_prefix: str, device_id: str) -> str:
    """Home Assistant's device-based discovery topic (``device_id`` must be a valid HA id)."""
    return f"{discovery_prefix}/device/{device_id}/config"


def ha_status_topic(discovery_prefix: str) -> str:
    """Home Assistant's birth/last-will topic (``online``/``offline``)."""
    return f"{discovery_prefix}/status"


@dataclass(frozen=True)
class Topics:
    prefix: str
    node_id: str

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.node_id}"

    def sub(self, suffix: str) -> str:
        return f"{self.base}/{suffix}"

    @property
    def availability(self) -> str:
        return self.sub("availability")

    @property
    def stats(self) -> str:
        return self.sub("stats")

    @property
    def schema(self) -> str:
        return self.sub("schema")

    def event(self, event_type: str) -> str:
        return self.sub(f"events/{event_type}")

    @property
    def event_filter(self) -> str:
        """Every event type (snapshots included: they live under ``events/<type>/``)."""
        return self.sub("events/#")

    def camera_status(self, camera: str) -> str:
        return self.sub(f"{camera}/status")

    def camera_snapshot(self, camera: str) -> str:
        return self.sub(f"{camera}/snapshot")

    def camera_snapshot_crop(self, camera: str) -> str:
        return f"{self.camera_snapshot(camera)}/crop"

    def event_snapshot(self, event_type: str) -> str:
        """Latest snapshot of an event type (JPEG), for HA `image` entities."""
        return self.sub(f"events/{event_type}/snapshot")

    @property
    def explain_image(self) -> str:
        """The latest explanation's overlay (JPEG), for HA's `image` entity."""
        return self.sub("explain/image")

    @property
    def explain_report(self) -> str:
        """The latest explanation's report (JSON, ``schemas.explain.ExplainReport``)."""
        return self.sub("explain/report")

    def event_snapshot_crop(self, event_type: str) -> str:
        return f"{self.event_snapshot(event_type)}/crop"

    def state(self, name: str) -> str:
        return self.sub(f"state/{name}")

    def command(self, name: str) -> str:
        return self.sub(f"cmd/{name}")

    @property
    def command_filter(self) -> str:
        return self.sub("cmd/+")

    def reply(self, name: str) -> str:
        return self.sub(f"reply/{name}")

    def reply_to(self, name: str, request_id: str) -> str:
        """A per-request reply topic (a v5 response topic under the node's own ``reply/``)."""
        return self.sub(f"reply/{name}/{request_id}")

    @property
    def reply_root(self) -> str:
        """Every reply topic starts with this (``reply/``, trailing slash included)."""
        return self.sub("reply/")

    @property
    def reply_filter(self) -> str:
        return self.sub("reply/#")

    @property
    def watch_filters(self) -> tuple[str, ...]:
        """What a person watching the node reads: events, availability, stats, camera status and
        retained state. Not the JPEG snapshots (``<camera>/snapshot``, ``events/<type>/snapshot``,
        hence ``events/+``, not ``events/#``) nor the large retained ``schema``."""
        return (self.sub("events/+"), self.availability, self.stats, self.sub("+/status"),
                self.sub("state/#"))  # fmt: skip

    def command_name(self, topic: str) -> str | None:
        head = self.sub("cmd/")
        if not topic.startswith(head):
            return None
        name = topic[len(head) :]
        return name if name and "/" not in name else None


AVAILABILITY_ONLINE = "online"
AVAILABILITY_OFFLINE = "offline"
AVAILABILITY_STOPPED = "stopped"

# Payloads of the retained ON/OFF state topics (switches, presence).
STATE_ON = "ON"
STATE_OFF = "OFF"


def on_off(enabled: bool) -> str:
    return STATE_ON if enabled else STATE_OFF
