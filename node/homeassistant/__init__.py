"""Home Assistant: the node appears as one device with MQTT discovery, by itself.

One module per job:

* ``discovery``: pure builders, config -> the retained device discovery message;
* ``templates``: the Jinja templates HA renders on our payloads;
* ``announcer``: re-publishes discovery after HA's birth message, after a random delay;
* ``presence``: fire / person / authorised presence from the event stream;
* ``counters``: movement occurrences per action from the event stream;
* ``bridge``: wires these to the node (retained state on the link, observers of the sink).

Topic contracts (built in ``node.mqtt.topics``, published by the node):

* ``state/camera/<camera>`` and ``state/analytic/<analytic>``: retained ``ON``/``OFF``, the
  run-time enabled state behind the switches (an analytic that did not start is ``OFF``);
* ``state/presence/<kind>``: retained ``ON``/``OFF`` for fire, person and authorised presence;
* ``stats``: JSON with ``cameras.<camera>.fps`` and ``cameras.<camera>.inference_ms.<analytic>``;
* ``state/movement/counts``: retained JSON ``{"counts": {<action>: n}, "cameras": {<camera>:
  {<action>: n}}}``, occurrences (``new`` movement events) per action since the node started.
"""

from node.homeassistant.announcer import Announcer
from node.homeassistant.bridge import HomeAssistantBridge
from node.homeassistant.counters import MovementCounter
from node.homeassistant.discovery import (
    DiscoverySpec,
    build_discovery,
    discovery_payload,
    discovery_topic,
    ha_id,
)
from node.homeassistant.presence import PresenceTracker

__all__ = [
    "Announcer",
    "DiscoverySpec",
    "HomeAssistantBridge",
    "MovementCounter",
    "PresenceTracker",
    "build_discovery",
    "discovery_payload",
    "discovery_topic",
    "ha_id",
]
