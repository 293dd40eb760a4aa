"""Test messages (``notify_test``, ``citywatch notify test``): sent now, to a rule's targets, a
group or one target, bypassing the queue, with the service's answer per target."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Literal

from node.notify.targets import TargetBook
from node.notify.worker import Sender
from schemas.config.notifications import NotificationsConfig

TEST_TITLE = "citywatch test notification"


@dataclass(frozen=True)
class ProbeResult:
    target: str
    ok: bool
    error: str | None = None


class UnknownNotifyNameError(LookupError):
    """Neither a rule, a group nor a target; ``str()`` lists what is known."""


def targets_of(
    config: NotificationsConfig, name: str, kind: Literal["rule", "target", "any"] = "any"
) -> list[str]:
    """The target names ``name`` stands for: a rule's targets, a group's, or the target itself
    (``kind`` says where to look)."""
    if kind != "target" and name in config.rules:
        return config.expand(config.rules[name])
    if kind != "rule" and name in config.groups:
        return list(config.groups[name])
    if kind != "rule" and name in config.targets:
        return [name]
    names = {
        "rule": sorted(config.rules),
        "target": sorted({*config.groups, *config.targets}),
        "any": sorted({*config.rules, *config.groups, *config.targets}),
    }[kind]
    what = {"rule": "rule", "target": "target or group", "any": "rule, group or target"}[kind]
    raise UnknownNotifyNameError(f"no {what} named {name!r}; known: {names}")


async def send_test(
    config: NotificationsConfig,
    book: TargetBook,
    sender: Sender,
    name: str,
    node_name: str,
    message: str | None = None,
    kind: Literal["rule", "target", "any"] = "any",
) -> list[ProbeResult]:
    """One result per target, in order; the sends run in threads, in parallel."""
    targets = targets_of(config, name, kind)
    body = message or f"Test message from citywatch node {node_name} ({name})."
    loop = asyncio.get_running_loop()

    async def one(t: str) -> ProbeResult:
        target = book.get(t)
        send = functools.partial(
            sender.send, target.url, TEST_TITLE, body, (), target.min_interval_s
        )
        res = await loop.run_in_executor(None, send)
        return ProbeResult(t, res.ok, res.error)

    return list(await asyncio.gather(*(one(t) for t in targets)))
