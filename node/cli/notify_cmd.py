"""``citywatch notify test NAME``: send a test notification without a running node."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "notify", help="Notifications: send a test message to a rule's targets or a target."
    )
    nsub = p.add_subparsers(dest="notify_command", metavar="ACTION", required=True)
    test = nsub.add_parser(
        "test",
        help="Send a test message now (no node needed); exit 1 if a service refused it.",
        description="Send a test message to every target of a rule, to a group, or to one "
        "target, through the same Apprise URLs the node uses (secrets from the environment or "
        "url_file, as for `citywatch run`).",
    )
    test.add_argument("name", help="A rule, group or target under `notifications`.")
    test.add_argument("--config", "-c", required=True, help="YAML config file.")
    test.add_argument("--message", "-m", help="Body of the test message.")
    test.set_defaults(func=_test)


def _test(args: argparse.Namespace) -> int:
    import asyncio

    from node.config import ConfigError, load_config
    from node.notify.apprise_adapter import AppriseSender
    from node.notify.probe import UnknownNotifyNameError, send_test
    from node.notify.targets import TargetBook

    try:
        config = load_config(args.config)
    except ConfigError as err:
        print(err)
        return 2
    notifications = config.notifications
    book = TargetBook(notifications)
    node_name = config.name or config.node_id
    try:
        results = asyncio.run(
            send_test(notifications, book, AppriseSender(), args.name, node_name, args.message)
        )
    except UnknownNotifyNameError as err:
        print(f"error: {err.args[0]}")
        return 2
    for r in results:
        where = book.get(r.target).masked
        print(f"{r.target} ({where}): " + ("sent" if r.ok else f"FAILED: {r.error}"))
    return 0 if all(r.ok for r in results) else 1
