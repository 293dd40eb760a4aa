"""A typed citywatch consumer: subscribe to a node's events, validate them, drop the repeats that
at-least-once delivery brings, and print each one's typed fields.

    python examples/consumer.py --host 127.0.0.1 --port 1883            # every node
    python examples/consumer.py --node crossing-7 --count 10             # one node, 10 events

It needs only the ``schemas`` package and aiomqtt. ``EventReader`` reads any 1.x event (fields a
newer minor version added are kept aside, a type it does not know comes with untyped
attributes) and refuses another major version with a clear message; ``event.attributes`` is the
model of the event's ``type``, so a type checker knows ``identity``, ``similarity``,
``authorised``, ... (docs/mqtt.md, "Versions" and "Event attributes").
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass

import aiomqtt

from schemas.reader import (
    Event,
    EventAttributes,
    EventReader,
    FaceRecognizedAttributes,
    FaceUnknownAttributes,
    FireAttributes,
    GateAttributes,
    LineCrossedAttributes,
    MovementAttributes,
    MovementIdentifiedAttributes,
    NotificationFailedAttributes,
    ObjectAttributes,
    SyntheticAttributes,
    ZoneLoiteringAttributes,
    ZoneOvercrowdedAttributes,
    ZoneWrongWayAttributes,
)


def describe(event: Event) -> str:
    """One line: the envelope, then the typed fields of this event's type."""
    head = (f"{event.camera} {event.type}/{event.label} {event.lifecycle.value} "
            f"score={event.score:.2f}")
    match event.attributes:
        case FaceRecognizedAttributes(identity=who, similarity=sim, authorised=ok):
            detail = f"identity={who} similarity={sim:.2f} authorised={'yes' if ok else 'no'}"
        case FaceUnknownAttributes(similarity=sim, crop_jpeg_b64=crop):
            detail = f"unknown face, best similarity={sim:.2f} crop={'yes' if crop else 'no'}"
        case ObjectAttributes(track_id=tid, hits=hits, zones=zones):
            detail = f"track={tid} hits={hits} zones={','.join(zones) or '-'}"
        case FireAttributes(k_of_n=k_of_n, threshold=threshold):
            detail = f"k_of_n={k_of_n} threshold={threshold:.2f}"
        case MovementAttributes(track_id=tid, action=action, votes=votes):
            detail = f"person={tid} action={action} votes={votes or '-'}"
        case MovementIdentifiedAttributes(identities=names, unknown_faces=unknown, people=people):
            detail = (f"identities={','.join(names) or '-'} unknown_faces={unknown} "
                      f"people={len(people)}")
        case GateAttributes(by=by, reason=reason, until=until):
            detail = f"by={by} reason={reason} until={until.isoformat()}"
        case LineCrossedAttributes(line=line, direction=direction, track=tid):
            detail = f"line={line} direction={direction} track={tid}"
        case ZoneLoiteringAttributes(zone=zone, dwell_s=dwell, track=tid):
            detail = f"zone={zone} dwell={dwell:.0f}s track={tid}"
        case ZoneWrongWayAttributes(zone=zone, heading_deg=heading, allowed_deg=allowed):
            detail = f"zone={zone} heading={heading:.0f} allowed={allowed:.0f}"
        case ZoneOvercrowdedAttributes(zone=zone, count=count, max_occupancy=limit):
            detail = f"zone={zone} count={count}/{limit}"
        case NotificationFailedAttributes(rule=rule, target=target, error=error):
            detail = f"rule={rule} target={target} error={error}"
        case SyntheticAttributes(sequence=n):
            detail = f"sequence={n}"
        case other:  # a type this version of `schemas` does not know: its keys, untyped
            detail = "untyped " + " ".join(f"{k}={v}" for k, v in (other.model_extra or {}).items())
    newer = list(event.model_extra or {})
    if type(event.attributes) is not EventAttributes:  # (untyped ones are all listed above)
        newer += [f"attributes.{k}" for k in event.attributes.model_extra or {}]
    if newer:  # what a newer 1.x node added: kept by the reader, not typed here
        detail += f" (newer fields: {', '.join(newer)})"
    return f"{head} {detail}"


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 1883
    prefix: str = "citywatch"
    node: str = "+"
    count: int | None = None  # stop after this many distinct events


async def consume(options: Options, out: Callable[[str], None] = print) -> EventReader:
    """Print every distinct event until ``options.count`` (or forever); returns the reader, whose
    counters say how many were read and how many repeats were dropped."""
    reader = EventReader()
    # `events/+` only: one level below `events`, so never the JPEG snapshot topics
    topic = f"{options.prefix}/{options.node}/events/+"
    async with aiomqtt.Client(options.host, options.port) as client:
        await client.subscribe(topic, qos=1)  # events are published with QoS 1
        out(f"subscribed to {topic} on {options.host}:{options.port}")
        async for message in client.messages:
            payload = message.payload
            if not isinstance(payload, (bytes, str)):
                continue
            try:
                event = reader.read(payload)
            except ValueError as err:  # another major version, or not an event at all
                out(f"refused on {message.topic}: {err}")
                continue
            if event is None:
                continue  # the same event_id again
            out(describe(event))
            if options.count is not None and reader.read_count >= options.count:
                break
    return reader


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default=Options.host)
    p.add_argument("--port", type=int, default=Options.port)
    p.add_argument("--prefix", default=Options.prefix, help="mqtt.topic_prefix of the nodes.")
    p.add_argument("--node", default=Options.node, help="Node id (default: every node).")
    p.add_argument("--count", type=int, default=None, help="Stop after N distinct events.")
    args = p.parse_args(argv)
    options = Options(args.host, args.port, args.prefix, args.node, args.count)
    try:
        reader = asyncio.run(consume(options, lambda line: print(line, flush=True)))
    except KeyboardInterrupt:
        return 0
    except aiomqtt.MqttError as err:
        print(f"MQTT: {err}", file=sys.stderr)
        return 1
    print(f"{reader.read_count} event(s), {reader.duplicates} repeat(s) dropped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
