"""``citywatch cmd NAME``: send a (optionally signed) command to a node and print its reply.

A client tool, so it talks to the broker with aiomqtt directly. It asks for the reply on an
MQTT v5 response topic under the node's own ``reply/`` tree (a per-node broker ACL already lets the
node publish there) and matches it by correlation data.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from typing import Any

DEFAULT_SECRET_ENV = "CITYWATCH__COMMANDS__SECRET"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "cmd", help="Send a command to a node over MQTT and print the reply."
    )
    p.add_argument("name", help="Command name, e.g. ping, get_config, set, snapshot.")
    p.add_argument("--params", default="{}", help="Command params as a JSON object.")
    p.add_argument("--sign", action="store_true", help="Sign with HMAC-SHA256 (ts + nonce).")
    p.add_argument(
        "--secret-env",
        default=DEFAULT_SECRET_ENV,
        metavar="VAR",
        help=f"Environment variable holding the secret (default {DEFAULT_SECRET_ENV}).",
    )
    p.add_argument("--node-id", default="citywatch", help="Target node id.")
    p.add_argument("--prefix", default="citywatch", help="Topic prefix of the node.")
    p.add_argument("--host", default="127.0.0.1", help="Broker host.")
    p.add_argument("--port", type=int, default=1883, help="Broker port.")
    p.add_argument("--username", help="MQTT username.")
    p.add_argument("--password-env", metavar="VAR", help="Environment variable with the password.")
    p.add_argument("--cafile", help="CA bundle: connect with TLS.")
    p.add_argument("--timeout", type=float, default=10.0, help="Seconds to wait for the reply.")
    p.set_defaults(func=_cmd)


def build_payload(
    name: str, params: dict[str, Any], request_id: str, secret: str | None
) -> dict[str, Any]:
    if secret is None:
        return {"request_id": request_id, "params": params}
    from node.commands.signing import signed_envelope

    return signed_envelope(secret, name, params, ts=time.time(), request_id=request_id)


async def request(
    args: argparse.Namespace, payload: dict[str, Any], request_id: str
) -> dict[str, Any]:
    """Publish the command and return the reply (raises ``asyncio.TimeoutError``)."""
    import asyncio

    import aiomqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from node.mqtt.topics import Topics

    topics = Topics(args.prefix, args.node_id)
    reply_topic = topics.reply_to(args.name, request_id)
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ResponseTopic = reply_topic
    props.CorrelationData = request_id.encode()
    password = os.environ.get(args.password_env) if args.password_env else None
    tls = aiomqtt.TLSParameters(ca_certs=args.cafile) if args.cafile else None
    async with aiomqtt.Client(
        args.host,
        args.port,
        username=args.username,
        password=password,
        protocol=aiomqtt.ProtocolVersion.V5,
        tls_params=tls,
    ) as client:
        await client.subscribe(reply_topic, qos=1)
        await client.publish(
            topics.command(args.name), json.dumps(payload).encode(), qos=1, properties=props
        )
        return await asyncio.wait_for(_first_reply(client, request_id), args.timeout)


async def _first_reply(client: Any, request_id: str) -> dict[str, Any]:
    async for msg in client.messages:
        corr = getattr(msg.properties, "CorrelationData", None)
        if corr is None or bytes(corr) == request_id.encode():
            reply: dict[str, Any] = json.loads(bytes(msg.payload))
            return reply
    raise ConnectionError("the broker closed the connection before the reply")


def _cmd(args: argparse.Namespace) -> int:
    import asyncio

    try:
        params = json.loads(args.params)
    except ValueError as err:
        print(f"--params is not JSON: {err}", file=sys.stderr)
        return 2
    if not isinstance(params, dict):
        print("--params must be a JSON object", file=sys.stderr)
        return 2
    secret = os.environ.get(args.secret_env) if args.sign else None
    if args.sign and not secret:
        print(f"--sign needs the secret in ${args.secret_env}", file=sys.stderr)
        return 2
    request_id = uuid.uuid4().hex
    payload = build_payload(args.name, params, request_id, secret)
    try:
        reply = asyncio.run(request(args, payload, request_id))
    except asyncio.TimeoutError:
        print(f"no reply from {args.node_id} within {args.timeout:g}s", file=sys.stderr)
        return 3
    except Exception as err:  # aiomqtt.MqttError and friends: say what, not a traceback
        print(f"MQTT error: {err}", file=sys.stderr)
        return 4
    print(json.dumps(reply, indent=2))
    return 0 if reply.get("ok") else 1
