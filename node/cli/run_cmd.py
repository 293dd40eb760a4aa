"""``citywatch run``: start the node. Its arguments, how they override the config, and the
banner that says where everything is."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # `citywatch --help` must not load the node
    from node.app import Node
    from schemas.config import NodeConfig


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "run",
        help="Run the node (cameras -> models -> MQTT).",
        description=(
            "Run the node. With no MQTT host configured, an embedded broker is started on "
            "127.0.0.1:1883 so the node works out of the box; when 1883 is taken (another "
            "broker already runs) it starts on a free port, and the banner says which."
        ),
    )
    p.add_argument("--config", "-c", help="YAML config file (default: built-in defaults).")
    p.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="SRC",
        help="Add a camera: video file, rtsp/http URL, V4L2 index or image folder (repeatable).",
    )
    p.add_argument("--loop", action="store_true", help="Loop file sources given with --source.")
    p.add_argument("--node-id", help="Override node_id.")
    p.add_argument("--mqtt-host", help="Use this broker instead of the embedded one.")
    p.add_argument(
        "--mqtt-port",
        type=int,
        help="Broker port (external or embedded; an embedded broker refuses a taken port).",
    )
    p.add_argument(
        "--analytics",
        help="Comma-separated analytics to enable (e.g. `objects,fire`); others keep the config.",
    )
    p.add_argument("--data-dir", help="Override data_dir (outbox, galleries, state).")
    p.set_defaults(func=run_from_args)


def camera_name_for(source: str, taken: set[str]) -> str:
    """A topic-safe camera name from a source string (file stem, else ``cam``), unique."""
    stem = Path(source.rstrip("/")).stem if "://" not in source else "stream"
    base = re.sub(r"[^a-zA-Z0-9_-]", "_", stem)[:32] or "cam"
    if base.isdigit():
        base = f"cam{base}"
    name, i = base, 1
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    return name


def apply_cli_overrides(config: NodeConfig, args: argparse.Namespace) -> NodeConfig:
    from pydantic import ValidationError

    from node.config import ConfigError, format_validation_error
    from schemas.config import NodeConfig
    from schemas.config.camera import CameraConfig

    raw = config.model_dump(mode="python")
    if args.node_id:
        raw["node_id"] = args.node_id
    if args.data_dir:
        raw["data_dir"] = args.data_dir
    if args.mqtt_host:
        raw["mqtt"]["host"] = args.mqtt_host
    if args.mqtt_port:
        raw["mqtt"]["port"] = args.mqtt_port
        if raw["mqtt"]["host"] is None:
            raw["broker"]["port"] = args.mqtt_port
    taken = {c["name"] for c in raw["cameras"]}
    for src in args.source:
        name = camera_name_for(src, taken)
        taken.add(name)
        raw["cameras"].append(CameraConfig(name=name, source=src, loop=args.loop).model_dump())
    if args.analytics:
        for name in (n.strip() for n in args.analytics.split(",")):
            if name not in raw["analytics"]:
                raise ConfigError(f"--analytics: unknown analytic {name!r}")
            raw["analytics"][name]["enabled"] = True
    # mode="python" keeps SecretStr objects, which validate as themselves: secrets stay hidden.
    try:
        return NodeConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, "command line")) from None


def describe(node: Node) -> str:
    """The banner ``run`` prints once the node is up: the broker, the data, the topics."""
    c, t = node.config, node.topics
    addr = node.broker_address
    where = "embedded amqtt broker" if node.broker is not None else "external broker"
    lines = [f"citywatch node {c.node_id!r}: {where} at {addr.host}:{addr.port}"]
    if node.broker is not None and node.broker.moved_from is not None:
        taken = node.broker.moved_from
        lines.append(
            f"  NOTE: port {taken} is taken (another MQTT broker?), so the embedded broker "
            f"listens on port {addr.port} instead. To use the broker on {taken}: "
            f"--mqtt-host 127.0.0.1 --mqtt-port {taken}"
        )
    lines += [
        f"  data dir: {node.data_dir}  (outbox: {node.outbox.path if node.outbox else '-'})",
        "  cameras: " + (", ".join(f"{x.name}={x.source}" for x in c.cameras) or "none"),
        "  analytics: " + (", ".join(f.name for f in node.factories) or "none"),
        *(f"  NOT STARTED {name}: {why}" for name, why in node.analytics_failed.items()),
        *_notifications(node),
        f"  availability: {t.availability}   stats: {t.stats}",
        f"  events: {t.event_filter}   schema: {t.schema}",
        f"  commands: {t.command_filter}   replies: {t.reply_filter}",
        f"  watch: mosquitto_sub -h {addr.host} -p {addr.port} -v "
        + " ".join(f"-t '{f}'" for f in t.watch_filters),
    ]
    return "\n".join(lines)


def _notifications(node: Node) -> list[str]:
    n = node.notifier
    if n is None:
        return []
    rules = ", ".join(n.config.rules) or "none (notify_test only)"
    targets = ", ".join(f"{t} ({n.book.get(t).masked})" for t in n.book.names())
    return [f"  notifications: rules {rules}; targets {targets}"]


async def run_node(config: NodeConfig) -> int:
    """Run until SIGINT/SIGTERM; exit status 2 when the broker or a model cannot start."""
    from node.app import Node
    from node.broker import BrokerStartError
    from node.inference.errors import ModelError

    try:
        node = Node(config)
        async with node:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, node.request_stop)
            print(describe(node), flush=True)
            await node.wait()
            print("stopping: publishing `stopped`, closing the outbox", flush=True)
    except (BrokerStartError, ModelError) as err:
        print(f"error: {err}", flush=True)
        return 2
    return 0


def run_from_args(args: argparse.Namespace) -> int:
    from node.config import ConfigError, load_config

    try:
        config = apply_cli_overrides(load_config(args.config), args)
    except ConfigError as err:
        print(f"error: {err}")
        return 2
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # amqtt and its state machine log every connection at INFO; keep the node's output readable.
    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    return asyncio.run(run_node(config))
