"""Zone analytics: line crossing counts, zone visits, loitering, occupancy, direction.

Pure, synchronous and I/O-free: ``ZoneEngine.update(tracked, confirmed, t)`` takes one frame's
tracked objects and its time and returns what happened (``ZoneFrame``); ``CounterStore`` keeps the
counters; ``zone_observations`` turns a ``ZoneFrame`` into observations for the event lifecycle.
docs/zones.md describes the semantics.
"""

from node.zones.counts import CounterStore
from node.zones.engine import ZoneEngine, ZoneLayout
from node.zones.results import (
    Crossing,
    Loitering,
    Overcrowding,
    WrongWay,
    ZoneFrame,
    ZoneTransition,
)

__all__ = [
    "CounterStore",
    "Crossing",
    "Loitering",
    "Overcrowding",
    "WrongWay",
    "ZoneEngine",
    "ZoneFrame",
    "ZoneLayout",
    "ZoneTransition",
]
