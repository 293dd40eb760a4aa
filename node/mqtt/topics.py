"""The node's topic tree, in one place. Everything lives under ``<prefix>/<node_id>/``."""

from __future__ import annotations

from dataclasses import dataclass


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

    def camera_status(self, camera: str) -> str:
        return self.sub(f"{camera}/status")

    def camera_snapshot(self, camera: str) -> str:
        return self.sub(f"{camera}/snapshot")

    def event_snapshot(self, event_type: str) -> str:
        """Latest snapshot of an event type (JPEG), for HA `image` entities."""
        return self.sub(f"events/{event_type}/snapshot")

    def state(self, name: str) -> str:
        return self.sub(f"state/{name}")

    def command(self, name: str) -> str:
        return self.sub(f"cmd/{name}")

    @property
    def command_filter(self) -> str:
        return self.sub("cmd/+")

    def reply(self, name: str) -> str:
        return self.sub(f"reply/{name}")

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
