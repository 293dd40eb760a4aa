"""``citywatch run``: start the node."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "run",
        help="Run the node (cameras -> models -> MQTT).",
        description=(
            "Run the node. With no MQTT host configured, an embedded broker is started on "
            "127.0.0.1 so the node works out of the box."
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
    p.add_argument("--mqtt-port", type=int, help="Broker port (external or embedded).")
    p.add_argument(
        "--analytics",
        help="Comma-separated analytics to enable (e.g. `objects,fire`); others keep the config.",
    )
    p.add_argument("--data-dir", help="Override data_dir (outbox, galleries, state).")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from node.app import run_from_args

    return run_from_args(args)
